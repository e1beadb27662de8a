"""Claim codes: signing, refusing anything not signed as it is, and crediting a card once."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import base45
import cbor2
import pytest
import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from city.claims import claim_response, redeem_claim
from loyalty.claims import (
    MAX_LENGTH,
    PREFIX,
    Claim,
    ClaimCredited,
    ClaimReason,
    ClaimRefusal,
    sign_claim,
    verify_claim,
)

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
KEYS = {"bakkerij-t1": KEY.public_key()}
WHEN = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
EVENT = "01a21aae-31fd-7588-a953-7b06cd373bdc"


def code(key: Ed25519PrivateKey = KEY, **changes: object) -> str:
    fields: dict[str, object] = {
        "terminal_id": "bakkerij-t1",
        "shop_id": "bakkerij",
        "event_ids": [EVENT],
        "receipt_no": "bakkerij-t1-42",
        "amount_cents": 2550,
        "currency": "EUR",
        "stamps": 3,
        "occurred_at": WHEN,
    }
    fields.update(changes)
    return sign_claim(key, **fields)  # type: ignore[arg-type]


def test_a_signed_code_is_compact_qr_alphanumeric_and_verifies() -> None:
    text = code()
    assert text.startswith(PREFIX) and len(text) < 250
    assert set(text) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    claim = verify_claim(text, KEYS)
    assert claim == Claim(
        terminal_id="bakkerij-t1",
        shop_id="bakkerij",
        event_ids=(EVENT,),
        receipt_no="bakkerij-t1-42",
        amount_cents=2550,
        currency="EUR",
        stamps=3,
        occurred_at=WHEN,
    )
    # Non-UUID event ids and receipt numbers of another form travel as text.
    odd = verify_claim(code(event_ids=["e-1", EVENT.upper()], receipt_no="R/7"), KEYS)
    assert isinstance(odd, Claim)
    assert odd.event_ids == ("e-1", EVENT.upper()) and odd.receipt_no == "R/7"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("https://example.com/pay", ClaimReason.NOT_A_CLAIM),
        ("CT1:NCFOXN%TS3DH", ClaimReason.NOT_A_CLAIM),
        (PREFIX + "A" * MAX_LENGTH, ClaimReason.TOO_LONG),
        (PREFIX + "abc", ClaimReason.MALFORMED),
        (PREFIX, ClaimReason.MALFORMED),
        (PREFIX + "GGW", ClaimReason.MALFORMED),  # Base45 value out of range
        (PREFIX + base45.b45encode(cbor2.dumps({"a": 1})).decode(), ClaimReason.MALFORMED),
    ],
)
def test_what_is_not_a_claim_is_refused_with_a_reason(text: str, reason: ClaimReason) -> None:
    verdict = verify_claim(text, KEYS)
    assert isinstance(verdict, ClaimRefusal) and verdict.reason is reason
    assert verdict.message and verdict.text("nl") != verdict.text("en")


def test_unknown_terminal_forged_and_tampered_codes_are_refused() -> None:
    unknown = verify_claim(code(terminal_id="elsewhere-t9"), KEYS)
    assert isinstance(unknown, ClaimRefusal) and unknown.reason is ClaimReason.UNKNOWN_TERMINAL
    forged = verify_claim(code(OTHER), KEYS)
    assert isinstance(forged, ClaimRefusal) and forged.reason is ClaimReason.BAD_SIGNATURE
    # Change the stamps inside a genuine code and keep its signature.
    terminal, payload, signature = cbor2.loads(base45.b45decode(code()[len(PREFIX) :]))
    fields = cbor2.loads(payload)
    fields[7] = 300
    tampered = PREFIX + base45.b45encode(
        cbor2.dumps([terminal, cbor2.dumps(fields), signature])
    ).decode("ascii")
    verdict = verify_claim(tampered, KEYS)
    assert isinstance(verdict, ClaimRefusal) and verdict.reason is ClaimReason.BAD_SIGNATURE
    # Move a genuine signature to another terminal's name: the name is signed too.
    moved = PREFIX + base45.b45encode(cbor2.dumps(["other-t1", payload, signature])).decode()
    verdict = verify_claim(moved, {"other-t1": KEY.public_key()})
    assert isinstance(verdict, ClaimRefusal) and verdict.reason is ClaimReason.BAD_SIGNATURE


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=600), st.binary(max_size=300).map(lambda b: PREFIX + b.hex())))
def test_verify_never_raises_on_anything(text: str) -> None:
    assert isinstance(verify_claim(PREFIX + text, KEYS), ClaimRefusal)
    assert isinstance(verify_claim(text, KEYS), Claim | ClaimRefusal)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=300))
def test_any_cbor_shaped_garbage_is_refused(raw: bytes) -> None:
    verdict = verify_claim(PREFIX + base45.b45encode(raw).decode("ascii"), KEYS)
    assert isinstance(verdict, ClaimRefusal)


def test_non_text_input_is_refused() -> None:
    verdict = verify_claim(b"CC1:ABC", KEYS)
    assert isinstance(verdict, ClaimRefusal) and verdict.reason is ClaimReason.NOT_A_CLAIM


# --- the platform's side -------------------------------------------------------------------


def platform(path: Path) -> sqlite_utils.Database:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    db = sqlite_utils.Database(conn)
    db.execute("CREATE TABLE IF NOT EXISTS cards (id TEXT PRIMARY KEY, stamps INTEGER NOT NULL)")
    db.execute("INSERT OR IGNORE INTO cards VALUES ('CT-AAAA-BBBB-CCCC', 0)")
    return db


def credit(db: sqlite_utils.Database, claim: Claim, card_id: str) -> None:
    db.execute("UPDATE cards SET stamps = stamps + ? WHERE id = ?", [claim.stamps, card_id])


def stamps(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT stamps FROM cards").fetchone()[0])


def test_a_claim_credits_the_card_once_and_a_replay_is_refused(tmp_path: Path) -> None:
    db = platform(tmp_path / "platform.db")
    first = redeem_claim(db, code(), "CT-AAAA-BBBB-CCCC", KEYS, credit=credit, now=WHEN)
    assert isinstance(first, ClaimCredited) and stamps(db) == 3
    replay = redeem_claim(db, code(), "CT-AAAA-BBBB-CCCC", KEYS, credit=credit, now=WHEN)
    assert isinstance(replay, ClaimRefusal) and replay.reason is ClaimReason.ALREADY_CLAIMED
    # Another code naming the same event (e.g. a reprint after a program change) too.
    other = redeem_claim(db, code(stamps=9), "CT-AAAA-BBBB-CCCC", KEYS, credit=credit, now=WHEN)
    assert isinstance(other, ClaimRefusal) and other.reason is ClaimReason.ALREADY_CLAIMED
    assert stamps(db) == 3
    # Survives a restart of the platform: the table is the memory, not a cache.
    db.conn.close()
    db = platform(tmp_path / "platform.db")
    again = redeem_claim(db, code(), "CT-AAAA-BBBB-CCCC", KEYS, credit=credit, now=WHEN)
    assert isinstance(again, ClaimRefusal) and again.reason is ClaimReason.ALREADY_CLAIMED


def test_two_racing_claims_credit_once(tmp_path: Path) -> None:
    path = tmp_path / "platform.db"
    platform(path).conn.close()
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def claim() -> None:
        db = platform(path)
        db.conn.execute("PRAGMA busy_timeout = 5000")
        barrier.wait()
        outcomes.append(
            redeem_claim(db, code(), "CT-AAAA-BBBB-CCCC", KEYS, credit=credit, now=WHEN)
        )
        db.conn.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kinds = sorted(type(o).__name__ for o in outcomes)
    assert kinds == ["ClaimCredited", "ClaimRefusal"]
    db = platform(path)
    assert stamps(db) == 3
    db.conn.close()


def test_a_failing_credit_leaves_the_claim_unclaimed(tmp_path: Path) -> None:
    db = platform(tmp_path / "platform.db")

    def broken(db: sqlite_utils.Database, claim: Claim, card_id: str) -> None:
        raise RuntimeError("platform bug")

    with pytest.raises(RuntimeError):
        redeem_claim(db, code(), "CT-AAAA-BBBB-CCCC", KEYS, credit=broken, now=WHEN)
    assert not db.conn.in_transaction
    ok = redeem_claim(db, code(), "CT-AAAA-BBBB-CCCC", KEYS, credit=credit, now=WHEN)
    assert isinstance(ok, ClaimCredited)


def test_an_old_claim_is_expired(tmp_path: Path) -> None:
    db = platform(tmp_path / "platform.db")
    late = redeem_claim(
        db, code(), "CT-AAAA-BBBB-CCCC", KEYS, credit=credit, now=WHEN + timedelta(days=91)
    )
    assert isinstance(late, ClaimRefusal) and late.reason is ClaimReason.EXPIRED
    assert stamps(db) == 0


def test_claim_response_answers_like_the_http_route(tmp_path: Path) -> None:
    db = platform(tmp_path / "platform.db")

    def known(card_id: str) -> bool:
        return db.execute("SELECT 1 FROM cards WHERE id = ?", [card_id]).fetchone() is not None

    def answer(body: object) -> tuple[int, dict[str, object]]:
        return claim_response(db, body, KEYS, credit=credit, card_exists=known, now=WHEN)

    status, body = answer({"code": code(), "card_id": "CT-AAAA-BBBB-CCCC"})
    assert status == 200 and body["status"] == "credited" and body["stamps"] == 3
    assert body["event_ids"] == [EVENT]
    status, body = answer({"code": code(), "card_id": "CT-AAAA-BBBB-CCCC"})
    assert (status, body["reason"]) == (409, "already_claimed")
    assert answer({"code": code(), "card_id": "CT-NOPE"})[0] == 404
    assert answer({"code": code()})[1]["reason"] == "bad_request"
    assert answer(["not", "an", "object"])[0] == 400
    assert answer({"code": code(), "card_id": "x\x00; DROP TABLE cards"})[0] == 400
    status, body = answer({"code": "CC1:garbage", "card_id": "CT-AAAA-BBBB-CCCC"})
    assert (status, body["reason"]) == (422, "malformed")
    assert stamps(db) == 3
