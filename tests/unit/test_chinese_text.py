"""Chinese text on the pages and in the messages people read is written the Chinese way:
full-width punctuation (，：；（）！？) inside Chinese sentences, "最迟至" (never "至迟至"),
and no "n/a" / "N/A" where a Chinese page says 无 or 不适用.

Scanned: every Jinja template of the services and of the workspace (the string literals inside
`{{ }}` / `{% %}` and the text between tags), and every non-docstring string literal in the
services' and the runtime's Python code. Two rules find a half-width mark:

- in a Chinese literal (at least as many Han characters as Latin letters, placeholders left out),
  any half-width mark;
- in any literal, a mark written against Chinese text: its nearest character on one side (spaces
  and other marks skipped) is Han and on the other side not a Latin letter — `导出 CSV(Excel
  可直接打开)`, `满意率(%) Satisfaction (%)`, `照片链接;请以 …`. So English text naming a Chinese term
  (`the responsible person (首问责任人) until …`) and code are not judged, but the Chinese half
  of a bilingual header or label is.

Placeholders (`{...}`), URLs (`://`), times and numbers (`10:30`, `1,000`) keep their ASCII
punctuation."""

from __future__ import annotations

import io
import json
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(
    [*ROOT.glob("services/*/templates/**/*.html"), *ROOT.glob("libs/runtime/workspace/**/*.html")]
)
PYTHON = sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("libs/runtime/**/*.py")])

_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|%[sd]")
_HALF = re.compile(r"[,:;()!?]")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_JINJA_STRING = re.compile(r""""([^"\\\n]*)"|'([^'\\\n]*)'""")
_TAG = re.compile(r"<[^>]*>")
_BANNED = ("至迟至", "n/a", "N/A")


def _is_chinese(text: str) -> bool:
    bare = _PLACEHOLDER.sub("", text)
    han = len(_HAN.findall(bare))
    return han > 0 and han >= len(_LATIN.findall(bare))


def _neighbour(text: str, i: int, step: int) -> str:
    """The nearest character from `i` in the direction `step`, skipping spaces and half-width
    marks ("" at either end)."""
    j = i + step
    while 0 <= j < len(text) and (text[j].isspace() or _HALF.fullmatch(text[j])):
        j += step
    return text[j] if 0 <= j < len(text) else ""


def _against_chinese(text: str, i: int) -> bool:
    left, right = _neighbour(text, i, -1), _neighbour(text, i, 1)
    han = (bool(_HAN.fullmatch(left)), bool(_HAN.fullmatch(right)))
    latin = (bool(_LATIN.fullmatch(left)), bool(_LATIN.fullmatch(right)))
    return (han[0] and not latin[1]) or (han[1] and not latin[0])


def _half_width(text: str, *, chinese: bool) -> list[str]:
    """Half-width punctuation in a Chinese sentence (`chinese`), or against Chinese text in any
    sentence, with some context, outside placeholders, URLs and numbers."""
    found: list[str] = []
    depth = 0
    for i, ch in enumerate(text):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth > 0 or not _HALF.fullmatch(ch):
            continue
        before, after = text[i - 1 : i], text[i + 1 : i + 2]
        if ch == ":" and text[i + 1 : i + 3] == "//":
            continue
        if ch in ",:" and before.isdigit() and after.isdigit():
            continue
        if not chinese and not _against_chinese(text, i):
            continue
        found.append(text[max(0, i - 8) : i + 8])  # where, as the message shows it
    return found


def _problems(text: str) -> list[str]:
    chinese = _is_chinese(text)
    problems = [f"half-width {c!r}" for c in _half_width(text, chinese=chinese)]
    if chinese:
        problems += [f"{word!r}" for word in _BANNED if word in text]
    return problems


def _python_literals(path: Path) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type != tokenize.STRING:
            continue
        match = re.match(r"([rRbBuUfF]*)(\"\"\"|'''|\"|')", token.string)
        assert match is not None
        prefix, quote = match.groups()
        if len(quote) == 3 or set(prefix.lower()) & {"r", "b"}:
            continue  # docstrings, regular expressions, bytes
        out.append((token.start[0], token.string[len(prefix) + len(quote) : -len(quote)]))
    return out


def _template_texts(path: Path) -> list[tuple[int, str]]:
    source = path.read_text()
    out: list[tuple[int, str]] = []
    for block in _JINJA.finditer(source):
        line = source.count("\n", 0, block.start()) + 1
        for literal in _JINJA_STRING.finditer(block.group(0)):
            out.append(
                (line, literal.group(1) if literal.group(1) is not None else literal.group(2))
            )
    # Text between tags, with each Jinja expression standing for a Chinese word: punctuation
    # written around an expression (`{{ t("状态") }}:`) shows in the Chinese page too.
    bare = _TAG.sub("\n", _JINJA.sub("字", source))  # line numbers are only a hint here
    out += [(number, text.strip()) for number, text in enumerate(bare.split("\n"), 1)]
    return out


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_write_chinese_punctuation(path: Path) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {problem} in {text[:60]!r}"
        for line, text in _template_texts(path)
        for problem in _problems(text)
    ]
    assert found == []


