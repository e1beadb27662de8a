"""The platform's card issuer: its signing keys in a directory, card issuing, key rotation.

The directory holds ``issuer.json`` (issuer name, trust-list version, the current key id and
every public key) and one private key file per key id, ``issuer-<kid>.pem``, mode 0600. A
rotation adds a key and makes it current; older keys stay in the trust list so the cards they
signed keep working, and the version goes up so terminals take the new list.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from loyalty.cards import (
    ISSUER_PATTERN,
    IssuerKey,
    TrustList,
    issue,
    new_card_id,
    public_key_from_raw,
)
from loyalty.db import iso, private_dir, private_file, utc_now
from loyalty.keys import KeyFileError, load_private_key, public_hex, write_secret
from loyalty.vouchers import Voucher, issue_voucher, new_voucher_id

STATE_FORMAT: Final = "citie-issuer/1"
STATE_FILE: Final = "issuer.json"
DEFAULT_ISSUER: Final = "citie"
MAX_EXPIRES_DAYS: Final = 20 * 366
"""Printed cards carry a long expiry; beyond twenty years is a typing mistake."""


class IssuerError(Exception):
    """The issuer directory cannot be used; the message says why and what to do."""


@dataclass
class _State:
    issuer: str
    version: int
    current: str
    keys: list[dict[str, str]]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "issuer": self.issuer,
            "version": self.version,
            "current": self.current,
            "keys": self.keys,
        }


class Issuer:
    """Issues card codes with the current key; ``open`` creates the first key on first use."""

    def __init__(self, directory: Path, state: _State) -> None:
        self.directory = directory
        self._state = state
        self._private: dict[str, Ed25519PrivateKey] = {}

    @classmethod
    def open(cls, directory: Path, *, issuer: str = DEFAULT_ISSUER) -> Issuer:
        """Open the issuer in ``directory``, creating its first key if there is none.

        ``issuer`` names a new issuer; an existing directory keeps the name it has.
        """
        if not ISSUER_PATTERN.fullmatch(issuer):
            raise ValueError(
                f"issuer name {issuer!r} must be 1 to 64 letters, digits, '.', '_' or '-'"
            )
        private_dir(directory)
        with folder_lock(directory, "issuer.lock"):
            state = _read_state(directory)
            if state is None:
                kid = _new_key(directory)
                state = _State(
                    issuer=issuer,
                    version=1,
                    current=kid,
                    keys=[_key_entry(directory, kid)],
                )
                _write_state(directory, state)
        return cls(directory, state)

    @property
    def issuer(self) -> str:
        """The issuer name written into every card."""
        return self._state.issuer

    @property
    def current_kid(self) -> str:
        """The key id new cards are signed with."""
        return self._state.current

    @property
    def version(self) -> int:
        """The trust list's version (goes up at each rotation)."""
        return self._state.version

    def issue_card(
        self,
        card_id: str | None = None,
        expires_days: int = 365,
        *,
        now: datetime | None = None,
    ) -> tuple[str, str]:
        """A new card: (card id, signed code). ``card_id`` defaults to a fresh one."""
        if not 1 <= expires_days <= MAX_EXPIRES_DAYS:
            raise ValueError(f"a card expires after 1 to {MAX_EXPIRES_DAYS} days")
        card_id = card_id or new_card_id()
        issued_at = now or utc_now()
        kid = self._state.current
        code = issue(
            self._private_key(kid),
            kid=kid,
            issuer=self._state.issuer,
            card_id=card_id,
            issued_at=issued_at,
            expires_at=issued_at + timedelta(days=expires_days),
        )
        return card_id, code

    def issue_voucher(
        self,
        face_cents: int,
        *,
        currency: str = "EUR",
        city: str,
        campaign: str,
        expires_days: int = 365,
        voucher_id: str | None = None,
        now: datetime | None = None,
    ) -> tuple[Voucher, str]:
        """A new city voucher: (the voucher as its code says, the signed ``CV1:`` code).

        ValueError names what cannot be issued (face value, currency, city, campaign, expiry).
        """
        if not 1 <= expires_days <= MAX_EXPIRES_DAYS:
            raise ValueError(f"a voucher expires after 1 to {MAX_EXPIRES_DAYS} days")
        voucher_id = voucher_id or new_voucher_id()
        # Whole seconds in UTC: the code carries seconds, and the Voucher returned is what it
        # says (what verify_voucher gives back).
        issued_at = (now or utc_now()).replace(microsecond=0)
        if issued_at.tzinfo is None:
            issued_at = issued_at.replace(tzinfo=UTC)
        kid = self._state.current
        voucher = Voucher(
            voucher_id=voucher_id,
            face_cents=face_cents,
            currency=currency,
            city=city,
            campaign=campaign,
            issuer=self._state.issuer,
            kid=kid,
            issued_at=issued_at,
            expires_at=issued_at + timedelta(days=expires_days),
        )
        code = issue_voucher(
            self._private_key(kid),
            kid=kid,
            issuer=voucher.issuer,
            voucher_id=voucher_id,
            face_cents=face_cents,
            currency=currency,
            city=city,
            campaign=campaign,
            issued_at=voucher.issued_at,
            expires_at=voucher.expires_at,
        )
        return voucher, code

    def rotate(self) -> str:
        """Add a new signing key, make it current and bump the version; return its key id."""
        with folder_lock(self.directory, "issuer.lock"):
            state = _read_state(self.directory) or self._state
            kid = _new_key(self.directory)
            state.keys.append(_key_entry(self.directory, kid))
            state.current = kid
            state.version += 1
            _write_state(self.directory, state)
            self._state = state
        return kid

    def trust_list(self) -> TrustList:
        """Every public key, current and older, as the versioned list terminals install."""
        keys = {
            entry["kid"]: IssuerKey(
                entry["kid"],
                self._state.issuer,
                public_key_from_raw(bytes.fromhex(entry["public_key"])),
            )
            for entry in self._state.keys
        }
        return TrustList(version=self._state.version, keys=keys)

    def _private_key(self, kid: str) -> Ed25519PrivateKey:
        key = self._private.get(kid)
        if key is None:
            try:
                key = load_private_key(_key_path(self.directory, kid))
            except KeyFileError as exc:
                raise IssuerError(str(exc)) from exc
            expected = next(e["public_key"] for e in self._state.keys if e["kid"] == kid)
            if public_hex(key.public_key()) != expected:
                raise IssuerError(
                    f"the key file {_key_path(self.directory, kid)} does not match key {kid} "
                    f"in {self.directory / STATE_FILE}; restore both from the same backup."
                )
            self._private[kid] = key
        return key


