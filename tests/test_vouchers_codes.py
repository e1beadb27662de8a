"""City voucher codes (``CV1:``): issue, verify offline, refuse everything else without raising."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

import base45
import cbor2
import numpy as np
import pytest
import qrcode
import qrcode.util
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from city.issuer import Issuer
from loyalty import cards, vouchers
from loyalty.cards import Card, IssuerKey, Refusal, RefusalReason, TrustList, verify
from loyalty.i18n import LANGUAGES, money
from loyalty.vouchers import (
    MAX_ISSUED_LENGTH,
    MAX_LENGTH,
    PREFIX,
    Voucher,
    VoucherRefusal,
    VoucherRefusalReason,
    issue_voucher,
    new_voucher_id,
    refusal,
    verify_voucher,
    voucher_id_is_valid,
    voucher_number,
)
from scanner.decoders import DecoderUnavailable, make_decoder

NOW = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
ISSUED = NOW - timedelta(days=30)
EXPIRES = NOW + timedelta(days=335)
KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
KID = "a1b2c3d4"
ISSUER = "roeselare"
TRUST = TrustList(1, {KID: IssuerKey(KID, ISSUER, KEY.public_key())})
VOUCHER_ID = "CV-7KQ2-M9XD-4HTG"


def make_voucher(
    voucher_id: str = VOUCHER_ID,
    *,
    key: Ed25519PrivateKey = KEY,
    face_cents: int = 2500,
    currency: str = "EUR",
    city: str = "roeselare",
    campaign: str = "Kerstbon 2026",
    issued_at: datetime = ISSUED,
    expires_at: datetime = EXPIRES,
) -> str:
    return issue_voucher(
        key,
        kid=KID,
        issuer=ISSUER,
        voucher_id=voucher_id,
        face_cents=face_cents,
        currency=currency,
        city=city,
        campaign=campaign,
        issued_at=issued_at,
        expires_at=expires_at,
    )


CODE = make_voucher()
CARD_CODE = cards.issue(
    KEY, kid=KID, issuer=ISSUER, card_id="CT-7KQ2-M9XD-4HTW", issued_at=ISSUED, expires_at=EXPIRES
)


def refused(result: Voucher | VoucherRefusal) -> VoucherRefusal:
    assert isinstance(result, VoucherRefusal), f"accepted: {result}"
    return result


def parts(code: str, prefix: str = PREFIX) -> list[object]:
    """The four items of a code's COSE_Sign1 envelope."""
    tag = cbor2.loads(base45.b45decode(code[len(prefix) :]))
    assert tag.tag == 18
    items: list[object] = tag.value
    return items


def assemble(items: list[object], prefix: str = PREFIX) -> str:
    text: bytes = base45.b45encode(cbor2.dumps(cbor2.CBORTag(18, items)))
    return prefix + text.decode("ascii")


def with_claim(code: str, claim: int, value: object) -> str:
    """The code with one signed claim changed and the old signature kept (a tampered code)."""
    protected, unprotected, payload, signature = parts(code)
    assert isinstance(payload, bytes)
    claims = cbor2.loads(payload)
    claims[claim] = value
    return assemble([protected, unprotected, cbor2.dumps(claims, canonical=True), signature])


def signed(claims: dict[int, object], *, aad: bytes = b"citie-voucher/1") -> str:
    """A correctly signed voucher envelope around whatever claims a test wants."""
    return PREFIX + cards.seal(KEY, kid=KID, claims=claims, aad=aad)


GOOD_CLAIMS: dict[int, object] = {
    1: ISSUER,
    4: int(EXPIRES.timestamp()),
    6: int(ISSUED.timestamp()),
    7: VOUCHER_ID.encode(),
    -1: 2500,
    -2: "EUR",
    -3: "roeselare",
    -4: "Kerstbon 2026",
}


# --- issue and verify ----------------------------------------------------------------------------


