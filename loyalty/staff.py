"""Staff accounts on this terminal: who is at the counter, their PIN, and who may approve.

Every event names the staff member who recorded it (an id, never a name: ``st-`` and random
characters), and a manager's id when the action needed approval. A PIN (4 to 8 digits) is kept
only as a salted ``hashlib.scrypt`` hash whose parameters are stored with it, so a later,
stronger setting still checks the old hashes (and rehashes them at the next good PIN). The PIN
itself is never stored, logged, printed or put in an exception.

Wrong PINs are throttled: after each failure the next try waits a growing delay (0, 1, 2, 4,
8 ... seconds), stored in the ledger so a restart does not reset it, and the account is locked
after ``max_failures`` wrong PINs in a row until a manager unlocks it. Staff are never deleted:
events name their ids forever, so ``remove`` only marks them. Once any account exists, the
ledger refuses a write that names no staff member (``Ledger._append``).
"""

from __future__ import annotations

import base64
import builtins
import getpass
import hashlib
import hmac
import math
import os
import re
import secrets
import sys
import unicodedata
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import sqlite_utils

from config.settings import LimitSettings
from loyalty.db import Store, iso, parse_iso, utc_now
from loyalty.i18n import Catalog

CATALOG = Catalog("staff", "loyalty", "staff")

PIN_PATTERN: Final = re.compile(r"[0-9]{4,8}")
"""A PIN: 4 to 8 ASCII digits (``\\d`` would take other scripts' digits too)."""

NAME_MAX: Final = 40
ID_PATTERN: Final = re.compile(r"st-[a-z0-9]{4,32}")

SCRYPT_N: Final = 2**15
"""scrypt cost: 32 MiB and ~50-70 ms per check (``bench/staff_pin.py``); 2**14 is the floor."""
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
SALT_BYTES: Final = 16
HASH_BYTES: Final = 32
_MAXMEM: Final = 256 * 1024 * 1024

MAX_DELAY_SECONDS: Final = 300
"""The longest wait between two tries, however many failures (the lock stops them anyway)."""

PIN_ENV: Final = "CITIE_STAFF_PIN"
APPROVER_PIN_ENV: Final = "CITIE_APPROVER_PIN"


class Role(StrEnum):
    """What a staff member may do: a manager also approves and manages staff."""

    CASHIER = "cashier"
    MANAGER = "manager"


class StaffReason(StrEnum):
    """Why a staff action was refused (stable codes for scripts and the app)."""

    UNKNOWN_STAFF = "unknown_staff"
    PIN_FORMAT = "pin_format"
    PIN_MISMATCH = "pin_mismatch"
    PIN_MISSING = "pin_missing"
    WRONG_PIN = "wrong_pin"
    LOCKED = "locked"
    THROTTLED = "throttled"
    NOT_A_MANAGER = "not_a_manager"
    LAST_MANAGER = "last_manager"
    MANAGER_FIRST = "manager_first"
    NAME_TAKEN = "name_taken"
    NAME_FORMAT = "name_format"
    STAFF_REQUIRED = "staff_required"
    APPROVAL_NEEDED = "approval_needed"
    SAME_PERSON = "same_person"


class StaffError(Exception):
    """A refused staff action: ``reason`` (a stable code), English ``message``, ``text(lang)``.

    Never holds a PIN: only names (without control characters), counts and delays go into
    its sentence.
    """

    def __init__(
        self, reason: StaffReason, key: str | None = None, *, retry_after: int = 0, **params: Any
    ) -> None:
        self.reason = reason
        self.key = key or f"staff.{reason.value}"
        self.retry_after = retry_after
        if isinstance(params.get("name"), str):
            # A name as typed (--staff, --approver, history --staff) is echoed back: never
            # its control characters (an escape sequence would drive the shop's terminal).
            params["name"] = _shown(params["name"])
        self.params: dict[str, Any] = {**params, "seconds": retry_after} if retry_after else params
        self.message = CATALOG.text(self.key, "en", **self.params)
        super().__init__(f"{reason.value}: {self.message}")

    def text(self, language: str) -> str:
        """The refusal in the counter's language."""
        return CATALOG.text(self.key, language, **self.params)


