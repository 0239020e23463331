"""The notice rule book (services/notifications/data/rules.toml): validation, recipients, wording."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas import catalog
from schemas.base import Event
from services.notifications.adapters import rule_file
from services.notifications.domain import rules as r
from tests import factories

RULES = Path(__file__).parents[2] / "services" / "notifications" / "data" / "rules.toml"
BOOK = rule_file.load(RULES)
T = datetime(2011, 8, 22, 2, 0, tzinfo=UTC)
PROJECT = r.ProjectFacts("P-120101-0001", "海河花园", "E-0001", "津城物业", "120101", "和平区")


def event(ce_type: str, **fields: Any) -> Event:
    return catalog.EVENT_TYPES[ce_type].model_validate(fields)


COMPLAINT = {
    "complaint_id": "C-1",
    "project_id": "P-120101-0001",
    "enterprise_id": "E-0001",
    "district_code": "120101",
    "category": "water",
}
SAMPLES: dict[str, Event] = {
    "inspection-failed": factories.inspection_failed(),
    "rectification-overdue-reminder": factories.rectification_overdue(),
    "rectification-inadequate-criticism": factories.rectification_rejected(),
    "complaint-receipt": event(
        "cn.tj.wuye.complaints.ComplaintFiled.v1",
        **COMPLAINT,
        urgency="normal",
        channel="web",
        filed_at=T,
        ticket_no="TS20110822-0001",
        owner_account="owner-42",
    ),
    "complaint-overdue-reminder": event(
        "cn.tj.wuye.complaints.ComplaintOverdue.v1",
        **COMPLAINT,
        clock="completion",
        deadline=T,
        detected_at=T,
    ),
    "plan-overdue-reminder": event(
        "cn.tj.wuye.campaigns.PlanOverdue.v1",
        campaign_id="tj-2011",
        submitter_kind="enterprise",
        enterprise_id="E-0001",
        submitter_name="津城物业",
        deadline=T,
        deadline_on=T.date(),
        detected_at=T,
    ),
    "survey-missing-reminder": event(
        "cn.tj.wuye.surveys.SurveyMissing.v1",
        survey_id="missing:tj-2011:E-0001",
        campaign_id="tj-2011",
        enterprise_id="E-0001",
        deadline=T,
        detected_at=T,
    ),
    "patrol-scheduled": event(
        "cn.tj.wuye.inspections.PatrolScheduled.v1",
        patrol_id="PT-1",
        project_id="P-120101-0001",
        project_name="海河花园",
        enterprise_id="E-0001",
        district_code="120101",
        reason="repeated_complaints",
        complaint_count=5,
        window_days=30,
        scheduled_at=T,
        due_by=T,
    ),
}
LIFT_ENTRAPMENT = event(
    "cn.tj.wuye.complaints.ComplaintFiled.v1",
    **(COMPLAINT | {"category": "elevator"}),
    urgency="urgent",
    tier="emergency",
    safety=["lift_entrapment"],
    channel="web",
    filed_at=T,
    ticket_no="TS-20110822-000002",
)
SAMPLES["complaint-urgent"] = LIFT_ENTRAPMENT
SAMPLES["complaint-new"] = event(
    "cn.tj.wuye.complaints.ComplaintFiled.v1",
    **COMPLAINT,
    urgency="normal",
    tier="normal",
    channel="web",
    filed_at=T,
    ticket_no="TS-20110822-000003",
    acceptance_deadline=datetime(2011, 8, 22, 6, 0, tzinfo=UTC),
)
SAMPLES["complaint-sla-warning"] = event(
    "cn.tj.wuye.complaints.ComplaintWarning.v1",
    **COMPLAINT,
    clock="acceptance",
    deadline=datetime(2011, 8, 22, 6, 0, tzinfo=UTC),
    detected_at=T,
)
SAMPLES["complaint-transfer-escalated"] = event(
    "cn.tj.wuye.complaints.ComplaintTransferred.v1",
    **COMPLAINT,
    from_org="E-0002",
    to_org="E-0001",
    transfer_count=3,
    escalated=True,
    transferred_at=T,
)
SAMPLES["complaint-assigned"] = event(
    "cn.tj.wuye.complaints.ComplaintAssigned.v1",
    **COMPLAINT,
    from_org="E-0002",
    to_org="E-0003",
    assigned_at=T,
)
SAMPLES["complaint-taken-over"] = event(
    "cn.tj.wuye.complaints.ComplaintAssigned.v1",
    **COMPLAINT,
    from_org="E-0002",
    to_org="district-office-120101",
    assigned_at=T,
    taken_over=True,
)
SAMPLES["complaint-extension-requested"] = event(
    "cn.tj.wuye.complaints.ComplaintExtensionRequested.v1",
    **COMPLAINT,
    working_days=3,
    completion_deadline=datetime(2011, 8, 29, 15, 59, tzinfo=UTC),
    requested_at=T,
)
SAMPLES["complaint-extension-decided"] = event(
    "cn.tj.wuye.complaints.ComplaintExtensionDecided.v1",
    **COMPLAINT,
    granted=True,
    working_days=3,
    completion_deadline=datetime(2011, 9, 1, 15, 59, tzinfo=UTC),
    decided_at=T,
)
SAMPLES["rectification-rejected-first"] = factories.rectification_rejected(inadequate=False)
SAMPLES["rectification-submitted-verify"] = factories.rectification_submitted()
SAMPLES["statutory-interval-missed"] = factories.statutory_interval_missed()
CASE = {"case_id": "X-1", "project_id": "P-120101-0001"}
SAMPLES["exposure-case-opened"] = event(
    "cn.tj.wuye.exposure.ExposureCaseOpened.v1",
    **CASE,
    project_name="海河花园",
    enterprise_id="E-0001",
    enterprise_name="津城物业",
    district_code="120101",
    reason="rectification_inadequate",
    tier="serious",
    order_id="O-1",
    inspection_id="I-1",
    items=[
        {"item_id": "a", "title_zh": "消防设施", "title_en": "", "severity": "urgent", "note": ""}
    ],
    deadline=T,
    opened_at=T,
)
SAMPLES["exposure-review-enterprise"] = event(
    "cn.tj.wuye.exposure.ExposureEvidenceAdded.v1",
    **CASE,
    kind="criticism_notice",
    notice_no="和平区物业通〔2011〕1号",
    notice_id="N-1",
    tier="general",
    review_ends_at=datetime(2011, 8, 27, 2, 0, tzinfo=UTC),
    added_at=T,
)
SAMPLES["exposure-review-district"] = SAMPLES["exposure-review-enterprise"]
SAMPLES["campaign-phase-started"] = event(
    "cn.tj.wuye.campaigns.CampaignPhaseStarted.v1",
    campaign_id="tj-2011",
    phase="planning",
    phase_title_zh="制定方案阶段",
    starts_on=T.date(),
    ends_on=datetime(2011, 8, 31, tzinfo=UTC).date(),
    title_zh="物业服务质量提升活动",
)
SAMPLES["survey-opened"] = event(
    "cn.tj.wuye.surveys.SurveyOpened.v1",
    survey_id="S-1",
    campaign_id="tj-2011",
    enterprise_id="E-0001",
    project_id="P-120101-0001",
    district_code="120101",
    households=120,
    questions=["overall"],
    opened_at=T,
    closes_at=datetime(2011, 9, 5, 2, 0, tzinfo=UTC),
)
SAMPLES["complaint-emergency-district"] = LIFT_ENTRAPMENT
# Escalation rules render from the event of the rule that escalates to them.
SAMPLES["rectification-overdue-criticism"] = SAMPLES["rectification-overdue-reminder"]
SAMPLES["complaint-overdue-criticism"] = SAMPLES["complaint-overdue-reminder"]


def render(rule_id: str, **extra: Any) -> r.Rendered:
    e = SAMPLES[rule_id]
    rule = BOOK.rules[rule_id]
    context = {
        "e": e,
        **r.names(e, PROJECT),
        "notice_no": "和平区物业通〔2011〕1号",
        "issued_at": T,
        "drafted_at": T,
        "escalation_hours": "72",
        **extra,
    }
    return BOOK.render(rule, context)


def test_every_shipped_rule_has_a_sample_and_renders_in_both_languages() -> None:
    assert set(SAMPLES) == set(BOOK.rules)
    for rule_id in BOOK.rules:
        text = render(rule_id)
        assert all((text.title_zh, text.body_zh, text.title_en, text.body_en)), rule_id
        assert "{{" not in text.body_zh + text.body_en, rule_id


def test_a_missed_statutory_interval_names_facility_due_date_overdue_basis_and_page() -> None:
    rule = BOOK.rules["statutory-interval-missed"]
    assert (rule.to, rule.cc) == (("enterprise", "manager"), ())
    text = render("statutory-interval-missed")
    for part in ("电梯“3号楼1单元电梯”", "2011年08月16日", "逾期 5 天", "第三十一条",
                 "/workspace/inspections/facilities/F-lift-1"):  # fmt: skip
        assert part in text.body_zh, part
    assert text.title_zh == "法定维保逾期：海河花园 3号楼1单元电梯"
    assert "2011-08-16" in text.body_en
    assert "5 day(s) overdue" in text.body_en


def test_the_failed_inspection_notice_lists_items_with_their_deadlines_in_china_time() -> None:
    e = factories.inspection_failed(
        failed_items=(
            factories.ITEM.model_copy(
                update={"deadline": datetime(2011, 8, 20, 16, 0, tzinfo=UTC)}
            ),
        )
    )
    SAMPLES["inspection-failed"] = e
    try:
        text = render("inspection-failed")
    finally:
        SAMPLES["inspection-failed"] = factories.inspection_failed()
    assert "【紧急】消防设施运行正常:2 号楼消防栓水压不足" in text.body_zh
    assert "整改期限:2011年08月21日 00:00" in text.body_zh  # 16:00 UTC is midnight in Tianjin
    assert "(due 2011-08-21 00:00 (UTC+8))" in text.body_en
    assert text.body_zh.startswith("津城物业服务有限公司:")


def test_a_criticism_carries_its_number_addressee_and_copy() -> None:
    text = render("rectification-overdue-criticism")
    assert "和平区物业通〔2011〕1号" in text.title_zh
    assert "通报批评" in text.body_zh
    assert "抄送：市物业管理办公室" in text.body_zh
    assert "2011年08月21日 10:00" in text.body_zh  # the missed deadline


def test_the_reminder_states_the_configured_waiting_time() -> None:
    assert "48 小时内" in render("rectification-overdue-reminder", escalation_hours="48").body_zh


def test_criticism_numbers_follow_the_configured_format() -> None:
    assert BOOK.criticism_number("河西区", 2011, 12) == "河西区物业通〔2011〕12号"


def test_only_a_final_rejection_is_criticised() -> None:
    assert BOOK.for_event(
        "cn.tj.wuye.inspections.RectificationRejected.v1", factories.rectification_rejected()
    )
    first = BOOK.for_event(
        "cn.tj.wuye.inspections.RectificationRejected.v1",
        factories.rectification_rejected(inadequate=False),
    )
    assert [(x.id, x.kind) for x in first] == [("rectification-rejected-first", "notice")]


def test_a_submission_cancels_the_rectification_ladder_and_a_reply_the_complaint_ladder() -> None:
    assert [x.id for x in BOOK.cancels("cn.tj.wuye.inspections.RectificationSubmitted.v1")] == [
        "rectification-overdue-reminder"
    ]
    for resolved in ("Accepted", "Replied", "Closed"):
        assert [x.id for x in BOOK.cancels(f"cn.tj.wuye.complaints.Complaint{resolved}.v1")] == [
            "complaint-overdue-reminder"
        ]
    assert BOOK.cancels("cn.tj.wuye.inspections.InspectionFailed.v1") == []


def test_recipients_are_resolved_deduplicated_and_skipped_when_unknown() -> None:
    rule = BOOK.rules["rectification-overdue-criticism"]
    got = r.addressees(rule, SAMPLES[rule.id], PROJECT)
    assert got == [
        r.Addressee("enterprise", "E-0001", cc=False),
        r.Addressee("district", "120101", cc=True),
        r.Addressee("city", "city", cc=True),
    ]
    anonymous = SAMPLES["complaint-receipt"].model_copy(update={"owner_account": None})
    assert r.addressees(BOOK.rules["complaint-receipt"], anonymous, PROJECT) == []
    district_plan = SAMPLES["plan-overdue-reminder"].model_copy(
        update={"submitter_kind": "district", "enterprise_id": None, "district_code": "120101"}
    )
    # the district is both the submitter (to) and the district (cc): it gets one copy, as `to`
    assert r.addressees(BOOK.rules["plan-overdue-reminder"], district_plan, None) == [
        r.Addressee("district", "120101", cc=False)
    ]


def test_names_fall_back_from_the_event_to_the_registry_copy_to_the_id() -> None:
    e = SAMPLES["complaint-overdue-reminder"]  # complaint events carry ids only
    assert r.names(e, PROJECT) == {
        "project_name": "海河花园",
        "enterprise_name": "津城物业",
        "district_name": "和平区",
    }
    assert r.names(e, None) == {
        "project_name": "P-120101-0001",
        "enterprise_name": "E-0001",
        "district_name": "和平区",  # from the built-in list of Tianjin districts
    }


def test_ids_derive_from_the_cause_so_a_redelivery_or_a_replica_gets_the_same() -> None:
    cause = str(uuid.uuid4())
    assert r.notice_id(cause, "x") == r.notice_id(cause, "x") != r.notice_id(cause, "y")
    a = r.Addressee("enterprise", "E-1", cc=False)
    assert r.copy_id("n", a) != r.copy_id("n", r.Addressee("enterprise", "E-2", cc=False))
    assert r.delivery_id("c", "e1") == r.delivery_id("c", "e1") != r.delivery_id("c", "e2")


def test_backoff_doubles_and_is_capped() -> None:
    assert [r.backoff_s(n, 5, 60) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 60]


def test_templates_render_text_as_given_and_do_not_evaluate_it() -> None:
    text = render("rectification-inadequate-criticism")
    assert "消防栓水压仍不足 <b>复查</b>" in text.body_zh  # plain text; HTML renderers escape


BASE = """
[numbering]
criticism = "{district_name}〔{year}〕{seq}号"

