"""A typed card number refused at the counter: the reason and the sentence, app and headless.

``Ledger.typed_card`` decides what a typed number names; this says why one is not taken, in
the shop's language, the same way in the counter app (``Desk.identify``) and the headless
commands (stamp, purchase, redeem, balance, card verify).
"""

from __future__ import annotations

from loyalty.cards import RefusalReason, card_number_refusal
from loyalty.ledger import TypedCard
from terminal.i18n import t


def typed_card_refusal(typed: TypedCard, language: str) -> tuple[str, str]:
    """``(reason, sentence)`` for a typed number that names no card this terminal can take."""
    if typed.refusal == "revoked":
        refusal = card_number_refusal(RefusalReason.REVOKED)
        return str(refusal.reason), refusal.text(language)
    if typed.refusal == "number_typo":
        return "number_typo", t("card.number_typo", language)
    return "number_unknown", t("card.number_unknown", language, card_id=typed.card_id)