@dataclass(frozen=True)
class StaffMember:
    """One staff account as stored (never its PIN or hash)."""

    id: str
    name: str
    role: Role
    locked: bool
    failures: int
    created_at: datetime
    removed_at: datetime | None = None

    @property
    def is_manager(self) -> bool:
        """A manager approves, unlocks and manages staff."""
        return self.role is Role.MANAGER

    @property
    def first_name(self) -> str:
        """The first word of the name (what a slip shows with ``[staff] slip_name = first``)."""
        return self.name.split()[0] if self.name.split() else self.name

    def to_json(self) -> dict[str, Any]:
        """The account as a JSON-ready dict."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.value,
            "locked": self.locked,
            "failures": self.failures,
            "created_at": iso(self.created_at),
            "removed_at": None if self.removed_at is None else iso(self.removed_at),
        }


# --- names and PINs ----------------------------------------------------------------------


def clean_name(name: str) -> str:
    """A staff name as stored: NFKC, spaces collapsed; ``StaffError`` (name_format) if unfit.

    1 to 40 characters, no control or format characters (a bidi override would make a
    history line read differently from what it holds), not starting with ``= + - @`` (a
    formula in a spreadsheet), not shaped like a staff id, and no word mixing Latin with
    Cyrillic or Greek letters (``staff.name_scripts``).
    """
    # NFKC: a fullwidth "Ｍａｒｉｅ" or a ligature is stored as the plain letters, so it is
    # the same name as "Marie" (name_taken), not a look-alike second account.
    raw = unicodedata.normalize("NFKC", name)
    if any(unicodedata.category(char).startswith("C") for char in raw):
        raise StaffError(StaffReason.NAME_FORMAT, max=NAME_MAX)
    text = " ".join(raw.split())
    if not 1 <= len(text) <= NAME_MAX or ID_PATTERN.fullmatch(text.lower()):
        raise StaffError(StaffReason.NAME_FORMAT, max=NAME_MAX)
    if text[0] in "=+-@":
        # A name goes into report --csv: a spreadsheet would run a cell starting so.
        raise StaffError(StaffReason.NAME_FORMAT, max=NAME_MAX)
    if any(len(_lookalike_scripts(word)) > 1 for word in text.split()):
        # "Аnna" with a Cyrillic А reads as Anna in history and reports, yet is another
        # account; a name may mix alphabets across words ("Ольга Smith"), never within one.
        raise StaffError(StaffReason.NAME_FORMAT, "staff.name_scripts")
    return text


_LOOKALIKE: Final = frozenset({"LATIN", "CYRILLIC", "GREEK"})
"""Alphabets with letters that look the same (a, а, α; o, о, ο; ...)."""


def _lookalike_scripts(word: str) -> set[str]:
    """Which of the look-alike alphabets the letters of ``word`` come from."""
    found = set()
    for char in word:
        if char.isalpha():
            script = unicodedata.name(char, "").split(" ", 1)[0]
            if script in _LOOKALIKE:
                found.add(script)
    return found


def name_key(name: str) -> str:
    """How names are compared: NFKC and case-folded, so "Anna", "ANNA" and "Ａｎｎａ" are one."""
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


def check_pin_format(pin: str) -> str:
    """The PIN if it is 4 to 8 digits, else ``StaffError`` (pin_format)."""
    if not isinstance(pin, str) or not PIN_PATTERN.fullmatch(pin):
        raise StaffError(StaffReason.PIN_FORMAT)
    return pin


def hash_pin(pin: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$salt$hash`` (salt and hash in base64): the only form a PIN is kept in."""
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(pin, salt, n, r, p)
    return "$".join(("scrypt", str(n), str(r), str(p), _b64(salt), _b64(digest)))


def pin_matches(pin: str, stored: str) -> bool:
    """Whether ``pin`` is the one ``stored`` was made from (constant-time compare)."""
    try:
        scheme, n_text, r_text, p_text, salt_text, digest_text = stored.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt, digest = base64.b64decode(salt_text), base64.b64decode(digest_text)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    return hmac.compare_digest(_scrypt(pin, salt, n, r, p, len(digest)), digest)


