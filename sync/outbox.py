"""The outbox sender: ship pending events to the platform in batches, exactly once in effect.

Outbox rows move ``pending -> in_flight -> synced | quarantined``. A batch keeps its id on its
rows until the platform's answer is applied, so a batch cut short (a dropped answer, a killed
process) is sent again under the same id, and the platform's permanent dedupe on event ids
turns the replay into ``duplicate`` answers. Per-event results are applied in one
transaction, and only from an answer for that batch with exactly one result per event
(``PlatformClient.send_batch`` checks both). Retries go through stamina with capped
exponential backoff, full jitter, a total time budget, and never sooner than the platform's
Retry-After. ``resend_all`` puts every event back to ``pending`` for a platform that lost its
data; the platform's dedupe answers ``duplicate`` for those it still has.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import sqlite_utils
from pydantic import ValidationError

from loyalty.db import Store, iso, parse_iso, utc_now
from loyalty.ledger import note_platform_time
from sync.client import PayloadTooLarge, PlatformClient, Rejected, server_clock_offset
from sync.protocol import EVENTS, BatchRequest, BatchResponse, Event, describe
from sync.retry import Retrier, RetryPolicy

__all__ = [
    "RetryPolicy",
    "SendProgress",
    "SendReport",
    "counts",
    "resend_all",
    "reset_in_flight",
    "send",
]

MAX_PASSES = 3
EVENT_COLUMNS = (
    "id, seq, kind, terminal_id, shop_id, occurred_at, card_id, program_id, stamps, "
    "amount_cents, currency, voids, receipt_no, detail, voucher_id, staff_id, approver_id"
)


@dataclass
class SendProgress:
    """How far a push got; passed to the progress callback after each batch."""

    batches: int
    sent: int
    synced: int
    quarantined: int
    pending: int


@dataclass
class SendReport:
    """What one push did."""

    batches: int = 0
    requests: int = 0
    retries: int = 0
    sent: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    retry_later: int = 0
    quarantined_locally: int = 0
    overdrafts: int = 0
    clock_offset_seconds: float | None = None
    quarantined: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The figures for a log line (event ids of quarantined events included)."""
        data = {k: v for k, v in self.__dict__.items() if k != "quarantined"}
        data["quarantined"] = [{"id": i, "reason": r} for i, r in self.quarantined[:50]]
        return data


Progress = Callable[[SendProgress], None]


def reset_in_flight(store: Store) -> int:
    """Put rows left ``in_flight`` by a run that did not finish back to ``pending``.

    Their batch id stays, so they are sent again under the same id.
    """
    with store.write() as db:
        cursor = db.execute(
            "UPDATE outbox SET state = 'pending', updated_at = ? WHERE state = 'in_flight'",
            [iso(utc_now())],
        )
        return int(cursor.rowcount)


