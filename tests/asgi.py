"""Serving an app in-process the way uvicorn does: lifespan first, then requests that carry the
lifespan's state (what `runtime.http.provided` reads)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send


class _WithState:
    def __init__(self, app: FastAPI, state: Mapping[str, Any]) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "state": dict(self.state)}  # a shallow copy per request, as uvicorn
        await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def served(
    app: FastAPI, base_url: str = "http://test", **client: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (lifespan) and a client for it; stopped on exit."""
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, state or {}))
        async with httpx.AsyncClient(transport=transport, base_url=base_url, **client) as c:
            yield c


@contextlib.asynccontextmanager
async def live_served(app: FastAPI, **client: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app served by uvicorn on a loopback port (lifespan on, as in production) and an
    HTTP client that talks to it over TCP; stopped on exit."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(600):  # the lifespan (migrations, the relay) may take a while when loaded
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        if not server.started:
            if task.done():
                task.result()  # the startup's own error
            raise RuntimeError("uvicorn did not start within 30 s")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", **client) as c:
            yield c
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)
        sock.close()
