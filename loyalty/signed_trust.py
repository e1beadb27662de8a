"""Signed trust lists (``citie-trust/2``): the issuer key list, signed by the city's root key.

A terminal pins the city's root public key when it pairs (or at ``keys import``) and from then
on installs only lists that root signed, so a hostile answer cannot plant its own issuer keys
or a huge version that would block every genuine list.

The JSON form is the ``citie-trust/1`` list plus two fields::

    {"format": "citie-trust/2", "version": 7, "keys": [{kid, issuer, public_key}, ...],
     "roots": [{"public_key": hex}, {"public_key": hex, "endorsement": hex}, ...],
     "signature": hex}

``roots`` is the chain of the city's root keys, oldest first: each later root carries an
``endorsement``, the previous root's Ed25519 signature over ``ROOT_DOMAIN + old + new`` (raw
public keys). ``signature`` is the last root's signature over ``LIST_DOMAIN`` + the canonical
CBOR of ``[format, version, [[kid, issuer, raw key], ...] sorted by kid, [raw root, ...]]``.
A terminal pinned to any root of the chain follows the endorsements to the last root and pins
that one: that is how a root is rotated (the new root announced by the old one), even for a
terminal that was offline through several rotations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from loyalty.cards import TRUST_FORMAT, TrustList

SIGNED_FORMAT: Final = "citie-trust/2"
LIST_DOMAIN: Final = b"citie-trust-v2\x00"
"""Signed before the list, so a list signature can never pass for any other signature."""
ROOT_DOMAIN: Final = b"citie-root-v1\x00"
"""Signed before an endorsement of the next root key."""
MAX_ROOTS: Final = 16

_HEX64 = frozenset("0123456789abcdef")


class SignedTrustError(ValueError):
    """A signed list that cannot be read or trusted: a stable reason and an English sentence."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class RootLink:
    """One root key of the chain, with the previous root's endorsement (none for the first)."""

    public_key: bytes
    endorsement: bytes | None = None


@dataclass(frozen=True)
class SignedTrust:
    """A parsed ``citie-trust/2`` list; ``verify`` says whether a pinned root vouches for it."""

    trust: TrustList
    roots: tuple[RootLink, ...]
    signature: bytes

    @property
    def root(self) -> bytes:
        """The root key that signed the list (the last of the chain)."""
        return self.roots[-1].public_key

    def verify(self, pinned: bytes | None) -> bytes:
        """The root to pin after installing this list; SignedTrustError if ``pinned`` does not
        vouch for it. ``pinned`` None (nothing pinned yet) trusts the list's own last root."""
        start = 0
        if pinned is not None:
            found = [i for i, link in enumerate(self.roots) if link.public_key == pinned]
            if not found:
                raise SignedTrustError(
                    "trust_foreign_root",
                    f"this trust list is signed by root key {fingerprint(self.root)}, which is "
                    f"not this terminal's city root {fingerprint(pinned)} and was not announced "
                    "by it; nothing was installed. Pair the terminal again if the city really "
                    "changed its platform.",
                )
            start = found[-1]
        for index in range(start + 1, len(self.roots)):
            old, new = self.roots[index - 1], self.roots[index]
            if new.endorsement is None or not _valid(
                old.public_key, new.endorsement, ROOT_DOMAIN + old.public_key + new.public_key
            ):
                raise SignedTrustError(
                    "trust_bad_signature",
                    f"root key {fingerprint(new.public_key)} in this trust list is not announced "
                    f"by root {fingerprint(old.public_key)}: the list was changed or forged; "
                    "nothing was installed.",
                )
        if not _valid(self.root, self.signature, signed_bytes(self.trust, self.roots)):
            raise SignedTrustError(
                "trust_bad_signature",
                "the signature on this trust list is not valid: it was changed or forged; "
                "nothing was installed.",
            )
        return self.root

    def to_json(self) -> dict[str, Any]:
        """The ``citie-trust/2`` JSON form."""
        data = self.trust.to_json()
        data["format"] = SIGNED_FORMAT
        data["roots"] = [
            {"public_key": link.public_key.hex()}
            | ({} if link.endorsement is None else {"endorsement": link.endorsement.hex()})
            for link in self.roots
        ]
        data["signature"] = self.signature.hex()
        return data


