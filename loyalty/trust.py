"""The terminal's issuer trust list in the ledger: keys by id, a version that never goes back.

The list lives in the ``issuer_keys`` table and ``meta.trust_version``. Installing a newer
list replaces the keys (a key the platform dropped is no longer trusted); an older one is
refused; the same one again changes nothing. Revoked card ids come from ``revoked_cards``.

Lists from the platform or a file go through ``install_document``: a signed list
(``citie-trust/2``, ``loyalty.signed_trust``) is installed only if the city root key pinned in
``meta.trust_root`` vouches for it; the first signed list a terminal sees pins its root (at
pairing, which clears the pin, or at the first sync of a terminal paired before lists were
signed) and replaces whatever unsigned list was there, whatever its version. Once a root is
pinned, an unsigned list is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import sqlite_utils

from loyalty.cards import Card, IssuerKey, Refusal, TrustList, public_key_from_raw, verify
from loyalty.db import Store, iso, utc_now
from loyalty.i18n import Catalog
from loyalty.signed_trust import SignedTrustError, fingerprint, is_signed, parse_signed

TRUST_VERSION_KEY: Final = "trust_version"
TRUST_ROOT_KEY: Final = "trust_root"
MAX_TRUST_FILE_BYTES: Final = 64 * 1024

__all__ = [
    "CardVerifier",
    "Installed",
    "TrustError",
    "TrustList",
    "TrustVersionError",
    "install_document",
    "install_trust",
    "load_trust",
    "read_trust_document",
    "read_trust_file",
    "revoked_cards",
    "trust_root",
    "trust_version",
    "unpin",
]


MESSAGES = Catalog("loyalty.trust", "loyalty", "trust")
"""Refusals of a signed list, in the shopkeeper's language (``TrustError.text``)."""


class TrustError(ValueError):
    """A trust list that cannot be installed: a stable reason code and an English sentence."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def text(self, language: str) -> str:
        """The refusal in ``language`` when it has a translation, else the English sentence."""
        if self.reason in MESSAGES:
            return MESSAGES.text(self.reason, language)
        return self.message


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
        return _install(db, trust)


def _install(db: sqlite_utils.Database, trust: TrustList, *, reset: bool = False) -> bool:
    """``install_trust`` inside the caller's transaction; ``reset`` ignores the installed
    version (a newly pinned root replaces what no root vouched for)."""
    installed = 0 if reset else trust_version(db)
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


@dataclass(frozen=True)
class Installed:
    """What ``install_document`` did."""

    changed: bool
    trust: TrustList
    signed: bool
    root: str | None
    """The pinned root's fingerprint after the install (None: no root pinned yet)."""
    pinned: bool
    """True when this install pinned a root or moved the pin to an announced new root."""

    def to_json(self) -> dict[str, Any]:
        """For ``--json`` output and log lines."""
        data: dict[str, Any] = {
            "installed": self.changed,
            "version": self.trust.version,
            "kids": sorted(self.trust.keys),
        }
        if self.signed:
            data.update(root=self.root, pinned=self.pinned)
        return data


def trust_root(db: sqlite_utils.Database) -> bytes | None:
    """The pinned city root key (raw), or None when this terminal has pinned none yet."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", [TRUST_ROOT_KEY]).fetchone()
    if row is None:
        return None
    try:
        raw = bytes.fromhex(str(row[0]))
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


def unpin(store: Store) -> None:
    """Forget the pinned root: pairing again pins the root of the platform it pairs with."""
    with store.write() as db:
        db.execute("DELETE FROM meta WHERE key = ?", [TRUST_ROOT_KEY])


def install_document(store: Store, data: object) -> Installed:
    """Install a trust list as the platform sends it or ``keys export`` writes it.

    A signed list must be vouched for by the pinned root (TrustError ``trust_foreign_root``
    or ``trust_bad_signature`` otherwise); with no root pinned, its own root is pinned and
    it replaces the installed list whatever the versions. An unsigned list is refused
    (``trust_unsigned``) once a root is pinned, and installed as before until then.
    """
    if is_signed(data):
        try:
            signed = parse_signed(data)
        except SignedTrustError as exc:
            raise TrustError(exc.reason, exc.message) from exc
        with store.write() as db:
            pinned = trust_root(db)
            try:
                root = signed.verify(pinned)
            except SignedTrustError as exc:
                raise TrustError(exc.reason, exc.message) from exc
            changed = _install(db, signed.trust, reset=pinned is None)
            if root != pinned:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [TRUST_ROOT_KEY, root.hex()],
                )
        return Installed(changed, signed.trust, True, fingerprint(root), root != pinned)
    pinned = trust_root(store.read())
    if pinned is not None:
        raise TrustError(
            "trust_unsigned",
            "this trust list is not signed by the city's root key, and this terminal "
            f"installs only lists its city root {fingerprint(pinned)} signed; nothing was "
            "installed. Export the list again from the platform (citie-platform keys export).",
        )
    try:
        trust = TrustList.from_json(data)
    except ValueError as exc:
        raise TrustError("trust_invalid", f"{exc}.") from exc
    return Installed(install_trust(store, trust), trust, False, None, False)


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
    parsed = read_trust_document(path)
    try:
        return TrustList.from_json(parsed)
    except ValueError as exc:
        raise TrustError("trust_file_invalid", f"{path}: {exc}.") from exc


def read_trust_document(path: Path) -> object:
    """The JSON of a trust list file (signed or not), read with a size limit; TrustError
    (``trust_file_unreadable``, ``trust_file_invalid``) says what is wrong."""
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
    return parsed


def _fingerprint(trust: TrustList) -> set[tuple[str, str, str]]:
    return {(k.kid, k.issuer, k.public_hex) for k in trust.keys.values()}
