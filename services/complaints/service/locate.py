"""Which project a place names: a WGS-84 point (the nearest located project within a radius,
PostGIS behind `ProjectRepository.nearest`) or a free-text address (a project whose registered
street address or name it contains). For clients that do not know our project ids (Open311's
`lat`/`long` and `address_string`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runtime.errors import InvalidInput, Message
from services.complaints.domain import geo
from services.complaints.service.ports import ComplaintsUnitOfWork, Project

MAX_ADDRESS_MATCHES = 5


@dataclass(frozen=True)
class Found:
    project: Project
    how: str  # "point" or "address"
    distance_m: float | None = None  # from the point to the project's location


async def project_at(
    units: Callable[[], ComplaintsUnitOfWork],
    *,
    point: geo.Point | None,
    address: str | None,
    radius_m: float,
) -> Found:
    """The project at `point` (within `radius_m`), else the one `address` names; refused with
    what was tried when neither finds one, or when the address names several projects."""
    async with units() as uow:
        if point is not None:
            near = await uow.projects.nearest(point.latitude, point.longitude, radius_m)
            if near is not None:
                return Found(near[0], "point", near[1])
        matches = []
        if address is not None:
            matches = await uow.projects.by_address(address, MAX_ADDRESS_MATCHES)
    if matches:

        def length(p: Project) -> int:
            return max(len(p.address or ""), len(p.project_name))

        tied = [p for p in matches if length(p) == length(matches[0])]
        if len(tied) > 1:
            names = "、".join(p.project_name for p in tied)
            raise InvalidInput(
                "ambiguous_address",
                Message(
                    f"地址对应多个物业项目（{names}），请用 address_id 填写项目编号",
                    f"the address names several projects ({', '.join(p.project_id for p in tied)});"
                    " give address_id",
                ),
                field="address_string",
            )
        return Found(matches[0], "address")
    tried_zh: list[str] = []
    tried_en: list[str] = []
    if point is not None:
        tried_zh.append(f"坐标 {radius_m:.0f} 米内没有登记位置的物业项目")
        tried_en.append(f"no registered project within {radius_m:.0f} m of lat/long")
    if address is not None:
        tried_zh.append("地址中没有登记的项目地址或项目名称")
        tried_en.append("address_string names no registered project address or name")
    raise InvalidInput(
        "no_project_here",
        Message(
            "；".join(tried_zh) + "；请用 address_id 填写项目编号",
            "; ".join(tried_en) + "; give address_id (the project id)",
        ),
        field="lat" if point is not None else "address_string",
    )
