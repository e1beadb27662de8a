"""The city's root key: it signs the issuer trust list that terminals install.

Kept beside the issuer keys: ``root.json`` (every root public key, oldest first, each later
one with the previous root's endorsement) and ``root-<kid>.pem`` per root, mode 0600. The
first root is made on first use. ``rotate`` makes a new root and has the current one endorse
it, so terminals pinned to any earlier root follow the chain to the new one
(``loyalty.signed_trust``); the old private key can then be taken off the server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from city.issuer import folder_lock, write_json
from loyalty.cards import TrustList
from loyalty.db import iso, utc_now
from loyalty.keys import KeyFileError, load_private_key, write_secret
from loyalty.signed_trust import (
    MAX_ROOTS,
    RootLink,
    SignedTrust,
    endorse,
    fingerprint,
    raw_public,
    sign_trust,
)

ROOT_FORMAT: Final = "citie-root/1"
ROOT_FILE: Final = "root.json"


class RootError(Exception):
    """The root key cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class RootEntry:
    """One root public key as ``root.json`` keeps it."""

    public_key: bytes
    endorsement: bytes | None
    created_at: str

    @property
    def kid(self) -> str:
        """The root's fingerprint, also its key file's name."""
        return fingerprint(self.public_key)


class CityRoot:
    """The chain of root keys, and the current root's private key for signing."""

    def __init__(self, directory: Path, entries: list[RootEntry]) -> None:
        self.directory = directory
        self.entries = entries
        self._private: Ed25519PrivateKey | None = None

    @classmethod
    def open(cls, directory: Path) -> CityRoot:
        """Open the root in ``directory``, making the first root key if there is none."""
        directory.mkdir(parents=True, exist_ok=True)
        with folder_lock(directory, "root.lock"):
            entries = _read(directory)
            if not entries:
                key = Ed25519PrivateKey.generate()
                entry = RootEntry(raw_public(key.public_key()), None, iso(utc_now()))
                _write_key(directory, entry.kid, key)
                entries = [entry]
                _write(directory, entries)
        return cls(directory, entries)

    @property
    def current(self) -> RootEntry:
        """The root that signs lists now."""
        return self.entries[-1]

    @property
    def chain(self) -> tuple[RootLink, ...]:
        """The roots a signed list carries, oldest first: the last ``MAX_ROOTS`` (a terminal
        pinned to a root older than that pairs again)."""
        return tuple(RootLink(e.public_key, e.endorsement) for e in self.entries[-MAX_ROOTS:])

    def sign(self, trust: TrustList) -> SignedTrust:
        """``trust`` signed by the current root, with the chain of earlier roots."""
        return sign_trust(trust, self._key(), self.chain)

    def rotate(self) -> RootEntry:
        """Make a new root, endorsed by the current one, and make it current."""
        with folder_lock(self.directory, "root.lock"):
            self.entries = _read(self.directory) or self.entries
            old = self._key()
            new = Ed25519PrivateKey.generate()
            link = endorse(old, raw_public(new.public_key()))
            entry = RootEntry(link.public_key, link.endorsement, iso(utc_now()))
            _write_key(self.directory, entry.kid, new)
            self.entries = [*self.entries, entry]
            _write(self.directory, self.entries)
            self._private = new
        return entry

    def _key(self) -> Ed25519PrivateKey:
        if self._private is None:
            path = _key_path(self.directory, self.current.kid)
            try:
                key = load_private_key(path)
            except KeyFileError as exc:
                raise RootError(str(exc)) from exc
            if raw_public(key.public_key()) != self.current.public_key:
                raise RootError(
                    f"the root key file {path} does not match root {self.current.kid} in "
                    f"{self.directory / ROOT_FILE}; restore both from the same backup."
                )
            self._private = key
        return self._private


def _key_path(directory: Path, kid: str) -> Path:
    return directory / f"root-{kid}.pem"


def _write_key(directory: Path, kid: str, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_secret(_key_path(directory, kid), pem)


def _read(directory: Path) -> list[RootEntry]:
    path = directory / ROOT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise RootError(f"cannot read the root state {path} ({exc}); restore it.") from exc
    try:
        if data["format"] != ROOT_FORMAT:
            raise ValueError(f"format {data['format']!r}")
        entries = [
            RootEntry(
                bytes.fromhex(str(e["public_key"])),
                None if e.get("endorsement") is None else bytes.fromhex(str(e["endorsement"])),
                str(e.get("created_at", "")),
            )
            for e in data["roots"]
        ]
        if not entries:
            raise ValueError("no root keys")
    except (KeyError, TypeError, ValueError) as exc:
        raise RootError(
            f"the root state {path} is damaged ({exc}); restore it from a backup."
        ) from exc
    return entries


def _write(directory: Path, entries: list[RootEntry]) -> None:
    path = directory / ROOT_FILE
    data: dict[str, Any] = {
        "format": ROOT_FORMAT,
        "roots": [
            {"kid": e.kid, "public_key": e.public_key.hex(), "created_at": e.created_at}
            | ({} if e.endorsement is None else {"endorsement": e.endorsement.hex()})
            for e in entries
        ],
    }
    write_json(path, data)
