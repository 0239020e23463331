"""Turning the domain's refusals into the platform's errors, for every complaints handler.

A `TransitionRefused` with a field is bad input (422), without one an illegal state change (409);
a year the working-day calendar does not cover is the platform's gap, never the caller's: 503.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from runtime.calendar import CalendarError
from runtime.errors import DomainError, InvalidInput, Message, Unavailable
from services.complaints.domain import TransitionRefused

T = TypeVar("T")


def decide(step: Callable[[], T]) -> T:
    try:
        return step()
    except TransitionRefused as exc:
        error = InvalidInput if exc.field else DomainError
        raise error(exc.code, Message(exc.zh, exc.en), field=exc.field) from exc
    except CalendarError as exc:
        # Never guess a deadline: beyond even the provisional calendar the operator must load
        # the year's holiday file. The platform's gap, never the owner's input: 503.
        raise Unavailable(exc.code, calendar_gap(exc)) from exc


def calendar_gap(exc: CalendarError) -> Message:
    return Message(
        f"平台暂时无法计算办理时限（{exc.zh}）。这是平台的问题，不是您填写的内容有误；"
        "平台运维人员已收到告警，请稍后再试。",
        f"The platform cannot compute the time limits right now ({exc.en}). This is a problem "
        "on our side, not with what you entered; the operators have been alerted, please try "
        "again later.",
    )