[[rule]]
id = "r1"
on = "cn.tj.wuye.inspections.InspectionFailed.v1"
kind = "notice"
reason = "x"
subject = { kind = "inspection", field = "inspection_id" }
to = ["enterprise"]
title_zh = "t"
body_zh = "b"
title_en = "t"
body_en = "b"
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('on = "cn.tj.wuye.inspections.InspectionFailed.v1"', 'on = "cn.tj.wuye.Nope.v1"'),
            "unknown event type",
        ),
        (('to = ["enterprise"]', 'to = ["mayor"]'), "to"),
        (
            ('to = ["enterprise"]', 'to = ["enterprise"]\nwhen = { passed = true }'),
            "has no field 'passed'",
        ),
        (('body_zh = "b"', 'body_zh = "{% for %}"'), "template error"),
        (
            (
                'to = ["enterprise"]',
                'to = ["enterprise"]\nescalate = { rule = "r1", '
                'after_hours = 1, at = "inspected_at", cancel_on = ["cn.tj.wuye.inspections.'
                'InspectionCompleted.v1"] }',
            ),
            "not an escalation rule",
        ),
        (
            ('criticism = "{district_name}〔{year}〕{seq}号"', 'criticism = "{year}{seq}号"'),
            "{district_name}",
        ),
        (('kind = "notice"', 'kind = "notice"\nunknown = 1'), "unknown"),
    ],
)
def test_an_invalid_rule_book_is_refused_with_the_place_named(
    change: tuple[str, str], message: str
) -> None:
    with pytest.raises(r.RuleError, match=message.replace("{", r"\{").replace("}", r"\}")):
        rule_file.parse(BASE.replace(*change))