def test_a_code_verifies_to_its_voucher_with_every_claim() -> None:
    voucher = verify_voucher(CODE, TRUST, now=NOW)
    assert voucher == Voucher(
        voucher_id=VOUCHER_ID,
        face_cents=2500,
        currency="EUR",
        city="roeselare",
        campaign="Kerstbon 2026",
        issuer=ISSUER,
        kid=KID,
        issued_at=ISSUED,
        expires_at=EXPIRES,
    )
    assert voucher.to_json() == {
        "voucher_id": VOUCHER_ID,
        "face_cents": 2500,
        "currency": "EUR",
        "city": "roeselare",
        "campaign": "Kerstbon 2026",
        "issuer": ISSUER,
        "kid": KID,
        "issued_at": "2026-10-31T10:30:00Z",
        "expires_at": "2027-10-31T10:30:00Z",
    }
    # The same scheme as cards: the signed claims equal what a hand-made envelope says.
    assert verify_voucher(signed(GOOD_CLAIMS), TRUST, now=NOW) == voucher


def test_the_platform_issuer_makes_vouchers_terminals_verify(tmp_path: Path) -> None:
    issuer = Issuer.open(tmp_path / "keys", issuer="citie")
    voucher, code = issuer.issue_voucher(
        2500, city="oostende", campaign="Oostendebon", expires_days=365, now=NOW
    )
    assert voucher_id_is_valid(voucher.voucher_id)
    assert verify_voucher(code, issuer.trust_list(), now=NOW) == voucher
    assert voucher.expires_at == NOW + timedelta(days=365)
    # After a key rotation, older vouchers keep verifying and new ones use the new key.
    issuer.rotate()
    later, later_code = issuer.issue_voucher(
        1000, currency="EUR", city="oostende", campaign="", voucher_id=new_voucher_id(), now=NOW
    )
    assert later.kid == issuer.current_kid != voucher.kid
    assert verify_voucher(code, issuer.trust_list(), now=NOW) == voucher
    assert verify_voucher(later_code, issuer.trust_list(), now=NOW) == later
    # A naive time is taken as UTC, and what is returned is what the code says.
    naive, naive_code = issuer.issue_voucher(
        500, city="oostende", campaign="", now=datetime(2026, 11, 30, 9, 15, 30, 999)
    )
    assert verify_voucher(naive_code, issuer.trust_list(), now=NOW) == naive
    assert naive.issued_at == datetime(2026, 11, 30, 9, 15, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="expires after"):
        issuer.issue_voucher(2500, city="oostende", campaign="", expires_days=0)
    with pytest.raises(ValueError, match="face value"):
        issuer.issue_voucher(0, city="oostende", campaign="")


def test_codes_are_qr_alphanumeric_short_and_fit_a_version_10_qr() -> None:
    lengths = []
    for _ in range(30):
        code = make_voucher(new_voucher_id(), face_cents=random.randint(1, 100_000))
        lengths.append(len(code))
        assert qrcode.util.QRData(code.encode("ascii")).mode == qrcode.util.MODE_ALPHA_NUM
        assert code == code.strip()
    assert max(lengths) < 260
    # Long city and campaign names fit as long as the code stays within a version 10 symbol;
    # beyond that issuing says so instead of printing a QR code too dense to scan.
    long = make_voucher(city="c" * 20, campaign="Winterbon Roeselare 2026")
    assert len(long) <= MAX_ISSUED_LENGTH
    with pytest.raises(ValueError, match="small QR code"):
        make_voucher(face_cents=100_000_000, city="c" * 32, campaign="x" * 40)


