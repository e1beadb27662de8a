"""The sync protocol (v1): pydantic models shared by the terminal and the city platform.

Every list and string has a size limit and every model refuses unknown fields, so neither
side can be made to buffer or store more than it agreed to. The terminal validates the
platform's answers with these models; the platform validates each event on its own, so one
bad event is rejected alone instead of failing the whole batch.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_serializer,
)

PROTOCOL_VERSION = 1
MAX_BATCH_EVENTS = 5000
MAX_DETAIL_BYTES = 4096
MAX_PROGRAM_BYTES = 16_384
MAX_TRUST_BYTES = 65_536
MAX_UPDATE_ITEMS = 10_000
MAX_STAMPS = 100_000
MAX_CENTS = 100_000_000

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
"""Ids of events, terminals, shops, programs, cards and batches."""

Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
"""A stable machine-readable reason code."""

Sentence = Annotated[str, StringConstraints(max_length=500)]
Timestamp = Annotated[str, StringConstraints(min_length=10, max_length=40)]
Cursor = Annotated[str, StringConstraints(max_length=64, pattern=r"^[0-9]*$")]
Secret = Annotated[
    str, StringConstraints(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
]
PublicKeyHex = Annotated[
    str, StringConstraints(min_length=64, max_length=64, pattern=r"^[0-9a-f]+$")
]

EventKind = Literal["stamp", "purchase", "redeem", "void", "enroll", "voucher_spend"]
ResultStatus = Literal["accepted", "duplicate", "rejected", "retry"]

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)


_TIME_SHAPE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:[.,][0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
"""RFC 3339's shape. Python's ``fromisoformat`` alone also reads any character as the
date-time separator and after the seconds (a quote, a comma, a newline): stored as sent, such a
time broke the platform's CSV statement and fell outside every day range compared as text."""


