"""The base class of every event on the wire."""

from __future__ import annotations

from typing import ClassVar

import pydantic
from pydantic import ConfigDict


class Event(pydantic.BaseModel):
    """A frozen, versioned event body; its JSON is the Kafka record value.

    ``extra="ignore"``: a consumer built against an older schema of the same version
    must tolerate fields added later (changes within a version are additive only).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    ce_type: ClassVar[str]
    """CloudEvents ``type``, e.g. ``cn.tj.wuye.inspections.InspectionFailed.v1``."""
    topic: ClassVar[str]
    """Name of the Kafka topic the event travels on."""
    key_field: ClassVar[str]
    """Name of the field whose value is the Kafka key, i.e. the ordering key."""

    def partition_key(self) -> str:
        """The Kafka record key: events with the same key stay in order."""
        return str(getattr(self, self.key_field))

    def subject(self) -> str:
        """The CloudEvents ``subject``: what the event is about, within its source."""
        return self.partition_key()


def schema_uri(ce_type: str) -> str:
    """Stable identifier of an event type's JSON Schema (``dataschema`` and ``$id``)."""
    return f"urn:wuye:schema:{ce_type}"