def _key_path(directory: Path, kid: str) -> Path:
    return directory / f"issuer-{kid}.pem"


def _new_key(directory: Path) -> str:
    """Create a private key file (0600) and return its key id (from its public key)."""
    while True:
        key = Ed25519PrivateKey.generate()
        kid = _kid_for(key)
        if not _key_path(directory, kid).exists():
            break
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_secret(_key_path(directory, kid), pem)
    return kid


def _kid_for(key: Ed25519PrivateKey) -> str:
    raw = bytes.fromhex(public_hex(key.public_key()))
    return hashlib.sha256(raw).hexdigest()[:8]


def _key_entry(directory: Path, kid: str) -> dict[str, str]:
    key = load_private_key(_key_path(directory, kid))
    return {"kid": kid, "public_key": public_hex(key.public_key()), "created_at": iso(utc_now())}


def _read_state(directory: Path) -> _State | None:
    path = directory / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise IssuerError(
            f"cannot read the issuer state {path} ({exc}); restore it from a backup."
        ) from exc
    try:
        if data["format"] != STATE_FORMAT:
            raise ValueError(f"format {data['format']!r}")
        state = _State(
            issuer=str(data["issuer"]),
            version=int(data["version"]),
            current=str(data["current"]),
            keys=[
                {
                    "kid": str(e["kid"]),
                    "public_key": str(e["public_key"]),
                    "created_at": str(e.get("created_at", "")),
                }
                for e in data["keys"]
            ],
        )
        if state.current not in {e["kid"] for e in state.keys}:
            raise ValueError(f"current key {state.current} is not among the keys")
    except (KeyError, TypeError, ValueError) as exc:
        raise IssuerError(
            f"the issuer state {path} is damaged ({exc}); restore it from a backup."
        ) from exc
    return state


def _write_state(directory: Path, state: _State) -> None:
    write_json(directory / STATE_FILE, state.to_json())


def write_json(path: Path, data: Any) -> None:
    """Write a key folder's state file atomically: 0600 whatever the umask, synced, renamed."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    private_file(tmp)  # the state names the keys
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def folder_lock(directory: Path, name: str) -> Iterator[None]:
    """Serialise key creation and rotation between processes sharing the key folder."""
    with (directory / name).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
