"""Personal data in the free text of events on public topics: what is masked, and how.

Inspectors' notes, rejection reasons, objection grounds and notice bodies are written by people
and can carry someone's name or phone number ("已联系业主张三 13800138000"). Events on public
topics (``topics.TopicSpec.public``) carry such text only as ``fields.PublicText``, which runs
:func:`scrub` whenever the event is built — by its producer and when a consumer decodes it — so
the masked text is what goes on the wire and what every reader of the contract sees.

:func:`scrub` masks:

- mainland mobile numbers (``1[3-9]`` + 9 digits; spaces or dashes between digits; ``+86``,
  ``0086``, ``86``, ``(+86)`` prefixes) as ``138****1234``;
- landline numbers with an area code (``022-23456789``, ``(022)23456789``, ``0311 1234567``) and
  numbers after a telephone label (``电话：2345678``), keeping the area code and the last 4
  digits;
- 18-digit resident ID-card numbers (region, a real birth date, sequence, check digit or ``X``)
  as ``[身份证号已隐去]``. The check digit is not verified: a mistyped number still points at a
  person;
- e-mail addresses, keeping the domain (``***@example.com``);
- names in the common patterns: after a label (``业主张三``, ``联系人：李四``, ``姓名：王小明``) and
  a surname before an honorific (``张先生``, ``王女士``, ``刘师傅``, ``陈阿姨``, ``李经理``), as
  ``某某`` and ``某先生``. A name is recognised by a common surname (128 of the most frequent,
  which most people carry) except after ``姓名``/``联系人``-style labels with a colon, where any 2-3 Han
  characters are taken to be a name.

The masked text is never longer than the original (``maxLength`` in the JSON Schemas holds) and
scrubbing is idempotent: ``scrub(scrub(t)) == scrub(t)``. Names written without a pattern
("张三来过") and old 15-digit ID numbers are not recognised: text on public topics must still be
written for the public.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Final, Literal

PersonalData = Literal["none", "scrubbed", "pseudonymous", "contains"]
"""What a topic carries about people (``topics.TopicSpec.personal_data``):

- ``none``: no personal data and no free text that could carry it;
- ``scrubbed``: free text written by people, masked by :func:`scrub` (``fields.PublicText``);
- ``pseudonymous``: identifiers of people (account or staff ids), never names or contacts;
- ``contains``: anything, e.g. dead letters keep the original record byte for byte.

