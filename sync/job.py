"""One sync run: backup, push, pull, summary. Used by ``citie-terminal sync`` and the app.

Exit codes (``SyncReport.exit_code``): 0 every event synced (events recorded while the run
was going are not a failure: they go with the next run); 1 some events are quarantined (the
platform rejected them; they are kept and shown); 2 the platform could not be reached
(outcome ``unreachable``), answered nonsense (``protocol_error``), asked for events again
until the run ended (``pending``), refused a request (``rejected``), the run was cancelled
(``cancelled``) or another sync was running (``busy``): events kept, the next run sends them;
3 an auth or configuration problem (not paired, credential refused, insecure URL, bad
certificate setup). Each run is recorded in ``sync_runs``. Nothing here prints: log lines and
progress go to the callbacks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from config import Settings
from loyalty.db import DatabaseError, Store, iso, utc_now
from loyalty.keys import KeyFileError, check_private
from loyalty.ledger import Ledger
from sync.client import (
    AuthError,
    Cancelled,
    InsecureURL,
    PlatformClient,
    ProtocolError,
    RateLimited,
    Rejected,
    SyncError,
    TLSError,
    Transient,
)
from sync.lock import SyncBusy, sync_lock
from sync.outbox import Progress, SendReport, counts, resend_all, send
from sync.puller import PullReport, pull
from sync.retry import Retrier, RetryPolicy

EXIT_OK = 0
EXIT_QUARANTINED = 1
EXIT_UNREACHABLE = 2
EXIT_AUTH_OR_CONFIG = 3

Log = Callable[[dict[str, Any]], None]


@dataclass
class SyncReport:
    """What a sync run did and how it ended."""

    outcome: str = "ok"
    exit_code: int = EXIT_OK
    message: str = ""
    code: str = ""
    started_at: str = ""
    finished_at: str = ""
    seconds: float = 0.0
    backup: str | None = None
    push: SendReport | None = None
    pull: PullReport | None = None
    pending: int = 0
    pending_new: int = 0
    """Of ``pending``, the events recorded while the run was going (not a failure)."""
    quarantined: int = 0
    synced: int = 0
    resent: int = 0
    """Events ``resend_all`` put back to pending before this run."""
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The summary as one JSON object (the last log line of a run)."""
        return {
            "event": "sync_finished",
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "code": self.code or None,
            "message": self.message,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "seconds": round(self.seconds, 3),
            "backup": self.backup,
            "push": None if self.push is None else self.push.to_json(),
            "pull": None if self.pull is None else self.pull.to_json(),
            "pending": self.pending,
            "pending_new": self.pending_new,
            "quarantined": self.quarantined,
            "resent": self.resent,
            "synced": self.synced,
            "warnings": self.warnings,
        }


def read_credential(settings: Settings) -> str:
    """The terminal's platform credential, refusing a missing or too-open file."""
    path = settings.token_path
    if not path.exists():
        raise AuthError(
            f"this terminal is not paired (no credential at {path}). "
            "Run `citie-terminal pair URL TOKEN` with a token from the platform operator.",
            code="not_paired",
        )
    try:
        check_private(path)
        credential = path.read_text(encoding="ascii").strip()
    except (KeyFileError, OSError, UnicodeDecodeError) as exc:
        raise AuthError(f"cannot use the credential file: {exc}", code="credential_file") from exc
    if not credential:
        raise AuthError(f"the credential file {path} is empty; pair again.", code="not_paired")
    return credential


def make_client(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    cancel: threading.Event | None = None,
) -> PlatformClient:
    """A client for the configured platform with this terminal's credential."""
    if not settings.platform.url:
        raise AuthError(
            "no platform URL is configured ([platform] url is empty). "
            "Run `citie-terminal pair URL TOKEN` first.",
            code="no_platform",
        )
    return PlatformClient(
        settings.platform.url,
        read_credential(settings),
        transport=transport,
        connect_timeout=settings.platform.connect_timeout,
        read_timeout=settings.platform.read_timeout,
        cancel=cancel,
    )


