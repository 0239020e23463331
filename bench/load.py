"""Open-loop load: requests leave on a fixed schedule at the offered rate, whatever the responses.

Request i of a step is due at ``start_at + i / rate`` (wall clock, seconds since the epoch). The
generator sleeps until the next due time and starts every request that is due as its own task, so
a slow response never delays the next request (no coordinated omission). The due time is the
request's *event time*; ``sent`` is when the request actually started, and ``sent - due`` is the
generator's own lag, reported so that a generator that cannot keep up is seen, not mistaken for
a slow system.

Run as a process per step (``python -m bench.load SPEC.json OUT.json``), so the load does not
share an event loop (or a GIL) with the harness; several processes can split one step (each
takes every ``stride``-th request from ``offset``). A request that cannot get a connection waits
for one (at most ``max_connections`` per process), and that wait counts in its latency; a request
has ``timeout_s`` in all, connection wait included.

The HTTP client: ``raw`` (the default) is the minimal HTTP/1.1 keep-alive client below, on
asyncio streams; ``httpx`` is ``httpx.AsyncClient`` with a connection pool. Measured on the
2-core bench machine against a trivial ASGI app under uvicorn, one process: httpx gave about 500
requests/s with one request in flight and fell to about 110/s with 50 (its pool's bookkeeping
grows with the requests waiting; the client process was at 100% CPU, the server at 7%); the raw
client gave 1,900/s with one in flight and about 5,000/s with 50. An open-loop generator needs
many requests in flight exactly when the system slows down, so httpx would have measured itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

# One request's outcome: (correlation id, due (event time), sent, HTTP status or 0, latency ms).
Shot = tuple[str, float, float, int, float]
Fire = Callable[[int, float], Coroutine[Any, Any, Shot]]


@dataclass(frozen=True)
class HttpSpec:
    base_url: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    projects: list[str]  # request i files about projects[i % len(projects)]
    rate: float
    count: int
    prefix: str  # correlation id = prefix + index
    offset: int = 0
    stride: int = 1
    timeout_s: float = 15.0
    max_connections: int = 256
    client: str = "raw"  # or "httpx"

    @classmethod
    def load(cls, path: Path) -> HttpSpec:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def correlation_id(prefix: str, i: int) -> str:
    return f"{prefix}{i:07d}"


async def open_loop(
    count: int, rate: float, start_at: float, fire: Fire, *, offset: int = 0, stride: int = 1
) -> list[Shot]:
    """Start request i (for i = offset, offset + stride, ... < count) at start_at + i / rate and
    return every outcome once all have finished."""
    tasks: list[asyncio.Task[Shot]] = []
    for i in range(offset, count, stride):
        due = start_at + i / rate
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(i, due)))
    return list(await asyncio.gather(*tasks))


async def await_start() -> float:
    """The load process's side of `bench.sweep.run_processes`: say ready, then read the
    schedule's start (epoch seconds) from stdin."""
    print("ready", flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    return float(line)


# -- HTTP clients ----------------------------------------------------------------------------------


class Client(Protocol):
    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]: ...

    async def get(self, path: str) -> int: ...

    async def aclose(self) -> None: ...


