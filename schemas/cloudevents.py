"""CloudEvents 1.0 over Kafka, binary content mode.

The record value is the event's JSON; the CloudEvents attributes travel as ``ce_*`` headers;
the record key is the event's partition key. Correlation and causation ids are CloudEvents
extension attributes (``ce_correlationid``, ``ce_causationid``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pydantic

from schemas import base, catalog

SPECVERSION = "1.0"
JSON = "application/json"

ID = "ce_id"
SOURCE = "ce_source"
SPECVERSION_HEADER = "ce_specversion"
TYPE = "ce_type"
TIME = "ce_time"
SUBJECT = "ce_subject"
DATASCHEMA = "ce_dataschema"
CORRELATIONID = "ce_correlationid"
CAUSATIONID = "ce_causationid"
CONTENT_TYPE = "content-type"

REQUIRED_HEADERS = (ID, SOURCE, SPECVERSION_HEADER, TYPE, TIME, CORRELATIONID, CONTENT_TYPE)
OPTIONAL_HEADERS = (SUBJECT, DATASCHEMA, CAUSATIONID)
HEADERS = REQUIRED_HEADERS + OPTIONAL_HEADERS
"""Every header this module writes or reads; other headers are ignored on the way in."""

_MAX_VALIDATION_ERRORS = 3


class MalformedEvent(ValueError):
    """A record that is not a valid event of the contract; ``reason`` goes to the dead letter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownEventType(MalformedEvent):
    """A well-formed CloudEvent whose ``type`` is not in the catalog."""


@dataclass(frozen=True)
class CloudEvent:
    id: str
    source: str
    type: str
    time: datetime
    subject: str | None
    correlationid: str
    causationid: str | None
    data: bytes
    key: bytes | None
    datacontenttype: str = JSON
    dataschema: str | None = None
    specversion: str = SPECVERSION


def from_event(
    event: base.Event,
    *,
    source: str,
    id: str | None = None,
    time: datetime | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> CloudEvent:
    """Wrap an event; a new id and the current time unless given; a new correlation starts here
    unless ``correlation_id`` continues one."""
    if not source:
        raise ValueError("source must be a non-empty URI reference, e.g. /wuye/inspections")
    if time is not None and time.utcoffset() is None:
        raise ValueError("time must be timezone-aware")
    event_id = id or str(uuid.uuid4())
    return CloudEvent(
        id=event_id,
        source=source,
        type=event.ce_type,
        time=time or datetime.now(UTC),
        subject=event.subject(),
        correlationid=correlation_id or event_id,
        causationid=causation_id,
        data=event.model_dump_json().encode(),
        key=event.partition_key().encode(),
        dataschema=base.schema_uri(event.ce_type),
    )


def to_kafka_headers(ce: CloudEvent) -> list[tuple[str, bytes]]:
    """The record headers of an event (binary content mode), UTF-8 encoded."""
    headers = [
        (ID, ce.id),
        (SOURCE, ce.source),
        (SPECVERSION_HEADER, ce.specversion),
        (TYPE, ce.type),
        (TIME, ce.time.isoformat()),
    ]
    if ce.subject is not None:
        headers.append((SUBJECT, ce.subject))
    if ce.dataschema is not None:
        headers.append((DATASCHEMA, ce.dataschema))
    headers.append((CORRELATIONID, ce.correlationid))
    if ce.causationid is not None:
        headers.append((CAUSATIONID, ce.causationid))
    headers.append((CONTENT_TYPE, ce.datacontenttype))
    return [(name, value.encode()) for name, value in headers]


def from_kafka(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> CloudEvent:
    """Read a record; ``MalformedEvent`` with a precise reason if it is not a valid CloudEvent."""
    attrs = _read_headers(headers)
    missing = [name for name in REQUIRED_HEADERS if name not in attrs]
    if missing:
        raise MalformedEvent(f"missing header(s): {', '.join(missing)}")
    for name, text in attrs.items():
        if not text:
            raise MalformedEvent(f"header {name} is empty")
    if attrs[SPECVERSION_HEADER] != SPECVERSION:
        raise MalformedEvent(
            f"ce_specversion is {attrs[SPECVERSION_HEADER]!r}, expected {SPECVERSION!r}"
        )
    if not _is_json(attrs[CONTENT_TYPE]):
        raise MalformedEvent(f"content-type {attrs[CONTENT_TYPE]!r} is not JSON")
    if not value:
        raise MalformedEvent("record value is empty (a tombstone or an empty body is not an event)")
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedEvent(f"record value is not valid UTF-8 (byte {error.start})") from None
    return CloudEvent(
        id=attrs[ID],
        source=attrs[SOURCE],
        type=attrs[TYPE],
        time=_parse_time(attrs[TIME]),
        subject=attrs.get(SUBJECT),
        correlationid=attrs[CORRELATIONID],
        causationid=attrs.get(CAUSATIONID),
        data=bytes(value),
        key=key,
        datacontenttype=attrs[CONTENT_TYPE],
        dataschema=attrs.get(DATASCHEMA),
        specversion=attrs[SPECVERSION_HEADER],
    )


def decode(ce: CloudEvent) -> base.Event:
    """The typed event inside; ``UnknownEventType`` or ``MalformedEvent`` if it cannot be read."""
    cls = catalog.EVENT_TYPES.get(ce.type)
    if cls is None:
        raise UnknownEventType(f"unknown event type {ce.type!r}")
    try:
        return cls.model_validate_json(ce.data)
    except pydantic.ValidationError as error:
        raise MalformedEvent(f"invalid {ce.type} data: {_summarize(error)}") from None


def _read_headers(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for name, raw in headers:
        if name not in HEADERS:
            continue  # other extensions, tracing headers, ...: not ours to judge
        if name in attrs:
            raise MalformedEvent(f"header {name} appears more than once")
        if raw is None:
            raise MalformedEvent(f"header {name} has no value")
        try:
            attrs[name] = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedEvent(f"header {name} is not valid UTF-8") from None
    return attrs


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedEvent(f"ce_time {text!r} is not an RFC 3339 timestamp") from None
    if parsed.utcoffset() is None:
        raise MalformedEvent(f"ce_time {text!r} has no UTC offset")
    return parsed


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == JSON or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _summarize(error: pydantic.ValidationError) -> str:
    details = error.errors(include_url=False, include_input=False)
    parts = [
        f"{'.'.join(str(part) for part in detail['loc']) or '(body)'}: {detail['msg']}"
        for detail in details[:_MAX_VALIDATION_ERRORS]
    ]
    if len(details) > _MAX_VALIDATION_ERRORS:
        parts.append(f"... {len(details) - _MAX_VALIDATION_ERRORS} more")
    return "; ".join(parts)