def _weaker(stored: str) -> bool:
    parts = stored.split("$")
    try:
        return (int(parts[1]), int(parts[2]), int(parts[3])) < (SCRYPT_N, SCRYPT_R, SCRYPT_P)
    except (IndexError, ValueError):
        return True


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int, size: int = HASH_BYTES) -> bytes:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=size, maxmem=_MAXMEM)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# A hash nobody's PIN matches: an unknown name costs the same time as a known one.
_DUMMY: Final = "$".join(
    ("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(b"\0" * 16), _b64(b"\0" * 32))
)


def delay_after(failures: int) -> int:
    """Seconds before the next try after ``failures`` wrong PINs in a row: 0, 1, 2, 4, 8 ..."""
    if failures <= 1:
        return 0
    return int(min(2 ** (failures - 2), MAX_DELAY_SECONDS))


# --- approval ------------------------------------------------------------------------------


def approval_needed(
    action: str,
    *,
    limits: LimitSettings,
    count: int | None = None,
    amount_cents: int | None = None,
    beyond_offline: bool = False,
) -> str | None:
    """Why ``action`` needs a manager's approval (a reason key), or None when it does not.

    ``void``: always. ``stamp`` with a hand-typed ``count`` above ``approval_over_stamps``:
    ``stamps_over``. ``purchase`` (or ``voucher_spend``) above ``approval_over_cents``:
    ``purchase_over`` (``voucher_over``). ``redeem`` beyond the offline allowance when
    ``allow_manager_override`` is on: ``redeem_override`` (when it is off the ledger refuses
    it whoever approves). A limit means what it says: 0 asks a manager for every typed count
    (every purchase); the largest value the setting takes asks for none.
    """
    if action == "void":
        return "void"
    if action == "stamp" and count is not None:
        # 0 is the strictest limit, never "off": a setting read the plain way must not
        # quietly let every cashier through.
        return "stamps_over" if count > limits.approval_over_stamps else None
    if action in ("purchase", "voucher_spend") and amount_cents is not None:
        if amount_cents > limits.approval_over_cents:
            return "purchase_over" if action == "purchase" else "voucher_over"
        return None
    if action == "redeem" and beyond_offline and limits.allow_manager_override:
        return "redeem_override"
    return None


def approval_text(key: str, language: str, *, limits: LimitSettings) -> str:
    """The sentence saying what an action needs, e.g. "A void needs a manager's approval."."""
    return CATALOG.text(
        f"staff.approval.{key}",
        language,
        stamps=limits.approval_over_stamps,
        amount=_money(limits.approval_over_cents, language),
    )


def _money(cents: int, language: str) -> str:
    from loyalty.i18n import money  # noqa: PLC0415 - Babel formatting only when a sentence is made

    return money(cents, language)


# --- reading a PIN ---------------------------------------------------------------------------


_TAKEN: dict[str, str] = {}
"""PINs moved out of the environment by ``take_env_pins``: this process alone holds them."""


def take_env_pins(environ: MutableMapping[str, str] | None = None) -> None:
    """Move ``CITIE_STAFF_PIN`` / ``CITIE_APPROVER_PIN`` out of the environment, into memory.

    Called first thing by the command line: a child process (the scanner, a printer
    command) inherits the environment, and would hold the PIN for as long as it runs, in
    ``/proc/<pid>/environ`` and in any crash report that dumps it. ``read_pin`` takes the
    PIN from here; what a previous call took is forgotten (one command, its own PINs).
    """
    environ = os.environ if environ is None else environ
    _TAKEN.clear()
    for name in (PIN_ENV, APPROVER_PIN_ENV):
        value = environ.pop(name, None)
        if value is not None:
            _TAKEN[name] = value


def read_pin(
    language: str,
    *,
    env_var: str = PIN_ENV,
    prompt_key: str = "staff.prompt.pin",
    name: str = "",
) -> str:
    """A PIN from ``env_var`` (see ``take_env_pins``), else standard input (getpass on a
    terminal, else one line).

    Never from the command line (``ps`` shows every process's arguments). The PIN is checked
    for its form here; ``StaffError`` pin_missing or pin_format (whose sentences never hold it).
    """
    # Read once and gone: taken at start (``take_env_pins``), else out of the environment now.
    value = _TAKEN.pop(env_var, None)
    if value is None:
        value = os.environ.pop(env_var, None)
    if value is None:
        if sys.stdin is not None and sys.stdin.isatty():
            try:
                value = getpass.getpass(CATALOG.text(prompt_key, language, name=name))
            except EOFError:
                value = ""
        else:
            line = sys.stdin.readline() if sys.stdin is not None else ""
            if not line:
                raise StaffError(StaffReason.PIN_MISSING, env=env_var)
            value = line.rstrip("\r\n")
    value = value.strip()
    if not value:
        raise StaffError(StaffReason.PIN_MISSING, env=env_var)
    return check_pin_format(value)


# --- the book --------------------------------------------------------------------------------

_COLUMNS = "id, name, role, locked, failures, created_at, removed_at"


def _member(row: tuple[Any, ...]) -> StaffMember:
    return StaffMember(
        id=str(row[0]),
        name=str(row[1]),
        role=Role(row[2]),
        locked=bool(row[3]),
        failures=int(row[4]),
        created_at=parse_iso(str(row[5])),
        removed_at=None if row[6] is None else parse_iso(str(row[6])),
    )


def any_staff(db: sqlite_utils.Database) -> bool:
    """Whether an active staff account exists (then every recorded action needs one)."""
    return db.execute("SELECT 1 FROM staff WHERE removed_at IS NULL LIMIT 1").fetchone() is not None


def active_role(db: sqlite_utils.Database, staff_id: str) -> Role | None:
    """The role of the active account ``staff_id``; None when there is no such account."""
    member = acting_account(db, staff_id)
    return None if member is None else member.role


def acting_account(db: sqlite_utils.Database, staff_id: str) -> StaffMember | None:
    """The account ``staff_id`` unless removed (locked ones too: the caller refuses them)."""
    row = db.execute(
        f"SELECT {_COLUMNS} FROM staff WHERE id = ? AND removed_at IS NULL",  # noqa: S608
        [staff_id],
    ).fetchone()
    return None if row is None else _member(row)


class StaffBook:
    """The terminal's staff accounts, kept in the ledger's ``staff`` table; any thread may call."""

    def __init__(self, store: Store, *, max_failures: int = 5) -> None:
        self.store = store
        self.max_failures = max_failures

    # --- accounts ------------------------------------------------------------------------

    def add(
        self, name: str, role: Role | str, pin: str, *, now: datetime | None = None
    ) -> StaffMember:
        """A new account; the first one must be a manager (someone has to approve and unlock)."""
        shown = clean_name(name)
        role = Role(role)
        check_pin_format(pin)
        pin_hash = hash_pin(pin)
        created = iso(now or utc_now())
        with self.store.write() as db:
            if self._row(db, shown) is not None:
                raise StaffError(StaffReason.NAME_TAKEN, name=shown)
            if role is Role.CASHIER and not self._managers(db):
                raise StaffError(StaffReason.MANAGER_FIRST)
            while True:
                staff_id = "st-" + secrets.token_hex(4)
                if db.execute("SELECT 1 FROM staff WHERE id = ?", [staff_id]).fetchone() is None:
                    break
            db.execute(
                "INSERT INTO staff (id, name, name_key, role, pin_hash, failures, locked, "
                "created_at) VALUES (?, ?, ?, ?, ?, 0, 0, ?)",
                [staff_id, shown, name_key(shown), role.value, pin_hash, created],
            )
            row = self._row(db, staff_id)
        assert row is not None
        return row

    def remove(self, name_or_id: str, *, now: datetime | None = None) -> StaffMember:
        """Mark the account removed (its events keep naming it); never the last manager."""
        with self.store.write() as db:
            member = self._required(db, name_or_id)
            if member.is_manager and [m.id for m in self._managers(db)] == [member.id]:
                raise StaffError(StaffReason.LAST_MANAGER, name=member.name)
            db.execute(
                "UPDATE staff SET removed_at = ? WHERE id = ?", [iso(now or utc_now()), member.id]
            )
            removed = self._row(db, member.id, removed=True)
        assert removed is not None
        return removed

    def set_pin(self, name_or_id: str, pin: str) -> StaffMember:
        """A new PIN for the account; it also clears failures and the lock."""
        check_pin_format(pin)
        pin_hash = hash_pin(pin)
        with self.store.write() as db:
            member = self._required(db, name_or_id)
            db.execute(
                "UPDATE staff SET pin_hash = ?, failures = 0, locked = 0, next_try_at = NULL "
                "WHERE id = ?",
                [pin_hash, member.id],
            )
            changed = self._row(db, member.id)
        assert changed is not None
        return changed

    def unlock(self, name_or_id: str) -> StaffMember:
        """Clear the lock and the failures (a manager's job: the caller checks the manager)."""
        with self.store.write() as db:
            member = self._required(db, name_or_id)
            db.execute(
                "UPDATE staff SET failures = 0, locked = 0, next_try_at = NULL WHERE id = ?",
                [member.id],
            )
            changed = self._row(db, member.id)
        assert changed is not None
        return changed

    def list(self, *, removed: bool = False) -> builtins.list[StaffMember]:
        """The accounts by name (removed ones too when asked)."""
        where = "" if removed else "WHERE removed_at IS NULL "
        rows = self.store.read().execute(
            f"SELECT {_COLUMNS} FROM staff {where}ORDER BY name_key, created_at"  # noqa: S608
        )
        return [_member(row) for row in rows.fetchall()]

    def get(self, name_or_id: str, *, removed: bool = False) -> StaffMember | None:
        """An account by its name (any case), its id, or a first name only one active account
        has; removed ones only when asked."""
        return self._row(self.store.read(), name_or_id, removed=removed)

    def names(self) -> dict[str, str]:
        """Every id ever given (removed accounts too) -> its name: what history shows."""
        rows = self.store.read().execute("SELECT id, name FROM staff").fetchall()
        return {str(row[0]): str(row[1]) for row in rows}

    def any(self) -> bool:
        """Staff accounts exist: then every recorded action needs one."""
        return any_staff(self.store.read())

    # --- PINs ----------------------------------------------------------------------------

    def check_pin(self, name_or_id: str, pin: str, *, now: datetime | None = None) -> StaffMember:
        """The account if ``pin`` is its PIN; ``StaffError`` otherwise.

        Refused before any hashing while the account is locked (``locked``) or its delay
        after the last failure has not passed (``throttled``, ``retry_after`` seconds; that
        try is not counted). A wrong PIN counts a failure, sets the next delay and locks the
        account at ``max_failures``; a good one clears both.
        """
        moment = now or utc_now()
        member = self.get(name_or_id)
        if member is None:
            pin_matches(pin, _DUMMY)  # the same cost as a real check: names do not leak by time
            raise StaffError(StaffReason.UNKNOWN_STAFF, name=_shown(name_or_id))
        self._mend_clock_back(member, moment)
        stored = self._refuse_now(self.store.read(), member, moment)
        good = isinstance(pin, str) and PIN_PATTERN.fullmatch(pin) is not None
        good = pin_matches(pin, stored) if good else False
        failures = 0
        with self.store.write() as db:
            current = self._row(db, member.id)
            if current is None:
                raise StaffError(StaffReason.UNKNOWN_STAFF, name=member.name)
            now_stored = self._refuse_now(db, current, moment)
            if now_stored != stored:
                # The PIN changed while this one was checked: judge it against the new one.
                good = good and pin_matches(pin, now_stored)
            if good:
                rehash = hash_pin(pin) if _weaker(now_stored) else now_stored
                db.execute(
                    "UPDATE staff SET failures = 0, next_try_at = NULL, pin_hash = ? WHERE id = ?",
                    [rehash, current.id],
                )
            else:
                failures = current.failures + 1
                locked = failures >= self.max_failures
                wait = delay_after(failures)
                db.execute(
                    "UPDATE staff SET failures = ?, locked = ?, next_try_at = ? WHERE id = ?",
                    [
                        failures,
                        int(locked),
                        iso(moment + timedelta(seconds=wait)) if wait else None,
                        current.id,
                    ],
                )
        if good:
            fresh = self.get(member.id)
            assert fresh is not None
            return fresh
        if failures >= self.max_failures:
            raise StaffError(StaffReason.LOCKED, name=member.name)
        left = self.max_failures - failures
        raise StaffError(
            StaffReason.WRONG_PIN, name=member.name, left=left, wait=delay_after(failures)
        )

    def check_manager(
        self, name_or_id: str, pin: str, *, now: datetime | None = None
    ) -> StaffMember:
        """As ``check_pin``, and the account must be a manager (``not_a_manager``).

        The role is looked at before the PIN, so a cashier's name never costs a failure.
        """
        member = self.get(name_or_id)
        if member is not None and not member.is_manager:
            raise StaffError(StaffReason.NOT_A_MANAGER, name=member.name)
        return self.check_pin(name_or_id, pin, now=now)

    def _mend_clock_back(self, member: StaffMember, moment: datetime) -> None:
        """After the clock went back, wait no longer than the failures' delay from now.

        ``next_try_at`` is a time on the clock of the last failure; once the clock is set
        back (by hand, or a time server correcting it) it could lie an hour ahead, locking
        the right person out for that hour. Never shorter than the delay: only a wait the
        failures could not have set is brought back to it (written only then).
        """
        row = (
            self.store.read()
            .execute("SELECT next_try_at, failures FROM staff WHERE id = ?", [member.id])
            .fetchone()
        )
        if row is None or row[0] is None:
            return
        latest = iso(moment + timedelta(seconds=delay_after(int(row[1]))))
        if str(row[0]) > latest:
            with self.store.write() as db:
                db.execute(
                    "UPDATE staff SET next_try_at = ? WHERE id = ? AND next_try_at = ?",
                    [latest, member.id, row[0]],
                )

    # --- inside a transaction --------------------------------------------------------------

    def _refuse_now(self, db: sqlite_utils.Database, member: StaffMember, moment: datetime) -> str:
        """The stored hash, unless the account is locked or still waiting its delay."""
        row = db.execute(
            "SELECT pin_hash, locked, next_try_at FROM staff WHERE id = ?", [member.id]
        ).fetchone()
        if row is None:
            raise StaffError(StaffReason.UNKNOWN_STAFF, name=member.name)
        if row[1]:
            raise StaffError(StaffReason.LOCKED, name=member.name)
        if row[2] is not None:
            wait = (parse_iso(str(row[2])) - moment).total_seconds()
            if wait > 0:
                raise StaffError(
                    StaffReason.THROTTLED, name=member.name, retry_after=math.ceil(wait)
                )
        return str(row[0])

    def _row(
        self, db: sqlite_utils.Database, name_or_id: str, *, removed: bool = False
    ) -> StaffMember | None:
        alive = "" if removed else " AND removed_at IS NULL"
        text = name_or_id.strip()
        row = db.execute(
            f"SELECT {_COLUMNS} FROM staff WHERE id = ?{alive}",  # noqa: S608
            [text],
        ).fetchone()
        if row is None:
            # The newest account of that name: a name freed by a removal may be given again.
            row = db.execute(
                f"SELECT {_COLUMNS} FROM staff WHERE name_key = ?{alive} "  # noqa: S608
                "ORDER BY removed_at IS NOT NULL, created_at DESC LIMIT 1",
                [name_key(text)],
            ).fetchone()
        if row is None and " " not in text:
            # A first name alone, when exactly one active account has it ("bert").
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM staff WHERE removed_at IS NULL "  # noqa: S608
                "AND substr(name_key, 1, ?) = ?",
                [len(name_key(text)) + 1, name_key(text) + " "],
            ).fetchall()
            row = rows[0] if len(rows) == 1 else None
        return None if row is None else _member(row)

    def _required(self, db: sqlite_utils.Database, name_or_id: str) -> StaffMember:
        member = self._row(db, name_or_id)
        if member is None:
            raise StaffError(StaffReason.UNKNOWN_STAFF, name=_shown(name_or_id))
        return member

    def _managers(self, db: sqlite_utils.Database) -> builtins.list[StaffMember]:
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM staff WHERE role = 'manager' AND removed_at IS NULL"  # noqa: S608
        ).fetchall()
        return [_member(row) for row in rows]


def _shown(text: str) -> str:
    """A name as typed, safe to put in a sentence: no control characters, at most 40."""
    kept = "".join(c for c in text if not unicodedata.category(c).startswith("C"))
    return kept.strip()[:NAME_MAX]
