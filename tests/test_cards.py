"""Card codes: issue and verify, tampering, refusals, what is not a card, and `card verify`."""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import base45
import cbor2
import click
import numpy as np
import pytest
import qrcode
import qrcode.util
import zxingcpp
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty import cards
from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
from loyalty.cards import (
    CARD_ID_ALPHABET,
    MAX_LENGTH,
    MESSAGES,
    PREFIX,
    Card,
    IssuerKey,
    Refusal,
    RefusalReason,
    TrustList,
    card_id_is_valid,
    issue,
    new_card_id,
    verify,
)
from loyalty.db import Store
from loyalty.i18n import LANGUAGES

NOW = datetime(2026, 3, 14, 10, 30, tzinfo=UTC)
ISSUED = NOW - timedelta(days=30)
EXPIRES = NOW + timedelta(days=335)
KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
KID = "a1b2c3d4"
ISSUER = "roeselare"
TRUST = TrustList(1, {KID: IssuerKey(KID, ISSUER, KEY.public_key())})


def make_code(
    card_id: str = "CT-7KQ2-M9XD-4HTW",
    *,
    key: Ed25519PrivateKey = KEY,
    kid: str = KID,
    issuer: str = ISSUER,
    issued_at: datetime = ISSUED,
    expires_at: datetime = EXPIRES,
) -> str:
    return issue(
        key, kid=kid, issuer=issuer, card_id=card_id, issued_at=issued_at, expires_at=expires_at
    )


CODE = make_code()


def refused(result: Card | Refusal) -> RefusalReason:
    assert isinstance(result, Refusal), f"accepted: {result}"
    return result.reason


def envelope(code: str) -> bytes:
    assert code.startswith(PREFIX)
    data: bytes = base45.b45decode(code[len(PREFIX) :])
    return data


def encode(data: bytes) -> str:
    text: bytes = base45.b45encode(data)
    return PREFIX + text.decode("ascii")


def sign_envelope(
    protected: dict[int, object] | bytes,
    claims: object,
    *,
    key: Ed25519PrivateKey = KEY,
    unprotected: dict[int, object] | None = None,
    tag: bool = True,
) -> str:
    """A correctly signed COSE_Sign1 with whatever header and claims a test wants."""
    protected_bytes = (
        protected if isinstance(protected, bytes) else cbor2.dumps(protected, canonical=True)
    )
    payload = cbor2.dumps(claims, canonical=True)
    signature = key.sign(cbor2.dumps(["Signature1", protected_bytes, b"", payload]))
    items = [protected_bytes, unprotected or {}, payload, signature]
    return encode(cbor2.dumps(cbor2.CBORTag(18, items) if tag else items))


GOOD_CLAIMS = {1: ISSUER, 4: int(EXPIRES.timestamp()), 6: int(ISSUED.timestamp()), 7: b"CT-X"}
GOOD_HEADER = {1: -8, 4: KID.encode()}


# --- issue and verify --------------------------------------------------------------------------


def test_a_code_verifies_to_its_card() -> None:
    card = verify(CODE, TRUST, now=NOW)
    assert card == Card("CT-7KQ2-M9XD-4HTW", ISSUER, KID, ISSUED.replace(microsecond=0), EXPIRES)
    assert card.to_json() == {
        "card_id": "CT-7KQ2-M9XD-4HTW",
        "issuer": ISSUER,
        "kid": KID,
        "issued_at": "2026-02-12T10:30:00Z",
        "expires_at": "2027-02-12T10:30:00Z",
    }


def test_codes_are_short_and_qr_alphanumeric() -> None:
    lengths = [len(make_code(new_card_id())) for _ in range(50)]
    # What the platform issues: about 200 characters, well under the 300 the design promises.
    assert max(lengths) < 220
    worst = make_code(
        "C" + "-" * 39, kid="k" * 32, issuer="i" * 64, expires_at=NOW + timedelta(days=7300)
    )
    assert len(worst) < MAX_LENGTH
    assert isinstance(
        verify(
            worst,
            TrustList(1, {"k" * 32: IssuerKey("k" * 32, "i" * 64, KEY.public_key())}),
            now=NOW,
        ),
        Card,
    )
    for code in (CODE, worst):
        assert qrcode.util.QRData(code.encode("ascii")).mode == qrcode.util.MODE_ALPHA_NUM
        # Base45 never ends in a space (its last character carries the high digits), so
        # stripping the edges of a scanned code can never eat part of it.
        assert code == code.strip()


