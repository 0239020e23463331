"""Constrained field types shared by the event modules (descriptions stay at the use site)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from schemas import privacy

Id = Annotated[str, Field(min_length=1, max_length=64)]
"""An opaque identifier: non-empty, at most 64 characters."""

DistrictCode = Annotated[str, Field(pattern=r"^[0-9]{6}$")]
"""A six-digit Chinese administrative division code, e.g. ``120101`` (和平区)."""

Name = Annotated[str, Field(min_length=1, max_length=200)]
"""A display name: non-empty, at most 200 characters."""

Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
"""A checklist score on a 0..100 scale."""

PublicText = Annotated[
    str,
    AfterValidator(privacy.scrub),
    Field(json_schema_extra={"x-personal-data": privacy.MARK}),
]
"""Free text written by a person, on a public topic: personal data in it (phone and ID-card
numbers, e-mail addresses, names in common patterns) is masked by ``privacy.scrub`` whenever the
event is built or decoded. Never rejects a value, never lengthens it. Length limits stay at the
use site."""


class AttachmentRef(BaseModel):
    """附件引用 A photo stored by the service that owns the record: a reference, never bytes. The
    bytes are served by that service only to those allowed to see the record."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    attachment_id: str = Field(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="附件编号 Attachment id (a UUID).",
    )
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="内容哈希 SHA-256 (hex) of the stored image (re-encoded, without EXIF).",
    )
    content_type: Literal["image/jpeg", "image/png"] = Field(
        description="类型 The stored image's content type."
    )