def test_a_real_qr_image_reads_back_with_every_decoder_and_verifies() -> None:
    for code in (CODE, make_voucher(city="c" * 20, campaign="Winterbon Roeselare 2026")):
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4, border=4)
        qr.add_data(qrcode.util.QRData(code.encode("ascii"), mode=qrcode.util.MODE_ALPHA_NUM))
        qr.make(fit=True)
        assert qr.version <= 10
        grey = np.array(qr.make_image().convert("L"), dtype=np.uint8)
        # zxing-cpp (the scanner's first step) and zbar; OpenCV's detector, the pipeline's
        # last resort, misses some clean version 9-10 symbols whatever the content.
        for name in ("zxing", "zbar"):
            try:
                decoder = make_decoder(name)
            except DecoderUnavailable:
                if name == "zxing":
                    raise
                continue
            found = [d.text for d in decoder.decode(grey)]
            assert found == [code], name
            assert isinstance(verify_voucher(found[0], TRUST, now=NOW), Voucher)


def test_issue_refuses_what_could_not_be_verified() -> None:
    with pytest.raises(ValueError, match="expire after"):
        make_voucher(expires_at=ISSUED)
    with pytest.raises(ValueError, match="voucher id"):
        make_voucher("CT-7KQ2-M9XD-4HTW")
    with pytest.raises(ValueError, match="voucher id"):
        make_voucher("CV-7KQ2-M9XD-4HTX")  # wrong check character
    with pytest.raises(ValueError, match="face value"):
        make_voucher(face_cents=0)
    with pytest.raises(ValueError, match="face value"):
        make_voucher(face_cents=-100)
    with pytest.raises(ValueError, match="face value"):
        make_voucher(face_cents=True)
    with pytest.raises(ValueError, match="currency"):
        make_voucher(currency="eur")
    with pytest.raises(ValueError, match="city"):
        make_voucher(city="Sint Niklaas")
    for campaign in ("x" * 41, "bon\x1b[31m", "bon\u202e", " padded", "two\nlines"):
        with pytest.raises(ValueError, match="campaign"):
            make_voucher(campaign=campaign)


# --- the signature covers every claim -----------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        (-1, 250000),  # face value
        (-1, 2501),
        (-2, "USD"),  # currency
        (4, int((EXPIRES + timedelta(days=3650)).timestamp())),  # expiry
        (-3, "gent"),  # city
        (-4, "Gratis"),  # campaign
        (7, b"CV-2222-2222-222A"),  # voucher id
    ],
)
def test_a_tampered_claim_is_refused_as_a_bad_signature(claim: int, value: object) -> None:
    tampered = with_claim(CODE, claim, value)
    result = refused(verify_voucher(tampered, TRUST, now=NOW))
    assert result.reason == VoucherRefusalReason.BAD_SIGNATURE
    assert "altered or forged" in result.message


def test_one_flipped_payload_byte_is_refused_as_a_bad_signature() -> None:
    protected, unprotected, payload, signature = parts(CODE)
    assert isinstance(payload, bytes)
    face_bytes = cbor2.dumps(2500)
    at = payload.index(face_bytes)
    flipped = payload[:at] + cbor2.dumps(2600) + payload[at + len(face_bytes) :]
    code = assemble([protected, unprotected, flipped, signature])
    assert refused(verify_voucher(code, TRUST, now=NOW)).reason == "bad_signature"


def test_unknown_key_and_another_key_with_a_known_kid() -> None:
    other = TrustList(2, {"zz": IssuerKey("zz", ISSUER, KEY.public_key())})
    assert refused(verify_voucher(CODE, other, now=NOW)).reason == "unknown_key"
    forged = make_voucher(key=OTHER_KEY)
    assert refused(verify_voucher(forged, TRUST, now=NOW)).reason == "bad_signature"
    # The key belongs to another issuer: the claims' issuer must be the key's.
    foreign = TrustList(1, {KID: IssuerKey(KID, "gent", KEY.public_key())})
    assert refused(verify_voucher(CODE, foreign, now=NOW)).reason == "malformed"


# --- after the signature -------------------------------------------------------------------------