def test_a_real_qr_image_reads_back_and_verifies() -> None:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4, border=4)
    qr.add_data(qrcode.util.QRData(CODE.encode("ascii"), mode=qrcode.util.MODE_ALPHA_NUM))
    qr.make(fit=True)
    image = np.array(qr.make_image().convert("L"), dtype=np.uint8)
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.barcode_formats_from_str("QRCode"))
    assert [barcode.text for barcode in found] == [CODE]
    assert isinstance(verify(found[0].text, TRUST, now=NOW), Card)
    # Alphanumeric mode keeps the symbol small enough for a phone screen or a printed card.
    assert qr.version <= 10


def test_stray_whitespace_at_the_edges_is_ignored() -> None:
    for wrapped in (f"  {CODE}\r\n", f"\t{CODE}\n", f"\u00a0{CODE}\u2003"):
        assert isinstance(verify(wrapped, TRUST, now=NOW), Card)


def test_verify_builds_the_same_sig_structure_as_cbor2() -> None:
    # The verifier assembles the COSE Sig_structure by hand for speed; a code signed over
    # cbor2's encoding of it must verify.
    code = sign_envelope(GOOD_HEADER, GOOD_CLAIMS)
    card = verify(code, TRUST, now=NOW)
    assert isinstance(card, Card)
    assert card.card_id == "CT-X"


def test_issue_refuses_fields_that_could_not_be_verified() -> None:
    with pytest.raises(ValueError, match="expire after"):
        make_code(expires_at=ISSUED)
    with pytest.raises(ValueError, match="card id"):
        make_code("ct-lower")
    with pytest.raises(ValueError, match="issuer"):
        make_code(issuer="a city")
    with pytest.raises(ValueError, match="key id"):
        make_code(kid="")


# --- refusals after the signature -----------------------------------------------------------


def test_expired_and_not_yet_valid_follow_the_clock() -> None:
    assert isinstance(verify(CODE, TRUST, now=EXPIRES - timedelta(seconds=1)), Card)
    expired = verify(CODE, TRUST, now=EXPIRES)
    assert refused(expired) == RefusalReason.EXPIRED
    assert isinstance(expired, Refusal)
    assert "expired on 12 Feb 2027" in expired.message
    assert "12 feb 2027" in expired.text("nl")

    early = ISSUED - cards.CLOCK_LEEWAY
    assert isinstance(verify(CODE, TRUST, now=early), Card)
    too_early = verify(CODE, TRUST, now=early - timedelta(seconds=1))
    assert refused(too_early) == RefusalReason.NOT_YET_VALID
    assert refused(verify(CODE, TRUST, now=early, leeway=timedelta(0))) == (
        RefusalReason.NOT_YET_VALID
    )


def test_a_naive_now_is_read_as_utc() -> None:
    assert refused(verify(CODE, TRUST, now=EXPIRES.replace(tzinfo=None))) == RefusalReason.EXPIRED


def test_revoked_cards_are_refused() -> None:
    assert refused(verify(CODE, TRUST, revoked={"CT-7KQ2-M9XD-4HTW"}, now=NOW)) == (
        RefusalReason.REVOKED
    )
    assert isinstance(verify(CODE, TRUST, revoked={"CT-OTHER"}, now=NOW), Card)


def test_unknown_key_and_wrong_key() -> None:
    assert refused(verify(make_code(kid="zz999999"), TRUST, now=NOW)) == RefusalReason.UNKNOWN_KEY
    assert refused(verify(CODE, TrustList(0, {}), now=NOW)) == RefusalReason.UNKNOWN_KEY
    # Signed by someone else under a trusted key id: the signature gives it away.
    forged = make_code(key=OTHER_KEY)
    assert refused(verify(forged, TRUST, now=NOW)) == RefusalReason.BAD_SIGNATURE


def test_key_rotation_keeps_old_cards_valid() -> None:
    new_kid = "e5f6a7b8"
    rotated = TrustList(
        2,
        {
            KID: IssuerKey(KID, ISSUER, KEY.public_key()),
            new_kid: IssuerKey(new_kid, ISSUER, OTHER_KEY.public_key()),
        },
    )
    new_code = make_code("CT-NEW", key=OTHER_KEY, kid=new_kid)
    old = verify(CODE, rotated, now=NOW)
    new = verify(new_code, rotated, now=NOW)
    assert isinstance(old, Card)
    assert old.kid == KID
    assert isinstance(new, Card)
    assert new.kid == new_kid
    assert refused(verify(new_code, TRUST, now=NOW)) == RefusalReason.UNKNOWN_KEY


