"""Strict parsing of `application/x-www-form-urlencoded` bodies (the owners' pages and Open311)
and of the owners' form with photos (`multipart/form-data`, `parse_multipart`).

The usual parsers (urllib's `parse_qs`, Starlette's `Request.form()`) replace bytes that are not
UTF-8 with U+FFFD, so a damaged or hostile body would be stored as text the person never wrote.
Here such a body is refused with a clear error, before anything is written.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from urllib.parse import parse_qs

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from runtime.attachments import Upload
from runtime.errors import Message

MAX_FIELDS = 100
NOT_UTF8 = Message(
    "表单内容含有无效字符（不是 UTF-8 编码），未保存任何内容，请重新填写后提交",
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


TOO_BIG = Message(
    "上传的内容太大，未保存任何内容：照片每张最多 15 MB，最多 9 张",
    "the upload is too large; nothing was saved: at most 9 photos of 15 MB each",
)
NOT_MULTIPART = Message("表单格式无效", "the form is not a valid multipart body")


class _StrictParser(MultiPartParser):
    """Starlette's parser, but a text field that is not UTF-8 is refused (Starlette would read
    it as Latin-1, storing text the person never wrote)."""

    def on_part_end(self) -> None:
        if self._current_part.file is None:
            try:
                bytes(self._current_part.data).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidForm(NOT_UTF8) from exc
        super().on_part_end()


async def _capped(
    stream: AsyncGenerator[bytes, None], max_bytes: int
) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > max_bytes:
            raise InvalidForm(TOO_BIG)
        yield chunk


async def parse_multipart(
    headers: Headers,
    stream: AsyncGenerator[bytes, None],
    *,
    file_field: str,
    max_bytes: int,
    max_files: int,
    max_fields: int = MAX_FIELDS,
) -> tuple[dict[str, str], list[Upload]]:
    """The text fields (first value of each name) and the files of `file_field` (empty file
    inputs dropped) of a multipart body of at most `max_bytes`; raises `InvalidForm`."""
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise InvalidForm(TOO_BIG)
    parser = _StrictParser(
        headers,
        _capped(stream, max_bytes),
        max_files=max_files + 1,  # one more, so that "too many photos" is said by the pipeline
        max_fields=max_fields,
        max_part_size=64 * 1024,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidForm(NOT_MULTIPART) from exc
    fields: dict[str, str] = {}
    uploads: list[Upload] = []
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name == file_field and (value.filename or value.size):
                    data = await value.read()
                    if data or value.filename:
                        uploads.append(Upload(data, value.filename or None))
            else:
                fields.setdefault(name, value)
    finally:
        await form.close()
    return fields, uploads
