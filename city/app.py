"""The reference platform's HTTP API (Starlette): pairing, event batches, updates, faults.

Endpoints (protocol v1, JSON): ``POST /v1/pair``, ``POST /v1/events:batch``,
``GET /v1/terminals/{id}/updates?cursor=``, ``GET /v1/health``, and ``POST /v1/claims``
(a customer's claim of an anonymous purchase, verified by ``loyalty.claims``). Errors answer with
``{"v": 1, "error": <code>, "message": <sentence>}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from city.faults import Decision, FaultConfig, Faults, now
from city.store import PlatformError, PlatformStore, TerminalRecord
from loyalty.db import iso, utc_now
from sync.protocol import (
    BatchEnvelope,
    BatchResponse,
    PairRequest,
    PairResponse,
    Updates,
    describe,
)

MAX_REQUEST_BYTES = 32 * 1024 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[Any]]

TrustSource = Callable[[], dict[str, Any] | None]

_DROPPED = "dropped on purpose"


def problem(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An error answer with a stable code and a sentence."""
    return JSONResponse({"v": 1, "error": code, "message": message}, status, headers=headers)


class Platform:
    """The request handlers, bound to one store, trust source and optional claim verifier."""

    def __init__(
        self,
        store: PlatformStore,
        trust: TrustSource,
    ) -> None:
        self.store = store
        self.trust = trust

    async def _body(self, request: Request) -> Any:
        size = 0
        chunks: list[bytes] = []
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_REQUEST_BYTES:
                raise PlatformError(
                    "too_large",
                    "the request body is over 32 MB; send smaller batches.",
                )
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks))
        except (ValueError, UnicodeDecodeError) as exc:
            raise PlatformError("bad_json", f"the request body is not JSON ({exc}).") from exc

    def _terminal(self, request: Request) -> TerminalRecord:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential:
            raise PlatformError("unauthorized", "a bearer credential is needed; pair the terminal.")
        terminal = self.store.terminal_for(credential.strip())
        if terminal is None:
            raise PlatformError(
                "unauthorized",
                "this credential is unknown or was replaced; pair the terminal again.",
            )
        return terminal

    async def health(self, request: Request) -> Response:
        """Liveness and the platform's clock."""
        return JSONResponse({"v": 1, "ok": True, "server_time": iso(utc_now())})

    async def pair(self, request: Request) -> Response:
        """Trade a one-time pairing token for a credential."""
        try:
            body = await self._body(request)
            pair = PairRequest.model_validate(body)
        except PlatformError as exc:
            return problem(413 if exc.code == "too_large" else 400, exc.code, exc.message)
        except ValidationError as exc:
            return problem(422, "malformed", describe(exc))
        try:
            terminal, shop_name, credential = await run_in_threadpool(
                self.store.pair, pair.token, pair.public_key
            )
        except PlatformError as exc:
            return problem(403, exc.code, exc.message)
        answer = PairResponse(
            terminal_id=terminal.id,
            shop_id=terminal.shop_id,
            shop_name=shop_name[:80],
            credential=credential,
            server_time=iso(utc_now()),
        )
        return JSONResponse(answer.model_dump(mode="json"))

    async def events_batch(self, request: Request) -> Response:
        """Store a batch: one result per event, duplicates answered ``duplicate``."""
        try:
            terminal = await run_in_threadpool(self._terminal, request)
        except PlatformError as exc:
            return problem(401, exc.code, exc.message)
        try:
            body = await self._body(request)
            envelope = BatchEnvelope.model_validate(body)
        except PlatformError as exc:
            return problem(413 if exc.code == "too_large" else 400, exc.code, exc.message)
        except ValidationError as exc:
            status = 413 if any(e["type"] == "too_long" for e in exc.errors()) else 422
            return problem(status, "too_large" if status == 413 else "malformed", describe(exc))
        if envelope.terminal_id != terminal.id:
            return problem(
                403,
                "wrong_terminal",
                f"this credential belongs to terminal {terminal.id}, not {envelope.terminal_id}.",
            )
        results = await run_in_threadpool(
            self.store.record_batch, terminal, envelope.batch_id, envelope.events
        )
        answer = BatchResponse(
            batch_id=envelope.batch_id, server_time=iso(utc_now()), results=results
        )
        return Response(
            answer.model_dump_json(exclude_defaults=False), media_type="application/json"
        )

    async def updates(self, request: Request) -> Response:
        """Programs, trust list, revocations and confirmed balances since the cursor."""
        try:
            terminal = await run_in_threadpool(self._terminal, request)
        except PlatformError as exc:
            return problem(401, exc.code, exc.message)
        if request.path_params["terminal_id"] != terminal.id:
            return problem(
                403, "wrong_terminal", f"this credential belongs to terminal {terminal.id}."
            )
        raw_cursor = request.query_params.get("cursor", "") or "0"
        if not raw_cursor.isdigit() or len(raw_cursor) > 18:
            return problem(400, "bad_cursor", "the cursor must be the number the platform sent.")
        cursor = int(raw_cursor)
        programs, revoked, balances, next_cursor, more = await run_in_threadpool(
            self.store.updates, terminal, cursor
        )
        trust = await run_in_threadpool(self.trust)
        answer = Updates(
            cursor=str(cursor),
            next_cursor=str(next_cursor),
            more=more,
            server_time=iso(utc_now()),
            trust=trust,
            programs=programs,
            revoked=revoked,
            balances=balances,
        )
        return Response(answer.model_dump_json(), media_type="application/json")

    async def claims_endpoint(self, request: Request) -> Response:
        """A customer claims an anonymous purchase's stamps: ``{code, card_id}``.

        The caller is the customer's city app, not a terminal, so no terminal credential is
        asked: the terminal's signature on the code and the one-time credit protect it.
        """
        try:
            body = await self._body(request)
        except PlatformError as exc:
            return problem(400, exc.code, exc.message)
        status, answer = await run_in_threadpool(self.store.claim, body)
        return JSONResponse(answer, status_code=status)


