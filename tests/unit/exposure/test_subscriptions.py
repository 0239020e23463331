"""What the exposure service subscribes to, as listed in subscriptions.py: every event type on its
group's topic, the exposure events all applied, decisions only live, projections before
decisions; and the board applying exposure events read back from its topic."""

from __future__ import annotations

from collections.abc import Sequence

from runtime.unit_of_work import Delivered
from schemas import catalog
from schemas.base import Event
from schemas.exposure import v1 as exposure
from schemas.inspections import v1 as inspections
from services.exposure import subscriptions
from services.exposure.domain import decisions
from services.exposure.service import cases
from tests.unit.exposure.builders import T0, delivered, overdue, unit


def test_every_listed_event_type_is_on_its_groups_topic() -> None:
    assert [g.topic for g in subscriptions.GROUPS] == [
        "wuye.registry.projects",
        "wuye.inspections.events",
        "wuye.complaints.events",
        "wuye.surveys.events",
        "wuye.notifications.events",
        "wuye.campaigns.events",
        "wuye.inspections.draws",
        "wuye.exposure.events",
    ]
    for group in subscriptions.GROUPS:
        for ce_type in group.live():
            assert catalog.EVENT_TYPES[ce_type].topic == group.topic, (group.name, ce_type)


def test_the_board_applies_every_exposure_event() -> None:
    board = next(g for g in subscriptions.GROUPS if g.topic == exposure.ExposureCaseOpened.topic)
    assert set(board.replay()) == {c.ce_type for c in catalog.events_on(board.topic)}


def test_a_replay_takes_no_decision() -> None:
    for group in subscriptions.GROUPS:
        assert set(group.replay()) == set(group.projections)
        for ce_type, handler in group.replay().items():
            assert group.decisions.get(ce_type) is not handler
    live = subscriptions.replay_handlers(inspections.RectificationOverdue.topic)
    assert live[inspections.RectificationOverdue.ce_type] is not cases.open_or_raise


async def test_the_live_handler_runs_the_projection_then_the_decision() -> None:
    inspections_group = next(g for g in subscriptions.GROUPS if g.name == "exposure.inspections")
    handler = inspections_group.live()[inspections.RectificationOverdue.ce_type]
    uow = unit()
    await handler(uow, [delivered(overdue("O-1"))])
    assert uow.facts.order_facts["O-1"]["overdue"] is True  # the fact
    assert await uow.cases.by_order("O-1") is not None  # the decision


async def test_exposure_events_from_the_topic_are_applied_once() -> None:
    """A replay into a fresh database, or a second region: the events alone give the cases."""
    origin = unit()
    await cases.open_or_raise(origin, [delivered(overdue("O-1"))])
    case = await origin.cases.by_order("O-1")
    assert case is not None
    await cases.emit(origin, decisions.withdrawal(case, T0), delivered(overdue("x")).trace)
    read_back: Sequence[Delivered[Event]] = [
        Delivered(w.event, w.ce) for w in origin.outbox.pending
    ]

    replica = unit()
    await cases.apply_from_topic(replica, read_back)
    await cases.apply_from_topic(replica, read_back)  # redelivered: applied once by id
    assert replica.cases.cases == origin.cases.cases
    assert list(replica.cases.timeline.values()) == list(origin.cases.timeline.values())
    assert replica.outbox.pending == []  # applying decides nothing

    # events emitted here were applied already: reading them back changes nothing
    await cases.apply_from_topic(origin, read_back)
    assert len(origin.cases.timeline) == 2
