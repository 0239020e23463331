"""Serving a complaint's photos, only to those who may see the complaint (`service.photos`):

- staff (API token or workspace session): `GET /api/v1/complaints/{id}/photos` lists them,
  `GET /api/v1/complaints/{id}/photos/{attachment_id}/{image|thumbnail}` serves one;
- the owner over the API: `GET /api/v1/complaints/by-token/photos/{attachment_id}/{variant}` with
  the `X-Complaint-Token` header;
- the owner's status page: `GET /photos/{attachment_id}/{variant}?until=&sig=`, a short-lived
  link bound to the browser (`web_pages.photo_url`).

API clients file with photos at `POST /api/v1/complaints/with-photos` (multipart: a `complaint`
part with the same JSON as `POST /api/v1/complaints`, and up to 9 `photos` parts); the JSON route
stays as it was.

Every answer is `Cache-Control: private`, `nosniff`, with the stored content type only
(`runtime.attachments.serving_headers`). Photos come in with the owners' form
(`web.file_submit`, multipart) and the API route above.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from runtime import attachments
from runtime.errors import InvalidInput, NotFound
from runtime.http import RequestTrace
from runtime.idempotency import IdempotencyKey
from runtime.ratelimit import rate_limit
from runtime.web_session import CurrentSession
from services.complaints.entrypoints import forms, web_pages
from services.complaints.entrypoints.complaints_http import (
    ComplaintIn,
    FiledOut,
    Token,
    file_with,
)
from services.complaints.entrypoints.deps import Deps
from services.complaints.entrypoints.photo_links import photo_list
from services.complaints.entrypoints.policy import Filer, Reader
from services.complaints.entrypoints.workspace_pages import BASE as WORKSPACE
from services.complaints.service import photos

router = APIRouter(prefix="/api/v1", tags=["complaints"])
owner_router = APIRouter(include_in_schema=False, tags=["owner web"])
pages_router = APIRouter(include_in_schema=False, tags=["workspace"])
VariantName = Literal["image", "thumbnail"]


def _served(stored: attachments.Stored) -> Response:
    headers = dict(attachments.serving_headers(stored))
    media_type = headers.pop("Content-Type")
    return Response(stored.data, media_type=media_type, headers=headers)


@router.get(
    "/complaints/by-token/photos/{attachment_id}/{variant}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
async def owner_api_photo(
    attachment_id: str, variant: VariantName, deps: Deps, token: Token
) -> Response:
    """The owner's own photo, with the follow-up token in the header. Declared before the staff
    routes, whose `{complaint_id}` would otherwise take "by-token"."""
    return _served(await photos.for_owner(deps.units(), token, attachment_id, variant))


@router.get("/complaints/{complaint_id}/photos")
async def list_photos(complaint_id: str, deps: Deps, principal: Reader) -> list[dict[str, Any]]:
    """照片 The complaint's photos (stored without EXIF), for those who may see the complaint."""
    refs = await photos.listed(deps.units(), principal, complaint_id)
    return photo_list(complaint_id, refs)


@router.get(
    "/complaints/{complaint_id}/photos/{attachment_id}/{variant}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
async def staff_photo(
    complaint_id: str, attachment_id: str, variant: VariantName, deps: Deps, principal: Reader
) -> Response:
    stored = await photos.for_staff(deps.units(), principal, attachment_id, variant)
    if stored.owner_id != complaint_id:
        raise NotFound("photo_not_found", photos.NOT_FOUND)
    return _served(stored)


@owner_router.get("/photos/{attachment_id}/{variant}")
async def owner_photo(
    request: Request, attachment_id: str, variant: VariantName, deps: Deps
) -> Response:
    if not web_pages.photo_link_ok(request, deps, attachment_id, variant):
        raise NotFound("photo_not_found", photos.NOT_FOUND)
    return _served(await photos.linked(deps.units(), attachment_id, variant))


@router.post(
    "/complaints/with-photos",
    response_model=FiledOut,
    status_code=201,
    responses={200: {"model": FiledOut, "description": "A replay of an Idempotency-Key"}},
    dependencies=[rate_limit("intake")],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["complaint"],
                        "properties": {
                            "complaint": {
                                "type": "string",
                                "description": "The complaint as JSON (ComplaintIn)",
                            },
                            "photos": {
                                "type": "array",
                                "maxItems": attachments.DEFAULT_LIMITS.max_count,
                                "items": {"type": "string", "format": "binary"},
                            },
                        },
                    }
                }
            },
        }
    },
)
async def file_with_photos(
    request: Request,
    response: Response,
    principal: Filer,
    deps: Deps,
    trace: RequestTrace,
    idempotency_key: IdempotencyKey = None,
) -> FiledOut:
    """投诉并上传照片 File a complaint with photos (JPEG, PNG or WebP, at most 9 of 15 MB; type
    sniffed from the bytes; stored re-encoded without EXIF, in the complaint's transaction). A
    refused photo files nothing: 422 naming `photos.<n>`."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput(
            "multipart_required",
            forms.NOT_MULTIPART,
            field="content-type",
        )
    try:
        fields, uploads = await forms.parse_multipart(
            request.headers,
            request.stream(),
            file_field="photos",
            max_bytes=web_pages.MAX_UPLOAD_BYTES,
            max_files=attachments.DEFAULT_LIMITS.max_count,
        )
    except forms.InvalidForm as exc:
        raise InvalidInput("bad_upload", exc.message, field="photos") from exc
    try:
        body = ComplaintIn.model_validate_json(fields.get("complaint", ""))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", "complaint", *e["loc"])} for e in exc.errors()]
        ) from exc
    prepared = await asyncio.to_thread(attachments.prepare_all, uploads, where="photos")
    return await file_with(body, prepared, response, principal, deps, trace, idempotency_key)


@pages_router.get(WORKSPACE + "c/{complaint_id}/photos/{attachment_id}/{variant}")
async def workspace_photo(
    complaint_id: str,
    attachment_id: str,
    variant: VariantName,
    session: CurrentSession,
    deps: Deps,
) -> Response:
    """The complaint's photo on a signed-in workspace page: the same rule as the API's
    (`service.photos.for_staff`: who may see the complaint sees its photos, stored without EXIF)."""
    stored = await photos.for_staff(deps.units(), session.principal, attachment_id, variant)
    if stored.owner_id != complaint_id:
        raise NotFound("photo_not_found", photos.NOT_FOUND)
    return _served(stored)
