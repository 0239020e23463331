"""Rectification orders: deadline policy and the order state machine, with the clock passed in."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from runtime.calendar import CHINA, WorkingCalendar
from services.inspections.domain import rectification as r

ROOT = Path(__file__).resolve().parents[2]
DEADLINES = ROOT / "services" / "inspections" / "data" / "deadlines.json"


@pytest.fixture(scope="module")
def policy() -> r.DeadlinePolicy:
    return r.DeadlinePolicy.from_data(json.loads(DEADLINES.read_text(encoding="utf-8")))


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


def due(y: int, m: int, d: int) -> datetime:
    return datetime.combine(date(y, m, d), time(23, 59, 59, 999999), tzinfo=CHINA)


ORDERED_AT = at(2011, 6, 13, 9)
DEADLINE = due(2011, 6, 20)
BEFORE = at(2011, 6, 15)
AFTER = at(2011, 6, 21, 0, 0)


def fresh() -> r.Order:
    return r.new_order("RO-1", ORDERED_AT, DEADLINE)


def submitted(now: datetime = BEFORE) -> r.Order:
    return r.submit(fresh(), "已清理垃圾并加装垃圾桶", ["rect/RO-1/a.jpg"], now)


def refused(call: Any, *args: Any) -> r.TransitionRefused:
    with pytest.raises(r.TransitionRefused) as caught:
        call(*args)
    return caught.value


# --- deadline policy ------------------------------------------------------------------------------


def test_general_is_five_working_days(cal: WorkingCalendar, policy: r.DeadlinePolicy) -> None:
    # Fri 2011-09-30: Oct 8, 9, 10, 11, 12.
    assert policy.deadline_for("general", "waste.bins", at(2011, 9, 30), cal) == due(2011, 10, 12)


def test_serious_is_three_working_days(cal: WorkingCalendar, policy: r.DeadlinePolicy) -> None:
    assert policy.deadline_for("serious", "waste.daily", at(2011, 9, 30), cal) == due(2011, 10, 10)


def test_urgent_is_24_hours_holidays_included(
    cal: WorkingCalendar, policy: r.DeadlinePolicy
) -> None:
    start = at(2011, 9, 30, 20)
    assert policy.deadline_for("urgent", "facilities.elevator", start, cal) == at(2011, 10, 1, 20)


@pytest.mark.parametrize("item_id", ["flood.roof_leak", "flood.downpipe_blocked"])
def test_flood_items_override_severity_with_four_hours(
    cal: WorkingCalendar, policy: r.DeadlinePolicy, item_id: str
) -> None:
    start = at(2012, 6, 22, 22)  # Dragon Boat Festival night
    for severity in ("general", "serious", "urgent"):
        assert policy.deadline_for(severity, item_id, start, cal) == at(2012, 6, 23, 2)
    rule = policy.rule_for("urgent", item_id)
    assert (rule.hours, rule.working_days) == (4, None)
    assert "立即组织人员抢修" in rule.note_zh


def test_unknown_severity_is_refused(cal: WorkingCalendar, policy: r.DeadlinePolicy) -> None:
    with pytest.raises(r.PolicyError, match="critical"):
        policy.deadline_for("critical", "waste.bins", at(2011, 3, 7), cal)


def valid_policy(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "by_severity": {
            "general": {"working_days": 5},
            "serious": {"working_days": 3},
            "urgent": {"hours": 24},
        },
        "by_item": {},
    }
    return base | overrides


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (valid_policy(by_severity=None), "by_severity must be an object"),
        (valid_policy(by_severity={"general": {"working_days": 5}}), "exactly"),
        (
            valid_policy(by_severity=valid_policy()["by_severity"] | {"critical": {"hours": 1}}),
            "exactly",
        ),
        (valid_policy(by_item={"x": {"working_days": 1, "hours": 1}}), "exactly one"),
        (valid_policy(by_item={"x": {}}), "exactly one"),
        (valid_policy(by_item={"x": {"hours": 0}}), "positive"),
        (valid_policy(by_item={"x": {"hours": 1.5}}), "positive"),
        (valid_policy(by_item={"x": {"working_days": True}}), "positive"),
        (valid_policy(by_item={"x": 4}), "must be an object"),
    ],
)
def test_bad_policy_data_is_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(r.PolicyError, match=message):
        r.DeadlinePolicy.from_data(data)


# --- new orders -----------------------------------------------------------------------------------


def test_a_new_order_is_ordered_with_nothing_recorded() -> None:
    order = fresh()
    assert (order.status, order.rejections, order.submissions) == (r.Status.ORDERED, 0, 0)
    assert order.overdue_at is None
    assert order.verified_at is None
    assert order.on_time is None
    assert not order.closed


def test_a_new_order_needs_a_deadline_after_it_and_aware_times() -> None:
    with pytest.raises(ValueError, match="not after"):
        r.new_order("RO-1", ORDERED_AT, ORDERED_AT)
    with pytest.raises(ValueError, match="timezone-aware"):
        r.new_order("RO-1", datetime(2011, 6, 13, 9), DEADLINE)


# --- submit -------------------------------------------------------------------------------------


def test_submit_records_the_evidence() -> None:
    order = r.submit(fresh(), "  已清理垃圾  ", ["rect/RO-1/a.jpg", "b-2_x.png"], BEFORE)
    assert order.status is r.Status.SUBMITTED
    assert order.submissions == 1
    assert order.submitted_at == BEFORE
    assert order.evidence_text == "已清理垃圾"
    assert order.photo_refs == ("rect/RO-1/a.jpg", "b-2_x.png")


def test_submit_returns_a_new_order_and_leaves_the_old_one_alone() -> None:
    before = fresh()
    after = r.submit(before, "已整改", [], BEFORE)
    assert before.status is r.Status.ORDERED
    assert before.submissions == 0
    assert after is not before
    with pytest.raises(AttributeError):
        after.status = r.Status.VERIFIED  # type: ignore[misc]


def test_submit_without_photos_is_allowed() -> None:
    assert r.submit(fresh(), "已整改", (), BEFORE).photo_refs == ()


def test_resubmission_after_a_rejection_replaces_the_evidence() -> None:
    rejected = r.reject(submitted(), "垃圾桶仍然满溢", at(2011, 6, 16))
    again = r.submit(rejected, "已增加清运次数", ["rect/RO-1/c.jpg"], at(2011, 6, 17))
    assert again.status is r.Status.SUBMITTED
    assert again.submissions == 2
    assert again.rejections == 1
    assert again.evidence_text == "已增加清运次数"
    assert again.photo_refs == ("rect/RO-1/c.jpg",)
    assert again.submitted_at == at(2011, 6, 17)


def test_submitting_twice_is_refused() -> None:
    e = refused(r.submit, submitted(), "再次提交", [], BEFORE)
    assert (e.code, e.field) == ("already_submitted", None)
    assert "不能重复提交" in e.zh


def test_submitting_after_verification_is_refused() -> None:
    e = refused(r.submit, r.verify(submitted(), at(2011, 6, 16)), "补充材料", [], at(2011, 6, 17))
    assert (e.code, e.field) == ("already_verified", None)
    assert e.zh == "整改已验收通过，不能再提交"
    assert "already verified" in e.en


def test_submitting_after_inadequate_is_refused() -> None:
    order = r.reject(submitted(), "垃圾桶仍然满溢", at(2011, 6, 16))
    order = r.submit(order, "已整改", [], at(2011, 6, 17))
    order = r.reject(order, "仍未按要求整改", at(2011, 6, 18))
    e = refused(r.submit, order, "再次整改", [], at(2011, 6, 19))
    assert (e.code, e.field) == ("closed_inadequate", None)
    assert "整改不到位" in e.zh


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_evidence_is_refused(text: str) -> None:
    e = refused(r.submit, fresh(), text, [], BEFORE)
    assert (e.code, e.field) == ("evidence_empty", "evidence_text")
    assert e.zh == "整改情况说明不能为空"


def test_evidence_of_2000_characters_is_accepted_and_2001_refused() -> None:
    assert r.submit(fresh(), "整" * 2000, [], BEFORE).evidence_text == "整" * 2000
    e = refused(r.submit, fresh(), "整" * 2001, [], BEFORE)
    assert (e.code, e.field) == ("evidence_too_long", "evidence_text")
    assert "2001" in e.zh
    assert "2000" in e.en


def test_nine_photos_are_accepted_and_ten_refused() -> None:
    nine = [f"p/{i}.jpg" for i in range(9)]
    assert len(r.submit(fresh(), "已整改", nine, BEFORE).photo_refs) == 9
    e = refused(r.submit, fresh(), "已整改", [*nine, "p/9.jpg"], BEFORE)
    assert (e.code, e.field) == ("too_many_photos", "photo_refs")
    assert "9" in e.zh


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "../etc/passwd",
        "rect/../../secret.jpg",
        "a..b.jpg",
        "/etc/passwd",
        "rect\\a.jpg",
        "rect/a b.jpg",
        "照片.jpg",
        "https://evil.example/a.jpg",
        "a" * 201,
        "a.jpg\n",
    ],
)
def test_unsafe_photo_references_are_refused(ref: str) -> None:
    e = refused(r.submit, fresh(), "已整改", ["ok.jpg", ref], BEFORE)
    assert (e.code, e.field) == ("bad_photo_ref", "photo_refs.1")
    assert "第 2 张" in e.zh


def test_a_200_character_photo_reference_is_accepted() -> None:
    ref = "a" * 196 + ".jpg"
    assert r.submit(fresh(), "已整改", [ref], BEFORE).photo_refs == (ref,)


def test_a_repeated_photo_reference_is_refused() -> None:
    e = refused(r.submit, fresh(), "已整改", ["a.jpg", "b.jpg", "a.jpg"], BEFORE)
    assert (e.code, e.field) == ("duplicate_photo", "photo_refs.2")


def test_a_single_string_is_not_taken_as_a_list_of_photos() -> None:
    with pytest.raises(TypeError):
        r.submit(fresh(), "已整改", "a.jpg", BEFORE)


def test_state_is_checked_before_input() -> None:
    # Submitting to a verified order is a 409 even with a bad body.
    e = refused(r.submit, r.verify(submitted(), at(2011, 6, 16)), "", [], at(2011, 6, 17))
    assert e.code == "already_verified"


# --- verify ---------------------------------------------------------------------------------------


def test_verify_a_submitted_order_on_time() -> None:
    order = r.verify(submitted(BEFORE), AFTER)  # verified late, but submitted in time
    assert order.status is r.Status.VERIFIED
    assert order.verified_at == AFTER
    assert order.closed
    assert order.on_time is True


def test_verify_a_submission_made_after_the_deadline_is_late() -> None:
    late = r.submit(fresh(), "已整改", [], AFTER)
    assert r.verify(late, at(2011, 6, 22)).on_time is False


def test_a_submission_at_the_deadline_itself_is_on_time() -> None:
    assert r.verify(submitted(DEADLINE), AFTER).on_time is True
    late = submitted(DEADLINE + timedelta(microseconds=1))
    assert r.verify(late, AFTER).on_time is False


def test_on_time_counts_the_accepted_submission_not_the_first() -> None:
    order = r.reject(submitted(BEFORE), "垃圾桶仍然满溢", at(2011, 6, 16))
    order = r.submit(order, "已增加清运次数", [], AFTER)
    assert r.verify(order, at(2011, 6, 22)).on_time is False


def test_verifying_an_order_never_submitted_is_refused() -> None:
    e = refused(r.verify, fresh(), BEFORE)
    assert (e.code, e.zh, e.field) == ("not_submitted", "整改尚未提交，无法验收", None)
    assert "not been submitted" in e.en


def test_verifying_a_rejected_order_not_yet_resubmitted_is_refused() -> None:
    rejected = r.reject(submitted(), "垃圾桶仍然满溢", at(2011, 6, 16))
    e = refused(r.verify, rejected, at(2011, 6, 17))
    assert e.code == "not_submitted"
    assert "尚未重新提交" in e.zh


def test_verifying_twice_is_refused() -> None:
    e = refused(r.verify, r.verify(submitted(), at(2011, 6, 16)), at(2011, 6, 17))
    assert e.code == "already_verified"
    assert e.zh == "整改已验收通过，不能再验收"


def test_verifying_an_inadequate_order_is_refused() -> None:
    order = r.reject(submitted(), "垃圾桶仍然满溢", at(2011, 6, 16))
    order = r.reject(r.submit(order, "已整改", [], at(2011, 6, 17)), "仍未整改到位", AFTER)
    e = refused(r.verify, order, at(2011, 6, 22))
    assert e.code == "closed_inadequate"


# --- reject -------------------------------------------------------------------------------------


def test_first_rejection_sends_the_order_back() -> None:
    order = r.reject(submitted(), "  垃圾桶仍然满溢  ", at(2011, 6, 16))
    assert order.status is r.Status.REJECTED
    assert order.rejections == 1
    assert order.rejection_reason == "垃圾桶仍然满溢"
    assert order.rejected_at == at(2011, 6, 16)
    assert not order.closed
    assert order.inadequate_at is None


def test_second_rejection_is_inadequate_and_closes_the_order() -> None:
    order = r.reject(submitted(), "垃圾桶仍然满溢", at(2011, 6, 16))
    order = r.submit(order, "已增加清运次数", [], at(2011, 6, 17))
    order = r.reject(order, "仍有垃圾堆放未清", at(2011, 6, 18))
    assert order.status is r.Status.INADEQUATE
    assert order.rejections == 2
    assert order.submissions == 2
    assert order.rejection_reason == "仍有垃圾堆放未清"
    assert order.inadequate_at == at(2011, 6, 18)
    assert order.closed
    assert order.on_time is None


@pytest.mark.parametrize("reason", ["", "    ", "不合格", "太差了 ", " ab c "])
def test_a_rejection_needs_a_reason_of_five_characters(reason: str) -> None:
    e = refused(r.reject, submitted(), reason, at(2011, 6, 16))
    assert (e.code, e.field) == ("reason_too_short", "reason")
    assert "5" in e.zh


def test_a_five_character_reason_is_enough() -> None:
    assert r.reject(submitted(), "照片不清晰", at(2011, 6, 16)).rejection_reason == "照片不清晰"


def test_an_overlong_reason_is_refused() -> None:
    e = refused(r.reject, submitted(), "理" * 2001, at(2011, 6, 16))
    assert (e.code, e.field) == ("reason_too_long", "reason")


def test_rejecting_an_order_never_submitted_is_refused() -> None:
    e = refused(r.reject, fresh(), "照片不清晰", BEFORE)
    assert (e.code, e.zh) == ("not_submitted", "整改尚未提交，无法退回")


def test_rejecting_a_rejected_order_again_before_resubmission_is_refused() -> None:
    rejected = r.reject(submitted(), "垃圾桶仍然满溢", at(2011, 6, 16))
    assert refused(r.reject, rejected, "再次退回理由", at(2011, 6, 17)).code == "not_submitted"


def test_rejecting_a_verified_order_is_refused() -> None:
    e = refused(r.reject, r.verify(submitted(), at(2011, 6, 16)), "照片不清晰", at(2011, 6, 17))
    assert e.code == "already_verified"


def test_rejecting_an_inadequate_order_is_refused() -> None:
    order = r.reject(submitted(), "垃圾桶仍然满溢", at(2011, 6, 16))
    order = r.reject(r.submit(order, "已整改", [], at(2011, 6, 17)), "仍未整改到位", AFTER)
    e = refused(r.reject, order, "第三次退回", at(2011, 6, 22))
    assert e.code == "closed_inadequate"
    assert order.rejections == 2


# --- overdue --------------------------------------------------------------------------------------


def test_an_ordered_order_past_its_deadline_is_marked_once() -> None:
    marked = r.mark_overdue(fresh(), AFTER)
    assert marked is not None
    assert marked.overdue_at == AFTER
    assert marked.status is r.Status.ORDERED
    assert r.mark_overdue(marked, AFTER + timedelta(hours=1)) is None


def test_nothing_is_overdue_until_the_deadline_has_passed() -> None:
    assert r.mark_overdue(fresh(), DEADLINE) is None
    assert r.mark_overdue(fresh(), DEADLINE + timedelta(microseconds=1)) is not None
    assert not r.is_due(fresh(), BEFORE)


def test_a_submitted_order_awaiting_verification_is_not_overdue() -> None:
    assert r.mark_overdue(submitted(BEFORE), AFTER) is None
    assert r.mark_overdue(submitted(AFTER), at(2011, 6, 22)) is None


def test_a_rejected_order_past_its_deadline_is_marked_at_the_next_scan() -> None:
    rejected = r.reject(submitted(BEFORE), "垃圾桶仍然满溢", AFTER)
    marked = r.mark_overdue(rejected, at(2011, 6, 21, 1))
    assert marked is not None
    assert marked.overdue_at == at(2011, 6, 21, 1)
    assert marked.status is r.Status.REJECTED


def test_a_rejected_order_still_within_its_deadline_is_not_overdue() -> None:
    rejected = r.reject(submitted(BEFORE), "垃圾桶仍然满溢", at(2011, 6, 16))
    assert r.mark_overdue(rejected, at(2011, 6, 17)) is None


@pytest.mark.parametrize("closing", ["verify", "inadequate"])
def test_closed_orders_are_never_overdue(closing: str) -> None:
    order = submitted(BEFORE)
    if closing == "verify":
        order = r.verify(order, at(2011, 6, 16))
    else:
        order = r.reject(order, "垃圾桶仍然满溢", at(2011, 6, 16))
        order = r.reject(
            r.submit(order, "已整改", [], at(2011, 6, 17)), "仍未整改到位", at(2011, 6, 18)
        )
    assert order.closed
    assert r.mark_overdue(order, at(2012, 1, 1)) is None


def test_the_overdue_flag_survives_later_transitions() -> None:
    marked = r.mark_overdue(fresh(), AFTER)
    assert marked is not None
    order = r.verify(r.submit(marked, "已整改", [], at(2011, 6, 22)), at(2011, 6, 23))
    assert order.overdue_at == AFTER
    assert order.on_time is False
    # Rejected again after having been marked: still marked once, never re-marked.
    again = r.reject(r.submit(marked, "已整改", [], at(2011, 6, 22)), "照片不清晰", at(2011, 6, 23))
    assert r.mark_overdue(again, at(2011, 6, 24)) is None


def test_overdue_statuses_are_what_the_scan_selects() -> None:
    assert {r.Status.ORDERED, r.Status.REJECTED} == r.OVERDUE_STATUSES
    assert {r.Status.VERIFIED, r.Status.INADEQUATE} == r.TERMINAL


NAIVE = datetime(2011, 6, 21, 0, 0)


@pytest.mark.parametrize(
    "transition",
    [
        lambda: r.mark_overdue(fresh(), NAIVE),
        lambda: r.submit(fresh(), "已整改", [], NAIVE),
        lambda: r.verify(submitted(), NAIVE),
        lambda: r.reject(submitted(), "照片不清晰", NAIVE),
    ],
    ids=["mark_overdue", "submit", "verify", "reject"],
)
def test_times_must_be_timezone_aware(transition: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        transition()


def test_deadlines_compare_correctly_across_time_zones() -> None:
    # 2011-06-20 16:00 UTC is 2011-06-21 00:00 in Tianjin: past the deadline.
    assert r.mark_overdue(fresh(), datetime(2011, 6, 20, 16, 0, tzinfo=UTC)) is not None
    assert r.mark_overdue(fresh(), datetime(2011, 6, 20, 15, 59, tzinfo=UTC)) is None
