"""Activity records (notice 三(一)3 cultural activities, 三(二) publicity) as pure rules: no
future dates, safe and distinct photo references."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Literal

from services.inspections.domain.problems import Invalid, Problem, has_control

PHOTO_REF_PATTERN = r"^[A-Za-z0-9._/-]{1,200}$"
_PHOTO_REF = re.compile(PHOTO_REF_PATTERN)


class InvalidActivity(Invalid):
    code = "activity_invalid"
    zh = "活动记录不符合要求"
    en = "activity record refused"


ActivityKind = Literal["cultural", "publicity"]
MAX_PHOTOS = 9
MAX_DESCRIPTION = 2000


def activity_problems(
    *, title: str, held_on: date, description: str, photo_refs: Sequence[str], today: date
) -> list[Problem]:
    """Rules beyond the field shapes: no future dates, safe and distinct photo references."""
    problems: list[Problem] = []
    if not title.strip() or has_control(title):
        problems.append(
            Problem(
                "title", "标题不能为空且不能包含控制字符", "title must be plain, non-empty text"
            )
        )
    if held_on > today:
        problems.append(
            Problem(
                "held_on",
                f"活动日期不能晚于今天（{today.isoformat()}）；请在活动举办后记录",
                f"held_on is after today ({today.isoformat()}); record an activity once held",
            )
        )
    if len(description) > MAX_DESCRIPTION:
        problems.append(
            Problem("description", f"超过最大长度 {MAX_DESCRIPTION}", "description too long")
        )
    if len(photo_refs) > MAX_PHOTOS:
        problems.append(Problem("photo_refs", f"最多 {MAX_PHOTOS} 张照片", "at most 9 photos"))
    for index, ref in enumerate(photo_refs):
        segments = ref.split("/")
        if (
            not _PHOTO_REF.fullmatch(ref)
            or ref.startswith("/")
            or any(s in ("", ".", "..") for s in segments)
        ):
            problems.append(
                Problem(
                    f"photo_refs.{index}",
                    "照片引用只能包含字母、数字和 . _ / -，不能以 / 开头或含 .. 路径段",
                    "photo refs use letters, digits and . _ / -, relative, without '..' segments",
                )
            )
        elif ref in photo_refs[:index]:
            problems.append(Problem(f"photo_refs.{index}", "照片引用重复", "duplicate photo ref"))
    return problems