def test_an_undefined_name_in_a_template_is_an_error_not_an_empty_string() -> None:
    book = rule_file.parse(BASE.replace('body_zh = "b"', 'body_zh = "{{ e.no_such_field }}"'))
    with pytest.raises(r.RuleError, match="cannot render"):
        book.render(book.rules["r1"], {"e": factories.inspection_failed()})


def test_only_a_signed_in_owner_is_named_for_a_receipt() -> None:
    from runtime.auth import Principal, Role
    from services.complaints.service.intake import owner_account

    assert owner_account(Principal(subject="owner-7f3a", role=Role.OWNER)) == "owner-7f3a"
    assert owner_account(Principal(subject="owner-web", role=Role.OWNER)) is None
    assert owner_account(Principal(subject="open311:hotline-app", role=Role.OWNER)) is None
    staff = Principal(subject="staff-1", role=Role.ENTERPRISE, enterprise_id="E-1")
    assert owner_account(staff) is None


@pytest.mark.parametrize(
    ("detail", "public"),
    [
        ("http 410", "http 410"),
        ("recipient refused: 550", "recipient refused: 550"),
        ("ConnectError: [Errno 111] Connection refused to hooks.example.cn", "ConnectError"),
        (
            "SSLCertVerificationError: hostname 'oa.e-0001.cn' doesn't match",
            "SSLCertVerificationError",
        ),
        ("timeout: ReadTimeout", "timeout"),
        ("", "failed"),
    ],
)
def test_a_failure_reason_leaves_the_service_without_hosts_or_addresses(
    detail: str, public: str
) -> None:
    from services.notifications.service.delivery import public_reason

    assert public_reason(detail) == public


