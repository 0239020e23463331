"""Constrained field types shared by the event modules (descriptions stay at the use site)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

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
