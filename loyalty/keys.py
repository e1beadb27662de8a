"""Ed25519 key files: created 0600, and refused when anyone but the owner could read them."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from loyalty.db import CATALOG, private_dir


class KeyFileError(Exception):
    """A key file is missing, unreadable or too open; the message says how to fix it.

    ``str()`` is the English sentence; ``text(language)`` says it in the counter's language.
    """

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(self.text("en"))

    def text(self, language: str) -> str:
        """The sentence for the person at the counter."""
        return CATALOG.text(self.key, language, **self.params)


def write_secret(path: Path, data: bytes) -> None:
    """Write a secret file that only its owner can read (created 0600, never widened)."""
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def check_private(path: Path) -> None:
    """Refuse a secret file that group or others can read or write."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise KeyFileError("keys.missing", path=str(path)) from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError("keys.too_open", path=str(path), mode=f"{stat.S_IMODE(mode):04o}")


def generate_key_pair(private_path: Path, public_path: Path) -> Ed25519PrivateKey:
    """Create a new key pair: private key as PEM (0600), public key as raw-hex text."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_secret(private_path, pem)
    public_path.write_text(public_hex(key.public_key()) + "\n", encoding="ascii")
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load a private key after checking that only its owner can read it."""
    check_private(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise KeyFileError("keys.unreadable", path=str(path), cause=str(exc)[:200]) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError("keys.not_ed25519", path=str(path))
    return key


def public_hex(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key as lowercase hex."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def public_from_hex(text: str) -> Ed25519PublicKey:
    """Read a raw-hex public key; ValueError if it is not one."""
    raw = bytes.fromhex(text.strip())
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)