Public topics are ``none`` or ``scrubbed`` only.
"""

PUBLIC_LEVELS: Final[frozenset[PersonalData]] = frozenset({"none", "scrubbed"})

MARK: Final = "scrubbed"
"""Value of the ``x-personal-data`` JSON Schema keyword on every scrubbed field."""

ID_CARD_MASK: Final = "[身份证号已隐去]"
NAME_MASK: Final = "某某"

# Full-width digits and signs are matched as their ASCII forms; the translation is one character
# for one, so spans found in the translated text are spans of the original.
_ASCII: Final = str.maketrans(
    {**{chr(0xFF10 + d): str(d) for d in range(10)}, "＋": "+", "－": "-", "（": "(", "）": ")"}
)

_NOT_BEFORE: Final = r"(?<![0-9A-Za-z])"
_NOT_AFTER: Final = r"(?![0-9A-Za-z])"

_ID_CARD: Final = re.compile(
    _NOT_BEFORE
    + r"[1-9][0-9]{5}(?P<birth>(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))"
    r"[0-9]{3}[0-9Xx]" + _NOT_AFTER
)
_EMAIL: Final = re.compile(
    r"(?<![A-Za-z0-9._%+-])(?P<local>[A-Za-z0-9._%+-]+)@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
    + _NOT_AFTER
)
_MOBILE: Final = re.compile(
    _NOT_BEFORE
    + r"(?:(?:\(\+?86\)|(?:\+|00)?86)[ -]?)?(?P<number>1[3-9][0-9](?:[ -]?[0-9]){8})"
    + _NOT_AFTER
)
_LANDLINE: Final = re.compile(
    _NOT_BEFORE
    + r"(?:\((?P<area1>0(?:10|2[0-9]|[3-9][0-9]{2}))\)[ -]?|(?P<area2>0(?:10|2[0-9]|[3-9][0-9]{2}))[ -]?)"
    r"(?P<local>[2-9][0-9]{2,3}[ -]?[0-9]{4})" + _NOT_AFTER
)
_LABELLED_NUMBER: Final = re.compile(
    r"(?:电话|手机|手机号|手机号码|座机|联系方式|tel|Tel|TEL|phone|Phone)[ ]*[:：]?[ ]*"
    r"(?![48]00)(?P<local>[0-9](?:[ -]?[0-9]){6,11})" + _NOT_AFTER
)

_SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩邓冯曹彭曾肖田董潘袁蔡蒋余杜叶程魏苏吕"
    "丁卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付傅方邹熊白孟秦邱侯江尹薛闫阎段雷龙黎史陶贺毛郝顾龚邵万覃"
    "武钱戴严莫孔常汤康易乔赖文施洪辛柯庄葛牛齐樊殷鲁倪岳翟聂靳焦祁耿兰关纪郎"
)
"""Common single-character surnames. Left out on purpose: surnames that are also common
function words or word starts in inspection notes (于, 向, 任, 安, 单, 时, 和, 区, 楼, 修 ...)."""
_COMPOUND_SURNAMES: Final = "欧阳|司马|诸葛|上官|东方|慕容|令狐|皇甫|尉迟|公孙|长孙|夏侯|司徒"

_HAN: Final = r"[\u4e00-\u9fff]"
_NOT_GIVEN: Final = (
    "反称说讲表投诉家的在要报等和与及已于电手联多认同来去到致入住所都也又就还曾从向对把被让自是不未没"
    "今昨前后先女小师阿经主老签负现因拒"
)
"""Characters that end a name rather than continue it when they follow the surname and one
given-name character (``业主张三反映`` is 张三, not 张三反)."""

_WORDS: Final = (
    "方面|方式|方案|方法|方便|高度|高层|高温|高空|高压|何时|何处|常常|常年|文明|文件|文字|万元|金额|"
    "余额|马上|石材|白天|夏季|程序|毛坯|钱款|龙头|周边|周围|周末|周期|周知|周界|周[一二三四五六日]|明显|"
    "严重|严格|范围|陆续|孔洞|洪水|雷雨|许可|陈述|孙子|孙女|关于|关注|关闭|关门|付款|付费|齐全|易燃|"
    "康复|江边|黎明|施工|罗列|段落|武装|庄重|焦急|纪律|白色|黄色|金属|石块|石头|钟表|林木|夏天|"
    "秦皇岛"
)
"""Words starting with a surname character that are not names after a label."""

_LABELS: Final = (
    "业主|住户|租户|户主|居民|联系人|负责人|经办人|报修人|投诉人|举报人|当事人|反映人|来电人|"
    "检查人|检查员|巡查员|保安员|保洁员|保安|保洁|门卫|电工|维修工|管理员|管家|主任|经理|姓名"
)
_STRONG_LABELS: Final = "姓名|联系人|报修人|投诉人|举报人|当事人|反映人|来电人|户主"
_HONORIFICS: Final = "先生|女士|小姐|师傅|阿姨|大爷|大妈|大姐|大哥|经理|主任|老师"

_NOT_NAMES: Final = (
    "物业|前台|客服|值班|门岗|保安|保洁|本人|业主|住户|租户|管家|家属|无|未|不详|同上"
)
"""What follows a ``联系人：`` label that is not a name."""

_SURNAME: Final = f"(?:{_COMPOUND_SURNAMES}|[{_SURNAMES}])"
_GIVEN: Final = f"{_HAN}(?:(?![{_NOT_GIVEN}]){_HAN})?"

_STRONG_LABELLED_NAME: Final = re.compile(
    f"(?P<label>(?:{_STRONG_LABELS})[ ]*[:：][ ]*)"
    f"(?P<name>(?!某|{_NOT_NAMES})(?:(?:{_COMPOUND_SURNAMES}){_GIVEN}|{_HAN}{{2}}(?:(?![{_NOT_GIVEN}]){_HAN})?))"
)
_LABELLED_NAME: Final = re.compile(
    f"(?P<label>(?:{_LABELS})[ ]*[:：]?[ ]*)"
    f"(?P<name>(?!{_WORDS}){_SURNAME}(?!某|{_HONORIFICS}){_GIVEN})"
)
_HONORIFIC_NAME: Final = re.compile(
    f"(?P<name>{_SURNAME}(?:{_HAN}{{1,2}}(?=先生|女士|小姐))?)(?P<title>{_HONORIFICS})"
)

_Span = tuple[int, int, str]


def scrub(text: str) -> str:
    """``text`` with personal data masked; unchanged when there is none (see the module)."""
    if not text:
        return text
    ascii_text = text.translate(_ASCII)
    spans: list[_Span] = []
    for find in _FINDERS:
        for start, end, mask in find(ascii_text):
            if all(end <= s or start >= e for s, e, _ in spans):
                spans.append((start, end, mask))
    if not spans:
        return text
    out: list[str] = []
    position = 0
    for start, end, mask in sorted(spans):
        out.append(text[position:start])
        out.append(mask)
        position = end
    out.append(text[position:])
    return "".join(out)


_DIGIT_RUN: Final = re.compile(r"[0-9][0-9 ()+-]*[0-9Xx]")
_LOOK_BACK: Final = 12
"""How far before a run of digits a number's prefix or label can start (``联系电话：``, ``(+86)``)."""


