"""The public photo route (issue 15): an inspection item's photo shown on the exposure board.

`GET /public/photos/{attachment_id}` (the re-encoded image) and `.../thumbnail` answer without
sign-in only while a published exposure case names the photo (`public_photos`, kept from the
exposure events); before publication, after withdrawal, for any other photo (a draft's, an
enterprise's evidence, an unknown id; owners' photos live in the complaints service) the answer
is the same 404. What is served is the stored re-encoded copy, never the inspector's original:
no EXIF, no location. The ingress routes `/public/photos/` to this service on the board's host."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from runtime import attachments
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps

router = APIRouter(include_in_schema=False, tags=["public photos"])
PATH = "/public/photos/"
NOT_FOUND = "照片不存在或未公开 photo not found or not public".encode()
# Shared caches may keep a public photo a minute: a withdrawal takes effect within that.
CACHE = "public, max-age=60"


async def _serve(deps: Deps, attachment_id: str, variant: attachments.Variant) -> Response:
    if not attachments.valid_id(attachment_id):
        return Response(status_code=404, content=NOT_FOUND)
    async with deps.units() as uow:
        named = await uow.public_photos.is_public(attachment_id)
        stored = await uow.attachments.get(attachment_id, variant) if named else None
    if stored is None or not policy.publicly_served(
        stored.owner_kind, variant, named_by_published_case=named
    ):
        return Response(status_code=404, content=NOT_FOUND)
    headers = dict(attachments.serving_headers(stored))
    headers["Cache-Control"] = CACHE
    headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # the board may be another origin
    return Response(stored.data, headers=headers)


@router.get(PATH + "{attachment_id}")
async def public_photo(attachment_id: str, deps: Deps) -> Response:
    return await _serve(deps, attachment_id, "image")


@router.get(PATH + "{attachment_id}/thumbnail")
async def public_thumbnail(attachment_id: str, deps: Deps) -> Response:
    return await _serve(deps, attachment_id, "thumbnail")