def resend_all(store: Store) -> int:
    """Mark every event ``pending`` again, under new batch ids; returns how many changed.

    For a terminal paired again after its platform lost its data: events already synced (or
    refused) are sent once more, and the platform's dedupe answers ``duplicate`` for those it
    has. Balances stay right because the ledger's triggers follow each row's state.
    """
    with store.write() as db:
        cursor = db.execute(
            "UPDATE outbox SET state = 'pending', batch_id = NULL, reason = NULL, "
            "updated_at = ? WHERE state != 'pending' OR batch_id IS NOT NULL",
            [iso(utc_now())],
        )
        return int(cursor.rowcount)


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Outbox rows per state (every state present, zero when empty)."""
    found = {state: 0 for state in ("pending", "in_flight", "synced", "quarantined")}
    for state, number in db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"):
        found[str(state)] = int(number)
    return found


def send(
    store: Store,
    client: PlatformClient,
    *,
    terminal_id: str,
    batch_size: int,
    policy: RetryPolicy | None = None,
    progress: Progress | None = None,
    retrier: Retrier | None = None,
) -> SendReport:
    """Send every pending event. Raises the client's errors when the run must stop.

    Transient failures are retried within the policy's budget; when it runs out, the
    ``Transient`` propagates and the events stay pending. ``AuthError``, ``Rejected`` and
    ``ProtocolError`` stop at once. Whatever stops the run, nothing is marked synced that
    the platform did not confirm.
    """
    retrier = retrier or Retrier(policy or RetryPolicy())
    report = SendReport()
    reset_in_flight(store)
    size = batch_size
    for _pass in range(MAX_PASSES):
        after = 0
        retried_before = report.retry_later
        while True:
            batch = _take_batch(store, after, size)
            if batch is None:
                break
            batch_id, seqs = batch
            after = seqs[-1]
            events = _load_events(store, seqs, report)
            if not events:
                continue
            try:
                batch_request = BatchRequest(
                    terminal_id=terminal_id, batch_id=batch_id, events=events
                )
            except ValidationError as exc:
                _release(store, seqs, keep_batch=True)
                raise Rejected(
                    f"this terminal's batch cannot be sent ({describe(exc)}); "
                    "check [terminal] id in the config.",
                    status=0,
                    code="bad_batch",
                ) from None
            try:
                sent_at = time.time()
                response = retrier.call(partial(client.send_batch, batch_request))
                received_at = time.time()
            except PayloadTooLarge:
                _release(store, seqs, keep_batch=False)
                if len(events) == 1:
                    _quarantine_local(
                        store,
                        events[0].seq,
                        "too_large",
                        "the platform refuses this event as too large.",
                        report,
                        events[0].id,
                    )
                else:
                    size = max(1, len(events) // 2)
                    after = seqs[0] - 1
                continue
            except Exception:
                # A wrong answer (ProtocolError), a cancel or the budget puts the rows back
                # under the same batch id, so a resend is answered ``duplicate``; a dying
                # process (KeyboardInterrupt, SIGKILL) leaves them in_flight and the next run
                # puts them back the same way.
                _release(store, seqs, keep_batch=True)
                raise
            offset = server_clock_offset(response.server_time, sent_at, received_at)
            if offset is not None:
                report.clock_offset_seconds = offset
            _apply(store, response, events, report)
            report.batches += 1
            report.sent += len(events)
            if progress is not None:
                with_counts = counts(store.read())
                progress(
                    SendProgress(
                        batches=report.batches,
                        sent=report.sent,
                        synced=with_counts["synced"],
                        quarantined=with_counts["quarantined"],
                        pending=with_counts["pending"] + with_counts["in_flight"],
                    )
                )
        if report.retry_later == retried_before:
            break
        # The platform asked for some events again: give it a moment, within the budget.
        retrier.pause(min(retrier.policy.initial, retrier.remaining()))
    report.requests = retrier.requests
    report.retries = retrier.retries
    if report.clock_offset_seconds is not None:
        with store.write() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('clock_offset_seconds', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [f"{report.clock_offset_seconds:.3f}"],
            )
    return report


def _take_batch(store: Store, after: int, size: int) -> tuple[str, list[int]] | None:
    """Mark the next batch ``in_flight`` and return its id and sequence numbers."""
    with store.write() as db:
        rows = db.execute(
            "SELECT seq, batch_id FROM outbox WHERE state = 'pending' AND seq > ? "
            "ORDER BY seq LIMIT ?",
            [after, size],
        ).fetchall()
        if not rows:
            return None
        batch_id = rows[0][1]
        if batch_id is None:
            batch_id = _new_batch_id()
            seqs = []
            for seq, row_batch in rows:
                if row_batch is not None:
                    break
                seqs.append(int(seq))
        else:
            seqs = []
            for seq, row_batch in rows:
                if row_batch != batch_id:
                    break
                seqs.append(int(seq))
        db.execute(
            "UPDATE outbox SET state = 'in_flight', batch_id = ?, attempts = attempts + 1, "
            "updated_at = ? WHERE seq IN (SELECT value FROM json_each(?))",
            [batch_id, iso(utc_now()), json.dumps(seqs)],
        )
    return str(batch_id), seqs


def _new_batch_id() -> str:
    from uuid6 import uuid7  # noqa: PLC0415  (untyped module, imported where used)

    return f"b-{uuid7()}"


def _load_events(store: Store, seqs: list[int], report: SendReport) -> list[Event]:
    """The batch's events, validated; events that fail validation are quarantined."""
    rows = (
        store.read()
        .execute(
            f"SELECT {EVENT_COLUMNS} FROM events "  # noqa: S608  (constant column list)
            "WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq",
            [json.dumps(seqs)],
        )
        .fetchall()
    )
    names = [c.strip() for c in EVENT_COLUMNS.split(",")]
    raw: list[dict[str, Any]] = []
    bad: list[tuple[int, str, str]] = []
    for row in rows:
        data = dict(zip(names, row, strict=True))
        try:
            data["detail"] = json.loads(data["detail"] or "{}")
        except ValueError:
            bad.append((data["seq"], data["id"], "the event's detail is not JSON"))
            continue
        raw.append(data)
    events: list[Event] = []
    try:
        events = EVENTS.validate_python(raw)
    except ValidationError:
        for data in raw:
            try:
                events.append(Event.model_validate(data))
            except ValidationError as exc:
                bad.append((data["seq"], data["id"], describe(exc)))
    for seq, event_id, why in bad:
        _quarantine_local(store, seq, "malformed", f"not sendable: {why}", report, event_id)
    return events


