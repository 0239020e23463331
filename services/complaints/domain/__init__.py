"""The complaints service's pure rules: complaints and their first-inquiry responsibility
(`complaint`), SLA clocks (`sla`), owner satisfaction surveys (`survey`) and the working-day
calendar they count on (`calendar`). No I/O, no framework, no clock but the `now` passed in.
"""

from __future__ import annotations


class TransitionRefused(Exception):
    """A command the rules refuse, with a bilingual reason (Chinese first).

    With `field` set it is bad input on that field (HTTP 422); without, an illegal state change
    (HTTP 409). `code` is a stable machine-readable reason.
    """

    def __init__(self, code: str, zh: str, en: str, field: str | None = None) -> None:
        super().__init__(en)
        self.code, self.zh, self.en, self.field = code, zh, en, field
