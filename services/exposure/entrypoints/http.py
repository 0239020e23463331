"""HTTP API of the exposure service: the collected evidence and the campaign figures in full,
visible only to the supervising offices (each district office its own district's)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from runtime.errors import Forbidden, Message, NotFound
from services.exposure.entrypoints import policy
from services.exposure.entrypoints.deps import Deps
from services.exposure.entrypoints.figures_common import (
    MAX_ID,
    FullFiguresOut,
    figures_body,
    load,
)

router = APIRouter(prefix="/api/v1", tags=["exposure"])


@router.get("/evidence")
async def list_evidence(
    deps: Deps,
    principal: policy.Office,
    project_id: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=50, ge=1, le=200),
) -> list[dict[str, Any]]:
    async with deps.case_queries() as queries:
        return await queries.evidence(
            district_code=policy.evidence_district(principal), project_id=project_id, limit=limit
        )


@router.get(
    "/figures",
    response_model=FullFiguresOut,
    summary="专项行动数据（完整） The campaign figures in full (as /workspace/exposure/figures)",
)
async def campaign_figures(
    deps: Deps,
    principal: policy.Office,
    campaign: str | None = Query(
        default=None,
        max_length=MAX_ID,
        description="专项行动编号，`all` 为全部时间；缺省为最近的专项行动 "
        "Campaign id, `all` for all time; default: the latest campaign",
    ),
    district: str | None = Query(
        default=None,
        pattern=r"^[0-9]{6}$",
        description="区划代码：按企业列出该区县的数据；缺省：市物业办按区县，区县物业办为本区 "
        "District code: its enterprises' figures; default: the city office by district, a "
        "district office its own district",
    ),
) -> dict[str, object]:
    """Every column of the offices' figures page and its CSV: the city office for the city (by
    district) and any district (by enterprise), a district office for its own district. Rates
    are fractions 0-1 (the page and the CSV show percent), null when nothing was due."""
    district = policy.figures_scope(principal, district)
    refusal = policy.figures_refusal(principal, district)
    if refusal is not None:
        raise Forbidden("figures_not_allowed", refusal)
    loaded = await load(deps, campaign, district)
    if isinstance(loaded, Message):
        raise NotFound("campaign_not_found", loaded)
    return figures_body(loaded, district, public=False)
