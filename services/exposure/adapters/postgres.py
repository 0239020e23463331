"""The exposure service's unit of work on PostgreSQL: the case and fact repositories on the
transaction's connection, the outbox, the clock and the publication rules."""

from __future__ import annotations

from typing import Self

import asyncpg

from runtime import db
from runtime.scheduler import Clock
from runtime.unit_of_work import PgUnitOfWork
from services.exposure.adapters.case_store import PgCaseRepository
from services.exposure.adapters.fact_store import PgFactRepository
from services.exposure.domain.cases import Policy
from services.exposure.service.ports import CaseRepository, FactRepository


class PgExposureUnitOfWork(PgUnitOfWork):
    cases: CaseRepository
    facts: FactRepository

    def __init__(
        self, pool: asyncpg.Pool | None, *, source: str, clock: Clock, policy: Policy
    ) -> None:
        super().__init__(pool, source=source, clock=clock)
        self.policy = policy

    def _fresh(self) -> Self:
        return type(self)(self._pool, source=self.source, clock=self.clock, policy=self.policy)

    def _bind(self, conn: db.Connection) -> None:
        self.cases = PgCaseRepository(conn)
        self.facts = PgFactRepository(conn)
