"""What the registry's routes share: the error responses they document and the rendering of a
refusal that lists every problem (422 with one entry per field)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from fastapi.responses import JSONResponse

from runtime.errors import Message
from runtime.http import ErrorResponse, FieldError, error_response
from services.inspections.domain import problems

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (403, 404, 409, 422)
}
ProjectId = Annotated[str, Path(min_length=1, max_length=64)]


def unprocessable(exc: problems.Invalid) -> JSONResponse:
    zh, en = exc.zh, exc.en
    if exc.total > len(exc.problems):
        zh += f"（共 {exc.total} 处问题，仅列出前 {len(exc.problems)} 处）"
        en += f" ({exc.total} problems, the first {len(exc.problems)} listed)"
    fields = [FieldError(field=p.field, reason=p.zh, reason_en=p.en) for p in exc.problems]
    return error_response(422, exc.code, Message(zh, en), fields)