def test_expired_not_yet_valid_and_revoked() -> None:
    assert isinstance(verify_voucher(CODE, TRUST, now=EXPIRES - timedelta(seconds=1)), Voucher)
    expired = refused(verify_voucher(CODE, TRUST, now=EXPIRES))
    assert expired.reason == VoucherRefusalReason.EXPIRED
    assert "expired on 31 Oct 2027" in expired.message
    assert "31 oct. 2027" in expired.text("fr")
    assert "31.10.2027" in expired.text("de")

    early = ISSUED - cards.CLOCK_LEEWAY
    assert isinstance(verify_voucher(CODE, TRUST, now=early), Voucher)
    too_early = refused(verify_voucher(CODE, TRUST, now=early - timedelta(seconds=1)))
    assert too_early.reason == VoucherRefusalReason.NOT_YET_VALID

    revoked = refused(verify_voucher(CODE, TRUST, revoked={VOUCHER_ID}, now=NOW))
    assert revoked.reason == VoucherRefusalReason.REVOKED
    assert "cancelled by the city" in revoked.message


def test_claims_that_are_not_a_vouchers_are_malformed_even_when_signed() -> None:
    bad: list[dict[int, object]] = [
        {k: v for k, v in GOOD_CLAIMS.items() if k != -1},  # no face value
        {**GOOD_CLAIMS, -1: 0},
        {**GOOD_CLAIMS, -1: True},
        {**GOOD_CLAIMS, -1: 100_000_001},
        {**GOOD_CLAIMS, -2: "eu"},
        {**GOOD_CLAIMS, -3: "gent\x1b"},
        {**GOOD_CLAIMS, -4: "bon\x1b[2J"},
        {**GOOD_CLAIMS, -4: "\u202eevil"},
        {**GOOD_CLAIMS, 7: b"CV-7KQ2-M9XD-4HTX"},  # check character wrong
        {**GOOD_CLAIMS, 7: b"CT-7KQ2-M9XD-4HTW"},  # a card id
        {**GOOD_CLAIMS, 7: "CV-7KQ2-M9XD-4HTG"},  # text, not bytes
        {**GOOD_CLAIMS, 9: "extra"},
        {**GOOD_CLAIMS, 4: GOOD_CLAIMS[6]},  # expires when issued
    ]
    for claims in bad:
        result = refused(verify_voucher(signed(claims), TRUST, now=NOW))
        assert result.reason == VoucherRefusalReason.MALFORMED, claims


# --- a card is never a voucher, a voucher never a card -------------------------------------------


def test_a_card_code_is_not_a_voucher() -> None:
    result = refused(verify_voucher(CARD_CODE, TRUST, now=NOW))
    assert (result.reason, result.key) == ("not_a_voucher", "not_a_voucher.card")
    texts = {result.text(lang) for lang in LANGUAGES}
    assert len(texts) == 4
    assert "loyalty card" in result.message


def test_a_voucher_code_is_not_a_card() -> None:
    result = verify(CODE, TRUST, now=NOW)
    assert isinstance(result, Refusal)
    assert (result.reason, result.key) == (RefusalReason.NOT_A_CARD, "not_a_card.voucher")
    assert "city voucher" in result.message
    assert len({result.text(lang) for lang in LANGUAGES}) == 4
    # Lower case too (a scanner with Caps Lock on): still named as a voucher, not accepted.
    assert isinstance(verify(CODE.lower(), TRUST, now=NOW), Refusal)


def test_relabelled_envelopes_never_verify_as_the_other() -> None:
    # The prefix is outside the signature; the signed external data is not. A voucher's
    # envelope presented as a card, or a card's as a voucher, fails its signature.
    as_card = cards.PREFIX + CODE[len(PREFIX) :]
    card_result = verify(as_card, TRUST, now=NOW)
    assert isinstance(card_result, Refusal)
    assert card_result.reason == RefusalReason.BAD_SIGNATURE
    as_voucher = PREFIX + CARD_CODE[len(cards.PREFIX) :]
    assert refused(verify_voucher(as_voucher, TRUST, now=NOW)).reason == "bad_signature"
    # Voucher claims signed the card way (no external data) are not a voucher either.
    assert refused(verify_voucher(signed(GOOD_CLAIMS, aad=b""), TRUST, now=NOW)).reason == (
        "bad_signature"
    )
    # And the card verifier still takes what it always took.
    assert isinstance(verify(CARD_CODE, TRUST, now=NOW), Card)