def _quarantine_local(
    store: Store, seq: int, code: str, sentence: str, report: SendReport, event_id: str
) -> None:
    reason = f"{code}: {sentence}"[:500]
    with store.write() as db:
        db.execute(
            "UPDATE outbox SET state = 'quarantined', reason = ?, updated_at = ? WHERE seq = ?",
            [reason, iso(utc_now()), seq],
        )
    report.quarantined_locally += 1
    report.quarantined.append((event_id, reason))


def _release(store: Store, seqs: list[int], *, keep_batch: bool) -> None:
    """Back to ``pending`` after a failed try; keep the batch id unless the batch is re-cut."""
    with store.write() as db:
        db.execute(
            "UPDATE outbox SET state = 'pending', "
            "batch_id = CASE WHEN ? THEN batch_id ELSE NULL END, updated_at = ? "
            "WHERE state = 'in_flight' AND seq IN (SELECT value FROM json_each(?))",
            [keep_batch, iso(utc_now()), json.dumps(seqs)],
        )


def _apply(store: Store, response: BatchResponse, events: list[Event], report: SendReport) -> None:
    """Apply one result per event in one transaction."""
    seq_of = {e.id: e.seq for e in events}
    now = iso(utc_now())
    synced: list[tuple[str, int]] = []
    rejected: list[tuple[str, str, int]] = []
    again: list[tuple[str, int]] = []
    for result in response.results:
        seq = seq_of[result.id]
        if result.status in ("accepted", "duplicate"):
            synced.append((now, seq))
            if result.status == "accepted":
                report.accepted += 1
            else:
                report.duplicate += 1
            if "overdraft" in result.flags:
                report.overdrafts += 1
        elif result.status == "rejected":
            reason = f"{result.reason or 'rejected'}: {result.message or 'refused by the platform'}"
            rejected.append((reason[:500], now, seq))
            report.rejected += 1
            report.quarantined.append((result.id, reason[:500]))
        else:
            again.append((now, seq))
            report.retry_later += 1
    with store.write() as db:
        # Events dated well past the platform's clock stop holding the ledger's time floor.
        with contextlib.suppress(ValueError):
            note_platform_time(db, parse_iso(response.server_time), max(seq_of.values()))
        conn = db.conn
        conn.executemany(
            "UPDATE outbox SET state = 'synced', reason = NULL, updated_at = ? WHERE seq = ?",
            synced,
        )
        conn.executemany(
            "UPDATE outbox SET state = 'quarantined', reason = ?, updated_at = ? WHERE seq = ?",
            rejected,
        )
        conn.executemany(
            "UPDATE outbox SET state = 'pending', batch_id = NULL, updated_at = ? WHERE seq = ?",
            again,
        )