def test_a_key_signs_only_for_its_own_issuer() -> None:
    other_city = make_code(issuer="brugge")
    assert refused(verify(other_city, TRUST, now=NOW)) == RefusalReason.MALFORMED


@pytest.mark.parametrize(
    ("header", "claims", "unprotected", "tag"),
    [
        ({1: -7, 4: KID.encode()}, GOOD_CLAIMS, None, True),  # ES256 is not what we sign with
        (b"\xa2\x04\x48" + KID.encode() + b"\x01\x27", GOOD_CLAIMS, None, True),  # reordered
        ({1: -8, 4: KID.encode(), 3: 0}, GOOD_CLAIMS, None, True),  # extra header
        (GOOD_HEADER, GOOD_CLAIMS, {4: KID.encode()}, True),  # something unprotected
        (GOOD_HEADER, GOOD_CLAIMS, None, False),  # untagged
        (GOOD_HEADER, {**GOOD_CLAIMS, 4: "2027-01-01"}, None, True),
        (GOOD_HEADER, {**GOOD_CLAIMS, 6: True}, None, True),
        (GOOD_HEADER, {**GOOD_CLAIMS, 4: 2**40}, None, True),
        (GOOD_HEADER, {**GOOD_CLAIMS, 4: GOOD_CLAIMS[6]}, None, True),  # expires when issued
        (GOOD_HEADER, {**GOOD_CLAIMS, 7: "CT-X"}, None, True),  # text, not bytes
        (GOOD_HEADER, {**GOOD_CLAIMS, 7: b"CT X\n"}, None, True),
        (GOOD_HEADER, {**GOOD_CLAIMS, 7: b"\xff"}, None, True),
        (GOOD_HEADER, {k: v for k, v in GOOD_CLAIMS.items() if k != 1}, None, True),
        (GOOD_HEADER, [1, 2, 3], None, True),
        (GOOD_HEADER, cbor2.CBORTag(1, 0), None, True),
    ],
)
def test_well_signed_but_not_our_shape_is_malformed(
    header: dict[int, object] | bytes,
    claims: object,
    unprotected: dict[int, object] | None,
    tag: bool,
) -> None:
    code = sign_envelope(header, claims, unprotected=unprotected, tag=tag)
    assert refused(verify(code, TRUST, now=NOW)) == RefusalReason.MALFORMED


def test_non_shortest_lengths_and_trailing_bytes_are_malformed() -> None:
    data = envelope(CODE)
    assert data[2] == 0x4D  # protected: bstr of 13 bytes, one-byte head
    stretched = data[:2] + b"\x58\x0d" + data[3:]  # same bstr, two-byte head
    assert refused(verify(encode(stretched), TRUST, now=NOW)) == RefusalReason.MALFORMED
    assert refused(verify(encode(data + b"\x00"), TRUST, now=NOW)) == RefusalReason.MALFORMED
    assert refused(verify(encode(data[:-1]), TRUST, now=NOW)) == RefusalReason.MALFORMED


# --- tampering -----------------------------------------------------------------------------------


def test_every_bit_flip_of_the_signed_envelope_is_refused() -> None:
    data = envelope(CODE)
    reasons = set()
    for index in range(len(data)):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[index] ^= 1 << bit
            reasons.add(refused(verify(encode(bytes(flipped)), TRUST, now=NOW)))
    assert reasons <= {
        RefusalReason.MALFORMED,
        RefusalReason.BAD_SIGNATURE,
        RefusalReason.UNKNOWN_KEY,
    }
    assert RefusalReason.BAD_SIGNATURE in reasons


def test_every_bit_flip_and_deletion_of_the_text_is_refused() -> None:
    for index in range(len(CODE)):
        for bit in range(8):
            text = CODE[:index] + chr(ord(CODE[index]) ^ (1 << bit)) + CODE[index + 1 :]
            if text.strip() == CODE:  # a flip at the edge that makes whitespace
                continue
            refused(verify(text, TRUST, now=NOW))
        refused(verify(CODE[:index] + CODE[index + 1 :], TRUST, now=NOW))


