"""Amounts as a Belgian counter types them: accepted forms, refusals, and locale round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.i18n import LANGUAGES, money
from loyalty.money import MESSAGES, AmountError, AmountReason, parse_amount

ACCEPTED = [
    ("12,50", 1250),
    ("12.50", 1250),
    ("€ 12,50", 1250),
    ("€12,50", 1250),
    ("12,50 €", 1250),
    ("12,50€", 1250),
    ("EUR 12,50", 1250),
    ("12,50 EUR", 1250),
    ("eur 12.50", 1250),
    ("12€50", 1250),
    ("1.234,50", 123450),
    ("1 234,50", 123450),
    ("1\u00a0234,50", 123450),  # non-breaking space
    ("1\u202f234,50", 123450),  # narrow non-breaking space (fr_BE grouping)
    ("1,234.50", 123450),
    ("1 234", 123400),
    ("9.876,54", 987654),
    ("12", 1200),
    ("12,5", 1250),
    ("0,01", 1),
    (",50", 50),
    ("12,", 1200),
    ("5,-", 500),
    ("€ 5,--", 500),
    ("  12,50  ", 1250),
    ("+12,50", 1250),
    ("007", 700),
]

REFUSED = [
    ("", AmountReason.EMPTY),
    ("   ", AmountReason.EMPTY),
    ("\u00a0", AmountReason.EMPTY),
    ("-12,50", AmountReason.NEGATIVE),
    ("\u221212,50", AmountReason.NEGATIVE),  # a real minus sign
    ("€ -12,50", AmountReason.NEGATIVE),
    ("- 1", AmountReason.NEGATIVE),
    ("0", AmountReason.ZERO),
    ("0,00", AmountReason.ZERO),
    ("-0", AmountReason.ZERO),
    ("12,505", AmountReason.AMBIGUOUS),
    ("1.234", AmountReason.AMBIGUOUS),
    ("1,234", AmountReason.AMBIGUOUS),
    ("0,125", AmountReason.TOO_MANY_DECIMALS),
    ("1234,567", AmountReason.TOO_MANY_DECIMALS),
    ("1.234,567", AmountReason.TOO_MANY_DECIMALS),
    ("10000,01", AmountReason.TOO_LARGE),
    ("1.000.000", AmountReason.TOO_LARGE),
    ("99999999999999999999", AmountReason.TOO_LARGE),
    ("abc", AmountReason.NOT_A_NUMBER),
    ("€", AmountReason.NOT_A_NUMBER),
    ("12.50 USD", AmountReason.NOT_A_NUMBER),
    ("12,50,00", AmountReason.NOT_A_NUMBER),
    ("1.23.4", AmountReason.NOT_A_NUMBER),
    ("12 50", AmountReason.NOT_A_NUMBER),
    ("1.234.5", AmountReason.NOT_A_NUMBER),
    ("1,234,5", AmountReason.NOT_A_NUMBER),
    ("1.234.567.89", AmountReason.NOT_A_NUMBER),
    ("12.345,67.8", AmountReason.NOT_A_NUMBER),
    ("1e3", AmountReason.NOT_A_NUMBER),
    ("12,5O", AmountReason.NOT_A_NUMBER),  # letter O, not zero
    ("١٢", AmountReason.NOT_A_NUMBER),  # Arabic-Indic digits
    ("NaN", AmountReason.NOT_A_NUMBER),
    ("Infinity", AmountReason.NOT_A_NUMBER),
    ("12\x0050", AmountReason.NOT_A_NUMBER),
    (".", AmountReason.NOT_A_NUMBER),
    ("1" * 41, AmountReason.NOT_A_NUMBER),  # longer than anyone types an amount
]


@pytest.mark.parametrize(("text", "cents"), ACCEPTED)
def test_accepted(text: str, cents: int) -> None:
    assert parse_amount(text) == cents


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_refused(text: str, reason: AmountReason) -> None:
    with pytest.raises(AmountError) as caught:
        parse_amount(text)
    assert caught.value.reason == reason
    assert caught.value.message == str(caught.value)
    assert caught.value.message == MESSAGES.text(reason.value, "en") or reason is (
        AmountReason.TOO_LARGE
    )


def test_the_maximum_is_configurable_and_named_in_each_language() -> None:
    assert parse_amount("10000") == 1_000_000
    assert parse_amount("250", max_cents=25_000) == 25_000
    with pytest.raises(AmountError) as caught:
        parse_amount("250,01", max_cents=25_000)
    assert caught.value.reason == AmountReason.TOO_LARGE
    assert (
        caught.value.text("en") == "This amount is over the maximum of €250.00; check the amount."
    )
    assert "250,00\xa0€" in caught.value.text("fr")
    assert "€\xa0250,00" in caught.value.text("nl")
    assert "250,00\xa0€" in caught.value.text("de")


def test_amounts_are_never_floats() -> None:
    # 0.29 * 100 is 28.999999999999996 in binary floating point.
    assert parse_amount("0,29") == 29
    assert parse_amount("1.234.567,89", max_cents=10**12) == 123456789
    assert isinstance(parse_amount("19,99"), int)


def test_every_reason_is_translated() -> None:
    for reason in AmountReason:
        forms = MESSAGES.messages[reason.value]
        assert set(forms) == set(LANGUAGES)
        for language in ("fr", "nl", "de"):
            assert forms[language] != forms["en"]
        error = AmountError(reason)
        for language in LANGUAGES:
            assert error.text(language)


@settings(max_examples=300, deadline=None, database=None)
@given(st.integers(min_value=1, max_value=10**11))
def test_every_locale_format_parses_back(cents: int) -> None:
    for language in LANGUAGES:
        assert parse_amount(money(cents, language), max_cents=10**12) == cents


@settings(max_examples=300, deadline=None, database=None)
@given(st.integers(min_value=1, max_value=1_000_000))
def test_plain_typed_forms_parse_back(cents: int) -> None:
    euros, rest = divmod(cents, 100)
    for text in (f"{euros},{rest:02d}", f"{euros}.{rest:02d}", f"€ {euros},{rest:02d}"):
        assert parse_amount(text) == cents
    if rest == 0:
        assert parse_amount(str(euros)) == cents


@settings(max_examples=1000, deadline=None, database=None)
@given(st.text(max_size=50) | st.text(alphabet="0123456789.,-€ \u00a0\u202fEUR", max_size=20))
def test_anything_typed_gives_cents_or_a_reason(text: str) -> None:
    try:
        cents = parse_amount(text)
    except AmountError as error:
        assert error.reason in AmountReason
    else:
        assert isinstance(cents, int)
        assert 0 < cents <= 1_000_000
