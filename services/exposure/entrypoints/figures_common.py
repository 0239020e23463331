"""What the campaign figures' pages share (the city office's workspace page and the public
board): choosing the window from the request's `campaign` parameter, and the CSV response."""

from __future__ import annotations

from fastapi.responses import Response

from runtime.errors import Message
from services.exposure.domain.figures import ALL_TIME, Window

ALL = "all"
MAX_ID = 64


def choose(campaigns: list[Window], wanted: str | None) -> Window | Message:
    """The window asked for: a campaign by id, `all` for all time; nothing asked: the latest
    campaign (all time when none was seen). An unknown campaign is refused, with why."""
    if wanted == ALL or (wanted is None and not campaigns):
        return ALL_TIME
    if wanted is None:
        return campaigns[0]
    found = next((c for c in campaigns if c.campaign_id == wanted), None)
    if found is None or len(wanted) > MAX_ID:
        return Message(
            "campaign：没有这个专项行动（请从列表中选择）",
            "campaign: no such campaign (choose one from the list)",
        )
    return found


def csv_response(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