def test_truncated_codes_are_refused() -> None:
    for end in range(len(CODE)):
        refused(verify(CODE[:end], TRUST, now=NOW))


# --- what is not a card --------------------------------------------------------------------------

EPC_QR = "\n".join(
    [
        "BCD",
        "002",
        "1",
        "SCT",
        "GEBABEBB",
        "Bakkerij Vandamme",
        "BE71096123456769",
        "EUR12.50",
        "",
        "",
        "Factuur 2026-031",
    ]
)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (EPC_QR, "not_a_card.payment"),
        (EPC_QR.replace("\n", "\r\n"), "not_a_card.payment"),
        ("https://payconiq.com/pay/2/5c1b0a0c3b2e4d0012345678", "not_a_card.payment"),
        ("https://portal.payconiq.com/qrcode?c=https%3A%2F%2Fpayconiq.com", "not_a_card.payment"),
        ("BEP://1https://payconiq.com/pay/2/abc", "not_a_card.payment"),
        ("00020101021226360014BE.BANCONTACT", "not_a_card.payment"),
        ("https://www.roeselare.be/citie", "not_a_card.link"),
        ("HTTP://EXAMPLE.BE", "not_a_card.link"),
        ("www.joyn.be", "not_a_card.link"),
        ("WIFI:S:Bakkerij;T:WPA;P:secret;;", "not_a_card.other_app"),
        ("BEGIN:VCARD\nVERSION:3.0\nFN:Jan\nEND:VCARD", "not_a_card.other_app"),
        ("HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N", "not_a_card.other_app"),
        ("mailto:info@example.be", "not_a_card.other_app"),
        ("5412345678908", "not_a_card.text"),
        ("hello there", "not_a_card.text"),
        ("CT-7KQ2-M9XD-4HTW", "not_a_card.text"),  # a card id typed without its code
        ("", "not_a_card.empty"),
        (" \t\r\n", "not_a_card.empty"),
    ],
)
def test_what_is_not_a_card_is_named(text: str, key: str) -> None:
    result = verify(text, TRUST, now=NOW)
    assert refused(result) == RefusalReason.NOT_A_CARD
    assert isinstance(result, Refusal)
    assert result.key == key


def test_payment_codes_and_links_say_what_they_are() -> None:
    payment = verify(EPC_QR, TRUST, now=NOW)
    link = verify("https://example.be", TRUST, now=NOW)
    assert isinstance(payment, Refusal)
    assert isinstance(link, Refusal)
    assert "payment code, not a loyalty card; ask the customer for their loyalty card" in (
        payment.message
    )
    assert "web link, not a loyalty card" in link.message
    assert "betaalcode" in payment.text("nl")
    assert "code de paiement" in payment.text("fr")
    assert "Zahlungscode" in payment.text("de")


def test_a_caps_lock_code_and_a_newer_version_are_told_apart() -> None:
    lowered = verify(CODE.lower(), TRUST, now=NOW)
    assert refused(lowered) == RefusalReason.MALFORMED
    assert isinstance(lowered, Refusal)
    assert lowered.key == "malformed.case"
    newer = verify("CT2:" + CODE[4:], TRUST, now=NOW)
    assert refused(newer) == RefusalReason.MALFORMED
    assert isinstance(newer, Refusal)
    assert newer.key == "malformed.version"


def test_too_long_is_refused_unread() -> None:
    body = CODE + "0" * (MAX_LENGTH - len(CODE))
    assert len(body) == MAX_LENGTH
    assert refused(verify(body, TRUST, now=NOW)) == RefusalReason.MALFORMED
    assert refused(verify(body + "0", TRUST, now=NOW)) == RefusalReason.TOO_LONG
    # Length is checked before stripping: padding does not sneak a long text through.
    assert refused(verify(CODE + " " * MAX_LENGTH, TRUST, now=NOW)) == RefusalReason.TOO_LONG
    assert refused(verify("\x00" * 3000, TRUST, now=NOW)) == RefusalReason.TOO_LONG


# --- no exception escapes ------------------------------------------------------------------------


@settings(max_examples=1500, deadline=None, database=None)
@given(st.text(max_size=600) | st.text(alphabet=PREFIX + string.digits + "ABC $%*+-./:"))
def test_verify_never_raises_on_any_text(text: str) -> None:
    result = verify(text, TRUST, now=NOW)
    assert isinstance(result, Refusal | Card)
    if isinstance(result, Refusal):
        assert result.reason in RefusalReason