def fingerprint(raw: bytes) -> str:
    """A short, readable name for a root key (the first 8 bytes of its SHA-256, in hex)."""
    return hashlib.sha256(raw).hexdigest()[:16]


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def endorse(old_root: Ed25519PrivateKey, new_root: bytes) -> RootLink:
    """The link that announces ``new_root`` (raw public key), signed by the old root."""
    old = raw_public(old_root.public_key())
    return RootLink(new_root, old_root.sign(ROOT_DOMAIN + old + new_root))


def signed_bytes(trust: TrustList, roots: Sequence[RootLink]) -> bytes:
    """What the last root signs: the domain and the list's canonical CBOR."""
    keys = sorted(
        ([k.kid, k.issuer, bytes.fromhex(k.public_hex)] for k in trust.keys.values()),
        key=lambda entry: str(entry[0]),
    )
    body = [SIGNED_FORMAT, trust.version, keys, [link.public_key for link in roots]]
    return LIST_DOMAIN + cbor2.dumps(body, canonical=True)


def sign_trust(
    trust: TrustList, root: Ed25519PrivateKey, chain: Sequence[RootLink] = ()
) -> SignedTrust:
    """Sign ``trust`` with ``root``; ``chain`` holds the earlier roots' links, oldest first,
    ending with the link of ``root`` itself (empty when ``root`` is the city's first root)."""
    own = raw_public(root.public_key())
    roots = tuple(chain) if chain else (RootLink(own),)
    if roots[-1].public_key != own:
        raise ValueError("the chain must end with the signing root's own link")
    return SignedTrust(trust, roots, root.sign(signed_bytes(trust, roots)))


def is_signed(data: object) -> bool:
    """Whether ``data`` claims to be a signed list (its format is ``citie-trust/2``)."""
    return isinstance(data, dict) and data.get("format") == SIGNED_FORMAT


def parse_signed(data: object) -> SignedTrust:
    """Read a ``citie-trust/2`` list (without checking signatures); SignedTrustError if bad."""
    if not isinstance(data, dict):
        raise SignedTrustError("trust_invalid", "a trust list is a JSON object")
    if data.get("format") == TRUST_FORMAT:
        raise SignedTrustError(
            "trust_unsigned",
            "this trust list is not signed by the city's root key (format citie-trust/1); "
            "this terminal only installs signed lists. Export the list again from an "
            "up-to-date platform (citie-platform keys export).",
        )
    if data.get("format") != SIGNED_FORMAT:
        raise SignedTrustError(
            "trust_invalid", f'"format" must be "{SIGNED_FORMAT}" (found {_short(data)})'
        )
    plain = {k: v for k, v in data.items() if k not in ("roots", "signature")}
    plain["format"] = TRUST_FORMAT
    try:
        trust = TrustList.from_json(plain)
    except ValueError as exc:
        raise SignedTrustError("trust_invalid", str(exc)) from exc
    raw_roots = data.get("roots")
    if not isinstance(raw_roots, list) or not 1 <= len(raw_roots) <= MAX_ROOTS:
        raise SignedTrustError(
            "trust_invalid", f'"roots" must be a list of 1 to {MAX_ROOTS} root keys'
        )
    roots: list[RootLink] = []
    for number, entry in enumerate(raw_roots, start=1):
        if not isinstance(entry, dict) or set(entry) - {"public_key", "endorsement"}:
            raise SignedTrustError(
                "trust_invalid", f"root {number}: must be an object with public_key"
            )
        public = _hex(entry.get("public_key"), 32, f"root {number}: public_key")
        endorsement = entry.get("endorsement")
        roots.append(
            RootLink(
                public,
                None
                if endorsement is None
                else _hex(endorsement, 64, f"root {number}: endorsement"),
            )
        )
    signature = _hex(data.get("signature"), 64, "signature")
    return SignedTrust(trust, tuple(roots), signature)


def _hex(value: object, size: int, what: str) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * size or not set(value.lower()) <= _HEX64:
        raise SignedTrustError("trust_invalid", f"{what} must be {2 * size} hex digits")
    return bytes.fromhex(value)


def _valid(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _short(data: dict[str, Any]) -> str:
    return repr(data.get("format"))[:40]
