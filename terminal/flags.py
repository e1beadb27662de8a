"""A card the city flagged, as the counter warns about it: "check this card" and why.

The platform sees patterns no single shop can (``city.fraud``: a card at several shops within
minutes, more stamps in a day across the city than it allows) and sends the flagged cards
with the updates; ``sync.puller`` keeps them in the ledger's ``card_flags``. The counter and
the headless commands read them here and say them in the shop's language. A flag never blocks:
the shopkeeper looks at the card and the customer, then carries on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from terminal.i18n import t

KNOWN_REASONS: Final = ("velocity", "city_daily_limit")
"""Reasons with their own sentence; any other code is named as the city sent it."""
CODE: Final = re.compile(r"[a-z0-9_]{1,64}")
"""What a reason code is (the protocol's ``Code``): nothing else from the ledger is shown,
and the headless commands load no screen library for ``terminal.safe``."""


@dataclass(frozen=True)
class CardFlagNote:
    """Why the city flagged a card, and since when."""

    reasons: tuple[str, ...]
    flagged_at: str

    def to_json(self) -> dict[str, Any]:
        """For ``--json`` outputs."""
        return {"reasons": list(self.reasons), "flagged_at": self.flagged_at}


def card_flag(db: Any, card_id: str) -> CardFlagNote | None:
    """The city's flag on ``card_id`` as this terminal last pulled it, or None."""
    row = db.execute(
        "SELECT reasons, flagged_at FROM card_flags WHERE card_id = ?", [card_id]
    ).fetchone()
    if row is None:
        return None
    reasons = tuple(r for r in str(row[0]).split(",") if CODE.fullmatch(r))
    return CardFlagNote(reasons, str(row[1])[:40]) if reasons else None


def reason_text(code: str, lang: str) -> str:
    """One reason in the shop's language."""
    if code in KNOWN_REASONS:
        return t(f"flag.reason.{code}", lang)
    return t("flag.reason.other", lang, code=code)


def flag_warning(reasons: tuple[str, ...], lang: str) -> str:
    """The counter's line: check this card, and why (empty when the card is not flagged)."""
    if not reasons:
        return ""
    return t("flag.check_card", lang, reasons="; ".join(reason_text(r, lang) for r in reasons))


def flag_json(note: CardFlagNote | None, lang: str) -> dict[str, Any]:
    """The flag's fields for a command's ``--json`` output (empty when the card is clean)."""
    if note is None:
        return {"flags": [], "flagged_at": None, "warning": None}
    return {
        "flags": list(note.reasons),
        "flagged_at": note.flagged_at,
        "warning": flag_warning(note.reasons, lang),
    }