def _check_time(value: str) -> str:
    if not _TIME_SHAPE.fullmatch(value):
        raise ValueError("not an RFC 3339 time like 2026-11-25T10:00:00.000Z")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError("not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise ValueError("a time must carry its UTC offset (…Z)")
    return value


def _check_json_object(value: dict[str, Any], limit: int, what: str) -> dict[str, Any]:
    try:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not plain JSON") from exc
    if size > limit:
        raise ValueError(f"{what} is {size} bytes, over the {limit}-byte limit")
    return value


class Event(BaseModel):
    """One ledger event as it travels to the platform (the columns of ``events``)."""

    model_config = _STRICT

    id: Id
    seq: Annotated[int, Field(ge=1, le=2**62)]
    kind: EventKind
    terminal_id: Id
    shop_id: Id
    occurred_at: Timestamp
    card_id: Id | None = None
    program_id: Id
    stamps: Annotated[int, Field(ge=-MAX_STAMPS, le=MAX_STAMPS)] = 0
    amount_cents: Annotated[int, Field(ge=-MAX_CENTS, le=MAX_CENTS)] | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    voids: Id | None = None
    receipt_no: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    voucher_id: Id | None = None
    """``voucher_spend`` and its void: the city voucher paid with (``amount_cents`` spent)."""
    staff_id: Id | None = None
    """Who recorded the event at the counter (a staff id, never a name)."""
    approver_id: Id | None = None
    """The manager whose PIN approved it, when the action needed approval."""

    @field_validator("occurred_at")
    @classmethod
    def _time(cls, value: str) -> str:
        return _check_time(value)

    @field_validator("detail")
    @classmethod
    def _detail(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_json_object(value, MAX_DETAIL_BYTES, "detail")


EVENTS = TypeAdapter(list[Event])


class BatchRequest(BaseModel):
    """``POST /v1/events:batch``: the events of one batch, in sequence order."""

    model_config = _STRICT

    v: Literal[1] = 1
    terminal_id: Id
    batch_id: Id
    events: Annotated[list[Event], Field(min_length=1, max_length=MAX_BATCH_EVENTS)]


class BatchEnvelope(BaseModel):
    """What the platform checks before it looks at each event on its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]
    terminal_id: Id
    batch_id: Id
    events: Annotated[list[Any], Field(min_length=1, max_length=MAX_BATCH_EVENTS)]


class EventResult(BaseModel):
    """The platform's verdict on one event."""

    model_config = _STRICT

    id: Annotated[str, StringConstraints(max_length=64)]
    status: ResultStatus
    reason: Code | None = None
    message: Sentence | None = None
    flags: Annotated[list[Code], Field(max_length=8)] = Field(default_factory=list)


class BatchResponse(BaseModel):
    """The answer to a batch: one result per event, and the platform's clock."""

    model_config = _STRICT

    v: Literal[1] = 1
    batch_id: Id
    server_time: Timestamp
    results: Annotated[list[EventResult], Field(max_length=MAX_BATCH_EVENTS)]

    @field_validator("server_time")
    @classmethod
    def _time(cls, value: str) -> str:
        return _check_time(value)


class PairRequest(BaseModel):
    """``POST /v1/pair``: a one-time pairing token and the terminal's public key."""

    model_config = _STRICT

    v: Literal[1] = 1
    token: Secret
    public_key: PublicKeyHex


class PairResponse(BaseModel):
    """The terminal's credential (shown once) and who the platform says it is."""

    model_config = _STRICT

    v: Literal[1] = 1
    terminal_id: Id
    shop_id: Id
    shop_name: Annotated[str, StringConstraints(max_length=80)] = ""
    credential: Secret
    server_time: Timestamp


class ProgramUpdate(BaseModel):
    """A program (with its campaigns) as ``loyalty.programs.Program`` reads it."""

    model_config = _STRICT

    id: Id
    body: dict[str, Any]

    @field_validator("body")
    @classmethod
    def _body(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_json_object(value, MAX_PROGRAM_BYTES, "program body")


class RevokedCard(BaseModel):
    """A card no terminal may accept any more."""

    model_config = _STRICT

    card_id: Id
    revoked_at: Timestamp


class ConfirmedBalance(BaseModel):
    """What the platform counts for a card in one of this shop's programs."""

    model_config = _STRICT

    card_id: Id
    program_id: Id
    stamps: Annotated[int, Field(ge=-(2**40), le=2**40)]
    version: Annotated[int, Field(ge=0)]


class VoucherState(BaseModel):
    """What the platform knows of a city voucher: spent so far city-wide, and if revoked.

    Every issued voucher is sent once (then again at each change), so a voucher id typed from
    the paper can be found; the signed code stays the proof when it is scanned. It is named by
    ``voucher_key`` (``loyalty.vouchers.voucher_key``, a slow salted hash of the id), never by
    its id: an id is enough to spend a voucher, and every terminal gets every voucher.
    """

    model_config = _STRICT

    voucher_key: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
    face_cents: Annotated[int, Field(ge=1, le=MAX_CENTS)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    expires_at: Timestamp
    campaign: Annotated[str, StringConstraints(max_length=80)] = ""
    spent_cents: Annotated[int, Field(ge=0, le=2**40)]
    revoked_at: Timestamp | None = None
    version: Annotated[int, Field(ge=0)]


class CardFlag(BaseModel):
    """A card the city flagged (fraud signals): the counter warns, it never blocks."""

    model_config = _STRICT

    card_id: Id
    reasons: Annotated[list[Code], Field(min_length=1, max_length=8)]
    flagged_at: Timestamp
    version: Annotated[int, Field(ge=0)]
    cleared: bool = False
    """An operator cleared the flag (``citie-platform flags clear``): the terminal drops its
    warning. Sent only when true, so a flag in force reads as it did before the field existed;
    ``reasons`` stay the ones that were cleared."""

    @model_serializer(mode="wrap")
    def _cleared_only_when_true(self, handler: SerializerFunctionWrapHandler) -> Any:
        # (Field(exclude_if=...) would say it in one line, but only from pydantic 2.12.)
        data = handler(self)
        if isinstance(data, dict) and not self.cleared:
            data.pop("cleared", None)
        return data


class Updates(BaseModel):
    """``GET /v1/terminals/{id}/updates?cursor=``: what changed since the cursor."""

    model_config = _STRICT

    v: Literal[1] = 1
    cursor: Cursor
    next_cursor: Cursor
    more: bool = False
    server_time: Timestamp
    trust: dict[str, Any] | None = None
    programs: Annotated[list[ProgramUpdate], Field(max_length=1000)] = Field(default_factory=list)
    revoked: Annotated[list[RevokedCard], Field(max_length=MAX_UPDATE_ITEMS)] = Field(
        default_factory=list
    )
    balances: Annotated[list[ConfirmedBalance], Field(max_length=MAX_UPDATE_ITEMS)] = Field(
        default_factory=list
    )
    vouchers: Annotated[list[VoucherState], Field(max_length=MAX_UPDATE_ITEMS)] = Field(
        default_factory=list
    )
    """City-wide, on the city's sequence (the cursor's second part), like ``revoked``."""
    flags: Annotated[list[CardFlag], Field(max_length=MAX_UPDATE_ITEMS)] = Field(
        default_factory=list
    )
    """City-wide card flags, on the city's sequence too."""

    @field_validator("trust")
    @classmethod
    def _trust(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _check_json_object(value, MAX_TRUST_BYTES, "trust list")


class Health(BaseModel):
    """``GET /v1/health``: the platform is up, and its clock."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    v: Literal[1] = 1
    ok: bool
    server_time: Timestamp


class Problem(BaseModel):
    """An error answer: a stable reason code and a sentence saying what to do."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1] = 1
    error: Code
    message: Sentence = ""


def describe(exc: ValidationError, limit: int = 3) -> str:
    """A short, single-line summary of what failed validation (for reasons and logs)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
