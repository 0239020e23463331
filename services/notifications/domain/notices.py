"""What a notice says: pure text composition from an event, Chinese first with English beside it."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.inspections import v1 as inspections

SEVERITY_ZH = {"general": "一般", "serious": "严重", "urgent": "紧急"}
KIND_ZH = {"self": "自查", "patrol": "巡查"}


@dataclass(frozen=True)
class Notice:
    kind: str
    recipient_kind: str
    recipient_id: str
    title_zh: str
    body_zh: str
    title_en: str
    body_en: str


def for_inspection_failed(event: inspections.InspectionFailed) -> Notice:
    lines_zh = [
        f"{i + 1}. 【{SEVERITY_ZH[f.severity]}】{f.title_zh}:{f.note}"
        for i, f in enumerate(event.failed_items)
    ]
    lines_en = [
        f"{i + 1}. [{f.severity}] {f.title_en}: {f.note}" for i, f in enumerate(event.failed_items)
    ]
    return Notice(
        kind="inspection_failed",
        recipient_kind="enterprise",
        recipient_id=event.enterprise_id,
        title_zh=f"检查不合格通知:{event.project_name}",
        body_zh=(
            f"{event.enterprise_name}:\n"
            f"贵单位服务的物业项目“{event.project_name}”于 {event.inspected_at:%Y年%m月%d日} "
            f"{KIND_ZH[event.kind]},得分 {event.score:g}(合格线 {event.pass_mark:g}),"
            f"以下 {len(event.failed_items)} 项不合格,请按要求及时整改:\n" + "\n".join(lines_zh)
        ),
        title_en=f"Inspection failed: {event.project_name}",
        body_en=(
            f"To {event.enterprise_name}: the {event.kind} inspection of '{event.project_name}' on "
            f"{event.inspected_at:%Y-%m-%d} scored {event.score:g} (pass mark {event.pass_mark:g}). "
            f"{len(event.failed_items)} item(s) failed and must be rectified:\n"
            + "\n".join(lines_en)
        ),
    )
