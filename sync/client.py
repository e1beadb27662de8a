"""A small typed HTTP client for the city platform, with an injectable transport.

Errors form a small hierarchy so callers decide by type: ``Transient`` (retry later),
``RateLimited`` (retry, but not before ``retry_after``), ``Rejected`` (the platform refused
the request itself; ``PayloadTooLarge`` for 413), ``AuthError`` (401/403: pair again),
``ProtocolError`` (the answer is not what protocol v1 promises: bad JSON, nesting too deep,
wrong types), ``Cancelled`` (the caller asked the run to stop) and ``InsecureURL`` /
``TLSError`` (nothing will be sent). Answers are read with a size cap and validated before
anyone trusts them. Every request has a total deadline (``total_timeout``, and the run's own
deadline when one is set) that holds however slowly the platform trickles its answer, and a
``cancel`` event stops a request within a fraction of a second. The credential is sent only
in the Authorization header and never appears in a message, a log line or a repr.
"""

from __future__ import annotations

import json
import math
import re
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, TypeVar

import httpcore
import httpx
from pydantic import BaseModel, ValidationError

from loyalty.db import parse_iso, utc_now
from sync.protocol import (
    BatchRequest,
    BatchResponse,
    Health,
    PairRequest,
    PairResponse,
    Problem,
    Updates,
    describe,
)

MAX_ANSWER_BYTES = 2 * 1024 * 1024
MAX_ANSWER_DEPTH = 32
"""Deepest nesting of lists and objects accepted in an answer (protocol v1 needs about 6)."""
TOTAL_TIMEOUT = 60.0
"""Default total deadline of one request, from connecting to the last byte of the answer."""
_SLICE = 0.25
"""Longest single socket wait, so a cancel or the deadline is noticed this quickly."""
USER_AGENT = "citie-terminal-sync/1"
_BUDGET_SPENT = "the sync's time budget is spent; events stay on this terminal and go later."
_LOOPBACK = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/.*)?$")

M = TypeVar("M", bound=BaseModel)


class SyncError(Exception):
    """Something went wrong talking to the platform; ``code`` is stable, the text says why."""

    code = "sync_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Transient(SyncError):
    """A failure that may pass: no connection, a timeout, a dropped answer, 408, 5xx."""

    code = "unreachable"


class BudgetSpent(Transient):
    """The run's time budget ended before this request could reach the platform."""

    code = "timeout"


