"""A steady stream of complaints and failed inspections over HTTP, submitted as real clients would.

Every item gets its own correlation id (`X-Correlation-ID`, which every event it causes carries);
inspections also send it as their `Idempotency-Key`, the API's way to make a retry safe. An item is
retried, with the same headers, for as long as the failure is the platform's (a 5xx, a refused or
dropped connection, a timeout) and counts as submitted once it got a 2xx. A 4xx is the request's
fault: recorded as rejected and not retried (the suite expects none).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from runtime.auth import Role
from tests.e2e.conftest import FAILED_INSPECTION, Platform

Kind = Literal["complaint", "inspection"]
Channel = Literal["api", "web", "open311", "inspection"]
# the fault suite's mix: API complaints and failed inspections in turn
DEFAULT_MIX: tuple[Channel, ...] = ("api", "inspection")
# the soak's: complaints over all three intake channels, as many failed inspections
SOAK_MIX: tuple[Channel, ...] = ("api", "inspection", "web", "inspection", "open311", "inspection")
OPEN311_CLIENT = "soak-client"
OPEN311_KEY = "soak-open311-key"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
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
    channel: Channel = "api"
    attempts: int = 0
    status: int | None = None  # the 2xx that made it submitted
    body: dict[str, Any] = field(default_factory=dict)
    rejected: str | None = None  # a 4xx: the request was refused, not retried
    abandoned: bool = False

    @property
    def submitted(self) -> bool:
        return self.status is not None


SENDING_AT_ONCE = 150


class Workload:
    def __init__(
        self,
        platform: Platform,
        prefix: str,
        *,
        per_second: float = 4.0,
        mix: tuple[Channel, ...] = DEFAULT_MIX,
        give_up_after_s: float = GIVE_UP_AFTER_S,
    ) -> None:
        self.platform = platform
        self.give_up_after_s = give_up_after_s
        self.prefix = prefix
        self.interval_s = 1.0 / per_second
        self.mix = mix
        self.items: list[Submission] = []
        self.started: float | None = None  # monotonic time of the first item
        self.stopped: float | None = None  # when the last item was started
        self._csrf: str | None = None  # the web form's hidden field (its cookie is in the jar)
        self.retried: Counter[str] = Counter()  # why attempts failed and were retried
        self._in_flight: set[asyncio.Task[None]] = set()
        self._clients: dict[str, httpx.AsyncClient] = {}
        # Requests on the wire at once, below the clients' connection limit. Items past it wait
        # here (cheap) rather than in httpcore's pool queue, whose assignment pass is quadratic
        # in the queue's length: during an outage thousands of retries queued there and the
        # load generator, not the platform, spent the soak's CPU (seen in a 100/s soak).
        self._slots = asyncio.Semaphore(SENDING_AT_ONCE)

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
        channels = itertools.cycle(self.mix)
        projects = itertools.cycle(PROJECTS)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        self._clients = {
            name: httpx.AsyncClient(base_url=self.platform.url(name), timeout=15, limits=limits)
            for name in ("complaints", "inspections")
        }
        loop = asyncio.get_running_loop()
        try:
            n = 0
            self.started = loop.time()
            while not stop.is_set():
                channel = next(channels)
                kind: Kind = "inspection" if channel == "inspection" else "complaint"
                item = Submission(
                    kind, f"{self.prefix}-{kind[0]}{n:06d}", next(projects), channel=channel
                )
                n += 1
                self.items.append(item)
                task = asyncio.create_task(self._submit(item), name=item.correlation_id)
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
                due = self.started + n * self.interval_s
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
            self.stopped = loop.time()
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
        deadline = time.monotonic() + self.give_up_after_s
        delay = 0.25
        while True:
            item.attempts += 1
            try:
                async with self._slots:
                    response = await self._send(item)
            except httpx.TransportError as exc:  # refused, dropped, timed out: try again
                reason = type(exc).__name__
            else:
                if response.is_success:
                    item.status = response.status_code
                    if response.headers.get("content-type", "").startswith("application/json"):
                        item.body = response.json()
                    return
                if item.channel == "web" and response.status_code == 403:
                    # the form's CSRF token no longer matches (e.g. a restarted service signs
                    # with a new key): a browser reloads the form and sends it again
                    self._csrf = None
                    self.retried[f"{item.kind} ({item.channel}): form reloaded after 403"] += 1
                    if item.attempts < 5:
                        continue
                if response.status_code < 500:
                    item.rejected = f"{response.status_code} {response.text[:300]}"
                    return
                reason = f"HTTP {response.status_code}"
            self.retried[f"{item.kind} ({item.channel}): {reason}"] += 1
            if time.monotonic() > deadline:
                item.abandoned = True
                return
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

    @property
    def offered_per_s(self) -> float:
        if self.started is None or self.stopped is None or self.stopped <= self.started:
            return 0.0
        return len(self.items) / (self.stopped - self.started)

    async def _form_token(self) -> str:
        """The web form's hidden CSRF field, as a browser gets it with its cookie (step 2)."""
        if self._csrf is None:
            client = self._clients["complaints"]
            page = await client.get(
                "/", params={"project_id": next(iter(PROJECTS)), "category": "water"}
            )
            found = CSRF_FIELD.search(page.text)
            if page.status_code != 200 or found is None:
                raise httpx.RemoteProtocolError(f"form page {page.status_code} without a token")
            self._csrf = found.group(1)
        return self._csrf

    async def _send(self, item: Submission) -> httpx.Response:
        # Complaints also send an Idempotency-Key: a retry after a lost answer files once
        # (issue 13's complaint intake; ignored by a service that does not take it yet).
        headers = {"X-Correlation-ID": item.correlation_id, "Idempotency-Key": item.correlation_id}
        complaints = self._clients["complaints"]
        description = f"连续两天停水 ({item.correlation_id})"
        if item.channel == "web":
            field = await self._form_token()
            return await complaints.post(  # the client's cookie jar sends the form's cookie
                "/",
                headers={**headers, "Origin": str(complaints.base_url).rstrip("/")},
                data={
                    "csrf_token": field,
                    # the details page's one-time id: a retry after a lost answer files once
                    "submission_id": hashlib.sha256(item.correlation_id.encode()).hexdigest()[:32],
                    "project_id": item.project_id,
                    "category": "water",
                    "description": description,
                    "answer-problem": "no_water",
                    "contact_name": "李先生",
                    "contact_phone": "13700000000",
                },
            )
        if item.channel == "open311":
            return await complaints.post(
                "/open311/v2/requests.json",
                headers=headers,
                data={
                    "api_key": OPEN311_KEY,
                    "service_code": "water",
                    "address_id": item.project_id,
                    "description": description,
                    "attribute[problem]": "no_water",
                    "first_name": "李",
                    "phone": "13700000000",
                },
            )
        if item.kind == "complaint":
            token = self.platform.token(Role.OWNER)
            return await complaints.post(
                "/api/v1/complaints",
                headers={**headers, "Authorization": f"Bearer {token}"},
                json={
                    "project_id": item.project_id,
                    "category": "water",
                    "description": description,
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
