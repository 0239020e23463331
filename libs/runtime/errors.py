"""The platform's one error vocabulary, bilingual: Chinese (zh-CN) first, English available.

Domain code raises these and knows nothing of HTTP; ``runtime.http`` maps them to status codes
(``DomainError`` 409, ``NotFound`` 404, ``Forbidden`` 403, ``Unauthenticated`` 401) and to the one
JSON error shape. ``validation_reason`` puts pydantic's validation errors into the same vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Message:
    """A user-facing text in both languages."""

    zh: str
    en: str


class DomainError(Exception):
    """A business rule refused the request (e.g. an illegal state change)."""

    def __init__(self, code: str, message: Message, *, field: str | None = None) -> None:
        super().__init__(f"{code}: {message.en}")
        self.code = code
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """Well-formed input that does not fit the rules (e.g. results that do not match the template)."""


class Unavailable(DomainError):
    """The request is fine but the service lacks something it needs to answer (e.g. reference data
    an operator must load): 503, and the message says what is missing."""


class NotFound(DomainError):
    """The thing asked for does not exist (or the caller may not know that it does)."""


class Forbidden(DomainError):
    """The caller is authenticated but not allowed, or the target is outside their scope."""


class Unauthenticated(DomainError):
    """No identity, or one we cannot trust (missing, expired, forged or mis-scoped token)."""


GENERIC_REASON_ZH = "取值不合法"

# pydantic error type -> Chinese reason; placeholders are filled from the error's ``ctx``.
_REASONS_ZH: dict[str, str] = {
    "missing": "必填项缺失",
    "extra_forbidden": "不允许的字段",
    "json_invalid": "请求体不是合法的 JSON",
    "string_too_long": "超过最大长度 {max_length}",
    "string_too_short": "少于最小长度 {min_length}",
    "too_long": "最多 {max_length} 项",
    "too_short": "至少 {min_length} 项",
    "literal_error": "取值必须是 {expected} 之一",
    "enum": "取值必须是 {expected} 之一",
    "greater_than": "必须大于 {gt}",
    "greater_than_equal": "必须大于或等于 {ge}",
    "less_than": "必须小于 {lt}",
    "less_than_equal": "必须小于或等于 {le}",
    "int_parsing": "必须是整数",
    "int_type": "必须是整数",
    "int_from_float": "必须是整数",
    "float_parsing": "必须是数字",
    "float_type": "必须是数字",
    "decimal_parsing": "必须是数字",
    "bool_parsing": "必须是布尔值（true 或 false）",
    "bool_type": "必须是布尔值（true 或 false）",
    "string_type": "必须是字符串",
    "string_pattern_mismatch": "格式不符合要求",
    "datetime_parsing": "必须是合法的日期时间（ISO 8601，如 2011-08-14T09:00:00+08:00）",
    "datetime_from_date_parsing": "必须是合法的日期时间（ISO 8601，如 2011-08-14T09:00:00+08:00）",
    "datetime_type": "必须是合法的日期时间（ISO 8601，如 2011-08-14T09:00:00+08:00）",
    "date_parsing": "必须是合法的日期（如 2011-08-14）",
    "date_from_datetime_parsing": "必须是合法的日期（如 2011-08-14）",
    "date_type": "必须是合法的日期（如 2011-08-14）",
    "timezone_aware": "必须带时区",
    "uuid_parsing": "必须是合法的 UUID",
    "uuid_type": "必须是合法的 UUID",
    "dict_type": "必须是对象",
    "model_type": "必须是对象",
    "model_attributes_type": "必须是对象",
    "list_type": "必须是数组",
}


def validation_reason(error: Mapping[str, Any]) -> Message:
    """Translate one pydantic error (``type``, ``msg``, ``ctx``) into a bilingual reason.

    English is pydantic's own message; unknown types get a generic Chinese reason.
    """
    en = str(error.get("msg") or "Invalid value")
    template = _REASONS_ZH.get(str(error.get("type", "")))
    if template is None:
        return Message(GENERIC_REASON_ZH, en)
    ctx = dict(error.get("ctx") or {})
    if "expected" in ctx:  # pydantic says "'a', 'b' or 'c'"
        ctx["expected"] = str(ctx["expected"]).replace(" or ", "、").replace(", ", "、")
    try:
        return Message(template.format_map(ctx), en)
    except (KeyError, IndexError, ValueError):
        return Message(GENERIC_REASON_ZH, en)
