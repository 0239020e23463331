"""Command handler: a district office draws patrols at random (双随机、一公开). In one unit of
work: the district's projects and recent patrols are read, the seed is made (`secrets`), the
pure draw (`domain.patrol_draw`) runs, the draw and its patrols (origin 'random_draw') are
stored and `PatrolsDrawn` goes out through the outbox. `verify` re-runs a stored draw."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from runtime.errors import DomainError, InvalidInput, Message, NotFound
from runtime.unit_of_work import Trace
from schemas.inspections import v1 as inspections
from services.inspections.domain import patrol_draw
from services.inspections.domain.patrol_draw import DrawError, DrawInputs, DrawProject, Inspector
from services.inspections.service.ports import DrawRow, InspectionsUnitOfWork, RosterEntry

SEED_BYTES = 16  # 128 bits, as hex


@dataclass(frozen=True)
class DrawPatrols:
    district_code: str
    inspectors: tuple[Inspector, ...] | None  # None: the district's active roster
    project_count: int
    inspectors_per_project: int = 2
    exclusion_days: int = 90
    patrol_within_days: int = 14


def _refused(e: DrawError) -> InvalidInput:
    return InvalidInput(e.code, Message(e.zh, e.en), field=e.field)


def inputs_of(row: DrawRow) -> DrawInputs:
    """The stored draw's inputs, as the draw function takes them."""
    return DrawInputs(
        district_code=row.district_code,
        projects=tuple(
            DrawProject(p["project_id"], p["enterprise_id"]) for p in row.inputs["projects"]
        ),
        recently_inspected=frozenset(row.inputs["excluded_project_ids"]),
        inspectors=tuple(
            Inspector(i["inspector_id"], i["name"], frozenset(i["conflicts"]))
            for i in row.inputs["inspectors"]
        ),
        project_count=row.project_count,
        inspectors_per_project=row.inspectors_per_project,
        exclusion_days=row.exclusion_days,
        seed=row.seed,
        algorithm=row.algorithm,
    )


def verify(row: DrawRow) -> bool:
    """Whether re-running the stored inputs with the stored seed gives the stored result."""
    result = patrol_draw.draw(inputs_of(row))
    return [(a.project_id, list(a.inspector_ids)) for a in result.assignments] == [
        (p["project_id"], list(p["inspector_ids"])) for p in row.result
    ]


async def draw_patrols(
    uow: InspectionsUnitOfWork,
    cmd: DrawPatrols,
    *,
    drawn_by: str,
    trace: Trace,
    make_seed: Callable[[], str] = lambda: secrets.token_hex(SEED_BYTES),
) -> DrawRow:
    async with uow:
        now = uow.clock.now()
        projects = await uow.projects.search(district_code=cmd.district_code, enterprise_id=None)
        by_id = {p.project_id: p for p in projects}
        excluded = await uow.draws.excluded_projects(
            cmd.district_code, now - timedelta(days=cmd.exclusion_days)
        )
        inspectors, source = cmd.inspectors, "request"
        if inspectors is None:
            inspectors, source = await _active_roster(uow, cmd.district_code), "roster"
        inputs = DrawInputs(
            district_code=cmd.district_code,
            projects=patrol_draw.sorted_projects(
                [DrawProject(p.project_id, p.enterprise_id) for p in projects]
            ),
            recently_inspected=frozenset(excluded & set(by_id)),
            inspectors=inspectors,
            project_count=cmd.project_count,
            inspectors_per_project=cmd.inspectors_per_project,
            exclusion_days=cmd.exclusion_days,
            seed=make_seed(),
        )
        try:
            result = patrol_draw.draw(inputs)
        except DrawError as e:
            raise _refused(e) from e
        draw_id = f"D-{cmd.district_code}-{now:%Y%m%d}-{uuid.uuid4().hex[:8]}"
        due_by = now + timedelta(days=cmd.patrol_within_days)
        patrols: list[dict[str, Any]] = [
            {
                "patrol_id": str(uuid.uuid4()),
                "project_id": a.project_id,
                "project_name": by_id[a.project_id].project_name,
                "enterprise_id": a.enterprise_id,
                "inspector_ids": list(a.inspector_ids),
            }
            for a in result.assignments
        ]
        row = DrawRow(
            draw_id=draw_id,
            district_code=cmd.district_code,
            drawn_by=drawn_by,
            drawn_at=now,
            algorithm=inputs.algorithm,
            seed=inputs.seed,
            project_count=cmd.project_count,
            inspectors_per_project=cmd.inspectors_per_project,
            exclusion_days=cmd.exclusion_days,
            inputs={
                "projects": [
                    {"project_id": p.project_id, "enterprise_id": p.enterprise_id}
                    for p in inputs.projects
                ],
                "excluded_project_ids": sorted(inputs.recently_inspected),
                # where the inspectors came from: the district's roster as it stood at the draw
                # (copied here, so a later change to the roster never alters the re-run) or the
                # request
                "inspectors_from": source,
                "inspectors": [
                    {
                        "inspector_id": i.inspector_id,
                        "name": i.name,
                        "conflicts": sorted(i.conflicts),
                    }
                    for i in inputs.inspectors
                ],
            },
            result=patrols,
            due_by=due_by,
        )
        await uow.draws.add(row)
        for p in patrols:
            created = await uow.draws.schedule(
                patrol_id=p["patrol_id"],
                project_id=p["project_id"],
                draw_id=draw_id,
                inspector_ids=tuple(p["inspector_ids"]),
                scheduled_at=now,
                due_by=due_by,
            )
            if not created:
                # A complaint opened a patrol on the project between the read and now: draw again.
                raise DomainError(
                    "draw_project_busy",
                    Message(
                        f"项目 {p['project_id']} 刚刚被安排了巡查，请重新抽取",
                        f"project {p['project_id']} was just given a patrol; draw again",
                    ),
                )
        await uow.draws_outbox.add(event_of(row), trace)
        await uow.commit()
        return row