def _numbers(text: str) -> Iterator[_Span]:
    """Numbers are looked for only around runs of at least 7 digits: text is mostly without."""
    for run in _DIGIT_RUN.finditer(text):
        if sum(c.isdigit() for c in run.group(0)) < 7:
            continue
        pos, endpos = max(0, run.start() - _LOOK_BACK), min(len(text), run.end() + 1)
        yield from _id_cards(text, pos, endpos)
        yield from _mobiles(text, pos, endpos)
        yield from _landlines(text, pos, endpos)
        yield from _labelled_numbers(text, pos, endpos)


def _id_cards(text: str, pos: int, endpos: int) -> Iterator[_Span]:
    for m in _ID_CARD.finditer(text, pos, endpos):
        try:
            dt.date.fromisoformat(f"{m['birth'][:4]}-{m['birth'][4:6]}-{m['birth'][6:]}")
        except ValueError:
            continue  # not a real birth date: some other 18-digit number
        yield m.start(), m.end(), ID_CARD_MASK


def _emails(text: str) -> Iterator[_Span]:
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end(), "*" * min(3, len(m["local"])) + "@" + m["domain"]


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def _mobiles(text: str, pos: int, endpos: int) -> Iterator[_Span]:
    for m in _MOBILE.finditer(text, pos, endpos):
        number = _digits(m["number"])
        yield m.start(), m.end(), f"{number[:3]}****{number[-4:]}"


def _keep_last_four(local: str) -> str:
    digits = _digits(local)
    return "*" * (len(digits) - 4) + digits[-4:]


def _landlines(text: str, pos: int, endpos: int) -> Iterator[_Span]:
    for m in _LANDLINE.finditer(text, pos, endpos):
        area = m["area1"] or m["area2"]
        separator = "-" if any(c in m.group(0) for c in " -(") else ""
        yield m.start(), m.end(), f"{area}{separator}{_keep_last_four(m['local'])}"


def _labelled_numbers(text: str, pos: int, endpos: int) -> Iterator[_Span]:
    for m in _LABELLED_NUMBER.finditer(text, pos, endpos):
        yield m.start("local"), m.end("local"), _keep_last_four(m["local"])


def _names(text: str) -> Iterator[_Span]:
    for pattern in (_STRONG_LABELLED_NAME, _LABELLED_NAME):
        for m in pattern.finditer(text):
            yield m.start("name"), m.end("name"), NAME_MASK
    for m in _HONORIFIC_NAME.finditer(text):
        yield m.start("name"), m.end("name"), "某"


_FINDERS: Final[tuple[Callable[[str], Iterator[_Span]], ...]] = (_numbers, _emails, _names)
"""In priority order (ID cards, mobiles, landlines, labelled numbers, e-mails, names): a span
overlapping an earlier one is left to the earlier finder."""
