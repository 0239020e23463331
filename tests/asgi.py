"""Serving an app in-process the way uvicorn does: lifespan first, then requests that carry the
lifespan's state (what `runtime.http.provided` reads)."""

from __future__ import annotations

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
