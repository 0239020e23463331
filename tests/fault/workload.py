"""A steady stream of complaints and failed inspections over HTTP, submitted as real clients would.

Every item gets its own correlation id (`X-Correlation-ID`, which every event it causes carries);
inspections also send it as their `Idempotency-Key`, the API's way to make a retry safe. An item is
retried, with the same headers, for as long as the failure is the platform's (a 5xx, a refused or
dropped connection, a timeout) and counts as submitted once it got a 2xx. A 4xx is the request's
fault: recorded as rejected and not retried (the suite expects none).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from runtime.auth import Role
from tests.e2e.conftest import FAILED_INSPECTION, Platform

Kind = Literal["complaint", "inspection"]
# project -> its district office (the inspector) in the registry seed
PROJECTS = {
    "P-120101-0001": "120101",
    "P-120101-0002": "120101",
    "P-120103-0001": "120103",
    "P-120104-0001": "120104",
}
GIVE_UP_AFTER_S = 240.0  # a client that waited this long would call; the suite counts it lost


@dataclass
class Submission:
    kind: Kind
    correlation_id: str
    project_id: str
    attempts: int = 0
    status: int | None = None  # the 2xx that made it submitted
    body: dict[str, Any] = field(default_factory=dict)
    rejected: str | None = None  # a 4xx: the request was refused, not retried
    abandoned: bool = False

    @property
    def submitted(self) -> bool:
        return self.status is not None


class Workload:
    def __init__(self, platform: Platform, prefix: str, *, per_second: float = 4.0) -> None:
        self.platform = platform
        self.prefix = prefix
        self.interval_s = 1.0 / per_second
        self.items: list[Submission] = []
        self.retried: Counter[str] = Counter()  # why attempts failed and were retried
        self._in_flight: set[asyncio.Task[None]] = set()
        self._clients: dict[str, httpx.AsyncClient] = {}

    # -- results ---------------------------------------------------------------------------------

    def submitted(self, kind: Kind) -> list[Submission]:
        return [s for s in self.items if s.kind == kind and s.submitted]

    @property
    def rejected(self) -> list[Submission]:
        return [s for s in self.items if s.rejected is not None]

    @property
    def abandoned(self) -> list[Submission]:
        return [s for s in self.items if s.abandoned]

    # -- running ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Start one item per interval (complaints and inspections alternately) until `stop`,
        then wait for every item still being retried."""
        kinds: itertools.cycle[Kind] = itertools.cycle(("complaint", "inspection"))
        projects = itertools.cycle(PROJECTS)
        self._clients = {
            name: httpx.AsyncClient(base_url=self.platform.url(name), timeout=15)
            for name in ("complaints", "inspections")
        }
        try:
            n = 0
            while not stop.is_set():
                kind = next(kinds)
                item = Submission(kind, f"{self.prefix}-{kind[0]}{n:05d}", next(projects))
                n += 1
                self.items.append(item)
                task = asyncio.create_task(self._submit(item), name=item.correlation_id)
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval_s)
            if self._in_flight:
                await asyncio.gather(*self._in_flight)
        finally:
            left = list(self._in_flight)
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)
            for client in self._clients.values():
                await client.aclose()

    async def _submit(self, item: Submission) -> None:
        deadline = time.monotonic() + GIVE_UP_AFTER_S
        delay = 0.25
        while True:
            item.attempts += 1
            try:
                response = await self._send(item)
            except httpx.TransportError as exc:  # refused, dropped, timed out: try again
                reason = type(exc).__name__
            else:
                if response.is_success:
                    item.status = response.status_code
                    item.body = response.json()
                    return
                if response.status_code < 500:
                    item.rejected = f"{response.status_code} {response.text[:300]}"
                    return
                reason = f"HTTP {response.status_code}"
            self.retried[f"{item.kind}: {reason}"] += 1
            if time.monotonic() > deadline:
                item.abandoned = True
                return
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

    async def _send(self, item: Submission) -> httpx.Response:
        headers = {"X-Correlation-ID": item.correlation_id}
        if item.kind == "complaint":
            token = self.platform.token(Role.OWNER)
            return await self._clients["complaints"].post(
                "/api/v1/complaints",
                headers={**headers, "Authorization": f"Bearer {token}"},
                json={
                    "project_id": item.project_id,
                    "category": "water",
                    "description": f"连续两天停水 ({item.correlation_id})",
                    "answers": {"problem": "no_water"},
                    "contact": {"name": "李先生", "phone": "13700000000"},
                },
            )
        token = self.platform.token(Role.DISTRICT_OFFICE, district=PROJECTS[item.project_id])
        return await self._clients["inspections"].post(
            "/api/v1/inspections",
            headers={
                **headers,
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": item.correlation_id,
            },
            json={**FAILED_INSPECTION, "project_id": item.project_id},
        )
