"""The city platform's HTTP API (Starlette): pairing, event batches, updates, claims, faults.

Endpoints (protocol v1, JSON): ``POST /v1/pair``, ``POST /v1/events:batch``,
``GET /v1/terminals/{id}/updates?cursor=``, ``GET /v1/health``, and ``POST /v1/claims``
(a customer's claim of an anonymous purchase, verified by ``loyalty.claims``). Errors answer with
``{"v": 1, "error": <code>, "message": <sentence>}``.

Backpressure: at most ``Limits.max_in_flight`` requests are served at once per process; past
it the answer is 429 with a jittered ``Retry-After`` (the terminal waits at least that long).
A body must arrive within ``body_timeout`` seconds. The routes that need no credential (pairing
and claims) read at most ``open_body_bytes`` (413 past it) and are rate limited per client
address. Bodies are parsed and validated in a worker thread, never on the event loop, and any
malformed input is a 400 with a reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from city.claims import claim_language, refusal_answer
from city.faults import Decision, FaultConfig, Faults, now
from city.store import PlatformError, PlatformStore, TerminalRecord
from loyalty.claims import MESSAGES, ClaimReason, refuse
from loyalty.db import iso, utc_now
from sync.protocol import (
    BatchEnvelope,
    BatchResponse,
    PairRequest,
    PairResponse,
    Updates,
    describe,
)

MAX_REQUEST_BYTES: Final = 32 * 1024 * 1024
"""The most a terminal's batch body may hold (5,000 events are far less)."""
_CURSOR = re.compile(r"[0-9]{1,40}")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[Any]]

TrustSource = Callable[[], dict[str, Any] | None]
M = TypeVar("M", bound=BaseModel)

_DROPPED = "dropped on purpose"


@dataclass(frozen=True)
class Limits:
    """How much the platform takes on before it asks clients to come back later."""

    max_in_flight: int = 64
    """Requests served at once by one process; more are answered 429."""
    retry_after: tuple[int, int] = (1, 5)
    """Seconds sent in Retry-After with a 429, drawn uniformly (so retries spread out)."""
    body_timeout: float = 30.0
    """Seconds a request body may take to arrive (408 after)."""
    open_body_bytes: int = 4096
    """The most a route without a credential reads (a claim or a pairing is under 1 KB)."""
    open_rate: float = 2.0
    """Requests per second one client address may make to the routes without a credential."""
    open_burst: int = 20
    """Requests one address may make at once before ``open_rate`` applies."""
    tracked_addresses: int = 10_000
    """Addresses remembered for the rate limit (the least recently seen are forgotten)."""


class _Refusal(Exception):
    """An answer to send instead of going on: status, code, sentence."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def problem(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An error answer with a stable code and a sentence."""
    return JSONResponse({"v": 1, "error": code, "message": message}, status, headers=headers)


def rate_limited(limits: Limits, why: str) -> Response:
    """429 with a jittered Retry-After, so refused clients do not all come back together."""
    seconds = random.randint(*limits.retry_after)
    return problem(
        429,
        "rate_limited",
        f"{why}; try again in {seconds} s.",
        headers={"Retry-After": str(seconds)},
    )


