"""The complaint state machine: intake checks, first-inquiry responsibility through transfers,
replies, feedback and reopening, auto-close, extensions; the clock is always passed in."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from runtime.calendar import CHINA, WorkingCalendar
from services.complaints.adapters import categories_json, sla_json
from services.complaints.domain import categories as complaint_categories
from services.complaints.domain import complaint as c
from services.complaints.domain import sla
from tests.unit.conftest import categories_data

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "services" / "complaints" / "data"


@pytest.fixture(scope="module")
def policy(categories: complaint_categories.Categories) -> sla.SlaPolicy:
    return sla_json.parse(
        json.loads((DATA / "sla.json").read_text(encoding="utf-8")), categories.ids
    )


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime.combine(date(y, m, d), time(23, 59, 59, 999999), tzinfo=CHINA)


FILED_AT = at(2011, 9, 26, 9)  # Monday; repair/normal: accept by 9-27, complete by 10-8 (调休 Sat)
ALICE = c.Staff("S-alice", "E-1")  # the enterprise's front desk: first to accept
BOB = c.Staff("S-bob", "E-1")
PHONE = "13812345678"

Filer = Callable[..., c.Complaint]


@pytest.fixture
def file(
    categories: complaint_categories.Categories, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> Filer:
    def _file(**overrides: Any) -> c.Complaint:
        args: dict[str, Any] = {
            "complaint_id": "C-1",
            "project_id": "P-1",
            "enterprise_id": "E-1",
            "district_code": "120101",
            "category": categories.get("repair"),
            "description": "3号楼2单元楼道灯已经坏了一周,晚上漆黑一片。",
            "channel": "web",
            "now": FILED_AT,
            "policy": policy,
            "calendar": cal,
            "answers": {"facility": "lighting"},
            "contact": c.Contact("王先生", PHONE),
            "address": "3号楼2单元",
        }
        args.update(overrides)
        return c.file_complaint(**args)

    return _file


def refused(action: Callable[[], object]) -> c.TransitionRefused:
    with pytest.raises(c.TransitionRefused) as info:
        action()
    return info.value


@pytest.fixture
def accepted(file: Filer) -> c.Complaint:
    return c.accept(file(), ALICE, at(2011, 9, 26, 10))


@pytest.fixture
def replied(accepted: c.Complaint) -> c.Complaint:
    return c.reply(accepted, "S-alice", "已更换楼道灯泡,请您查看。", at(2011, 9, 27, 15))


# --- categories ----------------------------------------------------------------------------------


def test_every_choice_question_offers_choices_and_labels_are_bilingual(
    categories: complaint_categories.Categories,
) -> None:
    for category in categories.by_id.values():
        assert category.name_zh
        assert category.name_en
        for q in category.questions:
            assert q.label_zh
            assert q.label_en
            assert (q.kind == "choice") == bool(q.choices), f"{category.id}.{q.id}"
    assert categories.get("elevator").questions[0] == complaint_categories.Question(
        "trapped", "是否有人被困", "Is anyone trapped", "yesno", required=True
    )


def test_an_unknown_category_is_a_field_error(categories: complaint_categories.Categories) -> None:
    error = refused(lambda: categories.get("parking"))
    assert (error.code, error.field) == ("unknown_category", "category")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["categories"].append(copy.deepcopy(d["categories"][0])), "listed twice"),
        (lambda d: d["categories"][0].update(urgency="critical"), "urgency"),
        (lambda d: d["categories"][0]["questions"][0].update(kind="number"), "kind"),
        (lambda d: d["categories"][0]["questions"][0].update(choices=[]), "needs choices"),
        (lambda d: d["categories"][0]["questions"][1].update(required="yes"), "required"),
        (lambda d: d["categories"][0].update(name_en=""), "name_en"),
        (lambda d: d.update(categories=[]), "non-empty"),
    ],
)
def test_category_data_that_makes_no_sense_is_refused(
    change: Callable[[dict[str, Any]], object], message: str
) -> None:
    data = categories_data()
    change(data)
    with pytest.raises(categories_json.CategoryError, match=message):
        categories_json.parse(data)


# --- intake ------------------------------------------------------------------------------------


def test_filing_starts_both_clocks_and_takes_the_categorys_urgency(
    file: Filer, categories: complaint_categories.Categories
) -> None:
    complaint = file()
    assert complaint.status is c.Status.FILED
    assert complaint.urgency == "normal"
    assert complaint.acceptance.deadline == end_of(2011, 9, 27)
    assert complaint.completion.deadline == end_of(2011, 10, 8)  # 9-27..30, then make-up Saturday
    assert complaint.responsible is None
    assert complaint.running_clocks == (complaint.acceptance, complaint.completion)

    gas = file(category=categories.get("gas"), answers={"smell": True})
    assert gas.urgency == "urgent"
    assert gas.acceptance.deadline == FILED_AT + timedelta(minutes=15)
    calm = file(category=categories.get("gas"), answers={"smell": False}, urgency="normal")
    assert calm.acceptance.deadline == FILED_AT + timedelta(minutes=30)


def test_a_bad_urgency_or_channel_is_a_field_error(file: Filer) -> None:
    assert refused(lambda: file(urgency="critical")).field == "urgency"
    assert refused(lambda: file(channel="fax")).field == "channel"


def test_staff_channels_name_the_filer_and_owner_channels_do_not(file: Filer) -> None:
    phoned = file(channel="phone", filed_by="S-desk", registered_by="enterprise")
    assert (phoned.filed_by, phoned.registered_by) == ("S-desk", "enterprise")
    assert refused(lambda: file(channel="counter")).field == "filed_by"
    assert refused(lambda: file(channel="open311", filed_by="S-desk")).field == "filed_by"


def test_registered_complaints_say_who_registered_them_and_the_hotline_channel_is_its_own(
    file: Filer,
) -> None:
    hotline = file(channel="hotline", filed_by="clerk-1", registered_by="hotline")
    assert (hotline.channel, hotline.registered_by) == ("hotline", "hotline")
    walk_in = file(channel="counter", filed_by="officer-1", registered_by="district_office")
    assert walk_in.registered_by == "district_office"
    assert refused(lambda: file(channel="hotline")).field == "filed_by"
    assert refused(lambda: file(channel="phone", filed_by="S-desk")).field == "channel"
    assert (
        refused(lambda: file(channel="hotline", filed_by="x", registered_by="district_office"))
    ).code == "registered_by_mismatch"
    assert refused(lambda: file(channel="phone", filed_by="x", registered_by="hotline")).code == (
        "registered_by_mismatch"
    )


def test_a_description_of_exactly_2000_characters_is_accepted_one_more_is_not(
    file: Filer,
) -> None:
    assert len(file(description="灯" * 2000).description) == 2000
    error = refused(lambda: file(description="灯" * 2001))
    assert (error.code, error.field) == ("too_long", "description")
    assert "2001" in error.zh
    assert "2001" in error.en


def test_a_description_is_trimmed_and_line_breaks_normalised(file: Filer) -> None:
    complaint = file(description="  楼道灯坏了\r\n已经一周\r没人修  ")
    assert complaint.description == "楼道灯坏了\n已经一周\n没人修"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("<script>alert(1)</script>楼道灯坏了", "html_not_allowed"),
        ("楼道灯<b>坏了</b>一周", "html_not_allowed"),
        ('<img src=x onerror="alert(1)">', "html_not_allowed"),
        ("楼道灯坏了<!-- 注释 -->", "html_not_allowed"),
        ("楼道灯坏了\x07一周了", "control_characters"),
        ("楼道灯坏了\x00一周了", "control_characters"),
        ("楼道灯坏了\u202e一周了", "control_characters"),
        ("   ", "too_short"),
        ("灯坏", "too_short"),
    ],
)
def test_html_control_characters_and_empty_descriptions_are_refused(
    file: Filer, text: str, code: str
) -> None:
    error = refused(lambda: file(description=text))
    assert (error.code, error.field) == (code, "description")
    assert error.zh
    assert error.en


def test_a_less_than_sign_in_ordinary_text_is_not_a_tag(file: Filer) -> None:
    text = "冬季室温<18度,暖气片温度 3<5,已持续一周"
    assert file(description=text).description == text


def test_answers_are_checked_against_the_categorys_questions(
    file: Filer, categories: complaint_categories.Categories
) -> None:
    safety = categories.get("safety")
    ok = file(category=safety, answers={"hazard": "fire", "people_at_risk": True})
    assert ok.answers == {"hazard": "fire", "people_at_risk": True}
    missing = refused(lambda: file(category=safety, answers={"hazard": "fire"}))
    assert (missing.code, missing.field) == ("answer_required", "answers.people_at_risk")
    assert "是否有人受伤" in missing.zh
    choice = refused(
        lambda: file(category=safety, answers={"hazard": "flood", "people_at_risk": False})
    )
    assert (choice.code, choice.field) == ("answer_choice", "answers.hazard")
    yesno = refused(
        lambda: file(category=safety, answers={"hazard": "fire", "people_at_risk": "yes"})
    )
    assert (yesno.code, yesno.field) == ("answer_yesno", "answers.people_at_risk")
    unknown = refused(lambda: file(answers={"facility": "lighting", "colour": "red"}))
    assert (unknown.code, unknown.field) == ("unknown_question", "answers.colour")


def test_optional_text_answers_are_plain_single_lines(
    file: Filer, categories: complaint_categories.Categories
) -> None:
    gas = categories.get("gas")
    assert file(category=gas, answers={"smell": True, "where": " 1号楼管井 "}).answers == {
        "smell": True,
        "where": "1号楼管井",
    }
    assert file(category=gas, answers={"smell": True, "where": ""}).answers == {"smell": True}
    error = refused(lambda: file(category=gas, answers={"smell": True, "where": "管井\n楼道"}))
    assert (error.code, error.field) == ("control_characters", "answers.where")


def test_photo_references_are_checked(file: Filer) -> None:
    assert file(photo_refs=["c/1.jpg", "c/2.jpg"]).photo_refs == ("c/1.jpg", "c/2.jpg")
    assert refused(lambda: file(photo_refs=["../etc/passwd"])).field == "photo_refs.0"
    assert refused(lambda: file(photo_refs=["a.jpg", "a.jpg"])).field == "photo_refs.1"
    assert refused(lambda: file(photo_refs=[f"p{i}.jpg" for i in range(10)])).field == "photo_refs"
    with pytest.raises(TypeError):
        file(photo_refs="a.jpg")


# --- contact details and privacy -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("022-23456789", "02223456789"),
        ("0371 1234567", "03711234567"),
    ],
)
def test_phone_numbers_are_normalised(file: Filer, raw: str, normalised: str) -> None:
    contact = file(contact=c.Contact(None, raw)).contact
    assert contact is not None
    assert contact.phone == normalised


@pytest.mark.parametrize("raw", ["12345678901", "1381234567", "23456789", "138-1234-567x"])
def test_a_bad_phone_number_is_a_field_error(file: Filer, raw: str) -> None:
    error = refused(lambda: file(contact=c.Contact("王先生", raw)))
    assert (error.code, error.field) == ("bad_phone", "contact.phone")


def test_anonymous_complaints_are_allowed(file: Filer) -> None:
    assert file(contact=None).anonymous
    assert file(contact=c.Contact("  ", "")).contact is None  # nothing given is anonymous
    named = file(contact=c.Contact("王先生", None))
    assert not named.anonymous
    assert named.contact == c.Contact("王先生", None)


def test_contact_details_stay_out_of_the_public_view_and_the_repr(file: Filer) -> None:
    complaint = file()
    view = complaint.public_view()
    assert set(view).isdisjoint({"contact", "description", "address", "answers", "phone", "name"})
    text = repr(view) + repr(complaint)
    for secret in (PHONE, "王先生", "3号楼2单元", "楼道灯已经坏了"):
        assert secret not in text
    assert view["anonymous"] is False
    assert view["category"] == "repair"
    assert view["completion_deadline"] == end_of(2011, 10, 8)
    assert "138****78" in repr(complaint.contact)


def test_the_public_view_carries_what_every_complaint_event_needs(file: Filer) -> None:
    view = file().public_view()
    for key in ("complaint_id", "project_id", "enterprise_id", "district_code", "category"):
        assert view[key]


# --- acceptance: first-inquiry responsibility -----------------------------------------------------


def test_the_first_to_accept_becomes_the_responsible_person(accepted: c.Complaint) -> None:
    assert accepted.status is c.Status.ACCEPTED
    assert accepted.responsible == ALICE
    assert accepted.accepted_at == at(2011, 9, 26, 10)
    assert accepted.handling_org == "E-1"
    assert accepted.public_view()["responsible_staff_id"] == "S-alice"
    assert accepted.running_clocks == (accepted.completion,)


def test_accepting_again_is_a_no_op_for_the_same_person(accepted: c.Complaint) -> None:
    assert c.accept(accepted, ALICE, at(2011, 9, 26, 11)) is accepted
    # the same person from another desk is still the same person
    same = c.accept(accepted, c.Staff("S-alice", "E-1-counter"), at(2011, 9, 26, 11))
    assert same is accepted


def test_a_second_person_cannot_take_over(accepted: c.Complaint) -> None:
    error = refused(lambda: c.accept(accepted, BOB, at(2011, 9, 26, 11)))
    assert error.code == "already_accepted"
    assert error.zh == "已由 S-alice 签收，首问责任人不可变更"
    assert "S-alice" in error.en
    assert error.field is None


def test_acceptance_after_the_deadline_still_works_but_the_breach_stays_recorded(
    file: Filer,
) -> None:
    late = c.record_due(file(), [("overdue", "acceptance")], at(2011, 9, 28, 0, 1))
    accepted = c.accept(late, ALICE, at(2011, 9, 28, 9))
    assert accepted.acceptance.overdue_at == at(2011, 9, 28, 0, 1)


# --- transfers -----------------------------------------------------------------------------------


def test_a_transfer_moves_the_work_not_the_responsibility(accepted: c.Complaint) -> None:
    moved, escalated = c.transfer(
        accepted, "E-2", "该楼栋由另一家物业企业服务", at(2011, 9, 26, 11), by="S-alice"
    )
    assert not escalated
    assert moved.handling_org == "E-2"
    assert moved.responsible == ALICE
    assert moved.status is c.Status.ACCEPTED
    assert moved.transfers == (
        c.Transfer("E-1", "E-2", "S-alice", "该楼栋由另一家物业企业服务", at(2011, 9, 26, 11)),
    )
    view = moved.public_view()
    assert (view["responsible_staff_id"], view["handling_org"], view["transfer_count"]) == (
        "S-alice",
        "E-2",
        1,
    )
    # staff of the receiving organisation can neither take over nor reply
    assert refused(
        lambda: c.accept(moved, c.Staff("S-carol", "E-2"), at(2011, 9, 26, 12))
    ).code == ("already_accepted")
    assert refused(lambda: c.reply(moved, "S-carol", "已处理", at(2011, 9, 26, 12))).code == (
        "not_responsible"
    )
    assert c.reply(moved, "S-alice", "已协调处理", at(2011, 9, 26, 13)).status is c.Status.REPLIED


def test_back_and_forth_beyond_the_limit_escalates_once(accepted: c.Complaint) -> None:
    complaint, flags = accepted, []
    for hour, target in zip((11, 12, 13, 14), ("E-2", "E-1", "E-2", "E-1"), strict=True):
        complaint, escalated = c.transfer(
            complaint, target, "不属于我方服务范围", at(2011, 9, 26, hour), by="S-x"
        )
        flags.append(escalated)
    assert flags == [False, False, True, False]  # the 3rd transfer is beyond max_transfers=2
    assert complaint.escalated_at == at(2011, 9, 26, 13)
    assert len(complaint.transfers) == 4
    assert complaint.responsible == ALICE  # through all of it


def test_the_transfer_limit_is_configurable(accepted: c.Complaint) -> None:
    _, escalated = c.transfer(
        accepted, "E-2", "转区县", at(2011, 9, 26, 11), by="S-x", max_transfers=0
    )
    assert escalated
    with pytest.raises(ValueError, match="max_transfers"):
        c.transfer(accepted, "E-2", "转区县", at(2011, 9, 26, 11), by="S-x", max_transfers=-1)


def test_transfer_refusals(file: Filer, accepted: c.Complaint, replied: c.Complaint) -> None:
    assert refused(lambda: c.transfer(file(), "E-2", "不归我们管", FILED_AT, by="S-x")).code == (
        "not_accepted"
    )
    same = refused(lambda: c.transfer(accepted, "E-1", "转给自己", FILED_AT, by="S-x"))
    assert (same.code, same.field) == ("same_org", "to_org")
    assert refused(lambda: c.transfer(accepted, " ", "无", FILED_AT, by="S-x")).field == "to_org"
    short = refused(lambda: c.transfer(accepted, "E-2", "转", FILED_AT, by="S-x"))
    assert (short.code, short.field) == ("too_short", "reason")
    assert refused(lambda: c.transfer(replied, "E-2", "不归我们管", FILED_AT, by="S-x")).code == (
        "awaiting_feedback"
    )


# --- replies -----------------------------------------------------------------------------------


def test_reply_requires_acceptance(file: Filer) -> None:
    error = refused(lambda: c.reply(file(), "S-alice", "已处理", FILED_AT))
    assert error.code == "not_accepted"
    assert "尚未签收" in error.zh


def test_only_the_responsible_person_replies(accepted: c.Complaint) -> None:
    error = refused(lambda: c.reply(accepted, "S-bob", "已处理", at(2011, 9, 26, 12)))
    assert error.code == "not_responsible"
    assert error.zh == "只有首问责任人 S-alice 可以答复"


def test_a_reply_moves_to_replied_and_stops_the_clocks(replied: c.Complaint) -> None:
    assert replied.status is c.Status.REPLIED
    assert replied.replied_at == at(2011, 9, 27, 15)
    assert replied.replies == (
        c.Reply("S-alice", "已更换楼道灯泡,请您查看。", at(2011, 9, 27, 15)),
    )
    assert replied.running_clocks == ()


def test_a_second_reply_waits_for_the_owner(replied: c.Complaint) -> None:
    assert refused(lambda: c.reply(replied, "S-alice", "补充说明", at(2011, 9, 27, 16))).code == (
        "awaiting_feedback"
    )


def test_reply_text_is_checked(accepted: c.Complaint) -> None:
    assert refused(lambda: c.reply(accepted, "S-alice", "  ", FILED_AT)).field == "text"
    assert refused(lambda: c.reply(accepted, "S-alice", "<p>已处理</p>", FILED_AT)).code == (
        "html_not_allowed"
    )
    assert refused(lambda: c.reply(accepted, "S-alice", "好" * 2001, FILED_AT)).code == "too_long"


# --- owner feedback, closing and reopening -------------------------------------------------------


FEEDBACK_AT = at(2011, 9, 28, 9)


def feedback(
    complaint: c.Complaint,
    policy: sla.SlaPolicy,
    cal: WorkingCalendar,
    *,
    satisfied: bool,
    rating: int = 4,
    comment: str | None = None,
    now: datetime = FEEDBACK_AT,
) -> c.Complaint:
    return c.give_feedback(
        complaint,
        satisfied=satisfied,
        rating=rating,
        comment=comment,
        now=now,
        policy=policy,
        calendar=cal,
    )


def test_a_complaint_cannot_be_closed_without_a_reply(
    file: Filer, accepted: c.Complaint, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    for complaint in (file(), accepted):
        error = refused(partial(feedback, complaint, policy, cal, satisfied=True))
        assert error.code == "not_replied"
        assert c.auto_close(complaint, at(2012, 1, 1), 7) is None


def test_a_satisfied_owner_closes_it(
    replied: c.Complaint, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    closed = feedback(replied, policy, cal, satisfied=True, rating=5, comment=" 很及时,谢谢 ")
    assert closed.status is c.Status.CLOSED
    assert (closed.closed_at, closed.close_reason) == (at(2011, 9, 28, 9), "satisfied")
    assert closed.feedback == (c.Feedback(True, 5, "很及时,谢谢", at(2011, 9, 28, 9)),)
    assert closed.running_clocks == ()


def test_a_dissatisfied_owner_reopens_it_to_the_same_person(
    replied: c.Complaint, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    reopened = feedback(replied, policy, cal, satisfied=False, rating=2, comment="灯还是不亮")
    assert reopened.status is c.Status.REOPENED
    assert reopened.responsible == ALICE
    assert reopened.reopen_count == 1
    assert reopened.closed_at is None
    assert reopened.running_clocks == (reopened.completion,)
    # a fresh 5 working days from 9-28 (9-29, 9-30, 10-8, 10-9, 10-10) beats the original 10-8
    assert reopened.completion.deadline == end_of(2011, 10, 10)
    # Bob still cannot act on it; Alice replies again and the owner is asked again
    assert refused(lambda: c.reply(reopened, "S-bob", "已修", at(2011, 9, 28, 10))).code == (
        "not_responsible"
    )
    assert refused(lambda: c.accept(reopened, BOB, at(2011, 9, 28, 10))).code == "already_accepted"
    assert c.accept(reopened, ALICE, at(2011, 9, 28, 10)) is reopened
    again = c.reply(reopened, "S-alice", "已更换镇流器", at(2011, 9, 29, 10))
    assert again.status is c.Status.REPLIED
    assert len(again.replies) == 2
    closed = feedback(again, policy, cal, satisfied=True, rating=4, now=at(2011, 9, 29, 18))
    assert closed.status is c.Status.CLOSED
    assert [f.satisfied for f in closed.feedback] == [False, True]
    assert closed.reopen_count == 1


def test_a_reopened_complaint_can_be_transferred_and_keeps_counting_transfers(
    replied: c.Complaint, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    reopened = feedback(replied, policy, cal, satisfied=False, rating=1)
    moved, _ = c.transfer(reopened, "D-repair", "需工程部处理", at(2011, 9, 28, 10), by="S-alice")
    assert (moved.status, moved.handling_org, moved.responsible) == (
        c.Status.REOPENED,
        "D-repair",
        ALICE,
    )


@pytest.mark.parametrize("rating", [0, 6, -1, True, 4.5])
def test_ratings_are_whole_numbers_1_to_5(
    replied: c.Complaint, policy: sla.SlaPolicy, cal: WorkingCalendar, rating: Any
) -> None:
    error = refused(lambda: feedback(replied, policy, cal, satisfied=True, rating=rating))
    assert (error.code, error.field) == ("bad_rating", "rating")


def test_feedback_comments_are_at_most_500_plain_characters(
    replied: c.Complaint, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    ok = feedback(replied, policy, cal, satisfied=True, comment="好" * 500)
    assert ok.feedback[0].comment == "好" * 500
    assert feedback(replied, policy, cal, satisfied=True, comment="  ").feedback[0].comment is None
    long = refused(lambda: feedback(replied, policy, cal, satisfied=True, comment="好" * 501))
    assert (long.code, long.field) == ("too_long", "comment")
    html = refused(lambda: feedback(replied, policy, cal, satisfied=True, comment="<a href=x>"))
    assert (html.code, html.field) == ("html_not_allowed", "comment")


# --- auto-close ----------------------------------------------------------------------------------


def test_no_feedback_within_n_days_closes_it(replied: c.Complaint) -> None:
    replied_at = at(2011, 9, 27, 15)
    assert c.auto_close(replied, replied_at + timedelta(days=7, microseconds=-1), 7) is None
    closed = c.auto_close(replied, replied_at + timedelta(days=7), 7)
    assert closed is not None
    assert closed.status is c.Status.CLOSED
    assert (closed.closed_at, closed.close_reason) == (
        replied_at + timedelta(days=7),
        "no_feedback",
    )
    assert closed.feedback == ()
    assert c.auto_close(closed, replied_at + timedelta(days=30), 7) is None  # closed once
    # fewer days configured, earlier close
    assert c.auto_close(replied, replied_at + timedelta(days=3), 3) is not None


def test_auto_close_counts_from_the_latest_reply_and_skips_reopened(
    replied: c.Complaint, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    reopened = feedback(replied, policy, cal, satisfied=False, rating=2, now=at(2011, 10, 3))
    assert c.auto_close(reopened, at(2011, 12, 1), 7) is None
    again = c.reply(reopened, "S-alice", "已再次维修", at(2011, 10, 8, 9))
    # counted from the latest reply (10-8), though long after the first (9-27)
    assert c.auto_close(again, at(2011, 10, 14, 9), 7) is None
    assert c.auto_close(again, at(2011, 10, 15, 9), 7) is not None


def test_auto_close_needs_a_positive_number_of_days(replied: c.Complaint) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        c.auto_close(replied, at(2011, 12, 1), 0)


# --- extensions ----------------------------------------------------------------------------------


def test_an_approved_extension_moves_the_completion_deadline_over_the_holiday(
    accepted: c.Complaint, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    asked = c.request_extension(
        accepted, "S-alice", 3, "需要更换整条线路,材料节后到货", at(2011, 9, 28)
    )
    assert asked.pending_extension == c.Extension(
        "S-alice", 3, "需要更换整条线路,材料节后到货", at(2011, 9, 28)
    )
    assert asked.completion == accepted.completion  # nothing moves before the decision
    approved = c.decide_extension(
        asked, approve=True, decided_by="D-120101", now=at(2011, 9, 29), policy=policy, calendar=cal
    )
    # 10-8 (make-up Saturday) + 3 working days: 10-9 (make-up Sunday), 10-10, 10-11
    assert approved.completion.deadline == end_of(2011, 10, 11)
    assert approved.pending_extension is None
    assert approved.extensions[-1].decision == "approved"
    assert approved.extensions[-1].decided_by == "D-120101"
    assert approved.public_view()["completion_deadline"] == end_of(2011, 10, 11)


def test_a_refused_extension_leaves_the_deadline_and_a_new_request_may_follow(
    accepted: c.Complaint, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    asked = c.request_extension(accepted, "S-alice", 2, "等待业委会意见", at(2011, 9, 28))
    refused_ = c.decide_extension(
        asked,
        approve=False,
        decided_by="D-120101",
        now=at(2011, 9, 29),
        policy=policy,
        calendar=cal,
    )
    assert refused_.completion == accepted.completion
    assert refused_.extensions[-1].decision == "refused"
    again = c.request_extension(refused_, "S-alice", 1, "材料明天到货", at(2011, 9, 29, 12))
    assert again.pending_extension is not None
    assert len(again.extensions) == 2


def test_extension_refusals(
    file: Filer,
    accepted: c.Complaint,
    replied: c.Complaint,
    policy: sla.SlaPolicy,
    cal: WorkingCalendar,
) -> None:
    reason = "材料节后才能到货"
    assert refused(lambda: c.request_extension(file(), "S-alice", 2, reason, FILED_AT)).code == (
        "not_accepted"
    )
    assert refused(
        lambda: c.request_extension(accepted, "S-bob", 2, reason, at(2011, 9, 28))
    ).code == ("not_responsible")
    assert refused(
        lambda: c.request_extension(replied, "S-alice", 2, reason, at(2011, 9, 28))
    ).code == ("awaiting_feedback")
    late = refused(
        lambda: c.request_extension(
            accepted, "S-alice", 2, reason, end_of(2011, 10, 8) + timedelta(microseconds=1)
        )
    )
    assert late.code == "deadline_passed"
    # at the deadline itself it is still in time
    assert c.request_extension(accepted, "S-alice", 2, reason, end_of(2011, 10, 8)).extensions
    for days in (0, 11, True):
        error = refused(
            partial(c.request_extension, accepted, "S-alice", days, reason, at(2011, 9, 28))
        )
        assert (error.code, error.field) == ("bad_extension_days", "working_days")
    short = refused(lambda: c.request_extension(accepted, "S-alice", 2, "没料", at(2011, 9, 28)))
    assert (short.code, short.field) == ("too_short", "reason")
    asked = c.request_extension(accepted, "S-alice", 2, reason, at(2011, 9, 28))
    assert refused(
        lambda: c.request_extension(asked, "S-alice", 1, reason, at(2011, 9, 28, 12))
    ).code == ("extension_pending")
    none = refused(
        lambda: c.decide_extension(
            accepted, approve=True, decided_by="D", now=at(2011, 9, 28), policy=policy, calendar=cal
        )
    )
    assert none.code == "no_pending_extension"


def test_a_request_made_in_time_may_be_approved_after_the_deadline_the_breach_stays(
    accepted: c.Complaint, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    asked = c.request_extension(accepted, "S-alice", 2, "材料节后才能到货", end_of(2011, 10, 8))
    assert sla.due_events(asked, at(2011, 10, 9, 0, 5)) == [("overdue", "completion")]
    late = c.record_due(asked, [("overdue", "completion")], at(2011, 10, 9, 0, 5))
    approved = c.decide_extension(
        late, approve=True, decided_by="D", now=at(2011, 10, 9, 9), policy=policy, calendar=cal
    )
    assert approved.completion.deadline == end_of(2011, 10, 10)  # 10-9, 10-10
    assert approved.completion.overdue_at == at(2011, 10, 9, 0, 5)
    assert sla.due_events(approved, at(2011, 10, 12)) == []  # reported once per clock


# --- closed is final ---------------------------------------------------------------------------


def test_nothing_can_be_done_to_a_closed_complaint(
    replied: c.Complaint, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    closed = feedback(replied, policy, cal, satisfied=True)
    actions: list[Callable[[], object]] = [
        lambda: c.accept(closed, ALICE, at(2011, 10, 1)),
        lambda: c.accept(closed, BOB, at(2011, 10, 1)),
        lambda: c.reply(closed, "S-alice", "补充", at(2011, 10, 1)),
        lambda: c.transfer(closed, "E-2", "转走吧", at(2011, 10, 1), by="S-alice"),
        lambda: feedback(closed, policy, cal, satisfied=False),
        lambda: c.request_extension(closed, "S-alice", 1, "还要时间处理", at(2011, 10, 1)),
        lambda: c.decide_extension(
            closed, approve=True, decided_by="D", now=at(2011, 10, 1), policy=policy, calendar=cal
        ),
    ]
    for action in actions:
        error = refused(action)
        assert error.code == "closed"
        assert error.zh == "投诉已办结，不能再操作"
        assert error.field is None


def test_commands_refuse_a_naive_now(file: Filer, accepted: c.Complaint) -> None:
    naive = datetime(2011, 9, 26, 10)  # naive on purpose
    with pytest.raises(ValueError, match="timezone-aware"):
        file(now=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        c.accept(accepted, ALICE, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        c.reply(accepted, "S-alice", "已处理", naive)
