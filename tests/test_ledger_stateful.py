"""Hypothesis drives the ledger through stamps, purchases, redemptions, voids, syncs and restarts.

After every step: the balance table equals the fold of the events (and a model kept here),
no redemption took a card below zero, no event is voided twice and no void is voided, and
the daily stamp limit, the minimum gap and the offline redemption limits hold.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

import loyalty.schema  # noqa: F401  (registers the migrations)
from loyalty.db import Store, iso, parse_iso
from loyalty.ledger import EventKind, Ledger, LedgerRefusal, RefusalReason
from loyalty.programs import SHOP_TZ, OfflineLimits, Program

PROGRAM = Program(
    id="coffee",
    stamps_per_visit=1,
    cents_per_stamp=1000,
    reward_threshold=3,
    max_stamps_per_day=8,
    min_minutes_between_stamps=5,
)
LIMITS = OfflineLimits(per_card_per_day=1, per_terminal_per_day=3, max_hours_since_sync=0)
CARDS = st.sampled_from(["CT-A", "CT-B"])
START = datetime(2025, 3, 29, 20, 0, tzinfo=UTC)  # crosses the spring clock change


class LedgerMachine(RuleBasedStateMachine):
    """The ledger against a model of the balances it must keep."""

    events = Bundle("events")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="ledger-stateful-"))
        self.path = self.dir / "ledger.db"
        self.store = Store.open(self.path)
        self.ledger = Ledger(self.store, shop_id="s", terminal_id="t1")
        self.now = START
        self.model: dict[str, int] = defaultdict(int)
        self.voided: set[str] = set()
        self.kinds: dict[str, EventKind] = {}

    @initialize()
    def start(self) -> None:
        assert self.ledger.check().ok

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _recorded(self, card: str | None, stamps: int, event_id: str, kind: EventKind) -> str:
        if card is not None:
            self.model[card] += stamps
        self.kinds[event_id] = kind
        return event_id

    @rule(minutes=st.sampled_from([0, 1, 5, 30, 240, 1440]))
    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(target=events, card=CARDS, count=st.none() | st.integers(1, 4))
    def stamp(self, card: str, count: int | None) -> str:
        try:
            done = self.ledger.stamp(card, PROGRAM, count=count, now=self.now)
        except LedgerRefusal as refusal:
            assert refusal.reason in (RefusalReason.DAILY_LIMIT, RefusalReason.TOO_SOON)
            return "refused"
        assert done.event.stamps > 0
        return self._recorded(card, done.event.stamps, done.event.id, EventKind.STAMP)

    @rule(target=events, card=st.none() | CARDS, cents=st.integers(1, 6000))
    def purchase(self, card: str | None, cents: int) -> str:
        done = self.ledger.purchase(card, cents, PROGRAM, now=self.now)
        assert done.event.amount_cents == cents
        return self._recorded(card, done.event.stamps, done.event.id, EventKind.PURCHASE)

    @rule(target=events, card=CARDS)
    def redeem(self, card: str) -> str:
        before = self.model[card]
        try:
            done = self.ledger.redeem(card, PROGRAM, LIMITS, now=self.now)
        except LedgerRefusal as refusal:
            if before < PROGRAM.reward_threshold:
                assert refusal.reason is RefusalReason.BELOW_THRESHOLD
            else:
                assert refusal.reason in (
                    RefusalReason.OFFLINE_CARD_LIMIT,
                    RefusalReason.OFFLINE_TERMINAL_LIMIT,
                )
            return "refused"
        assert before >= PROGRAM.reward_threshold
        assert done.balance is not None and done.balance.total >= 0
        return self._recorded(card, done.event.stamps, done.event.id, EventKind.REDEEM)

    @rule(target=events, original=events)
    def void(self, original: str) -> str:
        if original == "refused":
            return "refused"
        try:
            done = self.ledger.void(original, now=self.now)
        except LedgerRefusal as refusal:
            if self.kinds[original] is EventKind.VOID:
                assert refusal.reason is RefusalReason.CANNOT_VOID_VOID
            else:
                assert original in self.voided
                assert refusal.reason is RefusalReason.ALREADY_VOIDED
            return "refused"
        assert self.kinds[original] is not EventKind.VOID
        assert original not in self.voided
        self.voided.add(original)
        card = done.event.card_id
        return self._recorded(card, done.event.stamps, done.event.id, EventKind.VOID)

    @rule(share=st.integers(1, 3))
    def sync_some(self, share: int) -> None:
        """The platform accepts every share-th pending event (as a sync run would)."""
        with self.store.write() as db:
            db.execute(
                "UPDATE outbox SET state = 'synced', updated_at = ? "
                "WHERE state = 'pending' AND seq % ? = 0",
                [iso(self.now), share],
            )

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = Store.open(self.path)
        self.ledger = Ledger(self.store, shop_id="s", terminal_id="t1")

    # --- invariants -------------------------------------------------------------------

    @invariant()
    def balances_are_the_fold_of_events(self) -> None:
        check = self.ledger.check()
        assert check.ok, check.to_json()
        db = self.store.read()
        table = dict(db.execute("SELECT card_id, stamps FROM balances").fetchall())
        assert table == {card: n for card, n in self.model.items() if card in table}
        assert all(self.model[card] == 0 for card in self.model if card not in table)
        for card in table:
            assert self.ledger.balance(card).local == self.model[card]

    @invariant()
    def voids_are_single_and_never_of_a_void(self) -> None:
        db = self.store.read()
        doubles = db.execute(
            "SELECT voids FROM events WHERE voids IS NOT NULL GROUP BY voids HAVING COUNT(*) > 1"
        ).fetchall()
        assert doubles == []
        of_void = db.execute(
            "SELECT COUNT(*) FROM events v JOIN events o ON o.id = v.voids WHERE o.kind = 'void'"
        ).fetchone()
        assert of_void == (0,)

    @invariant()
    def limits_hold(self) -> None:
        rows = (
            self.store.read()
            .execute(
                "SELECT e.card_id, e.kind, e.stamps, e.occurred_at, o.state FROM events e "
                "JOIN outbox o ON o.seq = e.seq WHERE e.card_id IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM events v WHERE v.voids = e.id) ORDER BY e.seq"
            )
            .fetchall()
        )
        per_day: dict[tuple[str, date], int] = defaultdict(int)
        last_earning: dict[str, datetime] = {}
        redeems_card: dict[tuple[str, date], int] = defaultdict(int)
        redeems_terminal: dict[date, int] = defaultdict(int)
        for card, kind, stamps, at_text, state in rows:
            at = parse_iso(at_text)
            day = at.astimezone(SHOP_TZ).date()
            if kind in ("stamp", "purchase") and stamps > 0:
                per_day[card, day] += stamps
                if card in last_earning:
                    gap = at - last_earning[card]
                    assert gap >= timedelta(minutes=PROGRAM.min_minutes_between_stamps)
                last_earning[card] = at
            if kind == "redeem" and state != "synced":
                redeems_card[card, day] += 1
                redeems_terminal[day] += 1
        assert all(n <= PROGRAM.max_stamps_per_day for n in per_day.values()), per_day
        assert all(n <= LIMITS.per_card_per_day for n in redeems_card.values())
        assert all(n <= LIMITS.per_terminal_per_day for n in redeems_terminal.values())


LedgerMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_ledger_stateful = LedgerMachine.TestCase
