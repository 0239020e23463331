"""CloudEvents 1.0 Kafka binding (binary mode): round trip, header mapping, malformed records."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pydantic
import pytest

from schemas import cloudevents
from schemas.cloudevents import MalformedEvent, UnknownEventType
from schemas.inspections import v1 as inspections
from schemas.registry import v1 as registry
from tests import factories

Headers = list[tuple[str, bytes]]
BEIJING = timezone(timedelta(hours=8))
SOURCE = "/wuye/inspections"


def project() -> registry.ProjectRegistered:
    return registry.ProjectRegistered(
        project_id="P-120101-0001",
        project_name="海河花园",
        address="天津市和平区南京路1号",
        district_code="120101",
        district_name="和平区",
        enterprise_id="E-0001",
        enterprise_name="津城物业服务有限公司",
        service_grade="一级",
        occurred_at=datetime(2024, 5, 1, 9, 0, tzinfo=BEIJING),
    )


def record() -> tuple[bytes | None, bytes, Headers]:
    ce = cloudevents.from_event(factories.inspection_failed(), source=SOURCE, causation_id="c-1")
    return ce.key, ce.data, cloudevents.to_kafka_headers(ce)


def test_round_trip_returns_an_equal_event() -> None:
    for event in (factories.inspection_failed(), project()):
        ce = cloudevents.from_event(
            event, source=SOURCE, time=datetime(2024, 5, 1, 9, 0, 1, tzinfo=BEIJING)
        )
        received = cloudevents.from_kafka(ce.key, ce.data, cloudevents.to_kafka_headers(ce))
        assert received == ce
        assert cloudevents.decode(received) == event


def test_from_event_fills_the_attributes() -> None:
    event = factories.inspection_failed(project_id="P-9")
    ce = cloudevents.from_event(event, source=SOURCE, correlation_id="corr-1", causation_id="c-1")
    assert ce.type == "cn.tj.wuye.inspections.InspectionFailed.v1"
    assert ce.key == b"P-9"
    assert ce.subject == event.inspection_id
    assert ce.correlationid == "corr-1"
    assert ce.causationid == "c-1"
    assert ce.dataschema == "urn:wuye:schema:cn.tj.wuye.inspections.InspectionFailed.v1"
    assert ce.time.tzinfo is not None
    assert json.loads(ce.data)["project_id"] == "P-9"


def test_a_new_correlation_starts_at_the_event_itself() -> None:
    ce = cloudevents.from_event(project(), source="/wuye/inspections", id="e-1")
    assert (ce.id, ce.correlationid, ce.causationid) == ("e-1", "e-1", None)
    assert ce.subject == "P-120101-0001"  # registry events: the subject is the key


def test_headers_are_exactly_the_ce_names() -> None:
    ce = cloudevents.from_event(project(), source=SOURCE, causation_id="c-1")
    headers = dict(cloudevents.to_kafka_headers(ce))
    assert list(headers) == [
        "ce_id",
        "ce_source",
        "ce_specversion",
        "ce_type",
        "ce_time",
        "ce_subject",
        "ce_dataschema",
        "ce_correlationid",
        "ce_causationid",
        "content-type",
    ]
    assert headers["ce_specversion"] == b"1.0"
    assert headers["content-type"] == b"application/json"
    assert datetime.fromisoformat(headers["ce_time"].decode()) == ce.time


def test_optional_headers_are_left_out_when_absent() -> None:
    key, value, headers = record()
    names = [name for name, _ in headers if name not in {"ce_causationid", "ce_subject"}]
    ce = cloudevents.from_kafka(key, value, [(n, v) for n, v in headers if n in names])
    assert (ce.subject, ce.causationid) == (None, None)
    assert "ce_causationid" not in dict(cloudevents.to_kafka_headers(ce))


def test_unrelated_headers_are_ignored() -> None:
    key, value, headers = record()
    headers += [("traceparent", b"00-abc-def-01"), ("ce_partitionkey", b"\xff")]
    assert cloudevents.from_kafka(key, value, headers).source == SOURCE


def _without(name: str) -> Callable[[Headers], Headers]:
    return lambda headers: [(n, v) for n, v in headers if n != name]


def _replace(name: str, raw: bytes) -> Callable[[Headers], Headers]:
    return lambda headers: [(n, raw if n == name else v) for n, v in headers]


@pytest.mark.parametrize(
    ("edit_headers", "value", "reason"),
    [
        pytest.param(_without("ce_id"), None, "missing header(s): ce_id", id="no-id"),
        pytest.param(_without("ce_type"), None, "ce_type", id="no-type"),
        pytest.param(_without("ce_source"), None, "ce_source", id="no-source"),
        pytest.param(_without("ce_time"), None, "ce_time", id="no-time"),
        pytest.param(_without("ce_correlationid"), None, "ce_correlationid", id="no-correlation"),
        pytest.param(_without("content-type"), None, "content-type", id="no-content-type"),
        pytest.param(_replace("ce_id", b""), None, "header ce_id is empty", id="empty-id"),
        pytest.param(_replace("ce_specversion", b"0.3"), None, "ce_specversion", id="specversion"),
        pytest.param(_replace("ce_time", b"yesterday"), None, "ce_time", id="bad-time"),
        pytest.param(
            _replace("ce_time", b"2024-05-01T09:00:00"), None, "no UTC offset", id="naive-time"
        ),
        pytest.param(_replace("ce_type", b"\xff\xfe"), None, "not valid UTF-8", id="non-utf8"),
        pytest.param(_replace("content-type", b"application/xml"), None, "not JSON", id="not-json"),
        pytest.param(lambda h: [*h, ("ce_id", b"again")], None, "more than once", id="duplicate"),
        pytest.param(lambda h: h, b"", "value is empty", id="empty-value"),
        pytest.param(lambda h: h, b"\xff{}", "value is not valid UTF-8", id="non-utf8-value"),
    ],
)
def test_malformed_records_are_rejected_with_a_reason(
    edit_headers: Callable[[Headers], Headers], value: bytes | None, reason: str
) -> None:
    key, good_value, headers = record()
    with pytest.raises(MalformedEvent) as raised:
        cloudevents.from_kafka(key, good_value if value is None else value, edit_headers(headers))
    assert reason in raised.value.reason
    assert str(raised.value) == raised.value.reason


def test_a_tombstone_is_malformed() -> None:
    key, _, headers = record()
    with pytest.raises(MalformedEvent, match="empty"):
        cloudevents.from_kafka(key, None, headers)


def test_json_content_types_with_parameters_or_suffix_are_accepted() -> None:
    key, value, headers = record()
    for content_type in (b"application/json; charset=utf-8", b"application/cloudevents+json"):
        assert cloudevents.from_kafka(key, value, _replace("content-type", content_type)(headers))


def test_unknown_type_raises_unknown_event_type() -> None:
    key, value, headers = record()
    ce = cloudevents.from_kafka(key, value, _replace("ce_type", b"cn.tj.wuye.x.Nope.v1")(headers))
    with pytest.raises(UnknownEventType) as raised:
        cloudevents.decode(ce)
    assert "cn.tj.wuye.x.Nope.v1" in raised.value.reason
    assert isinstance(raised.value, MalformedEvent)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"{not json", "invalid cn.tj.wuye.inspections.InspectionFailed.v1", id="json"),
        pytest.param(b"[]", "(body)", id="not-object"),
    ],
)
def test_undecodable_data_is_malformed(data: bytes, reason: str) -> None:
    key, _, headers = record()
    with pytest.raises(MalformedEvent) as raised:
        cloudevents.decode(cloudevents.from_kafka(key, data, headers))
    assert reason in raised.value.reason


def test_validation_errors_name_the_field_paths() -> None:
    key, value, headers = record()
    body = json.loads(value)
    body["district_code"] = "12010"
    body["failed_items"][0]["severity"] = "minor"
    ce = cloudevents.from_kafka(key, json.dumps(body).encode(), headers)
    with pytest.raises(MalformedEvent) as raised:
        cloudevents.decode(ce)
    assert "district_code:" in raised.value.reason
    assert "failed_items.0.severity:" in raised.value.reason


def test_unknown_json_fields_are_ignored() -> None:
    event = factories.inspection_failed()
    key, _, headers = record()
    body = json.loads(event.model_dump_json())
    body["added_in_a_later_release"] = {"anything": [1, 2]}
    decoded = cloudevents.decode(cloudevents.from_kafka(key, json.dumps(body).encode(), headers))
    assert decoded == event


def test_events_are_frozen() -> None:
    event = factories.inspection_failed()
    with pytest.raises(pydantic.ValidationError):
        event.score = 100  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        event.failed_items[0].note = "edited"  # type: ignore[misc]
    assert isinstance(event.failed_items, tuple)
    assert hash(event) == hash(
        inspections.InspectionFailed.model_validate_json(event.model_dump_json())
    )


def test_from_event_rejects_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cloudevents.from_event(project(), source=SOURCE, time=datetime(2024, 5, 1))


def test_time_defaults_to_now_utc() -> None:
    before = datetime.now(UTC)
    ce = cloudevents.from_event(project(), source=SOURCE)
    assert before <= ce.time <= datetime.now(UTC)
