"""The platform's claim answers speak the customer's language, over real HTTP, on both stores.

``POST /v1/claims`` is called by the customer's phone. Found before: every answer was English
(a refusal's sentence, with a technical detail in brackets), a waiting claim said so in English
and a credited one said nothing at all; a slip signed with ids that hold markup or control
characters had them said back in the answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from city.claims import accepted_languages, claim_language
from loyalty.claims import MESSAGES, sign_claim
from loyalty.i18n import LANGUAGES
from loyalty.keys import load_private_key
from tests.conftest_platform import PairedTerminal, RunningPlatform
from tests.test_city_claims import Counter as ClaimsCounter
from tests.test_city_claims import issue_card, sync

Terminals = Callable[..., PairedTerminal]
# Each request comes from a citizen of its own (the proxy's header, believed from 127.0.0.1),
# so the per-address rate limit of the open route never answers instead of the claim.
_CITIZENS = itertools.count(1)


def post(
    platform: RunningPlatform,
    body: object = None,
    *,
    accept: str | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    n = next(_CITIZENS)
    headers = {"X-Forwarded-For": f"198.18.{n // 250}.{n % 250 + 1}"}
    if accept is not None:
        headers["Accept-Language"] = accept
    if content is not None:
        return httpx.post(f"{platform.url}/v1/claims", content=content, headers=headers)
    return httpx.post(f"{platform.url}/v1/claims", json=body, headers=headers, timeout=20)


class Counter(ClaimsCounter):
    """The claim tests' counter, with the slip's receipt number and a sync of its own."""

    def slip(self, cents: int) -> tuple[str, str, str]:
        """(event id, receipt number, claim code) of an anonymous purchase."""
        event_id, code = self.anonymous_purchase(cents)
        event = self.ledger.event(event_id)
        assert event is not None
        return event_id, event.receipt_no, code

    def sync(self) -> None:
        sync(self.terminal)

    def sign(self, **fields: Any) -> str:
        """A code signed with the terminal's own key (what only a terminal can make)."""
        key = load_private_key(self.terminal.settings.private_key_path)
        claim: dict[str, Any] = {
            "terminal_id": self.terminal.terminal_id,
            "shop_id": self.terminal.shop_id,
            "event_ids": ["0190d5a4-0000-7000-8000-000000000001"],
            "receipt_no": f"{self.terminal.terminal_id}-900",
            "amount_cents": 2000,
            "currency": "EUR",
            "stamps": 2,
            "occurred_at": datetime.now(UTC),
        }
        return sign_claim(key, **(claim | fields))


def said(answer: httpx.Response, key: str, language: str, **values: object) -> None:
    """The answer is the catalog's sentence ``key`` in ``language``, and says which."""
    data = answer.json()
    assert data["language"] == language, answer.text
    assert data["message"] == MESSAGES.text(key, language, **values), answer.text


def test_a_refusal_answers_in_the_language_the_phone_asks_for(
    platform: RunningPlatform,
) -> None:
    unknown = "CT-AAAA-BBBB-CCCC"
    body = {"code": "CC1:X", "card_id": unknown}

    french = post(platform, body, accept="fr-BE,fr;q=0.9,en;q=0.8")
    assert (french.status_code, french.json()["reason"]) == (404, "unknown_card")
    assert french.json()["message"] == (
        "La carte CT-AAAA-BBBB-CCCC est inconnue de la plateforme. Vérifiez le numéro de carte, "
        "ou adressez-vous au commerce."
    )
    assert french.json()["language"] == "fr"
    said(post(platform, body, accept="nl"), "unknown_card.card_id", "nl", card_id=unknown)
    # The q-values rank, not the order: German is wanted more than English here.
    said(post(platform, body, accept="en;q=0.5, DE"), "unknown_card.card_id", "de", card_id=unknown)
    # The body's lang wins over the header.
    said(
        post(platform, body | {"lang": "en"}, accept="fr"),
        "unknown_card.card_id",
        "en",
        card_id=unknown,
    )
    english = post(platform, body | {"lang": "en-GB"}, accept="nl").json()
    assert english["message"] == (
        "The platform does not know card CT-AAAA-BBBB-CCCC. Check the card number, or ask at "
        "the shop."
    )


