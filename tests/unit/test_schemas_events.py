"""Event models, topics and catalog: the constraints the contract promises."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pydantic
import pytest

from schemas import base, catalog, topics
from schemas.campaigns import v1 as campaigns
from schemas.inspections import v1 as inspections
from schemas.surveys import v1 as surveys
from tests import factories


@pytest.mark.parametrize(
    "override",
    [
        pytest.param({"project_id": ""}, id="empty-id"),
        pytest.param({"inspection_id": "x" * 65}, id="long-id"),
        pytest.param({"district_code": "12010a"}, id="district-letters"),
        pytest.param({"district_code": "١٢٠١٠١"}, id="district-non-ascii-digits"),
        pytest.param({"inspected_at": datetime(2024, 5, 1, 9, 0)}, id="naive-datetime"),
        pytest.param({"score": 100.5}, id="score-over-100"),
        pytest.param({"score": float("nan")}, id="score-nan"),
        pytest.param({"kind": "audit"}, id="kind"),
        pytest.param({"template_version": 0}, id="template-version"),
        pytest.param({"failed_items": ()}, id="no-failed-items"),
    ],
)
def test_invalid_inspection_failed_is_rejected(override: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        factories.inspection_failed(**override)


def test_failed_item_note_is_at_most_500_characters() -> None:
    item = factories.inspection_failed().failed_items[0]
    assert item.model_copy(update={"note": "x" * 500})
    with pytest.raises(pydantic.ValidationError):
        inspections.FailedItem.model_validate({**item.model_dump(), "note": "x" * 501})


def test_failed_items_arrive_as_a_tuple_from_json() -> None:
    event = factories.inspection_failed()
    decoded = inspections.InspectionFailed.model_validate_json(event.model_dump_json())
    assert isinstance(decoded.failed_items, tuple)
    assert decoded == event


def test_partition_key_and_subject() -> None:
    event = factories.inspection_failed(project_id="P-1")
    assert event.partition_key() == "P-1"
    assert event.subject() == event.inspection_id


def test_catalog_lists_every_event_once_with_its_producer() -> None:
    assert set(catalog.EVENT_TYPES) == {
        "cn.tj.wuye.registry.ProjectRegistered.v1",
        "cn.tj.wuye.registry.ProjectUpdated.v1",
        "cn.tj.wuye.inspections.InspectionCompleted.v1",
        "cn.tj.wuye.inspections.InspectionFailed.v1",
        "cn.tj.wuye.inspections.RectificationOrdered.v1",
        "cn.tj.wuye.inspections.RectificationSubmitted.v1",
        "cn.tj.wuye.inspections.RectificationVerified.v1",
        "cn.tj.wuye.inspections.RectificationRejected.v1",
        "cn.tj.wuye.inspections.RectificationOverdue.v1",
        "cn.tj.wuye.inspections.PatrolScheduled.v1",
        "cn.tj.wuye.inspections.PatrolsDrawn.v1",
        "cn.tj.wuye.inspections.StatutoryIntervalMissed.v1",
        "cn.tj.wuye.campaigns.CampaignPhaseStarted.v1",
        "cn.tj.wuye.campaigns.PlanSubmitted.v1",
        "cn.tj.wuye.campaigns.PlanOverdue.v1",
        "cn.tj.wuye.campaigns.ActivityHeld.v1",
        "cn.tj.wuye.complaints.ComplaintFiled.v1",
        "cn.tj.wuye.complaints.ComplaintOverdue.v1",
        "cn.tj.wuye.complaints.ComplaintAccepted.v1",
        "cn.tj.wuye.complaints.ComplaintTransferred.v1",
        "cn.tj.wuye.complaints.ComplaintReplied.v1",
        "cn.tj.wuye.complaints.ComplaintFeedbackReceived.v1",
        "cn.tj.wuye.complaints.ComplaintReopened.v1",
        "cn.tj.wuye.complaints.ComplaintClosed.v1",
        "cn.tj.wuye.complaints.ComplaintWarning.v1",
        "cn.tj.wuye.complaints.ComplaintExtensionRequested.v1",
        "cn.tj.wuye.complaints.ComplaintExtensionDecided.v1",
        "cn.tj.wuye.complaints.ComplaintAssigned.v1",
        "cn.tj.wuye.surveys.SurveyOpened.v1",
        "cn.tj.wuye.surveys.SurveyClosed.v1",
        "cn.tj.wuye.surveys.SurveyMissing.v1",
        "cn.tj.wuye.notifications.NoticeIssued.v1",
        "cn.tj.wuye.notifications.CriticismDrafted.v1",
        "cn.tj.wuye.notifications.CriticismWithdrawn.v1",
        "cn.tj.wuye.notifications.NotificationDelivered.v1",
        "cn.tj.wuye.notifications.NotificationFailed.v1",
        "cn.tj.wuye.exposure.ExposureCaseOpened.v1",
        "cn.tj.wuye.exposure.ExposureEvidenceAdded.v1",
        "cn.tj.wuye.exposure.ExposureReviewed.v1",
        "cn.tj.wuye.exposure.ExposurePublished.v1",
        "cn.tj.wuye.exposure.ExposureRectified.v1",
        "cn.tj.wuye.exposure.ExposureWithdrawn.v1",
        "cn.tj.wuye.exposure.ObjectionFiled.v1",
        "cn.tj.wuye.exposure.ObjectionDecided.v1",
    }
    assert set(catalog.PRODUCERS.values()) == {
        "inspections",
        "complaints",
        "notifications",
        "exposure",
    }
    for ce_type, cls in catalog.EVENT_TYPES.items():
        assert issubclass(cls, base.Event)
        assert cls.ce_type == ce_type
        assert cls.key_field == topics.topic(cls.topic).key
        assert cls.model_config.get("frozen") is True


def test_events_on_a_topic() -> None:
    assert catalog.events_on("wuye.inspections.events") == (
        inspections.InspectionCompleted,
        inspections.InspectionFailed,
        inspections.RectificationOrdered,
        inspections.RectificationSubmitted,
        inspections.RectificationVerified,
        inspections.RectificationRejected,
        inspections.RectificationOverdue,
        inspections.PatrolScheduled,
        inspections.StatutoryIntervalMissed,
        campaigns.ActivityHeld,  # defined with the campaigns' events, keyed by project
    )
    assert catalog.events_on("wuye.inspections.draws") == (inspections.PatrolsDrawn,)
    assert catalog.events_on("wuye.surveys.events") == (
        surveys.SurveyOpened,
        surveys.SurveyClosed,
        surveys.SurveyMissing,
    )
    assert [c.__name__ for c in catalog.events_on("wuye.exposure.events")] == [
        "ExposureCaseOpened",
        "ExposureEvidenceAdded",
        "ExposureReviewed",
        "ExposurePublished",
        "ExposureRectified",
        "ExposureWithdrawn",
        "ObjectionFiled",
        "ObjectionDecided",
    ]
    assert catalog.events_on("wuye.dlq.exposure") == ()


def test_topics() -> None:
    registry = topics.topic("wuye.registry.projects")
    assert registry.config["cleanup.policy"] == "compact"
    assert int(registry.config["min.compaction.lag.ms"]) > 0
    inspection_topic = topics.topic("wuye.inspections.events")
    assert (inspection_topic.key, inspection_topic.partitions) == ("project_id", 6)
    assert inspection_topic.config["retention.ms"] == str(365 * 24 * 3600 * 1000)
    assert all("min.insync.replicas" not in t.config for t in topics.TOPICS)
    assert len({t.name for t in topics.TOPICS}) == len(topics.TOPICS) == 8
    survey_topic = topics.topic("wuye.surveys.events")
    assert (survey_topic.key, survey_topic.partitions, survey_topic.public) == (
        "survey_id",
        3,
        True,
    )
    assert survey_topic.config["retention.ms"] == str(365 * 24 * 3600 * 1000)
    with pytest.raises(KeyError):
        topics.topic("wuye.nope")


def test_dead_letter_topics() -> None:
    for service in topics.DEAD_LETTER_SERVICES:
        spec = topics.dead_letter_topic(service)
        assert spec.name == f"wuye.dlq.{service}"
        assert spec.partitions == 3
        assert spec.config["retention.ms"] == str(30 * 24 * 3600 * 1000)
        assert not spec.public
        assert topics.topic(spec.name) is spec
    with pytest.raises(KeyError):
        topics.dead_letter_topic("billing")


def test_every_field_is_described() -> None:
    models: list[type[pydantic.BaseModel]] = [*catalog.EVENT_TYPES.values(), inspections.FailedItem]
    for cls in models:
        for name, field in cls.model_fields.items():
            assert field.description, f"{cls.__name__}.{name} has no description"


def test_the_exposure_topic_outlives_the_longest_display_period() -> None:
    """The board is rebuilt from it: a serious case is displayed up to 3 years."""
    spec = topics.topic("wuye.exposure.events")
    assert int(spec.config["retention.ms"]) > 3 * 366 * 24 * 3600 * 1000