def run_sync(
    settings: Settings,
    store: Store,
    *,
    progress: Progress | None = None,
    log: Log | None = None,
    transport: httpx.BaseTransport | None = None,
    policy: RetryPolicy | None = None,
    backup: bool = True,
    cancel: threading.Event | None = None,
    on_unreachable: Callable[[], None] | None = None,
    resend: bool = False,
) -> SyncReport:
    """Backup, push, pull and summarise one sync; never raises for a sync failure.

    ``cancel`` (set from another thread) stops the run within a fraction of a second, between
    or during requests and retry waits: outcome ``cancelled``, events stay pending.
    ``on_unreachable`` is called once, from the sync's thread, as soon as a request fails for
    want of the platform (before any retry), so a status line can say offline at once.
    ``resend`` first marks every event pending again (``citie-terminal sync --resend-all``).
    """
    report = SyncReport(started_at=iso(utc_now()))
    started = time.monotonic()
    say: Log = log or (lambda _line: None)
    policy = policy or RetryPolicy(budget=settings.sync.time_budget_seconds)
    try:
        with sync_lock(store.path):
            run_id = _start_run(store, report)
            say({"event": "sync_started", "terminal_id": settings.terminal.id})
            before = _last_seq(store)
            try:
                if resend:
                    report.resent = resend_all(store)
                    say({"event": "resend_all", "events": report.resent})
                hooks = _Hooks(say, on_unreachable)
                retrier = Retrier(
                    policy, cancel=cancel, on_retry=hooks.retry, on_failure=hooks.failure
                )
                _run(settings, store, report, say, progress, transport, retrier, backup)
            finally:
                _finish(store, report, started, before)
                _record_run(store, run_id, report)
    except SyncBusy as exc:
        _fail(report, "busy", EXIT_UNREACHABLE, exc.code, str(exc))
        report.finished_at = iso(utc_now())
        report.seconds = time.monotonic() - started
    except DatabaseError as exc:
        # The ledger could not keep the run's bookkeeping (disk full, I/O error, locked):
        # what the platform accepted and was marked synced stays so; the rest stays pending
        # and goes with the next run. Said as a result, never raised at the nightly job.
        _fail(report, "error", EXIT_UNREACHABLE, "database_error", exc.text("en"))
        report.finished_at = report.finished_at or iso(utc_now())
        report.seconds = time.monotonic() - started
    say(report.to_json())
    return report


class _Hooks:
    """The retrier's callbacks: a log line per retry, and the first failure told once."""

    def __init__(self, say: Log, on_unreachable: Callable[[], None] | None) -> None:
        self.say = say
        self.on_unreachable = on_unreachable
        self.told = False

    def retry(self, exc: SyncError, wait: float, tries: int) -> None:
        self.say(
            {
                "event": "retry_scheduled",
                "try": tries,
                "wait_seconds": round(wait, 3),
                "code": exc.code,
                "message": exc.message,
            }
        )

    def failure(self, exc: SyncError) -> None:
        # 429 means the platform is there and answering: not offline.
        if self.told or isinstance(exc, RateLimited) or self.on_unreachable is None:
            return
        self.told = True
        self.on_unreachable()


def _last_seq(store: Store) -> int:
    row = store.read().execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()
    return int(row[0])


def _run(
    settings: Settings,
    store: Store,
    report: SyncReport,
    say: Log,
    progress: Progress | None,
    transport: httpx.BaseTransport | None,
    retrier: Retrier,
    backup: bool,
) -> None:
    try:
        client = make_client(settings, transport=transport, cancel=retrier.cancel)
    except (AuthError, InsecureURL) as exc:
        _fail(report, "config", EXIT_AUTH_OR_CONFIG, exc.code, exc.message)
        return
    # The budget is the platform's time: it starts once the client is built.
    client.deadline = retrier.start()
    with client:
        try:
            report.push = send(
                store,
                client,
                terminal_id=settings.terminal.id,
                batch_size=settings.sync.batch_size,
                progress=progress,
                retrier=retrier,
            )
            say({"event": "push_finished", **report.push.to_json()})
            report.pull = pull(store, client, settings.terminal.id, retrier=retrier)
            say({"event": "pull_finished", **report.pull.to_json()})
            report.warnings.extend(report.pull.warnings)
        except AuthError as exc:
            _fail(report, "auth", EXIT_AUTH_OR_CONFIG, exc.code, exc.message)
        except TLSError as exc:
            _fail(report, "config", EXIT_AUTH_OR_CONFIG, exc.code, exc.message)
        except Cancelled as exc:
            _fail(report, "cancelled", EXIT_UNREACHABLE, exc.code, exc.message)
        except Transient as exc:
            _fail(report, "unreachable", EXIT_UNREACHABLE, exc.code, exc.message)
        except ProtocolError as exc:
            _fail(report, "protocol_error", EXIT_UNREACHABLE, exc.code, exc.message)
        except Rejected as exc:
            _fail(report, "rejected", EXIT_UNREACHABLE, exc.code, exc.message)
        except SyncError as exc:
            _fail(report, "error", EXIT_UNREACHABLE, exc.code, exc.message)
    # Only a run that reached the platform makes a backup: a run that could not would
    # push a good backup out of the kept ones with a copy that holds nothing new.
    if backup and report.pull is not None and settings.sync.keep_backups > 0:
        _backup(settings, store, report, say)


