"""The written subscription list and the rule book must agree, or the service does not start."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runtime.service import ConsumerSpec
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from services.notifications import subscriptions
from services.notifications.bootstrap import spec
from services.notifications.domain.rules import RuleError
from services.notifications.settings import NotificationsSettings
from tests.unit.notifications.support import BOOK, RULES

LISTED = subscriptions.consumers(BOOK)


def test_the_shipped_rule_book_and_the_list_agree() -> None:
    subscriptions.check_rule_book(BOOK, LISTED)
    assert [c.subscription.group for c in LISTED] == [
        "notifications.registry",
        "notifications.inspections",
        "notifications.complaints",
        "notifications.campaigns",
        "notifications.surveys",
        "notifications.exposure",
    ]


def test_a_rule_about_an_event_nobody_subscribes_to_is_refused() -> None:
    without_campaigns = [c for c in LISTED if c.subscription is not subscriptions.CAMPAIGNS]

    with pytest.raises(
        RuleError,
        match=re.escape(
            "no subscription lists: cn.tj.wuye.campaigns.CampaignPhaseStarted.v1, "
            "cn.tj.wuye.campaigns.PlanOverdue"
        ),
    ):
        subscriptions.check_rule_book(BOOK, without_campaigns)


def test_a_subscription_no_rule_uses_is_refused() -> None:
    notices = LISTED[2].handlers[complaints.ComplaintFiled.ce_type]
    extra = ConsumerSpec(
        subscriptions.COMPLAINTS,
        handlers={**LISTED[2].handlers, complaints.ComplaintReopened.ce_type: notices},
    )
    listed = [extra if c.subscription is subscriptions.COMPLAINTS else c for c in LISTED]

    with pytest.raises(
        RuleError, match=re.escape("no rule uses: cn.tj.wuye.complaints.ComplaintReopened")
    ):
        subscriptions.check_rule_book(BOOK, listed)


def test_an_event_listed_under_another_topic_is_refused() -> None:
    notices = LISTED[1].handlers[inspections.InspectionFailed.ce_type]
    misplaced = ConsumerSpec(
        subscriptions.SURVEYS, handlers={inspections.InspectionFailed.ce_type: notices}
    )
    listed = [
        *LISTED[:1],
        ConsumerSpec(
            subscriptions.INSPECTIONS,
            handlers={
                t: h
                for t, h in LISTED[1].handlers.items()
                if t != inspections.InspectionFailed.ce_type
            },
        ),
        *LISTED[2:],
        misplaced,
    ]

    with pytest.raises(
        RuleError, match=re.escape("InspectionFailed.v1 does not travel on wuye.surveys")
    ):
        subscriptions.check_rule_book(BOOK, listed)


def test_the_service_does_not_start_when_they_disagree(tmp_path: Path) -> None:
    text = RULES.read_text(encoding="utf-8")
    start = text.index('[[rule]]\nid = "survey-missing-reminder"')
    end = text.index("[[rule]]", start + 1)
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(text[:start] + text[end:], encoding="utf-8")
    settings = NotificationsSettings(
        database_url="postgresql://unused/unused", rules_file=rules_file
    )

    with pytest.raises(
        RuleError, match=re.escape("no rule uses: cn.tj.wuye.surveys.SurveyMissing.v1")
    ):
        spec(settings)
