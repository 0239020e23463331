"""Personal data on the topics: the code, schemas/README.md, docs/subscribing.md and the AsyncAPI
document say the same thing, and free text on public topics leaves the platform masked."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Annotated, Any

import pydantic
import pytest

from schemas import base, catalog, cloudevents, generate, privacy, topics
from schemas.exposure import v1 as exposure
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from tests.factories import inspection_failed, rectification_rejected

ROOT = Path(__file__).resolve().parents[2]

NOT_WRITTEN_BY_PEOPLE = {
    "ProjectRegistered.project_name": "registry fact: a residential estate's name",
    "ProjectRegistered.address": "registry fact: the estate's street address",
    "ProjectRegistered.district_name": "registry fact",
    "ProjectRegistered.enterprise_name": "registry fact: a company",
    "ProjectRegistered.service_grade": "registry fact, e.g. 一级",
    "ProjectUpdated.project_name": "registry fact",
    "ProjectUpdated.address": "registry fact",
    "ProjectUpdated.district_name": "registry fact",
    "ProjectUpdated.enterprise_name": "registry fact",
    "ProjectUpdated.service_grade": "registry fact",
    "project_name": "copied from the registry",
    "enterprise_name": "copied from the registry",
    "FailedItem.title_zh": "checklist template text",
    "FailedItem.title_en": "checklist template text",
    "CaseItem.title_zh": "checklist template text",
    "CaseItem.title_en": "checklist template text",
    "NoticeIssued.notice_no": "official number, e.g. 和平区物业通〔2011〕3号",
    "NoticeIssued.reason": "a rule's reason code (^[a-z_]+$ in the rules file)",
    "NoticeIssued.cause_type": "a CloudEvents type",
    "CriticismDrafted.cause_type": "a CloudEvents type",
    "CriticismWithdrawn.cause_type": "a CloudEvents type",
    "ExposureEvidenceAdded.notice_no": "official number of a criticism",
    "deadline_calendar": "the calendar a deadline was computed on, e.g. official:2026",
    "StatutoryIntervalMissed.legal_basis": "the interval table's text (domain/statutory_intervals)",
    "StatutoryIntervalMissed.legal_basis_en": "the interval table's text",
}
"""Plain ``str`` fields on public topics that are not free text written by people, and why.
A new free-text field on a public topic fails the test below until it is ``PublicText`` or
listed here."""


def _str_fields(model: type[pydantic.BaseModel], seen: set[type[Any]]) -> list[tuple[str, Any]]:
    if model in seen:
        return []
    seen.add(model)
    found: list[tuple[str, Any]] = []
    for name, info in model.model_fields.items():
        args = {info.annotation, *typing.get_args(info.annotation)}
        if str in args:
            found.append((f"{model.__name__}.{name}", info))
        for arg in _flatten(info.annotation):
            if isinstance(arg, type) and issubclass(arg, pydantic.BaseModel):
                found += _str_fields(arg, seen)
    return found


def _flatten(annotation: Any) -> list[Any]:
    return [annotation, *(a for arg in typing.get_args(annotation) for a in _flatten(arg))]


def _is_constrained(info: Any) -> bool:
    """Ids, codes and patterns: at most 64 characters or a pattern — no room for free text."""
    annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    schema = pydantic.TypeAdapter(annotation).json_schema()
    for s in [schema, *schema.get("anyOf", [])]:
        if s.get("type") == "string" and ("pattern" in s or s.get("maxLength", 10**9) <= 64):
            return True
    return False


def _is_scrubbed(info: Any) -> bool:
    return any(getattr(m, "func", None) is privacy.scrub for m in info.metadata)


@pytest.mark.parametrize("spec", [t for t in topics.TOPICS if t.public], ids=lambda t: t.name)
def test_every_free_text_field_on_a_public_topic_is_scrubbed_or_known(
    spec: topics.TopicSpec,
) -> None:
    unknown = [
        path
        for cls in catalog.events_on(spec.name)
        for path, info in _str_fields(cls, set())
        if not _is_scrubbed(info)
        and path not in NOT_WRITTEN_BY_PEOPLE
        and path.split(".", 1)[1] not in NOT_WRITTEN_BY_PEOPLE
        and not _is_constrained(info)
    ]
    assert not unknown, f"free text on public {spec.name}, neither PublicText nor listed: {unknown}"


def test_every_scrubbed_field_is_marked_in_its_json_schema() -> None:
    for cls in catalog.EVENT_TYPES.values():
        scrubbed = [path for path, info in _str_fields(cls, set()) if _is_scrubbed(info)]
        marks = json.dumps(generate.json_schema(cls)).count('"x-personal-data": "scrubbed"')
        assert marks == len(scrubbed), (cls.ce_type, scrubbed)


def _table_rows(path: Path, header_start: str) -> dict[str, list[str]]:
    """First-column topic name -> cells, for the markdown table whose header starts so."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    header = [c.strip() for c in lines[start].strip().strip("|").split("|")]
    rows: dict[str, list[str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = cells
    rows["__header__"] = header
    return rows


def _personal_data_column(rows: dict[str, list[str]]) -> dict[str, str]:
    index = rows["__header__"].index("personal data")
    return {name: cells[index] for name, cells in rows.items() if name != "__header__"}


def test_the_readme_catalog_states_each_topics_personal_data() -> None:
    column = _personal_data_column(_table_rows(ROOT / "schemas" / "README.md", "| topic | key |"))
    expected = {t.name: catalog.personal_data_note(t.name) for t in topics.TOPICS}
    expected["wuye.dlq.<service>"] = "contains"
    assert {t.personal_data for t in topics.DEAD_LETTER_TOPICS} == {"contains"}
    assert column == expected


def test_subscribing_lists_the_public_topics_with_the_same_personal_data() -> None:
    column = _personal_data_column(
        _table_rows(ROOT / "docs" / "subscribing.md", "| topic | key (ordering) |")
    )
    expected = {t.name: catalog.personal_data_note(t.name) for t in topics.TOPICS if t.public}
    assert column == expected


def test_the_asyncapi_channels_state_each_topics_personal_data() -> None:
    channels = json.loads(generate.ASYNCAPI_PATH.read_text(encoding="utf-8"))["channels"]
    for spec in topics.TOPICS + topics.DEAD_LETTER_TOPICS:
        assert channels[spec.name]["x-personal-data"] == spec.personal_data, spec.name
    for spec in topics.TOPICS:
        assert catalog.personal_data_note(spec.name) in channels[spec.name]["description"]


def test_a_public_topic_cannot_be_declared_with_personal_data() -> None:
    with pytest.raises(ValueError, match="public topic"):
        topics.TopicSpec("t", 1, "k", "d", {}, public=True, personal_data="pseudonymous")
    with pytest.raises(ValueError, match="public topic"):
        topics.TopicSpec("t", 1, "k", "d", {}, public=True)  # the default is 'contains'


PHONE_NOTE = "已联系业主张三,电话 138 0013 8000,身份证 120101199001011234"
MASKED_NOTE = "已联系业主某某,电话 138****8000,身份证 [身份证号已隐去]"


def test_a_failed_inspection_with_a_phone_number_in_a_note_carries_it_masked() -> None:
    item = inspection_failed().failed_items[0]
    event = inspection_failed(
        failed_items=(
            inspections.FailedItem.model_validate({**item.model_dump(), "note": PHONE_NOTE}),
        )
    )
    assert event.failed_items[0].note == MASKED_NOTE
    wire = json.loads(cloudevents.from_event(event, source="/wuye/inspections").data)
    assert wire["failed_items"][0]["note"] == MASKED_NOTE
    assert "0013" not in json.dumps(wire)


@pytest.mark.parametrize(
    "build",
    [
        lambda: inspections.RectificationRejected.model_validate(
            {**rectification_rejected().model_dump(), "reason": PHONE_NOTE}
        ),
        lambda: exposure.ObjectionFiled(
            case_id="c-1",
            project_id="P-1",
            objection_id="o-1",
            enterprise_id="E-1",
            grounds=PHONE_NOTE,
            filed_at="2011-08-20T10:00:00+08:00",  # type: ignore[arg-type]
        ),
    ],
    ids=["RectificationRejected.reason", "ObjectionFiled.grounds"],
)
def test_other_public_free_text_is_masked(build: Any) -> None:
    event: base.Event = build()
    assert PHONE_NOTE not in event.model_dump_json()
    assert MASKED_NOTE in json.loads(event.model_dump_json()).values()


def test_a_record_already_on_the_topic_with_personal_data_still_decodes_masked() -> None:
    """Scrubbing is additive within v1: an old unmasked record is never rejected, only masked."""
    event = inspection_failed()
    ce = cloudevents.from_event(event, source="/wuye/inspections")
    old = json.loads(ce.data)
    old["failed_items"][0]["note"] = PHONE_NOTE  # as a producer before 1.2.1 wrote it
    record_value = json.dumps(old, ensure_ascii=False).encode()
    decoded = cloudevents.decode(
        cloudevents.from_kafka(ce.key, record_value, cloudevents.to_kafka_headers(ce))
    )
    assert isinstance(decoded, type(event))
    assert decoded.failed_items[0].note == MASKED_NOTE


def test_a_notice_body_quoting_a_mailbox_is_masked() -> None:
    failed = notifications.NotificationFailed(
        notice_id="n-1",
        delivery_id="d-1",
        kind="notice",
        recipient_kind="manager",
        recipient_id="P-1",
        channel="email",
        attempts=3,
        reason="smtp 550 <wang.wei@example.com>: mailbox unavailable",
        failed_at="2011-08-20T10:00:00+08:00",  # type: ignore[arg-type]
    )
    assert failed.reason == "smtp 550 <***@example.com>: mailbox unavailable"