class StaleConnection(ConnectionError):
    """A kept-alive connection the server had closed: nothing was sent on it."""


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class RawHttp:
    """HTTP/1.1 to one host: keep-alive connections, a request with a body, a response with a
    Content-Length, chunked or read-to-close body. Enough for the services' JSON APIs."""

    def __init__(self, base_url: str, max_connections: int) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"plain http://host:port only, not {base_url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self._idle: list[_Conn] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def _request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"Content-Length: {len(body)}", "Content-Type: application/json"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        async with self._slots:
            while True:
                reused = bool(self._idle)
                conn = (
                    self._idle.pop()
                    if reused
                    else await asyncio.open_connection(self.host, self.port)
                )
                try:
                    status, payload, keep = await self._exchange(conn, data)
                except StaleConnection:
                    conn[1].close()
                    if reused:
                        continue  # the server closed it while idle: it never saw this request
                    raise
                except BaseException:
                    conn[1].close()  # never reuse a connection in an unknown state
                    raise
                if keep:
                    self._idle.append(conn)
                else:
                    conn[1].close()
                return status, payload

    @staticmethod
    async def _exchange(conn: _Conn, data: bytes) -> tuple[int, bytes, bool]:
        reader, writer = conn
        try:
            writer.write(data)
            await writer.drain()
            line = await reader.readline()
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise StaleConnection(str(exc)) from exc
        if not line:
            raise StaleConnection("closed before the status line")
        status = int(line.split(b" ", 2)[1])
        length: int | None = None
        chunked = close = False
        while True:
            header = await reader.readline()
            if header in (b"\r\n", b"\n"):
                break
            if not header:
                raise ConnectionError("closed in the response headers")
            name, _, value = header.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value
            elif name == b"connection":
                close = value == b"close"
        if chunked:
            body = bytearray()
            while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
                body += await reader.readexactly(size)
                await reader.readexactly(2)
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return status, bytes(body), not close
        if length is not None:
            return status, await reader.readexactly(length), not close
        return status, await reader.read(), False

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        return await self._request("POST", path, body, headers)

    async def get(self, path: str) -> int:
        return (await self._request("GET", path, b"", {}))[0]

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop()[1].close()


class HttpxClient:
    def __init__(self, base_url: str, max_connections: int) -> None:
        import httpx

        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client = httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        r = await self._client.post(
            path, content=body, headers={**headers, "Content-Type": "application/json"}
        )
        return r.status_code, r.content

    async def get(self, path: str) -> int:
        return (await self._client.get(path)).status_code

    async def aclose(self) -> None:
        await self._client.aclose()


def make_client(kind: str, base_url: str, max_connections: int) -> Client:
    if kind == "raw":
        return RawHttp(base_url, max_connections)
    if kind == "httpx":
        return HttpxClient(base_url, max_connections)
    raise ValueError(f"unknown HTTP client {kind!r} (raw, httpx)")


async def drive_http(spec: HttpSpec) -> tuple[list[Shot], dict[str, int]]:
    errors: Counter[str] = Counter()
    client = make_client(spec.client, spec.base_url, spec.max_connections)
    bodies = {
        p: json.dumps({**spec.body, "project_id": p}, ensure_ascii=False).encode()
        for p in spec.projects
    }
    try:

        async def fire(i: int, due: float) -> Shot:
            cid = correlation_id(spec.prefix, i)
            body = bodies[spec.projects[i % len(spec.projects)]]
            headers = {**spec.headers, "X-Correlation-ID": cid}
            sent = time.time()
            t = time.perf_counter()
            try:
                async with asyncio.timeout(spec.timeout_s):  # the whole request, waits included
                    status, answer = await client.post(spec.path, body, headers)
                if not 200 <= status < 300:
                    errors[f"HTTP {status}: {answer[:120].decode(errors='replace')}"] += 1
            except Exception as exc:  # noqa: BLE001 - timeouts, resets, httpx's errors: counted
                status = 0
                errors[type(exc).__name__] += 1
            return cid, due, sent, status, (time.perf_counter() - t) * 1000

        # One request before the schedule: imports, the first connection and the client's lazy
        # set-up happen now, not in the first measured requests.
        with contextlib.suppress(Exception):
            await client.get("/readyz")
        start_at = await await_start()
        shots = await open_loop(
            spec.count, spec.rate, start_at, fire, offset=spec.offset, stride=spec.stride
        )
    finally:
        await client.aclose()
    return shots, dict(errors.most_common(10))


def main(argv: list[str]) -> int:
    spec_path, out_path = Path(argv[0]), Path(argv[1])
    spec = HttpSpec.load(spec_path)
    shots, errors = asyncio.run(drive_http(spec))
    out_path.write_text(json.dumps({"shots": shots, "errors": errors}), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
