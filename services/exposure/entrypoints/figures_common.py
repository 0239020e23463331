"""What the campaign figures' representations share (the offices' workspace page, the public
board's page, their CSV and the JSON API): choosing the window from the request's `campaign`
parameter, the one query (`load`), the CSV response and the JSON API's response models, built
from the same columns as the CSV (`domain.figures.COLUMNS`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from fastapi.responses import Response
from pydantic import BaseModel, Field, create_model

from runtime.errors import Message
from services.exposure.domain import figures
from services.exposure.domain.figures import ALL_TIME, By, Figures, Window
from services.exposure.entrypoints.deps import ExposureDeps

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


@dataclass(frozen=True)
class Loaded:
    campaigns: list[Window]
    window: Window
    by: By
    rows: list[Figures]


async def load(deps: ExposureDeps, campaign: str | None, district: str | None) -> Loaded | Message:
    """The one read of the figures every representation shows: the campaigns seen, the window
    asked for, and the rows by district (the city) or by enterprise (one district)."""
    async with deps.figure_queries() as queries:
        campaigns = await queries.campaigns()
        window = choose(campaigns, campaign)
        if isinstance(window, Message):
            return window
        by: By = "district" if district is None else "enterprise"
        rows = await queries.figures(window, by, district)
    return Loaded(campaigns, window, by, rows)


class WindowOut(BaseModel):
    campaign_id: str | None = Field(description="专项行动编号 The campaign; null: all time")
    title_zh: str | None = Field(description="专项行动名称 Its title, when seen")
    starts_on: date | None = Field(description="起始日 First day (China time), inclusive")
    ends_on: date | None = Field(description="结束日 Last day (China time), inclusive")


def _row_model(name: str, public: bool) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "key": (
            str,
            Field(description="区划代码或企业编号 District code (by district) or enterprise id"),
        ),
        "name": (str, Field(description="区县或企业名称 District or enterprise name")),
    }
    for c in figures.columns(public):
        kind = "a fraction 0-1, null when nothing was due" if c.kind == "rate" else "a count"
        fields[c.key] = (
            (float | None) if c.kind == "rate" else (int | None),
            Field(description=f"{c.header}: {kind}"),
        )
    return create_model(name, **fields)


def _figures_model(name: str, row: type[BaseModel], about: str) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "campaign": (WindowOut, Field(description="统计期间 The window the figures cover")),
        "campaigns": (
            list[WindowOut],
            Field(description="可选的专项行动 Campaigns seen, latest first"),
        ),
        "by": (
            Literal["district", "enterprise"],
            Field(description="每行是区县还是企业 What a row is"),
        ),
        "district_code": (
            str | None,
            Field(description="按企业时所在区县 The district whose enterprises are listed"),
        ),
        "rows": (list[row], Field(description="各行数据 One row per district or enterprise")),  # type: ignore[valid-type]
    }
    return create_model(name, __doc__=about, **fields)


PublicFiguresOut = _figures_model(
    "PublicFigures",
    _row_model("PublicFiguresRow", public=True),
    "The public subset of the campaign figures: the columns of the board's page and CSV.",
)
FullFiguresOut = _figures_model(
    "CampaignFigures",
    _row_model("CampaignFiguresRow", public=False),
    "The campaign figures in full: every column of the offices' page and CSV.",
)


def figures_body(loaded: Loaded, district: str | None, *, public: bool) -> dict[str, object]:
    return figures.figures_json(
        loaded.window, loaded.campaigns, loaded.rows, loaded.by, district, public=public
    )
