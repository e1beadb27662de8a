"""Card code speed and size: full ``verify`` against a bare Ed25519 verify, issue rate, length.

Run: ``.venv/bin/python bench/cards.py [--rounds N]``. The bare verify checks the same
signature over the same bytes with the same cached key, so the ratio is what the envelope
(length and prefix checks, Base45, the strict COSE reader, the claims) costs on top.
Measurements are interleaved in blocks so that drift in the machine's speed hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

import base45
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from loyalty.cards import (
    _EMPTY_AAD,
    _SIG_CONTEXT,
    PREFIX,
    Card,
    IssuerKey,
    TrustList,
    _open_envelope,
    issue,
    new_card_id,
    verify,
)
from loyalty.db import utc_now


def timings(fn: Callable[[], object], count: int) -> list[float]:
    """Per-call wall times in microseconds."""
    out = []
    clock = time.perf_counter_ns
    for _ in range(count):
        start = clock()
        fn()
        out.append((clock() - start) / 1000)
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20_000, help="calls per measurement")
    args = parser.parse_args()

    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    kid, issuer = "a1b2c3d4", "citie"
    trust = TrustList(1, {kid: IssuerKey(kid, issuer, public)})
    now = utc_now()
    codes = [
        issue(
            key,
            kid=kid,
            issuer=issuer,
            card_id=new_card_id(),
            issued_at=now,
            expires_at=now + timedelta(days=365),
        )
        for _ in range(200)
    ]
    code = codes[0]
    assert isinstance(verify(code, trust, now=now), Card)

    # The exact bytes verify() checks: the COSE Sig_structure, split by its own reader.
    protected, payload, signature, _ = _open_envelope(base45.b45decode(code[len(PREFIX) :]))
    message = _SIG_CONTEXT + protected + _EMPTY_AAD + payload
    public.verify(signature, message)  # same bytes, or this raises

    def bare() -> None:
        public.verify(signature, message)

    def full() -> None:
        verify(code, trust, now=now)

    def not_a_card() -> None:
        verify("https://www.example.be/some/page?id=1234", trust, now=now)

    def too_long() -> None:
        verify("A" * 3000, trust, now=now)

    def sign_bare() -> None:
        key.sign(message)

    def sign_card() -> None:
        issue(
            key,
            kid=kid,
            issuer=issuer,
            card_id="CT-7KQ2-M9XD-4HTW",
            issued_at=now,
            expires_at=now + timedelta(days=365),
        )

    cases: dict[str, Callable[[], object]] = {
        "Ed25519 verify (bare, cached key)": bare,
        "cards.verify (valid code)": full,
        "cards.verify (web link: not_a_card)": not_a_card,
        "cards.verify (3 KB: too_long)": too_long,
        "Ed25519 sign (bare)": sign_bare,
        "cards.issue": sign_card,
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm up
        timings(fn, 200)
    block = 1000
    for _ in range(max(1, args.rounds // block)):
        for name, fn in cases.items():
            results[name].extend(timings(fn, block))

    bare_median = statistics.median(results["Ed25519 verify (bare, cached key)"])
    sign_median = statistics.median(results["Ed25519 sign (bare)"])
    print(f"{'operation':40} {'median us':>10} {'p95 us':>10} {'per s':>10} {'ratio':>7}")
    for name, values in results.items():
        median = statistics.median(values)
        base = sign_median if "sign" in name or "issue" in name else bare_median
        print(
            f"{name:40} {median:10.1f} {p95(values):10.1f} {1e6 / median:10.0f} "
            f"{median / base:7.2f}"
        )
    lengths = sorted(len(c) for c in codes)
    print()
    print(
        f"code length over {len(codes)} codes: min {lengths[0]}, median "
        f"{lengths[len(lengths) // 2]}, max {lengths[-1]} characters (limit 512, promise < 300)"
    )
    ratio = statistics.median(results["cards.verify (valid code)"]) / bare_median
    print(f"verify / bare Ed25519 verify: {ratio:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