async def _active_roster(uow: InspectionsUnitOfWork, district_code: str) -> tuple[Inspector, ...]:
    roster = await uow.rosters.listed(district_code=district_code, active_only=True)
    if not roster:
        raise InvalidInput(
            "draw_roster_empty",
            Message(
                "本区检查人员名单中没有在岗人员：请先在名单中添加检查人员，或在抽取时填写名单",
                "the district's roster has no active inspector: add inspectors to the roster, "
                "or give them with the draw",
            ),
            field="inspectors",
        )
    return tuple(Inspector(e.inspector_id, e.name, frozenset(e.conflicts)) for e in roster)


def event_of(row: DrawRow) -> inspections.PatrolsDrawn:
    return inspections.PatrolsDrawn(
        draw_id=row.draw_id,
        district_code=row.district_code,
        drawn_at=row.drawn_at,
        drawn_by=row.drawn_by,
        algorithm="sha256-rank-v1",
        seed=row.seed,
        projects=[inspections.DrawnProject(**p) for p in row.inputs["projects"]],
        excluded_project_ids=row.inputs["excluded_project_ids"],
        inspectors=[
            inspections.DrawnInspector(inspector_id=i["inspector_id"], conflicts=i["conflicts"])
            for i in row.inputs["inspectors"]
        ],
        project_count=row.project_count,
        inspectors_per_project=row.inspectors_per_project,
        exclusion_days=row.exclusion_days,
        patrols=[inspections.DrawnPatrol(**p) for p in row.result],
        due_by=row.due_by,
    )


async def get_draw(uow: InspectionsUnitOfWork, draw_id: str, district: str | None) -> DrawRow:
    """The draw; one of another district (for a district office) answers like a missing one."""
    async with uow:
        row = await uow.draws.get(draw_id)
    if row is None or district not in (None, row.district_code):
        raise NotFound("draw_not_found", Message("抽查记录不存在", "draw not found"))
    return row


# --- the district offices' rosters -----------------------------------------------------------


async def roster(
    uow: InspectionsUnitOfWork, district: str | None, *, active_only: bool = False
) -> list[RosterEntry]:
    """A district's roster (None: every district's, for the city office)."""
    async with uow:
        return await uow.rosters.listed(district_code=district, active_only=active_only)


async def add_to_roster(
    uow: InspectionsUnitOfWork,
    district_code: str,
    inspector_id: str,
    name: str,
    conflicts: Sequence[str],
    *,
    added_by: str,
) -> RosterEntry:
    """Put an inspector on the district's roster (again, if they were deactivated)."""
    try:
        inspector = patrol_draw.roster_entry(inspector_id, name, conflicts)
    except DrawError as e:
        raise _refused(e) from e
    async with uow:
        entry = RosterEntry(
            district_code=district_code,
            inspector_id=inspector.inspector_id,
            name=inspector.name,
            conflicts=tuple(sorted(inspector.conflicts)),
            active=True,
            added_by=added_by,
            added_at=uow.clock.now(),
        )
        if not await uow.rosters.put(entry):
            raise DomainError(
                "roster_inspector_exists",
                Message(
                    f"检查人员 {entry.inspector_id} 已在本区名单中",
                    f"inspector {entry.inspector_id} is already on the district's roster",
                ),
                field="inspector_id",
            )
        await uow.commit()
    return entry


async def deactivate(
    uow: InspectionsUnitOfWork, district_code: str, inspector_id: str, *, by: str
) -> RosterEntry:
    """Take an inspector off the active roster; draws already made keep them in their inputs."""
    async with uow:
        if not await uow.rosters.deactivate(district_code, inspector_id, by=by, at=uow.clock.now()):
            found = await uow.rosters.get(district_code, inspector_id)
            if found is None:
                raise NotFound(
                    "roster_inspector_not_found",
                    Message(
                        f"本区名单中没有检查人员 {inspector_id}",
                        f"inspector {inspector_id} is not on the district's roster",
                    ),
                )
            raise DomainError(
                "roster_inspector_inactive",
                Message(
                    f"检查人员 {inspector_id} 已停用",
                    f"inspector {inspector_id} is already inactive",
                ),
            )
        entry = await uow.rosters.get(district_code, inspector_id)
        await uow.commit()
    assert entry is not None
    return entry