class FaultMiddleware:
    """Injects the configured faults around the API; optionally exposes ``POST /_faults``."""

    def __init__(self, app: ASGIApp, faults: Faults, *, control: bool = False) -> None:
        self.app = app
        self.faults = faults
        self.control = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if self.control and path == "/_faults":
            return await self._control(scope, receive, send)
        if not self.faults.applies(path):
            return await self.app(scope, receive, send)
        arrived = now()
        decision = self.faults.decide()
        if decision.slow_ms:
            await asyncio.sleep(decision.slow_ms / 1000)
        if decision.rate_limit is not None:
            seconds = decision.rate_limit
            response = problem(
                429,
                "rate_limited",
                f"too many requests; try again in {seconds:g} s.",
                headers={"Retry-After": f"{seconds:g}"},
            )
            await response(scope, receive, send)
            self.faults.log(scope["method"], path, arrived, decision, 429)
            return None
        if decision.fail:
            await problem(500, "injected_failure", "injected failure (fault injection).")(
                scope, receive, send
            )
            self.faults.log(scope["method"], path, arrived, decision, 500)
            return None
        if decision.drop:
            return await self._drop(scope, receive, arrived, decision)
        status = 0

        async def tap(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, tap)
        self.faults.log(scope["method"], path, arrived, decision, status)
        return None

    async def _drop(
        self, scope: Scope, receive: Receive, arrived: float, decision: Decision
    ) -> Any:
        status = 0

        async def swallow(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])

        await self.app(scope, receive, swallow)
        self.faults.log(scope["method"], scope["path"], arrived, decision, -status)
        # uvicorn closes the connection without a byte of answer when the app returns a value:
        # exactly what a reset after the commit looks like to the terminal.
        return _DROPPED

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method == "GET":
            body: dict[str, Any] = {
                "config": _jsonable(self.faults.config),
                "injected": self.faults.injected,
            }
            await JSONResponse(body)(scope, receive, send)
            return
        try:
            changes = json.loads(await request.body())
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object of fault settings")
            config = self.faults.configure(changes)
        except (ValueError, TypeError) as exc:
            await problem(400, "bad_faults", str(exc))(scope, receive, send)
            return
        await JSONResponse({"config": _jsonable(config)})(scope, receive, send)


def _jsonable(config: Any) -> dict[str, Any]:
    return asdict(config)


class _QuietDrops(logging.Filter):
    """Keep the injected drops out of the server's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.args and _DROPPED in str(record.args))


def quiet_drops() -> None:
    """Install the filter on uvicorn's error logger."""
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def create_app(
    store: PlatformStore,
    trust: TrustSource,
    *,
    faults: Faults | None = None,
    fault_control: bool = False,
) -> ASGIApp:
    """The ASGI application: the API, wrapped in fault injection when asked for."""
    platform = Platform(store, trust)
    app = Starlette(
        routes=[
            Route("/v1/health", platform.health, methods=["GET"]),
            Route("/v1/pair", platform.pair, methods=["POST"]),
            Route("/v1/events:batch", platform.events_batch, methods=["POST"]),
            Route("/v1/terminals/{terminal_id}/updates", platform.updates, methods=["GET"]),
            Route("/v1/claims", platform.claims_endpoint, methods=["POST"]),
        ]
    )
    if faults is None and not fault_control:
        return app
    return FaultMiddleware(app, faults or Faults(_default_faults()), control=fault_control)


def _default_faults() -> FaultConfig:
    return FaultConfig()


def request_log_path(data_dir: Path) -> Path:
    """Where ``serve --request-log`` writes by default."""
    return data_dir / "requests.jsonl"