# --- odd input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason", "key"),
    [
        ("", "not_a_voucher", "not_a_voucher.empty"),
        ("   \r\n", "not_a_voucher", "not_a_voucher.empty"),
        ("hello", "not_a_voucher", "not_a_voucher.text"),
        ("CV-7KQ2-M9XD-4HTG", "not_a_voucher", "not_a_voucher.text"),
        ("https://example.com/voucher", "not_a_voucher", "not_a_voucher.link"),
        ("BCD\n002\n1\nSCT\n", "not_a_voucher", "not_a_voucher.payment"),
        ("WIFI:S:shop;T:WPA;P:x;;", "not_a_voucher", "not_a_voucher.other_app"),
        ("CC1:ABC", "not_a_voucher", "not_a_voucher.claim"),
        ("CV2:ABCDEF", "malformed", "malformed.version"),
        ("\x1b[31mCV1:", "not_a_voucher", "not_a_voucher.text"),
        ("CV1:", "malformed", ""),
        ("CV1:abc", "malformed", ""),
        ("CV1:" + "A" * 300, "malformed", ""),
        ("CV1:\x00\x07\x1b", "malformed", ""),
        ("CV1:ÀÉ€", "malformed", ""),
    ],
)
def test_odd_input_gets_a_named_refusal(text: str, reason: str, key: str) -> None:
    result = refused(verify_voucher(text, TRUST, now=NOW))
    assert (result.reason.value, result.key) == (reason, key)
    for lang in LANGUAGES:
        said = result.text(lang)
        assert said and not any(ord(c) < 32 for c in said)


def test_case_changed_code_is_named_as_caps_lock() -> None:
    result = refused(verify_voucher(CODE.lower(), TRUST, now=NOW))
    assert result.key == "malformed.case"


def test_long_strings_are_refused_before_they_are_read() -> None:
    assert refused(verify_voucher("A" * 10_240, TRUST, now=NOW)).reason == "too_long"
    assert refused(verify_voucher(CODE + " " * MAX_LENGTH, TRUST, now=NOW)).reason == "too_long"
    assert refused(verify_voucher(PREFIX + "0" * 10_240, TRUST, now=NOW)).reason == "too_long"
    assert refused(verify_voucher("\x00" * 10_240, TRUST, now=NOW)).reason == "too_long"
    assert refused(verify_voucher("🙂" * 10_240, TRUST, now=NOW)).reason == "too_long"
    # Stray whitespace at the edges of a real code is forgiven, as for cards.
    assert isinstance(verify_voucher(f"  {CODE}\r\n", TRUST, now=NOW), Voucher)


def test_non_text_is_malformed_not_an_exception() -> None:
    for thing in (None, b"CV1:", 42, [CODE]):
        result = verify_voucher(thing, TRUST, now=NOW)  # type: ignore[arg-type]
        assert refused(result).reason == "malformed"


@settings(max_examples=1500, deadline=None, database=None)
@given(
    st.text(max_size=700)
    | st.text(alphabet=PREFIX + string.digits + "ABCV $%*+-./:", max_size=400)
    | st.builds(lambda s: PREFIX + s, st.text(alphabet=string.digits + "ABCXYZ $%*+-./:"))
)
def test_verify_never_raises_on_any_text(text: str) -> None:
    result = verify_voucher(text, TRUST, now=NOW)
    assert isinstance(result, VoucherRefusal)
    assert result.reason in VoucherRefusalReason
    assert result.message


@settings(max_examples=500, deadline=None, database=None)
@given(st.binary(max_size=300))
def test_verify_never_raises_on_any_envelope(data: bytes) -> None:
    text: bytes = base45.b45encode(data)
    assert isinstance(verify_voucher(PREFIX + text.decode(), TRUST, now=NOW), VoucherRefusal)