_T_CALL = re.compile(r"""\bt\(\s*(["'])([^"'\n]*)\1\s*,""")


def _bare_punctuation_in_chinese(source: str) -> list[str]:
    """`t(":", ": ")`: the Chinese half is punctuation alone, so no Chinese character is beside
    it for the checks above to see; it still shows between Chinese words."""
    return [
        zh
        for _quote, zh in _T_CALL.findall(source)
        if zh.strip() and _HALF.search(zh) and not _HAN.search(zh) and not _LATIN.search(zh)
    ]


def test_the_bare_punctuation_check_finds_a_half_width_colon() -> None:
    assert _bare_punctuation_in_chinese("""{{ t(":", ": ") }}{{ t('（', ' (') }}""") == [":"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_join_chinese_words_with_chinese_punctuation(path: Path) -> None:
    assert _bare_punctuation_in_chinese(path.read_text()) == []


def test_python_messages_write_chinese_punctuation() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {problem} in {text[:60]!r}"
        for path in PYTHON
        for line, text in _python_literals(path)
        for problem in _problems(text)
    ]
    assert found == []


def test_the_check_finds_what_it_should() -> None:
    assert _problems("已答复,请您评价") == ["half-width '已答复,请您评价'"]
    assert _problems("公示期至迟至 2011 年") == ["'至迟至'"]
    assert _problems("满意率 n/a") != []
    assert _problems("下载 CSV（按区县）") == []
    assert _problems("时间 10:30，共 1,000 户，见 https://example.cn") == []
    assert _problems("请回答：{q.label_zh}") == []
    assert _problems("Grades (红黑榜), campaign statistics") == []  # English naming a term
    assert _problems("the responsible person (首问责任人) until closed; the clock stops") == []
    # the Chinese half of a bilingual text, and Chinese with more Latin letters than Han
    assert _problems("导出 CSV(Excel 可直接打开)") == ["half-width 'el 可直接打开)'"]
    assert _problems("满意率(%) Satisfaction (%)") == ["half-width '满意率(%) Sati'"]
    assert _problems("本平台不下载 media_url 照片链接;请以 multipart/form-data 上传") != []
    assert _problems("满意率（%） Satisfaction (%)") == []
    assert _problems("cultural: 社区文化活动（三（一）3）; publicity: 宣传活动") == []


def test_punctuation_around_an_expression_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        '<p>{{ t("状态", "Status") }}:<span>{{ s }}</span></p>\n<p>{{ a }} / {{ b }}</p>'
    )
    assert [p for _, text in _template_texts(page) for p in _problems(text)] == ["half-width '字:'"]


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_the_owners_category_texts_write_chinese_punctuation() -> None:
    """The categories' questions and safety notices are shown on the owners' form and in Open311."""
    data = json.loads((ROOT / "services/complaints/data/categories.json").read_text("utf-8"))
    found = [
        f"{problem} in {text[:60]!r}" for text in _strings(data) for problem in _problems(text)
    ]
    assert found == []


def test_the_checklists_in_use_write_chinese_punctuation() -> None:
    """The checklist templates' titles and items are what a patrol reads on the phone. They are
    data files, so the scans above (pages, Python) never saw them: the first versions went out
    with half-width punctuation. A published version is never edited (inspections reference it),
    so version 1 stays as it was; the latest version of each template, the one new inspections
    walk, is checked."""
    latest: dict[str, tuple[int, Path]] = {}
    for path in (ROOT / "services/inspections/data/templates").glob("*.json"):
        body = json.loads(path.read_text("utf-8"))
        if body["version"] > latest.get(body["template_id"], (0, path))[0]:
            latest[body["template_id"]] = (body["version"], path)
    assert {"flood-season", "contract-grade-1", "contract-self-inspection"} <= set(latest)
    found = [
        f"{path.name}: {problem} in {text[:60]!r}"
        for _, path in latest.values()
        for text in _strings(json.loads(path.read_text("utf-8")))
        for problem in _problems(text)
    ]
    assert found == []


_CSS_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_GENERATED = re.compile(r"""content:\s*attr\([^)]*\)\s*"([,:;])\"""")
_FULL = {",": "，", ":": "：", ";": "；"}


def test_punctuation_a_stylesheet_adds_after_a_label_is_full_width_in_chinese() -> None:
    """`content: attr(data-label) ":"` (the phone layout's card labels) shows in Chinese pages
    too: each such rule has a `:lang(zh)` twin with the full-width mark."""
    sheets = sorted(
        [*ROOT.glob("libs/runtime/workspace/static/*.css"), *ROOT.glob("services/*/static/*.css")]
    )
    rules = [(sheet, m.group(1).strip(), m.group(2)) for sheet in sheets
             for m in _CSS_RULE.finditer(_CSS_COMMENT.sub("", sheet.read_text()))]  # fmt: skip
    missing = []
    for sheet, selector, body in rules:
        found = _GENERATED.search(body)
        if found is None or selector.startswith(":lang(zh)"):
            continue
        twin = f'"{_FULL[found.group(1)]}"'
        if not any(s == f":lang(zh) {selector}" and twin in b for _, s, b in rules):
            missing.append(f"{sheet.relative_to(ROOT)}: {selector}")
    assert missing == []