@settings(max_examples=500, deadline=None, database=None)
@given(st.binary(max_size=300))
def test_verify_never_raises_on_any_envelope(data: bytes) -> None:
    assert isinstance(verify(encode(data), TRUST, now=NOW), Refusal)


def test_seeded_mutations_never_raise_and_never_make_another_card() -> None:
    rng = random.Random(20260314)
    original = verify(CODE, TRUST, now=NOW)
    alphabet = string.digits + string.ascii_uppercase + " $%*+-./:"
    odd = ["\x00", "\x1b", "\ud800", "\udfff", "\u202e", "\ufeff", "€", "\n", "é", "🙂"]
    seen = 0
    for _ in range(8000):
        text = list(CODE)
        for _ in range(rng.randint(1, 4)):
            operation = rng.randrange(5)
            where = rng.randrange(len(text) + 1)
            if operation == 0 and text:
                text[min(where, len(text) - 1)] = rng.choice(alphabet)
            elif operation == 1:
                text.insert(where, rng.choice(alphabet))
            elif operation == 2 and text:
                del text[min(where, len(text) - 1)]
            elif operation == 3:
                text.insert(where, rng.choice(odd))
            else:
                text = text[: rng.randrange(len(text) + 1)] * rng.randint(1, 4)
        result = verify("".join(text), TRUST, now=NOW)
        if isinstance(result, Card):
            # Only a mutation that changed nothing (e.g. same character back) may pass.
            assert result == original
        seen += 1
    assert seen == 8000


def test_public_keys_are_loaded_once() -> None:
    raw = bytes.fromhex(TRUST.keys[KID].public_hex)
    assert cards.public_key_from_raw(raw) is cards.public_key_from_raw(bytes(raw))
    with pytest.raises(ValueError, match="32 bytes"):
        cards.public_key_from_raw(raw[:31])


def test_verify_never_raises_on_non_strings() -> None:
    for value in (None, b"CT1:ABC", 42, ["CT1:"]):
        assert refused(verify(value, TRUST, now=NOW)) == RefusalReason.MALFORMED  # type: ignore[arg-type]


# --- sentences -----------------------------------------------------------------------------------


def test_every_refusal_sentence_exists_in_every_language() -> None:
    keys = set(MESSAGES.messages)
    assert {reason.value for reason in RefusalReason} <= keys
    for key in keys:
        forms = MESSAGES.messages[key]
        assert set(forms) == set(LANGUAGES), key
        for language in ("fr", "nl", "de"):
            assert forms[language] != forms["en"], (key, language)
        for form in forms.values():
            assert not any(ord(c) < 32 for c in form)


def test_refusals_never_echo_the_scanned_text() -> None:
    nasty = "https://x.be/\x1b[31m[bold]<script>"
    result = verify(nasty, TRUST, now=NOW)
    assert isinstance(result, Refusal)
    for language in LANGUAGES:
        assert "\x1b" not in result.text(language)
        assert "[bold]" not in result.text(language)


# --- card ids ------------------------------------------------------------------------------------


def test_new_card_ids_are_readable_and_carry_a_check_character() -> None:
    ids = {new_card_id() for _ in range(2000)}
    assert len(ids) == 2000
    for card_id in ids:
        assert len(card_id) == len("CT-7KQ2-M9XD-4HTW")
        assert card_id_is_valid(card_id)
        assert not set(card_id[3:].replace("-", "")) & set("01OI")
    assert set(CARD_ID_ALPHABET).isdisjoint("01OI")


def test_the_check_character_catches_typing_mistakes() -> None:
    for _ in range(60):
        card_id = new_card_id()
        positions = [i for i, c in enumerate(card_id) if c != "-" and i >= 3]
        for i in positions:
            for replacement in CARD_ID_ALPHABET:
                if replacement != card_id[i]:
                    typo = card_id[:i] + replacement + card_id[i + 1 :]
                    assert not card_id_is_valid(typo), (card_id, typo)
        for n, a in enumerate(positions):
            for b in positions[n + 1 :]:
                if card_id[a] != card_id[b]:
                    swapped = list(card_id)
                    swapped[a], swapped[b] = swapped[b], swapped[a]
                    assert not card_id_is_valid("".join(swapped)), (card_id, a, b)
    assert not card_id_is_valid("CT-7KQ2-M9XD")
    assert not card_id_is_valid("XX-7KQ2-M9XD-4HTW")
    assert not card_id_is_valid("CT-7KQ2-M9XD-4HT0")


