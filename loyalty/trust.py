"""The terminal's issuer trust list in the ledger: keys by id, a version that never goes back.

The list lives in the ``issuer_keys`` table and ``meta.trust_version``. Installing a newer
list replaces the keys (a key the platform dropped is no longer trusted); an older one is
refused; the same one again changes nothing. Revoked card ids come from ``revoked_cards``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import sqlite_utils

from loyalty.cards import Card, IssuerKey, Refusal, TrustList, public_key_from_raw, verify
from loyalty.db import Store, iso, utc_now

TRUST_VERSION_KEY: Final = "trust_version"
MAX_TRUST_FILE_BYTES: Final = 64 * 1024

__all__ = [
    "CardVerifier",
    "TrustError",
    "TrustList",
    "TrustVersionError",
    "install_trust",
    "load_trust",
    "read_trust_file",
    "revoked_cards",
    "trust_version",
]


class TrustError(ValueError):
    """A trust list that cannot be installed: a stable reason code and an English sentence."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class TrustVersionError(TrustError):
    """The offered trust list is older than the installed one (or conflicts with it)."""

    def __init__(self, reason: str, message: str, *, installed: int, offered: int) -> None:
        super().__init__(reason, message)
        self.installed = installed
        self.offered = offered


def trust_version(db: sqlite_utils.Database) -> int:
    """The installed trust list's version (0 when none was ever installed)."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", [TRUST_VERSION_KEY]).fetchone()
    if row is None:
        return 0
    try:
        return int(row[0])
    except ValueError:
        return 0


def load_trust(db: sqlite_utils.Database) -> TrustList:
    """The installed trust list (version 0 and no keys before the first install)."""
    keys: dict[str, IssuerKey] = {}
    for kid, issuer, raw in db.execute("SELECT kid, issuer, public_key FROM issuer_keys"):
        try:
            public = public_key_from_raw(bytes(raw))
        except (ValueError, TypeError):
            # A damaged row must not stop the counter: its cards read as unknown_key, which
            # tells the shopkeeper to sync, and the next install rewrites the table.
            continue
        keys[kid] = IssuerKey(kid, issuer, public)
    return TrustList(version=trust_version(db), keys=keys)


def install_trust(store: Store, trust: TrustList) -> bool:
    """Install ``trust``; True if it changed anything, False for the same list again.

    Raises TrustVersionError for an older version (``trust_version_older``) or for the
    installed version with different keys (``trust_version_conflict``).
    """
    with store.write() as db:
        installed = trust_version(db)
        if trust.version < installed:
            raise TrustVersionError(
                "trust_version_older",
                f"this trust list is version {trust.version}, older than the installed "
                f"version {installed}; keys never go back to an older list. Export the "
                "current list from the platform and import that.",
                installed=installed,
                offered=trust.version,
            )
        current = load_trust(db)
        if trust.version == installed:
            if _fingerprint(current) == _fingerprint(trust):
                return False
            raise TrustVersionError(
                "trust_version_conflict",
                f"this trust list has the installed version {installed} but different keys; "
                "the platform must give a changed list a new version. Export the list from "
                "the platform again and import that.",
                installed=installed,
                offered=trust.version,
            )
        now = iso(utc_now())
        added_at = {row[0]: row[1] for row in db.execute("SELECT kid, added_at FROM issuer_keys")}
        db.execute("DELETE FROM issuer_keys")
        for key in trust.keys.values():
            db.execute(
                "INSERT INTO issuer_keys (kid, issuer, public_key, added_at) VALUES (?, ?, ?, ?)",
                [key.kid, key.issuer, bytes.fromhex(key.public_hex), added_at.get(key.kid, now)],
            )
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [TRUST_VERSION_KEY, str(trust.version)],
        )
    return True


def revoked_cards(db: sqlite_utils.Database) -> set[str]:
    """The card ids the platform has revoked."""
    return {row[0] for row in db.execute("SELECT card_id FROM revoked_cards")}


@dataclass(frozen=True)
class CardVerifier:
    """Card codes checked against the ledger's issuer keys and revocations, read once.

    The one way the counter app, the headless commands and ``scan`` verify a card.
    """

    trust: TrustList
    revoked: frozenset[str]

    @classmethod
    def from_db(cls, db: sqlite_utils.Database) -> CardVerifier:
        """The verifier for the ledger's trust list and revocations as they are now."""
        return cls(load_trust(db), frozenset(revoked_cards(db)))

    def verify(self, code: str, *, now: datetime | None = None) -> Card | Refusal:
        """The card the code holds, or why not (``verify`` ignores a scanner's stray whitespace)."""
        return verify(code, self.trust, revoked=self.revoked, now=now)

    def first(
        self, candidates: Sequence[str], *, now: datetime | None = None
    ) -> Card | Refusal | None:
        """The first candidate that verifies, else the first refusal (None: no candidate)."""
        refusal: Refusal | None = None
        for code in candidates:
            verdict = self.verify(code, now=now)
            if isinstance(verdict, Card):
                return verdict
            refusal = refusal or verdict
        return refusal


def read_trust_file(path: Path) -> TrustList:
    """A trust list from a JSON file; TrustError (``trust_file_invalid``) says what is wrong."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_TRUST_FILE_BYTES + 1)
    except OSError as exc:
        raise TrustError(
            "trust_file_unreadable",
            f"cannot read the trust list {path}: {exc.strerror or exc}. Check the path.",
        ) from exc
    if len(data) > MAX_TRUST_FILE_BYTES:
        raise TrustError(
            "trust_file_invalid",
            f"{path} is over {MAX_TRUST_FILE_BYTES // 1024} KiB, far more than a trust list; "
            "check that it is the file `citie-platform keys export` wrote.",
        )
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise TrustError(
            "trust_file_invalid",
            f"{path} is not valid JSON ({exc}); use the file `citie-platform keys export` wrote.",
        ) from exc
    try:
        return TrustList.from_json(parsed)
    except ValueError as exc:
        raise TrustError("trust_file_invalid", f"{path}: {exc}.") from exc


def _fingerprint(trust: TrustList) -> set[tuple[str, str, str]]:
    return {(k.kid, k.issuer, k.public_hex) for k in trust.keys.values()}