@pytest.mark.parametrize(
    ("accept", "lang"),
    [(None, None), ("ja, es;q=0.8, *;q=0.1", None), ("fr;q=0", None), ("de", "xx"), ("de", 7)],
)
def test_a_language_the_platform_does_not_speak_falls_back_to_dutch(
    platform: RunningPlatform, accept: str | None, lang: object
) -> None:
    body: dict[str, object] = {"code": "not a slip", "card_id": "CT-AAAA-BBBB-CCCC"}
    if lang is not None:
        body["lang"] = lang
    answer = post(platform, body, accept=accept)
    expected = "de" if accept == "de" else "nl"  # a lang it does not speak: the header decides
    assert answer.status_code == 404
    said(answer, "unknown_card.card_id", expected, card_id="CT-AAAA-BBBB-CCCC")


def test_waiting_credited_and_capped_claims_say_what_happened(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    counter = Counter(terminal_factory(platform))
    card_id = issue_card(platform)

    _, first_no, first = counter.slip(3550)
    waiting = post(platform, {"code": first, "card_id": card_id}, accept="fr")
    assert (waiting.status_code, waiting.json()["status"]) == (202, "waiting")
    said(waiting, "waiting", "fr", receipt_no=first_no)
    assert first_no in waiting.json()["message"]
    assert post(platform, {"code": first, "card_id": card_id, "lang": "de"}).json()[
        "message"
    ] == MESSAGES.text("waiting", "de", receipt_no=first_no)

    _, second_no, second = counter.slip(1200)
    counter.sync()  # the first claim is credited, the second purchase is on the platform
    credited = post(platform, {"code": second, "card_id": card_id}, accept="en-US,en;q=0.9")
    assert (credited.status_code, credited.json()["status"]) == (200, "credited")
    assert credited.json()["message"] == f"1 stamp from slip {second_no} is now on your card."
    assert credited.json()["language"] == "en"
    taken = post(platform, {"code": first, "card_id": card_id}, accept="de")
    assert (taken.status_code, taken.json()["reason"]) == (409, "already_claimed")
    said(taken, "already_claimed.receipt_no", "de", receipt_no=first_no)

    # The card's daily limit at the shop: 2 of a slip's 3 stamps, then none of the next.
    with platform.open_store() as store:
        store.set_program(
            "shop-a",
            "coffee",
            {
                "id": "coffee",
                "cents_per_stamp": 100,
                "stamps_per_visit": 0,
                "max_stamps_per_day": 5,
            },
        )
    limited = issue_card(platform)
    counter.ledger.stamp(limited, counter.program, count=3)
    _, third_no, third = counter.slip(3000)
    _, fourth_no, fourth = counter.slip(2000)
    counter.sync()
    capped = post(platform, {"code": third, "card_id": limited}, accept="nl-BE")
    assert (capped.json()["stamps"], capped.json()["slip_stamps"]) == (2, 3), capped.text
    said(capped, "credited.capped.other", "nl", stamps=2, receipt_no=third_no)
    nothing = post(platform, {"code": fourth, "card_id": limited, "lang": "fr"})
    assert (nothing.json()["stamps"], nothing.json()["slip_stamps"]) == (0, 2), nothing.text
    said(nothing, "credited.none", "fr", receipt_no=fourth_no)


def test_every_refusal_has_its_sentence_in_every_language(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    counter = Counter(terminal_factory(platform))
    card_id = issue_card(platform)
    revoked = issue_card(platform)
    with platform.open_store() as store:
        store.revoke(revoked)
    _, claimed_no, claimed = counter.slip(2000)
    voided_id, voided_no, voided = counter.slip(2500)
    counter.ledger.void(voided_id)
    counter.sync()
    assert post(platform, {"code": claimed, "card_id": card_id}).status_code == 200
    old = counter.sign(occurred_at=datetime.now(UTC) - timedelta(days=100))
    forged = claimed[:-6] + ("A" if claimed[-6] != "A" else "B") + claimed[-5:]
    cases: list[tuple[object, int, str, str, dict[str, object]]] = [
        ([1, 2], 400, "bad_request", "bad_request", {}),
        ({"code": claimed}, 400, "bad_request", "bad_request", {}),
        ({"code": claimed, "card_id": "<b>x</b>"}, 400, "bad_request", "bad_request", {}),
        (
            {"code": claimed, "card_id": "CT-NONE"},
            404,
            "unknown_card",
            "unknown_card.card_id",
            {"card_id": "CT-NONE"},
        ),
        (
            {"code": claimed, "card_id": revoked},
            409,
            "revoked",
            "revoked.card_id",
            {"card_id": revoked},
        ),
        (
            {"code": voided, "card_id": card_id},
            409,
            "voided",
            "voided.receipt_no",
            {"receipt_no": voided_no},
        ),
        (
            {"code": claimed, "card_id": issue_card(platform)},
            409,
            "already_claimed",
            "already_claimed.receipt_no",
            {"receipt_no": claimed_no},
        ),
        (
            {"code": old, "card_id": card_id},
            410,
            "expired",
            "expired.receipt_no",
            {"receipt_no": f"{counter.terminal.terminal_id}-900"},
        ),
        (
            {"code": "https://example.com", "card_id": card_id},
            422,
            "not_a_claim",
            "not_a_claim",
            {},
        ),
        ({"code": "CC1:" + "A" * 600, "card_id": card_id}, 422, "too_long", "too_long", {}),
        ({"code": "CC1:abc", "card_id": card_id}, 422, "malformed", "malformed", {}),
    ]
    if forged != claimed:
        cases.append(({"code": forged, "card_id": card_id}, 422, "", "", {}))
    for body, status, reason, key, values in cases:
        sentences = set()
        for language in LANGUAGES:
            sent = body | {"lang": language} if isinstance(body, dict) else body
            accept = language if not isinstance(body, dict) else "en;q=0.1"
            answer = post(platform, sent, accept=accept)
            assert answer.status_code == status, (body, answer.text)
            given = answer.json()["reason"]
            if not reason:  # a changed code: its signature or its Base45 gives way first
                assert given in {"bad_signature", "malformed"}
            else:
                assert given == reason
            said(answer, key or given, language, **values)
            sentences.add(answer.json()["message"])
        assert len(sentences) == len(LANGUAGES), (key, sentences)


def test_an_unreadable_claim_is_answered_in_the_header_s_language(
    platform: RunningPlatform,
) -> None:
    not_json = post(platform, content=b"{nope", accept="de-AT,de;q=0.9")
    assert not_json.status_code == 400
    assert not_json.json()["error"] == "bad_json"
    said(not_json, "request.bad_json", "de")
    too_large = post(platform, content=b"{" + b" " * 5000 + b"}", accept="fr")
    assert too_large.status_code == 413
    said(too_large, "request.too_large", "fr")
    nested = post(platform, content=b"[" * 3000, accept=None)
    assert nested.status_code == 400
    said(nested, "request.bad_json", "nl")


def test_a_signed_slip_with_ids_that_are_not_plain_is_not_said_back(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    counter = Counter(terminal_factory(platform))
    card_id = issue_card(platform)
    for fields in (
        {"receipt_no": "<img src=x onerror=alert(1)>"},
        {"receipt_no": "t1-7\x1b[2J\u202e"},
        {"event_ids": ["e-1", "<script>"]},
        {"program_id": "coffee\n<b>"},
    ):
        answer = post(platform, {"code": counter.sign(**fields), "card_id": card_id}, accept="en")
        assert (answer.status_code, answer.json()["reason"]) == (422, "malformed"), answer.text
        said(answer, "malformed", "en")
        assert not set(answer.text) & set("<>\x1b\u202e"), answer.text
    assert platform.query("SELECT COUNT(*) FROM claims") == [(0,)]


def test_accept_language_is_read_by_its_q_values() -> None:
    assert accepted_languages("fr-BE,fr;q=0.9,en;q=0.8") == ["fr-BE", "fr", "en"]
    assert accepted_languages("en;q=0.5, nl, de;q=0.7") == ["nl", "de", "en"]
    assert accepted_languages("de;q=0, en") == ["en"]
    assert accepted_languages("nl;q=1.5, <b>, fr;q=x, de;q=0.25") == ["de"]
    assert accepted_languages("") == accepted_languages(None) == []
    assert claim_language(None, "FR-ch") == "fr"
    assert claim_language({"lang": "de"}, "fr") == "de"
    assert claim_language({"lang": "es"}, "es, en;q=0.2") == "en"
    assert claim_language([], "*") == "nl"