class RateLimited(Transient):
    """429: the platform asks to wait ``retry_after`` seconds before the next try."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Rejected(SyncError):
    """The platform refused the request (a 4xx other than 401/403/408/429)."""

    code = "rejected"

    def __init__(self, message: str, *, status: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status


class PayloadTooLarge(Rejected):
    """413: the batch is too big for the platform; send fewer events at a time."""

    code = "too_large"


class AuthError(SyncError):
    """401/403: the credential is missing, unknown or not allowed; pair the terminal again."""

    code = "auth"


class ProtocolError(SyncError):
    """The platform answered something protocol v1 does not allow (bad JSON, types, size)."""

    code = "protocol_error"


class Cancelled(SyncError):
    """The caller cancelled the run (the app is quitting); events stay pending."""

    code = "cancelled"


class InsecureURL(SyncError):
    """The URL would send the credential in clear text (plain http off this machine)."""

    code = "insecure_url"


class UnsupportedProxy(InsecureURL):
    """The environment names a proxy this client cannot use (only http:// and https:// ones).

    A configuration refusal like ``InsecureURL``: nothing was sent.
    """

    code = "proxy_unsupported"


def environment_proxy(base_url: str) -> str | None:
    """The proxy the environment names for ``base_url``, or None.

    ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` and ``NO_PROXY``, upper or lower case, as
    curl and httpx read them; never for this machine's own address (the local reference
    platform is not behind the shop's proxy). Raises ``UnsupportedProxy`` for a scheme other
    than http or https (SOCKS would need another package).
    """
    parts = urllib.parse.urlsplit(base_url)
    host = parts.hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        return None
    proxies = urllib.request.getproxies_environment()
    if _bypassed(host, proxies.get("no", "")):
        return None
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    if urllib.parse.urlsplit(proxy).scheme not in ("http", "https"):
        raise UnsupportedProxy(
            f"the proxy {proxy[:80]!r} named by the environment (HTTPS_PROXY, HTTP_PROXY or "
            "ALL_PROXY) is not an http:// or https:// proxy; use an HTTP proxy, or add the "
            "platform's host to NO_PROXY."
        )
    return proxy


def _bypassed(host: str, no_proxy: str) -> bool:
    """``NO_PROXY`` as curl reads it: ``*``, or hosts and domain suffixes, comma-separated."""
    for entry in (part.strip().lower().lstrip(".") for part in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return True
    return False


class TLSError(SyncError):
    """The platform's certificate could not be verified; nothing was sent."""

    code = "tls_error"


def check_url(url: str) -> str:
    """The base URL without a trailing slash, or InsecureURL."""
    url = url.strip().rstrip("/")
    if url.startswith("https://") or _LOOPBACK.match(url):
        return url
    raise InsecureURL(
        f"the platform URL {url!r} must start with https:// "
        "(plain http:// is allowed only to 127.0.0.1 or localhost)."
    )


def retry_after_seconds(value: str | None, default: float = 1.0) -> float:
    """Read a Retry-After header (seconds or an HTTP date); never negative, at most an hour."""
    if not value:
        return default
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        seconds = (when - utc_now()).total_seconds()
    if math.isnan(seconds):
        return default
    return min(max(seconds, 0.0), 3600.0)


class _Guard:
    """The request in progress's deadline and the cancel flag; every socket wait obeys them.

    httpx's timeouts are per operation, so a platform that sends one byte every few seconds
    never trips them; the guard caps each wait by what is left of the whole request.
    """

    def __init__(self, cancel: threading.Event | None) -> None:
        self.cancel = cancel
        self.deadline: float | None = None

    def check(self, error: type[Exception]) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise error("cancelled")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise error("the request's total deadline passed")

    def cap(self, timeout: float | None, error: type[Exception]) -> float | None:
        """``timeout`` shortened to the deadline (no slicing: for waits that cannot resume)."""
        self.check(error)
        if self.deadline is None:
            return timeout
        left = self.deadline - time.monotonic()
        return left if timeout is None else min(timeout, left)

    def slice(self, until: float | None, error: type[Exception]) -> float:
        """The next short wait, ending no later than ``until`` and the deadline."""
        self.check(error)
        now = time.monotonic()
        ends = [now + _SLICE]
        if until is not None:
            ends.append(until)
        if self.deadline is not None:
            ends.append(self.deadline)
        wait = min(ends) - now
        if wait <= 0:
            raise error("timed out")
        return wait


class _NotStarted(httpcore.ConnectTimeout):
    """The deadline passed (or a cancel came) before a connection was even tried."""


class _GuardedStream(httpcore.NetworkStream):
    """A socket stream whose reads wait in short slices under the guard."""

    def __init__(self, inner: httpcore.NetworkStream, guard: _Guard) -> None:
        self._inner = inner
        self._guard = guard

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = self._guard.slice(until, httpcore.ReadTimeout)
            try:
                return self._inner.read(max_bytes, wait)
            except httpcore.ReadTimeout:
                # A slice ended with nothing read (recv consumed nothing): look again at the
                # read timeout, the request's deadline and the cancel flag.
                if until is not None and time.monotonic() >= until:
                    raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # A send cut short cannot resume safely, so writes are capped, not sliced; a cancel
        # shuts the socket down instead, which ends a send to a platform that stopped reading
        # (a batch is larger than the socket buffers) at once rather than at the timeout.
        wait = self._guard.cap(timeout, httpcore.WriteTimeout)
        cancel = self._guard.cancel
        if cancel is None:
            self._inner.write(buffer, wait)
            return
        done = threading.Event()

        def watch() -> None:
            while not done.wait(_SLICE):
                if cancel.is_set():
                    self._shut_down()
                    return

        threading.Thread(target=watch, name="sync-write-watch", daemon=True).start()
        try:
            self._inner.write(buffer, wait)
        finally:
            done.set()

    def _shut_down(self) -> None:
        sock = self._inner.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            # socket.socket's own shutdown: a TLS socket's would drop its SSL object under
            # the sending thread's feet.
            with suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        wait = self._guard.cap(timeout, httpcore.ConnectTimeout)
        return _GuardedStream(
            self._inner.start_tls(ssl_context, server_hostname, wait), self._guard
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend with every connection under the guard."""

    def __init__(self, guard: _Guard) -> None:
        self._inner = httpcore.SyncBackend()
        self._guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        wait = self._guard.cap(timeout, _NotStarted)
        # A connect (name lookup included) cannot be resumed after a timeout, so it runs on a
        # helper thread while this one watches the cancel flag and the deadline: neither waits
        # for a platform that drops packets or a name lookup that hangs. An abandoned
        # connection is closed when it completes.
        done = threading.Event()
        handover = threading.Lock()
        outcome: list[httpcore.NetworkStream | BaseException] = []
        abandoned: list[bool] = []

        def connect() -> None:
            try:
                result: httpcore.NetworkStream | BaseException = self._inner.connect_tcp(
                    host, port, wait, local_address, socket_options
                )
            except BaseException as exc:  # handed over to the waiting thread
                result = exc
            with handover:
                outcome.append(result)
                if abandoned and not isinstance(result, BaseException):
                    result.close()
            done.set()

        threading.Thread(target=connect, name="sync-connect", daemon=True).start()
        while not done.wait(_SLICE):
            try:
                # The socket's timeout does not cover the name lookup: the deadline is
                # watched here too.
                self._guard.check(httpcore.ConnectTimeout)
            except httpcore.ConnectTimeout:
                with handover:
                    abandoned.append(True)
                    if outcome and not isinstance(outcome[0], BaseException):
                        outcome[0].close()
                raise
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return _GuardedStream(result, self._guard)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _guarded_transport(guard: _Guard, proxy: str | None = None) -> httpx.HTTPTransport:
    context = httpx.create_ssl_context()  # verified, httpx's CA bundle (loaded once)
    # httpx's defaults (verified TLS, HTTP/1.1, keep-alive), through the environment's proxy if
    # it names one: an explicit transport makes httpx stop reading the proxy variables itself.
    transport = httpx.HTTPTransport(verify=context, proxy=proxy)
    # httpx takes no network backend of its own, so its pool (a plain pool or a proxy pool)
    # is given one: every socket it opens, to the platform or to the proxy, obeys the guard.
    pool: Any = transport._pool
    pool._network_backend = _GuardedBackend(guard)
    return transport


@dataclass(frozen=True)
class Answer:
    """A response with its body read (within the cap)."""

    status: int
    headers: httpx.Headers
    body: bytes


class PlatformClient:
    """Talks protocol v1 to one platform. Use as a context manager, or call ``close()``."""

    def __init__(
        self,
        base_url: str,
        credential: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        total_timeout: float = TOTAL_TIMEOUT,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        deadline: float | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.base_url = check_url(base_url)
        self._credential = credential
        self.max_answer_bytes = max_answer_bytes
        self.total_timeout = total_timeout
        self.deadline = deadline
        """``time.monotonic()`` after which no request starts or goes on (the run's budget)."""
        self.cancel = cancel
        self._guard = _Guard(cancel)
        if transport is None:
            transport = _guarded_transport(self._guard, environment_proxy(self.base_url))
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        # verify=True always: the only way to skip TLS is plain http to loopback (checked above).
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            verify=True,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"PlatformClient({self.base_url!r})"

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # the calls ------------------------------------------------------------------------

    def pair(self, token: str, public_key_hex: str) -> PairResponse:
        """Trade a one-time pairing token for this terminal's credential."""
        try:
            body = PairRequest(token=token.strip(), public_key=public_key_hex.strip())
        except ValidationError as exc:
            raise Rejected(
                f"the pairing token or public key is not valid: {describe(exc)}. "
                "Copy the token exactly as `citie-platform terminal add` printed it.",
                status=0,
                code="bad_pairing_token",
            ) from None
        answer = self._request("POST", "/v1/pair", content=body.model_dump_json(), auth=False)
        return self._parse(answer, PairResponse)

    def health(self) -> Health:
        """``GET /v1/health`` (no credential): whether this URL is a platform that is up."""
        answer = self._request("GET", "/v1/health", auth=False)
        return self._parse(answer, Health)

    def send_batch(self, batch: BatchRequest) -> BatchResponse:
        """Post one batch; the answer must be for this batch, with one result per event."""
        answer = self._request("POST", "/v1/events:batch", content=batch.model_dump_json())
        response = self._parse(answer, BatchResponse)
        sent = [event.id for event in batch.events]
        got = [result.id for result in response.results]
        if sorted(sent) != sorted(got) or len(set(got)) != len(got):
            raise ProtocolError(
                f"the platform answered {len(got)} results for {len(sent)} events, or for "
                "other events; nothing was marked synced. Report this to the platform operator.",
                code="results_mismatch",
            )
        if response.batch_id != batch.batch_id:
            raise ProtocolError(
                f"the platform answered for batch {response.batch_id}, not for "
                f"{batch.batch_id}; nothing was marked synced. "
                "Report this to the platform operator.",
                code="results_mismatch",
            )
        return response

    def updates(self, terminal_id: str, cursor: str) -> Updates:
        """What changed since ``cursor``."""
        answer = self._request(
            "GET", f"/v1/terminals/{terminal_id}/updates", params={"cursor": cursor}
        )
        return self._parse(answer, Updates)

    # plumbing -------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        content: str | bytes | None = None,
        params: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Answer:
        headers = {"Content-Type": "application/json"} if content is not None else {}
        if auth:
            if not self._credential:
                raise AuthError(
                    "this terminal has no platform credential. "
                    "Run `citie-terminal pair URL TOKEN` first.",
                )
            headers["Authorization"] = f"Bearer {self._credential}"
        self._check_cancel()
        now = time.monotonic()
        deadline = now + self.total_timeout
        if self.deadline is not None:
            deadline = min(deadline, self.deadline)
        if deadline <= now:
            raise BudgetSpent(_BUDGET_SPENT)
        self._guard.deadline = deadline
        try:
            with self._http.stream(
                method, path, content=content, params=params, headers=headers
            ) as response:
                body = self._read_capped(response)
                answer = Answer(response.status_code, response.headers, body)
        except httpx.TransportError as exc:
            self._check_cancel()
            if isinstance(exc.__cause__, _NotStarted) and deadline == self.deadline:
                # The run's budget ended between the check above and the connect: this
                # request never reached the platform, like one refused by that check.
                raise BudgetSpent(_BUDGET_SPENT) from None
            if isinstance(exc, httpx.TimeoutException) and time.monotonic() >= deadline:
                raise Transient(
                    f"the platform at {self.base_url} did not answer within "
                    f"{deadline - now:.1f} s; events stay on this terminal.",
                    code="timeout",
                ) from None
            raise self._transport_error(exc) from None
        except ssl.SSLError as exc:
            raise self._transport_error(exc) from None
        finally:
            self._guard.deadline = None
        self._check_status(answer)
        return answer

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("the sync was cancelled; events stay pending and go with the next run.")

    def _transport_error(self, exc: Exception) -> SyncError:
        if isinstance(exc, httpx.ConnectError):
            if _is_tls(exc):
                return TLSError(
                    f"the platform's certificate at {self.base_url} could not be verified "
                    f"({_short(exc)}). Check the URL and the device's clock; nothing was sent.",
                )
            return Transient(
                f"cannot connect to the platform at {self.base_url} ({_short(exc)}); "
                "events stay on this terminal and go later.",
            )
        if isinstance(exc, httpx.TimeoutException):
            return Transient(
                f"the platform at {self.base_url} did not answer in time "
                f"({type(exc).__name__}); events stay on this terminal.",
                code="timeout",
            )
        return Transient(
            f"the connection to the platform broke ({_short(exc)}); the request is retried.",
            code="connection_lost",
        )

    def _read_capped(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_answer_bytes:
            raise ProtocolError(
                f"the platform's answer is {int(declared)} bytes, over the "
                f"{self.max_answer_bytes}-byte limit; nothing was marked synced.",
                code="answer_too_large",
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_answer_bytes:
                raise ProtocolError(
                    f"the platform's answer is over the {self.max_answer_bytes}-byte limit; "
                    "nothing was marked synced.",
                    code="answer_too_large",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _check_status(self, answer: Answer) -> None:
        status = answer.status
        if 200 <= status < 300:
            return
        problem = _problem(answer.body)
        said = f": {problem.message}" if problem and problem.message else ""
        code = problem.error if problem else None
        if status == 429:
            wait = retry_after_seconds(answer.headers.get("retry-after"))
            raise RateLimited(f"the platform asks to wait {wait:g} s (429){said}", wait)
        if status == 408 or status >= 500:
            raise Transient(f"the platform answered {status}{said}", code="server_error")
        if status in (401, 403):
            raise AuthError(
                f"the platform refused this terminal's credential ({status}){said}. "
                "Pair the terminal again with a new token (`citie-terminal pair URL TOKEN`).",
                code=code or "auth",
            )
        if status == 413:
            raise PayloadTooLarge(
                f"the batch is too large for the platform (413){said}", status=413
            )
        raise Rejected(
            f"the platform refused the request ({status}){said}. "
            "Check the platform URL; if it is right, report this to the platform operator.",
            status=status,
            code=code,
        )

    def _parse(self, answer: Answer, model: type[M]) -> M:
        try:
            data = json.loads(answer.body)
        except (ValueError, UnicodeDecodeError):
            raise ProtocolError(
                "the platform's answer is not JSON; nothing was marked synced. "
                "Check the platform URL (a proxy or captive portal may be answering).",
                code="bad_json",
            ) from None
        except RecursionError:
            data = _TOO_DEEP  # deeper than the parser's stack: a hostile or broken answer
        if data is _TOO_DEEP or _too_deep(data, MAX_ANSWER_DEPTH):
            raise ProtocolError(
                f"the platform's answer is nested more than {MAX_ANSWER_DEPTH} levels deep; "
                "nothing was marked synced. Report this to the platform operator.",
                code="answer_too_deep",
            )
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            why = describe(exc)
        except (RecursionError, TypeError, ValueError) as exc:
            why = type(exc).__name__
        raise ProtocolError(
            f"the platform's answer does not follow protocol v1 ({why}); "
            "nothing was marked synced.",
            code="bad_answer",
        )


_TOO_DEEP = object()


def _too_deep(data: Any, limit: int) -> bool:
    """Whether lists and objects nest ``limit`` levels below the top one or deeper.

    Walked level by level without recursion (a hostile answer must not exhaust the stack),
    keeping only containers, so a flat answer of thousands of results costs well under a
    millisecond.
    """
    level: list[Any] = [data] if isinstance(data, dict | list) else []
    for _ in range(limit):
        children: list[Any] = []
        for container in level:
            children.extend(container.values() if isinstance(container, dict) else container)
        level = [child for child in children if isinstance(child, dict | list)]
        if not level:
            return False
    return bool(level)


def _problem(body: bytes) -> Problem | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, dict) or _too_deep(data, 2):
        return None
    try:
        return Problem.model_validate(data)
    except ValidationError:
        return None


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        text = str(seen)
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text or "TLS" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


def server_clock_offset(server_time: str, sent_at: float, received_at: float) -> float | None:
    """Seconds the platform's clock is ahead of ours (positive: ours is late)."""
    try:
        server = parse_iso(server_time).timestamp()
    except ValueError:
        return None
    return server - (sent_at + received_at) / 2


def as_dict(model: BaseModel) -> dict[str, Any]:
    """A model as plain JSON-able data."""
    return model.model_dump(mode="json")
