"""The catalog: every event type of the contract, by CloudEvents type.

Adding an event class means listing it in ``_PRODUCED`` below and running
``python -m schemas.generate``. The checks at import time keep the catalog honest.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import pydantic

from schemas import base, privacy, topics
from schemas.campaigns import v1 as campaigns_v1
from schemas.complaints import v1 as complaints_v1
from schemas.exposure import v1 as exposure_v1
from schemas.inspections import v1 as inspections_v1
from schemas.notifications import v1 as notifications_v1
from schemas.registry import v1 as registry_v1
from schemas.surveys import v1 as surveys_v1

_PRODUCED: Mapping[str, tuple[type[base.Event], ...]] = {
    "inspections": (
        registry_v1.ProjectRegistered,
        registry_v1.ProjectUpdated,
        inspections_v1.InspectionCompleted,
        inspections_v1.InspectionFailed,
        inspections_v1.RectificationOrdered,
        inspections_v1.RectificationSubmitted,
        inspections_v1.RectificationVerified,
        inspections_v1.RectificationRejected,
        inspections_v1.RectificationOverdue,
        inspections_v1.PatrolScheduled,
        inspections_v1.PatrolsDrawn,
        inspections_v1.StatutoryIntervalMissed,
        campaigns_v1.CampaignPhaseStarted,
        campaigns_v1.PlanSubmitted,
        campaigns_v1.PlanOverdue,
        campaigns_v1.ActivityHeld,
    ),
    "complaints": (
        complaints_v1.ComplaintFiled,
        complaints_v1.ComplaintOverdue,
        complaints_v1.ComplaintAccepted,
        complaints_v1.ComplaintTransferred,
        complaints_v1.ComplaintReplied,
        complaints_v1.ComplaintFeedbackReceived,
        complaints_v1.ComplaintReopened,
        complaints_v1.ComplaintClosed,
        complaints_v1.ComplaintWarning,
        complaints_v1.ComplaintExtensionRequested,
        complaints_v1.ComplaintExtensionDecided,
        complaints_v1.ComplaintAssigned,
        surveys_v1.SurveyOpened,
        surveys_v1.SurveyClosed,
        surveys_v1.SurveyMissing,
    ),
    "notifications": (
        notifications_v1.NoticeIssued,
        notifications_v1.CriticismDrafted,
        notifications_v1.CriticismWithdrawn,
        notifications_v1.NotificationDelivered,
        notifications_v1.NotificationFailed,
    ),
    "exposure": (
        exposure_v1.ExposureCaseOpened,
        exposure_v1.ExposureEvidenceAdded,
        exposure_v1.ExposureReviewed,
        exposure_v1.ExposurePublished,
        exposure_v1.ExposureRectified,
        exposure_v1.ExposureWithdrawn,
        exposure_v1.ObjectionFiled,
        exposure_v1.ObjectionDecided,
    ),
}
"""Producing service -> the event classes it publishes."""

# schemas.<area>.v<N>.<Class> must be cn.tj.wuye.<area>.<Class>.v<N>
_MODULE = re.compile(r"^schemas\.(?P<area>[a-z_]+)\.(?P<version>v[1-9][0-9]*)$")


def _check(cls: type[base.Event]) -> None:
    found = _MODULE.match(cls.__module__)
    if found is None:
        raise TypeError(
            f"{cls.__qualname__}: event modules must be schemas.<area>.v<N>, not {cls.__module__}"
        )
    expected = f"cn.tj.wuye.{found['area']}.{cls.__name__}.{found['version']}"
    if getattr(cls, "ce_type", None) != expected:
        raise TypeError(f"{cls.__qualname__}: ce_type must be {expected!r}")
    spec = topics.topic(cls.topic)  # KeyError for an unregistered topic
    if spec not in topics.TOPICS:
        raise TypeError(f"{cls.__qualname__}: {cls.topic} is not an event topic")
    if cls.key_field not in cls.model_fields:
        raise TypeError(f"{cls.__qualname__}: key_field {cls.key_field!r} is not a field")
    if cls.key_field != spec.key:
        raise TypeError(
            f"{cls.__qualname__}: {spec.name} is keyed by {spec.key!r}, not {cls.key_field!r}"
        )


def _build() -> tuple[Mapping[str, type[base.Event]], Mapping[str, str]]:
    event_types: dict[str, type[base.Event]] = {}
    producers: dict[str, str] = {}
    for service, classes in _PRODUCED.items():
        for cls in classes:
            _check(cls)
            if cls.ce_type in event_types:
                raise TypeError(f"duplicate ce_type {cls.ce_type!r}")
            event_types[cls.ce_type] = cls
            producers[cls.ce_type] = service
    return MappingProxyType(event_types), MappingProxyType(producers)


EVENT_TYPES, PRODUCERS = _build()
"""``EVENT_TYPES``: ce_type -> event class. ``PRODUCERS``: ce_type -> producing service."""


def events_on(topic: str) -> tuple[type[base.Event], ...]:
    """The event classes that travel on a topic, in catalog order (may be empty)."""
    return tuple(cls for cls in EVENT_TYPES.values() if cls.topic == topic)


def scrubbed_fields(topic: str) -> tuple[str, ...]:
    """``Model.field`` of every ``fields.PublicText`` (scrubbed free text) in the events on a
    topic, nested models included, sorted; named after the model that declares the field."""
    found: set[str] = set()
    seen: set[type[pydantic.BaseModel]] = set()

    def visit(model: type[pydantic.BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            if any(
                isinstance(m, pydantic.AfterValidator) and m.func is privacy.scrub
                for m in info.metadata
            ):
                owner = next(c for c in model.__mro__ if name in vars(c).get("__annotations__", {}))
                found.add(f"{owner.__name__}.{name}")
            for nested in _models_in(info.annotation):
                visit(nested)

    for cls in events_on(topic):
        visit(cls)
    return tuple(sorted(found))


def _models_in(annotation: object) -> Iterator[type[pydantic.BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _check_personal_data() -> None:
    for spec in topics.TOPICS:
        scrubbed = scrubbed_fields(spec.name)
        if spec.personal_data == "scrubbed" and not scrubbed:
            raise TypeError(f"{spec.name} is declared 'scrubbed' but no event has PublicText")
        if spec.personal_data == "none" and scrubbed:
            raise TypeError(
                f"{spec.name} is declared 'none' but carries free text {scrubbed}: 'scrubbed'"
            )


_check_personal_data()


def personal_data_note(topic: str) -> str:
    """The topic's personal-data level as the docs and the AsyncAPI document state it, e.g.
    ``scrubbed: `FailedItem.note`, `RectificationRejected.reason```."""
    spec = topics.topic(topic)
    scrubbed = scrubbed_fields(topic)
    if not scrubbed:
        return spec.personal_data
    return f"{spec.personal_data}: " + ", ".join(f"`{name}`" for name in scrubbed)
