"""Satisfaction survey handlers with the in-memory unit of work: opening only in a campaign's
implementation phase, one answer per token, closing (by the enterprise and by the timer),
results in scope, SurveyMissing once, and the campaign reaction."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from runtime.calendar import CHINA
from runtime.errors import DomainError, Forbidden, InvalidInput, NotFound
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Delivered, Trace
from schemas import cloudevents
from schemas.campaigns import v1 as campaigns
from schemas.surveys import v1 as surveys
from services.complaints.adapters.memory import MemoryComplaintsUnitOfWork
from services.complaints.service import survey_handling
from services.complaints.service.ports import CampaignPhase
from tests.unit.complaints.conftest import (
    ALICE,
    CITY,
    DISTRICT,
    MALLORY,
    OTHER_DISTRICT,
    OWNER,
)

IN_PHASE = datetime(2026, 6, 10, 9, 0, tzinfo=CHINA)
AFTER = datetime(2026, 7, 1, 0, 0, tzinfo=CHINA)  # first instant after the phase
ALL_FIVE = {"overall": 5, "cleaning": 5, "greenery": 5, "security": 5, "repair": 5, "complaints": 5}
PHASE = CampaignPhase(
    "quality-month-2026", "物业服务质量提升活动", date(2026, 6, 1), date(2026, 6, 30)
)


@pytest.fixture
def phased(uow: MemoryComplaintsUnitOfWork, clock: FixedClock) -> MemoryComplaintsUnitOfWork:
    clock.current = IN_PHASE
    uow.store.campaigns.clear()
    from services.complaints.adapters.memory import StoredCampaign

    uow.store.campaigns[PHASE.campaign_id] = StoredCampaign(PHASE, IN_PHASE - timedelta(days=20))
    return uow


async def _open(uow: MemoryComplaintsUnitOfWork, households: int = 4) -> survey_handling.Opened:
    return await survey_handling.open_survey(
        uow,
        ALICE,
        project_id="p-1",
        households=households,
        closes_at=None,
        issue=None,
        trace=Trace("corr-s", None),
    )


async def test_opens_only_in_the_implementation_phase_with_tokens(
    phased: MemoryComplaintsUnitOfWork, clock: FixedClock
) -> None:
    for moment in (datetime(2026, 5, 20, tzinfo=CHINA), AFTER):
        clock.current = moment
        with pytest.raises(DomainError) as refused:
            await _open(phased)
        assert refused.value.code == "not_in_implementation_phase"
    clock.current = IN_PHASE

    opened = await _open(phased)

    assert len(opened.tokens) == 4
    assert opened.survey.closes_at == AFTER
    stored = phased.store.surveys[opened.survey.survey_id]
    assert set(stored.tokens).isdisjoint(opened.tokens)  # only hashes are kept
    [written] = phased.outbox.committed
    assert isinstance(written.event, surveys.SurveyOpened)
    assert (written.event.district_code, written.trace.correlation_id) == ("120101", "corr-s")
    with pytest.raises(DomainError) as twice:
        await _open(phased)
    assert twice.value.code == "survey_exists"
    with pytest.raises(NotFound):  # not its project
        await survey_handling.open_survey(
            phased, MALLORY, project_id="p-1", households=2, closes_at=None, issue=None,
            trace=Trace.start(),
        )  # fmt: skip
    with pytest.raises(Forbidden):
        await survey_handling.open_survey(
            phased, DISTRICT, project_id="p-1", households=2, closes_at=None, issue=None,
            trace=Trace.start(),
        )  # fmt: skip


async def test_more_tokens_never_beyond_households(phased: MemoryComplaintsUnitOfWork) -> None:
    opened = await survey_handling.open_survey(
        phased, ALICE, project_id="p-1", households=3, closes_at=None, issue=1,
        trace=Trace.start(),
    )  # fmt: skip
    sid = opened.survey.survey_id
    more = await survey_handling.issue_tokens(phased, ALICE, sid, 2)
    assert len(more) == 2
    assert len(phased.store.surveys[sid].tokens) == 3
    with pytest.raises(InvalidInput):
        await survey_handling.issue_tokens(phased, ALICE, sid, 1)
    with pytest.raises(NotFound):
        await survey_handling.issue_tokens(phased, MALLORY, sid, 1)


async def test_one_answer_per_token_then_close_with_results(
    phased: MemoryComplaintsUnitOfWork,
) -> None:
    opened = await _open(phased)
    sid, tokens = opened.survey.survey_id, opened.tokens
    await survey_handling.answer(phased, tokens[0], ALL_FIVE, "物业很好")
    await survey_handling.answer(phased, tokens[1], {**ALL_FIVE, "overall": 2}, None)
    with pytest.raises(DomainError):
        await survey_handling.answer(phased, tokens[0], ALL_FIVE, None)
    with pytest.raises(NotFound):
        await survey_handling.answer(phased, "x" * 22, ALL_FIVE, None)
    assert (await survey_handling.questions_for_token(phased, tokens[2])).survey_id == sid
    with pytest.raises(DomainError) as still_open:
        await survey_handling.results(phased, ALICE, sid)
    assert still_open.value.code == "survey_still_open"

    with pytest.raises(NotFound):
        await survey_handling.close(phased, MALLORY, sid, trace=Trace.start())
    closed, results = await survey_handling.close(phased, ALICE, sid, trace=Trace("corr-c", None))

    assert closed.status == "closed"
    assert (results.responses, results.satisfaction_rate) == (2, 0.5)
    event = phased.outbox.committed[-1].event
    assert isinstance(event, surveys.SurveyClosed)
    assert (event.how, event.responses) == ("enterprise", 2)
    assert phased.outbox.committed[-1].trace.correlation_id == "corr-c"
    assert phased.store.surveys[sid].comments == ["物业很好"]
    assert "物业很好" not in phased.outbox.committed[-1].ce.data.decode()
    with pytest.raises(DomainError):  # closed: no more answers
        await survey_handling.answer(phased, tokens[2], ALL_FIVE, None)


async def test_results_in_scope(phased: MemoryComplaintsUnitOfWork) -> None:
    opened = await _open(phased)
    sid = opened.survey.survey_id
    await survey_handling.answer(phased, opened.tokens[0], ALL_FIVE, None)
    await survey_handling.close(phased, ALICE, sid, trace=Trace.start())
    for reader in (ALICE, DISTRICT, CITY):
        assert (await survey_handling.results(phased, reader, sid)).survey.tally.responses == 1
    for outsider in (MALLORY, OTHER_DISTRICT, OWNER):
        with pytest.raises(NotFound):
            await survey_handling.results(phased, outsider, sid)
    pooled, count = await survey_handling.enterprise_results(phased, CITY, "ent-a", None)
    assert (count, pooled.responses, pooled.households) == (1, 1, 4)
    with pytest.raises(NotFound):
        await survey_handling.enterprise_results(phased, MALLORY, "ent-a", None)
    with pytest.raises(NotFound):  # ent-a's survey is in 120101
        await survey_handling.enterprise_results(phased, OTHER_DISTRICT, "ent-a", None)
    with pytest.raises(Forbidden):
        await survey_handling.enterprise_results(phased, OWNER, "ent-a", None)


async def test_comments_come_masked_once_the_survey_closes_to_those_in_scope(
    phased: MemoryComplaintsUnitOfWork,
) -> None:
    opened = await _open(phased)
    sid = opened.survey.survey_id
    await survey_handling.answer(
        phased, opened.tokens[0], ALL_FIVE, "保安很负责，联系我13812345678"
    )
    await survey_handling.answer(phased, opened.tokens[1], ALL_FIVE, "电梯常坏")
    with pytest.raises(DomainError) as still_open:
        await survey_handling.comments(phased, ALICE, sid)
    assert still_open.value.code == "survey_still_open"
    listed, waiting = await survey_handling.comments_in_scope(phased, DISTRICT)
    assert (listed, waiting) == ([], 1)  # open: its comments come once it closes

    await survey_handling.close(phased, ALICE, sid, trace=Trace.start())

    found = await survey_handling.comments(phased, DISTRICT, sid)
    assert found.comments == sorted(
        [survey_handling.masked("保安很负责，联系我13812345678"), "电梯常坏"]
    )
    assert not any("13812345678" in c for c in found.comments)
    for reader in (ALICE, DISTRICT, CITY):
        listed, waiting = await survey_handling.comments_in_scope(phased, reader)
        assert ([c.row.survey.survey_id for c in listed], waiting) == ([sid], 0)
    for outsider in (MALLORY, OTHER_DISTRICT):
        assert await survey_handling.comments_in_scope(phased, outsider) == ([], 0)
        with pytest.raises(NotFound):
            await survey_handling.comments(phased, outsider, sid)
    with pytest.raises(Forbidden):
        await survey_handling.comments_in_scope(phased, OWNER)
    other_campaign, _ = await survey_handling.comments_in_scope(phased, CITY, "another-campaign")
    assert other_campaign == []


def test_the_implementation_phase_runs_from_its_first_to_the_end_of_its_last_day() -> None:
    window = survey_handling.phase_window(PHASE)
    assert (window.campaign_id, window.starts_at, window.ends_at) == (
        PHASE.campaign_id,
        datetime(2026, 6, 1, tzinfo=CHINA),
        AFTER,
    )


async def test_the_timer_closes_due_surveys_once(
    phased: MemoryComplaintsUnitOfWork, clock: FixedClock
) -> None:
    await _open(phased)
    phased.outbox.committed.clear()
    clock.current = AFTER - timedelta(seconds=1)
    assert await survey_handling.close_due(phased) == 0
    clock.current = AFTER
    assert await survey_handling.close_due(phased) == 1
    assert await survey_handling.close_due(phased) == 0
    [written] = phased.outbox.committed
    assert isinstance(written.event, surveys.SurveyClosed)
    assert written.event.how == "auto"
    assert written.trace.causation_id is None


async def test_survey_missing_once_per_enterprise_after_the_phase(
    phased: MemoryComplaintsUnitOfWork, clock: FixedClock
) -> None:
    await _open(phased)  # ent-a opened one; ent-b (p-2) did not
    phased.outbox.committed.clear()
    clock.current = AFTER - timedelta(microseconds=1)
    assert await survey_handling.campaigns_to_check(phased) == []
    clock.current = AFTER

    [phase] = await survey_handling.campaigns_to_check(phased)
    assert await survey_handling.report_missing(phased, phase) == 1
    assert await survey_handling.report_missing(phased, phase) == 0  # claimed: once
    assert await survey_handling.campaigns_to_check(phased) == []

    [written] = phased.outbox.committed
    assert isinstance(written.event, surveys.SurveyMissing)
    assert (written.event.enterprise_id, written.event.deadline) == ("ent-b", AFTER)


def _delivered(
    phase: campaigns.PhaseKind, starts: date, at: datetime
) -> Delivered[campaigns.CampaignPhaseStarted]:
    event = campaigns.CampaignPhaseStarted(
        campaign_id="quality-month-2026",
        phase=phase,
        phase_title_zh=f"{phase}阶段",
        starts_on=starts,
        ends_on=starts + timedelta(days=29),
        title_zh="物业服务质量提升活动",
    )
    return Delivered(event, cloudevents.from_event(event, source="/test", time=at))


async def test_the_campaign_reaction_keeps_implementation_phases_only(
    uow: MemoryComplaintsUnitOfWork,
) -> None:
    batch = [
        _delivered("planning", date(2026, 5, 1), IN_PHASE - timedelta(days=60)),
        _delivered("implementation", date(2026, 6, 1), IN_PHASE - timedelta(days=30)),
        _delivered("implementation", date(2026, 5, 20), IN_PHASE - timedelta(days=40)),  # late
    ]
    await survey_handling.on_phase_started(uow, batch)

    [kept] = uow.store.campaigns.values()
    assert (kept.phase.starts_on, kept.phase.ends_on) == (date(2026, 6, 1), date(2026, 6, 30))
    assert uow.outbox.pending == uow.outbox.committed == []
