"""Clearing a card's flag: the operator looked at the card and found it fine.

A family sharing one card across two shops, a test card, a café chain's staff card: the fraud
rules (``city.fraud``) flag them, and every terminal warns at the counter until somebody says
otherwise. ``citie-platform flags clear CARD_ID... --reason TEXT`` clears the flags in one
transaction: each card's ``card_flags`` row gets ``cleared_at`` and a new number from the
city-wide counter ``version``, so the updates feed sends the cleared state to every terminal
(``CardFlag.cleared``) and the warning disappears at their next sync. Who cleared it, when and
why is kept in ``card_flag_clearings``, one row per clearing (a card may be cleared, flagged
again and cleared again).

A clearing forgives what the platform had received when it was made: the card's events stored
before it (``pseq`` up to the clearing's ``last_pseq``) no longer count towards a new flag
(else the next stamp of the same day would raise ``city_daily_limit`` again at once). Events
stored afterwards are judged as usual; a card they catch again is flagged again, with a new
``first_at``. The store numbers are used, not times: a batch in the same millisecond as the
clearing is on one side of it, and the batches' per-card locks keep the order.

Ids that have no flag in force (never flagged, or already cleared) are all refused together
and nothing is cleared, as ``card revoke`` does with ids it never issued.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from city.store import Tx

VERSION_COUNTER: Final = "version"
"""The city-wide counter (revocations, vouchers and card flags share it)."""
CHUNK: Final = 500
"""Most ids in one ``IN (...)`` list."""
MAX_WHY: Final = 500
"""Longest reason kept (characters)."""
MAX_WHO: Final = 100
"""Longest operator name kept (characters)."""
FORGIVEN: Final = (
    "NOT EXISTS (SELECT 1 FROM card_flag_clearings c "
    "WHERE c.card_id = e.card_id AND c.last_pseq >= e.pseq)"
)
"""SQL condition on events ``e``: the event was stored after every clearing of its card."""


@dataclass(frozen=True)
class Clearing:
    """What ``clear`` did: the cards cleared, or the ids without a flag in force (then
    nothing was cleared)."""

    cleared: list[str]
    unflagged: list[str]


def clean_text(text: str, most: int) -> str:
    """A name or reason as stored: control characters become spaces, at most ``most``."""
    return "".join(" " if not ch.isprintable() else ch for ch in text).strip()[:most]


def clear(
    tx: Tx,
    card_ids: Sequence[str],
    bump: Callable[[int], int],
    *,
    for_update: str,
    now: str,
    by: str,
    why: str,
) -> Clearing:
    """Clear the flags of ``card_ids`` (distinct) in the caller's transaction, each with a new
    version; or none of them when some id has no flag in force."""
    wanted = sorted(set(card_ids))
    active: dict[str, tuple[str, str]] = {}
    last: dict[str, int] = {}
    for chunk in _chunks(wanted):
        marks = ", ".join("?" * len(chunk))
        # Rows locked in id order: two clearings (or a clearing and a batch) take turns.
        for row in tx.execute(
            "SELECT card_id, reasons, first_at, cleared_at FROM card_flags "  # noqa: S608
            f"WHERE card_id IN ({marks}) ORDER BY card_id{for_update}",
            chunk,
        ).fetchall():
            if row[3] is None:
                active[str(row[0])] = (str(row[1]), str(row[2]))
        for row in tx.execute(
            f"SELECT card_id, MAX(pseq) FROM events WHERE card_id IN ({marks}) "  # noqa: S608
            "GROUP BY card_id",
            chunk,
        ).fetchall():
            last[str(row[0])] = int(row[1])
    unflagged = [c for c in dict.fromkeys(card_ids) if c not in active]
    if unflagged or not wanted:
        return Clearing([], unflagged)
    top = bump(len(wanted))
    first = top - len(wanted) + 1
    who, reason = clean_text(by, MAX_WHO) or "unknown", clean_text(why, MAX_WHY)
    tx.executemany(
        "UPDATE card_flags SET cleared_at = ?, version = ? WHERE card_id = ?",
        [(now, first + n, card) for n, card in enumerate(wanted)],
    )
    tx.executemany(
        "INSERT INTO card_flag_clearings (card_id, version, cleared_at, cleared_by, why, "
        "reasons, first_at, last_pseq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (card, first + n, now, who, reason, *active[card], last.get(card, 0))
            for n, card in enumerate(wanted)
        ],
    )
    return Clearing(list(dict.fromkeys(card_ids)), [])


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
