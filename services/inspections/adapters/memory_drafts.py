"""In-memory fakes of the patrol drafts (a patrol recorded in several sittings, and the sweep of
stale drafts and their photos) and of the public photos a published case names."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from runtime.attachments import MemoryAttachmentStore
from services.inspections.service.ports import DraftSweep, PatrolDraft


class MemoryPatrolDrafts:
    def __init__(self, attachments: MemoryAttachmentStore | None = None) -> None:
        self.rows: dict[tuple[str, str], PatrolDraft] = {}
        self._attachments = attachments

    async def get(self, recorded_by: str, project_id: str) -> PatrolDraft | None:
        return self.rows.get((recorded_by, project_id))

    async def save(self, draft: PatrolDraft) -> None:
        self.rows[(draft.recorded_by, draft.project_id)] = draft

    async def delete(self, recorded_by: str, project_id: str) -> None:
        self.rows.pop((recorded_by, project_id), None)

    async def sweep(
        self, *, stale_before: datetime, photos_before: datetime, photo_kind: str
    ) -> DraftSweep:
        stale = [k for k, d in self.rows.items() if d.updated_at < stale_before]
        for key in stale:
            del self.rows[key]
        live = {d.draft_id for d in self.rows.values()}

        def keep(kind: str, owner_id: str, created_at: datetime | None) -> bool:
            old = created_at is not None and created_at < photos_before
            return not (kind == photo_kind and old and owner_id.split(":", 1)[0] not in live)

        photos = self._attachments.delete_where(keep) if self._attachments else 0
        return DraftSweep(drafts=len(stale), photos=photos)


class MemoryPublicPhotos:
    def __init__(self) -> None:
        # (case_id, attachment_id) -> withdrawn_at (None while public)
        self.rows: dict[tuple[str, str], datetime | None] = {}

    async def publish(
        self, case_id: str, project_id: str, attachment_ids: Sequence[str], at: datetime
    ) -> None:
        for a in attachment_ids:
            self.rows.setdefault((case_id, a), None)

    async def withdraw(self, case_id: str, at: datetime) -> int:
        open_ = [k for k, v in self.rows.items() if k[0] == case_id and v is None]
        for k in open_:
            self.rows[k] = at
        return len(open_)

    async def is_public(self, attachment_id: str) -> bool:
        return any(k[1] == attachment_id and v is None for k, v in self.rows.items())