def test_a_rule_that_would_publish_a_notice_to_an_owner_is_refused() -> None:
    text = BASE.replace('to = ["enterprise"]', 'to = ["owner"]')
    with pytest.raises(r.RuleError, match="publish = false"):
        rule_file.parse(text)
    assert rule_file.parse(text.replace('kind = "notice"', 'kind = "notice"\npublish = false'))


def test_long_bodies_are_clipped_for_the_event_only() -> None:
    assert r.clip("短", 5) == "短"
    assert r.clip("x" * 10, 5) == "xxxx…"


def filed(**fields: Any) -> Event:
    base = {"urgency": "normal", "channel": "web", "filed_at": T} | COMPLAINT
    return event("cn.tj.wuye.complaints.ComplaintFiled.v1", **(base | fields))


def addressed(e: Event) -> list[r.Rule]:
    """The rules that address someone (the receipt has nobody to go to without an owner)."""
    return [rule for rule in BOOK.for_event(e.ce_type, e) if r.addressees(rule, e, PROJECT)]


def test_an_emergency_alerts_the_enterprise_once_and_the_district_office() -> None:
    rules = addressed(LIFT_ENTRAPMENT)
    assert sorted(rule.id for rule in rules) == ["complaint-emergency-district", "complaint-urgent"]
    recipients = [
        (a.kind, a.id, rule.id)
        for rule in rules
        for a in r.addressees(rule, LIFT_ENTRAPMENT, PROJECT)
    ]
    assert sorted(recipients) == [
        ("district", "120101", "complaint-emergency-district"),
        ("enterprise", "E-0001", "complaint-urgent"),
        ("manager", "P-120101-0001", "complaint-urgent"),
    ]
    assert not any(rule.publish for rule in rules)  # the complaints topic is internal
    text = render("complaint-urgent")
    assert "有人被困电梯" in text.title_zh
    assert "30 分钟" in text.body_zh
    assert "TSG T5002" in text.body_zh
    assert "TS-20110822-000002" in text.body_zh
    assert "trapped in a lift" in text.title_en
    district = render("complaint-emergency-district")
    assert "督促" in district.body_zh
    assert "津城物业" in district.body_zh