# --- the command ---------------------------------------------------------------------------------


def cli() -> click.Group:
    from terminal.cli import cli as group

    return group


def invoke(*args: str) -> Result:
    """Run a citie-terminal command in this process (the real command group)."""
    return CliRunner().invoke(cli(), list(args), catch_exceptions=False)


def test_card_verify_on_a_fresh_terminal(tmp_path: Path) -> None:
    from city.issuer import Issuer

    data = tmp_path / "terminal"
    assert invoke("init", "--data-dir", str(data)).exit_code == 0
    issuer = Issuer.open(tmp_path / "platform")
    card_id, code = issuer.issue_card()

    before = invoke("card", "verify", code, "--data-dir", str(data))
    assert before.exit_code == 1
    assert before.stderr.startswith("refused: unknown_key: ")
    assert "keys import" in before.stderr

    trust_file = tmp_path / "trust.json"
    trust_file.write_text(json.dumps(issuer.trust_list().to_json()), encoding="utf-8")
    imported = invoke("keys", "import", str(trust_file), "--data-dir", str(data))
    assert imported.exit_code == 0, imported.stderr

    # Once through the installed console script, as a till or a cron job would call it.
    program = Path(sys.executable).parent / "citie-terminal"
    ok = subprocess.run(
        [str(program), "card", "verify", code, "--json", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    card = json.loads(ok.stdout)
    assert card["card_id"] == card_id
    assert card["issuer"] == issuer.issuer
    assert card["kid"] == issuer.current_kid
    assert set(card) == {
        *("card_id", "issuer", "kid", "issued_at", "expires_at"),
        *("flags", "flagged_at", "warning"),  # the city's fraud flags (none on a fresh terminal)
    }
    assert (card["flags"], card["flagged_at"], card["warning"]) == ([], None, None)

    text = invoke("card", "verify", f" {code}\n", "--data-dir", str(data), "--lang", "en")
    assert text.exit_code == 0
    assert f"card {card_id}" in text.stdout

    piped = CliRunner().invoke(
        cli(), ["card", "verify", "-", "--data-dir", str(data), "--lang", "en"], input=code + "\n"
    )
    assert piped.exit_code == 0, piped.stderr
    assert f"card {card_id}" in piped.stdout
    flood = CliRunner().invoke(
        cli(), ["card", "verify", "-", "--data-dir", str(data)], input="A" * 5000
    )
    assert flood.exit_code == 1
    assert flood.stderr.startswith("refused: too_long: ")

    payment = invoke("card", "verify", EPC_QR, "--json", "--data-dir", str(data))
    assert payment.exit_code == 1
    # On stderr in the shop's language (the fresh terminal's default, Dutch).
    assert payment.stderr.startswith("refused: not_a_card: Dit is een betaalcode")
    answer = json.loads(payment.stdout)
    assert answer["refused"] == "not_a_card"
    assert answer["language"] == "nl"
    assert "betaalcode" in answer["text"]

    with Store.open(data / "ledger.db") as store, store.write() as db:
        db.execute(
            "INSERT INTO revoked_cards (card_id, revoked_at) VALUES (?, ?)", [card_id, "2026Z"]
        )
    revoked = invoke("card", "verify", code, "--data-dir", str(data))
    assert revoked.exit_code == 1
    assert revoked.stderr.startswith("refused: revoked: ")


def test_card_verify_needs_an_initialised_terminal(tmp_path: Path) -> None:
    result = invoke("card", "verify", CODE, "--data-dir", str(tmp_path / "nothing"))
    assert result.exit_code == 1
    assert result.stderr.startswith("refused: not_initialised: ")


def test_a_refusal_made_elsewhere_still_has_sentences() -> None:
    # Other packages may build a Refusal with just a reason (e.g. from a stored verdict).
    for reason in RefusalReason:
        refusal = Refusal(reason, "x", at=NOW)
        for language in LANGUAGES:
            assert refusal.text(language)
    assert Refusal(RefusalReason.MALFORMED, "x", key="no.such.key").text("fr")