def test_seeded_mutations_never_raise_and_never_make_another_voucher() -> None:
    rng = random.Random(20261130)
    original = verify_voucher(CODE, TRUST, now=NOW)
    alphabet = string.digits + string.ascii_uppercase + " $%*+-./:"
    for _ in range(3000):
        text = list(CODE)
        for _ in range(rng.randint(1, 3)):
            where = rng.randrange(len(text))
            text[where] = rng.choice(alphabet)
        result = verify_voucher("".join(text), TRUST, now=NOW)
        assert isinstance(result, VoucherRefusal) or result == original


# --- ids and sentences ---------------------------------------------------------------------------


def test_voucher_ids_carry_a_check_character() -> None:
    ids = {new_voucher_id() for _ in range(200)}
    assert len(ids) == 200
    for voucher_id in ids:
        assert voucher_id.startswith("CV-") and len(voucher_id) == 17
        assert voucher_id_is_valid(voucher_id)
        assert not cards.card_id_is_valid(voucher_id)
    body = VOUCHER_ID.replace("-", "")[2:]
    for i, char in enumerate(body):
        for other in cards.CARD_ID_ALPHABET:
            if other != char:
                typo = body[:i] + other + body[i + 1 :]
                typed = f"CV-{typo[:4]}-{typo[4:8]}-{typo[8:]}"
                assert not voucher_id_is_valid(typed), typed
    assert not voucher_id_is_valid("CT-7KQ2-M9XD-4HTW")
    assert not voucher_id_is_valid("cv-7kq2-m9xd-4htg")


def test_voucher_number_forgives_how_people_type() -> None:
    for typed in (
        "CV-7KQ2-M9XD-4HTG",
        "cv 7kq2 m9xd 4htg",
        " cv7kq2m9xd4htg\n",
        "CV-7KQ2M9XD-4HTG",
    ):
        assert voucher_number(typed) == VOUCHER_ID
    for not_one in ("CT-7KQ2-M9XD-4HTW", "CV-7KQ2-M9XD", "", "x" * 500, "CV-7KQ2-M9XD-4HTG-2"):
        assert voucher_number(not_one) is None
    # A typo is a voucher number with a wrong check character, named as such by the caller.
    assert voucher_number("CV-7KQ2-M9XD-4HTX") == "CV-7KQ2-M9XD-4HTX"
    assert not voucher_id_is_valid("CV-7KQ2-M9XD-4HTX")
    # And card numbers are still card numbers only.
    assert cards.card_number("ct 7kq2 m9xd 4htw") == "CT-7KQ2-M9XD-4HTW"
    assert cards.card_number(VOUCHER_ID) is None


def test_refusals_name_amounts_in_four_languages() -> None:
    result = refusal(
        VoucherRefusalReason.INSUFFICIENT, remaining_cents=750, currency="EUR", asked_cents=1000
    )
    assert result.text("en") == result.message
    assert "€7.50" in result.message and "€10.00" in result.message
    for lang in LANGUAGES:
        assert money(750, lang) in result.text(lang)
        assert money(1000, lang) in result.text(lang)
    assert len({result.text(lang) for lang in LANGUAGES}) == 4
    assert result.to_json() == {
        "refused": "insufficient",
        "message": result.message,
        "remaining_cents": 750,
        "currency": "EUR",
    }


def test_every_sentence_exists_in_four_languages_with_the_same_fields() -> None:
    messages = vouchers.MESSAGES.messages
    for reason in VoucherRefusalReason:
        assert f"voucher.{reason.value}" in messages, reason
    for key, by_language in messages.items():
        assert set(by_language) == set(LANGUAGES), key
    # Every reason and key a verifier can produce has its sentence.
    for kind in ("card", "claim", "payment", "link", "other_app", "text", "empty"):
        assert f"voucher.not_a_voucher.{kind}" in messages
