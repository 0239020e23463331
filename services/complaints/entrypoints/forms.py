"""Strict parsing of `application/x-www-form-urlencoded` bodies: the owners' pages and Open311.

The usual parsers (urllib's `parse_qs`, Starlette's `Request.form()`) replace bytes that are not
UTF-8 with U+FFFD, so a damaged or hostile body would be stored as text the person never wrote.
Here such a body is refused with a clear error, before anything is written.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from runtime.errors import Message

MAX_FIELDS = 100
NOT_UTF8 = Message(
    "表单内容含有无效字符(不是 UTF-8 编码),未保存任何内容,请重新填写后提交",
    "the form contains bytes that are not valid UTF-8; nothing was saved, please fill it in "
    "again and resubmit",
)
TOO_MANY_FIELDS = Message("表单字段过多", f"the form has more than {MAX_FIELDS} fields")


class InvalidForm(ValueError):
    """A body that is not a readable form; `message` says why (zh-CN and English)."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.en)
        self.message = message


def parse(body: bytes, *, max_fields: int = MAX_FIELDS) -> dict[str, str]:
    """The fields of a urlencoded body, first value of each name; raises `InvalidForm` for
    bytes (raw or percent-encoded) that are not UTF-8, or too many fields."""
    try:
        text = body.decode("utf-8")  # raw bytes, strict
        parsed = parse_qs(
            text,
            keep_blank_values=True,
            max_num_fields=max_fields,
            encoding="utf-8",
            errors="strict",  # percent-encoded bytes, strict too (the default replaces)
        )
    except UnicodeDecodeError as exc:
        raise InvalidForm(NOT_UTF8) from exc
    except ValueError as exc:  # max_num_fields exceeded
        raise InvalidForm(TOO_MANY_FIELDS) from exc
    return {name: values[0] for name, values in parsed.items()}