class AddressRate:
    """A token bucket per client address (bounded memory: least recently seen forgotten)."""

    def __init__(self, rate: float, burst: int, tracked: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tracked = tracked
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, address: str) -> bool:
        """Take one token for ``address``; False when it has none left."""
        moment = time.monotonic()
        tokens, last = self._buckets.pop(address, (float(self.burst), moment))
        tokens = min(float(self.burst), tokens + (moment - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[address] = (tokens - 1.0 if allowed else tokens, moment)
        while len(self._buckets) > self.tracked:
            self._buckets.popitem(last=False)
        return allowed


def parse_json(body: bytes) -> Any:
    """JSON from a body, or a 400 saying why (never an exception from deep nesting)."""
    try:
        return json.loads(body)
    except RecursionError as exc:
        raise _Refusal(400, "bad_json", "the request body is JSON nested too deeply.") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        reason = str(exc)[:200]
        raise _Refusal(400, "bad_json", f"the request body is not JSON ({reason}).") from exc


def parse_model(model: type[M], body: bytes) -> M:
    """A protocol model from a body: 400 for bad JSON or fields, 413 for a list too long."""
    data = parse_json(body)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        if any(e["type"] == "too_long" and e["loc"] == ("events",) for e in exc.errors()):
            raise _Refusal(413, "too_large", describe(exc)) from exc
        raise _Refusal(400, "malformed", describe(exc)) from exc
    except RecursionError as exc:
        raise _Refusal(400, "bad_json", "the request body is JSON nested too deeply.") from exc


class Platform:
    """The request handlers, bound to one store and trust source."""

    def __init__(self, store: PlatformStore, trust: TrustSource, limits: Limits) -> None:
        self.store = store
        self.trust = trust
        self.limits = limits

    async def _body(self, request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise _Refusal(413, "too_large", _too_large(limit))
        size = 0
        chunks: list[bytes] = []
        try:
            async with asyncio.timeout(self.limits.body_timeout):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise _Refusal(413, "too_large", _too_large(limit))
                    chunks.append(chunk)
        except TimeoutError as exc:
            raise _Refusal(
                408,
                "body_timeout",
                f"the request body did not arrive within {self.limits.body_timeout:g} s.",
            ) from exc
        return b"".join(chunks)

    def _terminal(self, request: Request) -> TerminalRecord:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise _Refusal(401, "unauthorized", "a bearer credential is needed; pair the terminal.")
        terminal = self.store.terminal_for(credential.strip())
        if terminal is None:
            raise _Refusal(
                401,
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
            body = await self._body(request, self.limits.open_body_bytes)
            pair = await run_in_threadpool(parse_model, PairRequest, body)
            terminal, shop_name, credential = await run_in_threadpool(
                self.store.pair, pair.token, pair.public_key
            )
        except _Refusal as exc:
            return problem(exc.status, exc.code, exc.message)
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
        """Store a batch: one result per event, replays answered ``duplicate``."""
        try:
            terminal = await run_in_threadpool(self._terminal, request)
            body = await self._body(request, MAX_REQUEST_BYTES)
            envelope = await run_in_threadpool(parse_model, BatchEnvelope, body)
        except _Refusal as exc:
            return problem(exc.status, exc.code, exc.message)
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
        """Programs, trust list, revocations and confirmed balances since the cursor, paged."""
        try:
            terminal = await run_in_threadpool(self._terminal, request)
        except _Refusal as exc:
            return problem(exc.status, exc.code, exc.message)
        if request.path_params["terminal_id"] != terminal.id:
            return problem(
                403, "wrong_terminal", f"this credential belongs to terminal {terminal.id}."
            )
        raw_cursor = request.query_params.get("cursor", "") or "0"
        if not _CURSOR.fullmatch(raw_cursor):
            return problem(
                400, "bad_cursor", "the cursor must be the number (0-9) the platform sent."
            )
        page = await run_in_threadpool(self.store.updates, terminal, raw_cursor)
        trust = await run_in_threadpool(self.trust)
        answer = Updates(
            cursor=raw_cursor,
            next_cursor=page.next_cursor,
            more=page.more,
            server_time=iso(utc_now()),
            trust=trust,
            programs=page.programs,
            revoked=page.revoked,
            balances=page.balances,
            vouchers=page.vouchers,
            flags=page.flags,
        )
        return Response(answer.model_dump_json(), media_type="application/json")

    async def claims_endpoint(self, request: Request) -> Response:
        """A customer claims an anonymous purchase's stamps: ``{code, card_id}``.

        The caller is the customer's city app, not a terminal, so no terminal credential is
        asked: the terminal's signature on the code and the one-time credit protect it. The
        answer's sentence is in the customer's language (``city.claims.claim_language``: the
        body's ``lang``, else ``Accept-Language``), and says which in ``language``.
        """
        wanted = request.headers.get("accept-language")
        try:
            body = await self._body(request, self.limits.open_body_bytes)
            data = await run_in_threadpool(parse_json, body)
        except _Refusal as exc:
            # The body could not be read: only the header tells the language.
            language = claim_language(None, wanted)
            sentence = MESSAGES.text(f"request.{exc.code}", language)
            answer = {"v": 1, "error": exc.code, "message": sentence, "language": language}
            return JSONResponse(answer, exc.status)
        language = claim_language(data, wanted)
        if not isinstance(data, dict):
            bad_body = refuse(ClaimReason.BAD_REQUEST, "the body must be a JSON object")
            status, answer = refusal_answer(bad_body, language)
        else:
            status, answer = await run_in_threadpool(self.store.claim, {**data, "lang": language})
        return JSONResponse(answer, status_code=status)


def _too_large(limit: int) -> str:
    shown = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
    return f"the request body is over {shown}; send less."


OPEN_PATHS: Final = ("/v1/pair", "/v1/claims")
"""Routes without a credential: small bodies, rate limited per address."""


class Backpressure:
    """Bounds the requests in flight, and rate limits the open routes per client address.

    Runs on the event loop only (no lock needed): the count is changed between awaits.
    """

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self.in_flight = 0
        self.rates = AddressRate(limits.open_rate, limits.open_burst, limits.tracked_addresses)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] != "http" or scope["path"] == "/v1/health":
            return await self.app(scope, receive, send)
        if scope["path"] in OPEN_PATHS:
            client = scope.get("client")
            address = str(client[0]) if client else "?"
            if not self.rates.allow(address):
                why = "too many requests from this address"
                return await rate_limited(self.limits, why)(scope, receive, send)
        if self.in_flight >= self.limits.max_in_flight:
            why = "the platform is busy"
            return await rate_limited(self.limits, why)(scope, receive, send)
        self.in_flight += 1
        try:
            return await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


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
    limits: Limits | None = None,
) -> ASGIApp:
    """The ASGI application: the API behind backpressure, in fault injection when asked for."""
    limits = limits or Limits()
    platform = Platform(store, trust, limits)
    app = Starlette(
        routes=[
            Route("/v1/health", platform.health, methods=["GET"]),
            Route("/v1/pair", platform.pair, methods=["POST"]),
            Route("/v1/events:batch", platform.events_batch, methods=["POST"]),
            Route("/v1/terminals/{terminal_id}/updates", platform.updates, methods=["GET"]),
            Route("/v1/claims", platform.claims_endpoint, methods=["POST"]),
        ]
    )
    guarded = Backpressure(app, limits)
    if faults is None and not fault_control:
        return guarded
    return FaultMiddleware(guarded, faults or Faults(_default_faults()), control=fault_control)


def _default_faults() -> FaultConfig:
    return FaultConfig()


def request_log_path(data_dir: Path) -> Path:
    """Where ``serve --request-log`` writes by default."""
    return data_dir / "requests.jsonl"