@pytest.mark.parametrize(
    ("fields", "rule_ids"),
    [
        ({"urgency": "urgent", "tier": "urgent", "safety": ["gas_smell"]}, ["complaint-urgent"]),
        ({"urgency": "urgent"}, ["complaint-urgent"]),  # a producer that predates `tier`
        ({"urgency": "normal", "tier": "normal"}, ["complaint-new"]),
        ({"urgency": "normal"}, ["complaint-new"]),
    ],
)
def test_every_new_complaint_reaches_the_enterprise_by_exactly_one_rule(
    fields: dict[str, Any], rule_ids: list[str]
) -> None:
    e = filed(**fields)
    assert [rule.id for rule in addressed(e)] == rule_ids
    if rule_ids == ["complaint-urgent"]:
        text = BOOK.render(
            BOOK.rules["complaint-urgent"], {"e": e, **r.names(e, PROJECT), "issued_at": T}
        )
        assert "立即签收" in text.title_zh
        assert "燃气" in text.body_zh if "gas_smell" in e.safety else "燃气" not in text.body_zh


def test_a_new_complaint_names_its_acceptance_deadline_in_china_time() -> None:
    text = render("complaint-new")
    assert "最迟于2011年08月22日 14:00前签收" in text.body_zh
    assert "by 2011-08-22 14:00 (UTC+8) at the latest" in text.body_en
    assert "TS-20110822-000003" in text.body_zh
    older = SAMPLES["complaint-new"].model_copy(update={"acceptance_deadline": None})
    rule = BOOK.rules["complaint-new"]
    assert "在规定时限内签收" in BOOK.render(rule, {"e": older, **r.names(older, PROJECT)}).body_zh


