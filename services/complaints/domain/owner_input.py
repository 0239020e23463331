"""What people type into a complaint, checked: plain text, phone numbers, the answers to a
category's questions, photo references (pure).

Texts are plain text. Control characters, bidi overrides and anything that looks like an HTML tag
are refused, not neutralised: silently editing an owner's words would change what they said, and
a refusal with a field-level reason lets them fix it. Pages escape everything anyway.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from services.complaints.domain import TransitionRefused
from services.complaints.domain.categories import Category

MAX_DESCRIPTION = 2000
MAX_REPLY = 2000
MAX_COMMENT = 500
MAX_REASON = 500
MIN_REASON = 2
MIN_EXTENSION_REASON = 5
MAX_ANSWER = 200
MAX_ADDRESS = 200
MAX_NAME = 50
MAX_ORG = 64
MAX_PHOTOS = 9
PHOTO_REF = re.compile(r"[A-Za-z0-9._/-]{1,200}")
HTML_TAG = re.compile(r"<\s*[/!?]?\s*[A-Za-z][^<>]*>|<!--")
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MOBILE = re.compile(r"1[3-9][0-9]{9}")
LANDLINE = re.compile(r"0[0-9]{2,3}[0-9]{7,8}")


def plain_text(
    raw: str, field_name: str, max_chars: int, *, min_chars: int = 1, line: bool = False
) -> str:
    """Trimmed, NFC-normalised plain text with newlines as LF; refuses control characters
    (newline and tab allowed unless `line`), bidi overrides and HTML-looking tags."""
    if not isinstance(raw, str):
        raise TypeError(f"{field_name} must be a string")
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n")).strip()
    allowed = "\t" if line else "\t\n"
    for char in text:
        if (unicodedata.category(char) == "Cc" and char not in allowed) or char in BIDI:
            raise TransitionRefused(
                "control_characters",
                "不能包含控制字符" + ("或换行" if line else ""),
                "control characters are not allowed" + (", nor line breaks" if line else ""),
                field_name,
            )
    if HTML_TAG.search(text):
        raise TransitionRefused(
            "html_not_allowed",
            "请使用纯文本，不能包含 HTML 标签",
            "plain text only: HTML tags are not allowed",
            field_name,
        )
    if len(text) < min_chars:
        raise TransitionRefused(
            "too_short",
            f"至少需要 {min_chars} 个字",
            f"at least {min_chars} characters are required",
            field_name,
        )
    if len(text) > max_chars:
        raise TransitionRefused(
            "too_long",
            f"不能超过 {max_chars} 个字（当前 {len(text)} 个）",
            f"at most {max_chars} characters (got {len(text)})",
            field_name,
        )
    return text


def normalise_phone(raw: str) -> str:
    """Mainland mobile (11 digits) or landline with area code; spaces, hyphens and +86 dropped."""
    digits = re.sub(r"[\s-]", "", raw)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    if MOBILE.fullmatch(digits) or LANDLINE.fullmatch(digits):
        return digits
    raise TransitionRefused(
        "bad_phone",
        "电话号码格式不正确：请填写 11 位手机号或带区号的固定电话",
        "invalid phone number: give an 11-digit mobile number or a landline with its area code",
        "contact.phone",
    )


def contact_details(name: str | None, phone: str | None) -> tuple[str | None, str | None] | None:
    """A checked name and phone; None when both are empty (an anonymous complaint)."""
    checked_name = None
    if name is not None and name.strip():
        checked_name = plain_text(name, "contact.name", MAX_NAME, line=True)
    checked_phone = None
    if phone is not None and phone.strip():
        checked_phone = normalise_phone(phone)
    if checked_name is None and checked_phone is None:
        return None
    return checked_name, checked_phone


def answers(category: Category, raw: Mapping[str, str | bool]) -> dict[str, str | bool]:
    questions = {q.id: q for q in category.questions}
    for key in raw:
        if key not in questions:
            raise TransitionRefused(
                "unknown_question",
                f"“{category.name_zh}”类投诉没有这个问题：{key}",
                f"the {category.name_en} category has no question {key!r}",
                f"answers.{key}",
            )
    answers: dict[str, str | bool] = {}
    for q in category.questions:
        where = f"answers.{q.id}"
        value = raw.get(q.id)
        if value is None or (isinstance(value, str) and not value.strip()):
            if q.required:
                raise TransitionRefused(
                    "answer_required",
                    f"请回答：{q.label_zh}",
                    f"please answer: {q.label_en}",
                    where,
                )
            continue
        if q.kind == "yesno":
            if not isinstance(value, bool):
                raise TransitionRefused(
                    "answer_yesno", "请选择“是”或“否”", "answer yes or no", where
                )
            answers[q.id] = value
        elif q.kind == "choice":
            if not isinstance(value, str) or value not in {c.id for c in q.choices}:
                raise TransitionRefused(
                    "answer_choice", "请从给出的选项中选择", "pick one of the choices given", where
                )
            answers[q.id] = value
        else:
            if not isinstance(value, str):
                raise TransitionRefused("answer_text", "请填写文字", "answer in text", where)
            answers[q.id] = plain_text(value, where, MAX_ANSWER, line=True)
    return answers


def photo_refs(raw: Sequence[str]) -> tuple[str, ...]:
    if isinstance(raw, str):  # a lone string is a Sequence[str] too; never split it into letters
        raise TypeError("photo_refs must be a sequence of references, not one string")
    refs = tuple(raw)
    if len(refs) > MAX_PHOTOS:
        raise TransitionRefused(
            "too_many_photos",
            f"照片最多 {MAX_PHOTOS} 张（当前 {len(refs)} 张）",
            f"at most {MAX_PHOTOS} photos (got {len(refs)})",
            "photo_refs",
        )
    for index, ref in enumerate(refs):
        if (
            not PHOTO_REF.fullmatch(ref)
            or ".." in ref
            or ref.startswith("/")
            or ref in refs[:index]
        ):
            raise TransitionRefused(
                "bad_photo_ref",
                f"第 {index + 1} 张照片的引用无效或重复",
                f"photo reference {index + 1} is invalid or repeated",
                f"photo_refs.{index}",
            )
    return refs
