"""A small typed HTTP client for the city platform, with an injectable transport.

Errors form a small hierarchy so callers decide by type: ``Transient`` (retry later),
``RateLimited`` (retry, but not before ``retry_after``), ``Rejected`` (the platform refused
the request itself; ``PayloadTooLarge`` for 413), ``AuthError`` (401/403: pair again),
``ProtocolError`` (the answer is not what protocol v1 promises) and ``InsecureURL`` /
``TLSError`` (nothing will be sent). Answers are read with a size cap and validated before
anyone trusts them. The credential is sent only in the Authorization header and never
appears in a message, a log line or a repr.
"""

from __future__ import annotations

import json
import math
import re
import ssl
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from loyalty.db import parse_iso, utc_now
from sync.protocol import (
    BatchRequest,
    BatchResponse,
    PairRequest,
    PairResponse,
    Problem,
    Updates,
    describe,
)

MAX_ANSWER_BYTES = 2 * 1024 * 1024
USER_AGENT = "citie-terminal-sync/1"
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


class InsecureURL(SyncError):
    """The URL would send the credential in clear text (plain http off this machine)."""

    code = "insecure_url"


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
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.base_url = check_url(base_url)
        self._credential = credential
        self.max_answer_bytes = max_answer_bytes
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

    def send_batch(self, batch: BatchRequest) -> BatchResponse:
        """Post one batch; the answer is checked to hold exactly one result per event."""
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
                "the platform answered for another batch; nothing was marked synced.",
                code="results_mismatch",
            )
        return response

    def send_raw_batch(self, content: bytes) -> BatchResponse:
        """Post an already-encoded batch (the outbox builds the JSON itself for speed)."""
        answer = self._request("POST", "/v1/events:batch", content=content)
        return self._parse(answer, BatchResponse)

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
        try:
            with self._http.stream(
                method, path, content=content, params=params, headers=headers
            ) as response:
                body = self._read_capped(response)
                answer = Answer(response.status_code, response.headers, body)
        except httpx.ConnectError as exc:
            if _is_tls(exc):
                raise TLSError(
                    f"the platform's certificate at {self.base_url} could not be verified "
                    f"({_short(exc)}). Check the URL and the device's clock; nothing was sent.",
                ) from None
            raise Transient(
                f"cannot connect to the platform at {self.base_url} ({_short(exc)}); "
                "events stay on this terminal and go later.",
            ) from None
        except httpx.TimeoutException as exc:
            raise Transient(
                f"the platform at {self.base_url} did not answer in time "
                f"({type(exc).__name__}); events stay on this terminal.",
                code="timeout",
            ) from None
        except (httpx.TransportError, ssl.SSLError) as exc:
            raise Transient(
                f"the connection to the platform broke ({_short(exc)}); the request is retried.",
                code="connection_lost",
            ) from None
        self._check_status(answer)
        return answer

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
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ProtocolError(
                f"the platform's answer does not follow protocol v1 ({describe(exc)}); "
                "nothing was marked synced.",
                code="bad_answer",
            ) from None


def _problem(body: bytes) -> Problem | None:
    try:
        return Problem.model_validate(json.loads(body))
    except (ValueError, UnicodeDecodeError, ValidationError):
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