def _backup(settings: Settings, store: Store, report: SyncReport, say: Log) -> None:
    """The nightly full integrity check, then ``Ledger.backup`` (the same as ``ledger backup``).

    A damaged ledger is not backed up: its copy would push a good backup out.
    """
    try:
        store.integrity_check()
        ledger = Ledger(store, shop_id=settings.shop.id, terminal_id=settings.terminal.id)
        path = ledger.backup(settings.backup_dir, settings.sync.keep_backups)
        report.backup = str(path)
        say({"event": "backup", "path": str(path)})
    except (OSError, ValueError, DatabaseError) as exc:
        # A failed backup must not keep events from leaving; say it loudly.
        warning = f"backup_failed: {exc}"
        report.warnings.append(warning)
        say({"event": "warning", "message": warning})


def _fail(report: SyncReport, outcome: str, exit_code: int, code: str, message: str) -> None:
    report.outcome = outcome
    report.exit_code = exit_code
    report.code = code
    report.message = message


def _finish(store: Store, report: SyncReport, started: float, before: int) -> None:
    found = counts(store.read())
    report.pending = found["pending"] + found["in_flight"]
    report.quarantined = found["quarantined"]
    report.synced = found["synced"]
    row = (
        store.read()
        .execute(
            "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'in_flight') AND seq > ?",
            [before],
        )
        .fetchone()
    )
    report.pending_new = int(row[0])
    left = report.pending - report.pending_new
    if report.exit_code == EXIT_OK:
        if report.quarantined:
            report.outcome = "quarantined"
            report.exit_code = EXIT_QUARANTINED
            report.code = "quarantined"
            report.message = (
                f"{report.quarantined} event(s) were rejected by the platform and are kept "
                "aside; see the sync screen or `citie-terminal sync --show-quarantined`."
            )
        elif left:
            # The platform answered, but asked for these again until the run ended.
            report.outcome = "pending"
            report.exit_code = EXIT_UNREACHABLE
            report.code = "pending_left"
            report.message = (
                f"{left} event(s) are still pending (the platform asked for them again); "
                "the next run sends them."
            )
        elif report.pending_new:
            report.message = (
                f"every event is synced; {report.pending_new} recorded during the run go "
                "with the next one."
            )
        else:
            report.message = "every event is synced."
    report.finished_at = iso(utc_now())
    report.seconds = time.monotonic() - started


def _start_run(store: Store, report: SyncReport) -> int:
    with store.write() as db:
        cursor = db.execute("INSERT INTO sync_runs (started_at) VALUES (?)", [report.started_at])
        return int(cursor.lastrowid or 0)


def _record_run(store: Store, run_id: int, report: SyncReport) -> None:
    push = report.push or SendReport()
    with store.write() as db:
        db.execute(
            "UPDATE sync_runs SET finished_at = ?, outcome = ?, sent = ?, accepted = ?, "
            "duplicate = ?, rejected = ?, message = ? WHERE id = ?",
            [
                report.finished_at,
                report.outcome,
                push.sent,
                push.accepted,
                push.duplicate,
                push.rejected + push.quarantined_locally,
                report.message[:500],
                run_id,
            ],
        )