def test_exposure_review_gives_the_enterprise_its_objection_deadline_and_the_way_to_object() -> (
    None
):
    text = render("exposure-review-enterprise")
    assert "异议截止2011年08月27日 10:00" in text.title_zh
    assert "/workspace/exposure/cases/X-1/object" in text.body_zh
    assert "POST /api/v1/cases/X-1/objections" in text.body_en
    # Only evidence that starts a review (a review end is set) tells anyone.
    quiet = SAMPLES["exposure-review-enterprise"].model_copy(update={"review_ends_at": None})
    assert BOOK.for_event(quiet.ce_type, quiet) == []
    assert sorted(
        x.id for x in BOOK.for_event(quiet.ce_type, SAMPLES["exposure-review-district"])
    ) == [
        "exposure-review-district",
        "exposure-review-enterprise",
    ]


def test_an_escalated_transfer_goes_to_the_district_and_an_ordinary_one_to_nobody() -> None:
    escalated = SAMPLES["complaint-transfer-escalated"]
    rules = BOOK.for_event(escalated.ce_type, escalated)
    assert [(x.id, r.addressees(x, escalated, PROJECT)) for x in rules] == [
        ("complaint-transfer-escalated", [r.Addressee("district", "120101", cc=False)])
    ]
    assert (
        BOOK.for_event(escalated.ce_type, escalated.model_copy(update={"escalated": False})) == []
    )
    assert "转办 3 次" in render("complaint-transfer-escalated").body_zh


def test_an_extension_refused_says_the_deadline_stays() -> None:
    refused = SAMPLES["complaint-extension-decided"].model_copy(update={"granted": False})
    rule = BOOK.rules["complaint-extension-decided"]
    text = BOOK.render(rule, {"e": refused, **r.names(refused, PROJECT)})
    assert "未获批准" in text.title_zh
    assert "办结期限仍为2011年09月01日 23:59" in text.body_zh
    assert "refused" in text.title_en


def test_a_campaign_phase_goes_to_every_enterprise_once() -> None:
    rule = BOOK.rules["campaign-phase-started"]
    e = SAMPLES[rule.id]
    assert r.addressees(rule, e, None, ["E-1", "E-2", "E-1"]) == [
        r.Addressee("enterprise", "E-1", cc=False),
        r.Addressee("enterprise", "E-2", cc=False),
    ]
    assert "请于2011年08月31日前报送具体活动方案" in render(rule.id).body_zh


def test_when_set_names_a_field_the_event_has() -> None:
    text = RULES.read_text(encoding="utf-8").replace(
        'when_set = ["review_ends_at"]', 'when_set = ["review_until"]', 1
    )
    with pytest.raises(r.RuleError, match="has no field 'review_until'"):
        rule_file.parse(text)


def test_an_assignment_goes_to_the_assignee_with_the_responsible_enterprise_copied() -> None:
    rule = BOOK.rules["complaint-assigned"]
    e = SAMPLES[rule.id]
    assert r.addressees(rule, e, PROJECT) == [
        r.Addressee("enterprise", "E-0003", cc=False),
        r.Addressee("enterprise", "E-0001", cc=True),
    ]
    ordered = e.model_copy(update={"to_org": "E-0001", "from_org": "E-0001"})
    assert r.addressees(rule, ordered, PROJECT) == [r.Addressee("enterprise", "E-0001", cc=False)]
    assert "责令继续办理" in BOOK.render(rule, {"e": ordered, **r.names(e, PROJECT)}).body_zh
    assert "不得再转办" in render(rule.id).body_zh


def test_a_complaint_the_district_office_took_over_tells_the_enterprise_not_the_office() -> None:
    taken = SAMPLES["complaint-taken-over"]
    assert not BOOK.rules["complaint-assigned"].matches(taken)  # no notice to "an enterprise"
    assert not BOOK.rules["complaint-taken-over"].matches(SAMPLES["complaint-assigned"])
    rule = BOOK.rules["complaint-taken-over"]
    assert rule.matches(taken)
    assert r.addressees(rule, taken, PROJECT) == [r.Addressee("enterprise", "E-0001", cc=False)]
    assert "自行办理" in render(rule.id).body_zh
