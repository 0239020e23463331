"""Where the staff API serves a complaint's photos (`photos_http`), as its lists show them."""

from __future__ import annotations

from typing import Any

from runtime import attachments


def photo_list(complaint_id: str, refs: list[attachments.Ref]) -> list[dict[str, Any]]:
    """The photos as the staff API lists them: references and where to fetch them."""
    base = f"/api/v1/complaints/{complaint_id}/photos"
    return [
        {
            "attachment_id": r.attachment_id,
            "sha256": r.sha256,
            "content_type": r.content_type,
            "width": r.width,
            "height": r.height,
            "url": f"{base}/{r.attachment_id}/image",
            "thumbnail_url": f"{base}/{r.attachment_id}/thumbnail",
        }
        for r in refs
    ]
