"""Multipart bodies with photos, for the workspace's forms and the API: text fields and files by
field name, the whole body capped; the photos themselves are checked by `runtime.attachments`."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from runtime import attachments
from runtime.errors import Message

MAX_UPLOAD_BYTES = 40 * attachments.MB  # a whole form; each photo is capped by the pipeline
TOO_BIG = Message(
    f"提交的内容过大（整张表单最多 {MAX_UPLOAD_BYTES // attachments.MB} MB）",
    f"The form is too large (at most {MAX_UPLOAD_BYTES // attachments.MB} MB in all)",
)
Files = dict[str, list[attachments.Upload]]


async def parse_multipart(request: Request) -> tuple[dict[str, str], Files] | Message:
    """The text fields and the files (by field name, empty inputs dropped) of a multipart body
    of at most `MAX_UPLOAD_BYTES`, or why not (shared by the pages and the API)."""
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_UPLOAD_BYTES:
        return TOO_BIG
    parser = MultiPartParser(
        request.headers, request.stream(), max_files=40, max_fields=200, max_part_size=64 * 1024
    )
    try:
        parsed = await parser.parse()
    except MultiPartException:
        return Message("表单格式无效", "The form is not a valid multipart form")
    fields: dict[str, str] = {}
    files: Files = {}
    try:
        for name, value in parsed.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                if data or value.filename:
                    files.setdefault(name, []).append(
                        attachments.Upload(data, value.filename or None)
                    )
            else:
                fields.setdefault(name, value)
    finally:
        await parsed.close()
    return fields, files
