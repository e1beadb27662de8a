"""A Hypothesis state machine over city vouchers on a real platform (issue 13, tests): spends of
random amounts at random terminals (2 or 3, each of its own shop), voids, syncs (a terminal may
stay offline for a while) and revocations.

After every step: the platform's ``spent_cents`` of each voucher is the fold of the spends and
voids it stored, and those are exactly the ones the terminals' outboxes say were accepted. At
every spend a terminal allows, it stays within what it knows: no more than the face value less
every spend it knows of (confirmed by the platform at its last good sync, and its own since),
and no more than ``offline_max_cents`` spent on one voucher in events it has not synced yet.
What it may allow, it allows. A revocation it pulled is refused.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from city.cli import cli
from loyalty.ledger import Ledger, LedgerRefusal
from loyalty.trust import load_trust
from loyalty.voucher_book import VoucherBook, VoucherRefused
from loyalty.vouchers import Voucher, verify_voucher
from sync.job import run_sync
from sync.outbox import RetryPolicy
from tests.conftest_platform import PairedTerminal, RunningPlatform, make_terminal, start_platform
from tests.test_vouchers_http import dead_url

CAP = 3000
"""``offline_max_cents`` of the terminals here: below a voucher's face, so it bites."""
FACES = (2500, 6000)
QUIET = RetryPolicy(initial=0.005, maximum=0.05, budget=20.0)
OFFLINE = RetryPolicy(initial=0.005, maximum=0.01, budget=0.05)


@pytest.fixture(scope="module")
def shared_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    platform = start_platform(tmp_path_factory.mktemp("voucher-platform"))
    yield platform
    platform.stop()


def platform_command(platform: RunningPlatform, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--data-dir", str(platform.data_dir), *args])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def test_voucher_books_hold_whatever_the_counters_do(
    shared_platform: RunningPlatform, tmp_path: Path
) -> None:
    platform = shared_platform
    numbers = itertools.count()
    offline_url = dead_url()

    class VoucherMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.run = next(numbers)
            self.terminals: list[PairedTerminal] = []
            self.offline: list[bool] = []
            self.vouchers: list[tuple[str, str, int]] = []  # (id, code, face)
            # Per terminal: what the platform said each voucher's spent value was at the
            # terminal's last good sync, and its own net spends recorded since.
            self.confirmed: list[dict[str, int]] = []
            self.since: list[dict[str, int]] = []
            self.gross: list[dict[str, int]] = []  # the same, spends only (no voids)
            self.revoked_known: list[set[str]] = []
            self.spends: list[list[str]] = []  # per terminal: ids of spends not voided
            self.voided: set[str] = set()

        def add_terminal(self) -> None:
            n = len(self.terminals)
            root = Path(tempfile.mkdtemp(dir=tmp_path))
            terminal = make_terminal(root, platform, f"shop-v{self.run}-{n}", f"v{self.run}-{n}")
            self.terminals.append(terminal)
            self.offline.append(False)
            self.confirmed.append(defaultdict(int))
            self.since.append(defaultdict(int))
            self.gross.append(defaultdict(int))
            self.revoked_known.append(set())
            self.spends.append([])

        def ledger(self, n: int) -> Ledger:
            terminal = self.terminals[n]
            return Ledger(
                terminal.store,
                shop_id=terminal.shop_id,
                terminal_id=terminal.terminal_id,
                platform_configured=True,
            )

        def book(self, n: int) -> VoucherBook:
            return VoucherBook(self.ledger(n), offline_max_cents=CAP)

        def read(self, n: int, code: str) -> Voucher:
            found = verify_voucher(code, load_trust(self.terminals[n].store.read()))
            assert isinstance(found, Voucher), found
            return found

        # -- setup --------------------------------------------------------------------------

        @initialize(
            count=st.integers(2, 3), faces=st.lists(st.sampled_from(FACES), min_size=1, max_size=2)
        )
        def open_the_city(self, count: int, faces: list[int]) -> None:
            for face in faces:
                made = json.loads(
                    platform_command(
                        platform, "voucher", "new", "--amount", f"{face // 100},{face % 100:02d}",
                        "--campaign", f"run-{self.run}", "--json",
                    ).strip().splitlines()[-1]
                )  # fmt: skip
                self.vouchers.append((str(made["voucher_id"]), str(made["code"]), face))
            for _ in range(count):
                self.add_terminal()
            for n in range(count):
                self.sync(n)

        # -- the counter --------------------------------------------------------------------

        @rule(
            pick=st.integers(0, 2),
            which=st.integers(0, 1),
            amount=st.none() | st.integers(1, 3500) | st.sampled_from([1, 2500, 3000]),
        )
        def spend(self, pick: int, which: int, amount: int | None) -> None:
            self.pay(pick % len(self.terminals), which, amount)

        @rule(pick=st.integers(0, 2), which=st.integers(0, 1), amount=st.integers(1, 2000))
        def spend_small(self, pick: int, which: int, amount: int) -> None:
            """Spends are most of what a counter does (a second rule makes them likelier)."""
            self.pay(pick % len(self.terminals), which, amount)

        def pay(self, n: int, which: int, amount: int | None) -> None:
            voucher_id, code, face = self.vouchers[which % len(self.vouchers)]
            known = self.confirmed[n][voucher_id] + self.since[n][voucher_id]
            left = face - known
            # The cap counts this terminal's unsynced spends; a void may or may not give room
            # back under it, so what it must allow is judged by the spends alone.
            sure = min(left, CAP - self.gross[n][voucher_id])
            revoked = voucher_id in self.revoked_known[n]
            try:
                done = self.book(n).spend(self.read(n, code), amount)
            except VoucherRefused as refused:
                event(f"spend refused: {refused.reason}")
                if revoked:
                    assert refused.reason == "revoked" or left <= 0, refused.refusal
                    return
                # What it may allow, it allows.
                if amount is None:
                    assert sure <= 0 or left > sure, (refused.refusal, left, sure)
                else:
                    assert amount > sure, (refused.refusal, amount, sure)
                return
            spent = done.event.amount_cents
            event(
                "spend kept"
                + (" past the face city-wide" if spent > face - self.city(voucher_id) else "")
            )
            assert spent is not None and spent > 0
            assert not revoked, "a revocation it pulled is refused"
            assert spent <= left, "never more than the face less what it knows"
            assert spent <= CAP - self.since[n][voucher_id], "never past the offline cap"
            if amount is not None:
                assert spent == amount
            elif left <= CAP - self.gross[n][voucher_id]:
                assert spent == left, "the whole value left"
            assert done.event.voucher_id == voucher_id and done.event.card_id is None
            self.since[n][voucher_id] += spent
            self.gross[n][voucher_id] += spent
            self.spends[n].append(done.event.id)

        @precondition(lambda self: any(self.spends))
        @rule(pick=st.integers(0, 2), index=st.integers(0, 50))
        def void(self, pick: int, index: int) -> None:
            n = pick % len(self.terminals)
            if not self.spends[n]:
                return
            event_id = self.spends[n].pop(index % len(self.spends[n]))
            try:
                done = self.ledger(n).void(event_id)
            except LedgerRefusal as refusal:
                raise AssertionError(f"a spend not voided yet is voidable: {refusal}") from None
            assert done.event.amount_cents is not None and done.event.amount_cents < 0
            voucher_id = done.event.voucher_id
            assert voucher_id is not None
            self.since[n][voucher_id] += done.event.amount_cents
            self.voided.add(event_id)

        @rule(pick=st.integers(0, 2))
        def toggle_offline(self, pick: int) -> None:
            n = pick % len(self.terminals)
            self.offline[n] = not self.offline[n]

        @rule(pick=st.integers(0, 2))
        def sync_one(self, pick: int) -> None:
            self.sync(pick % len(self.terminals))

        def sync(self, n: int) -> None:
            terminal = self.terminals[n]
            if self.offline[n]:
                config = terminal.with_settings(platform={"url": offline_url})
                report = run_sync(config, terminal.store, policy=OFFLINE, backup=False)
                assert report.exit_code != 0 and report.pull is None, report.to_json()
                return
            report = run_sync(terminal.settings, terminal.store, policy=QUIET, backup=False)
            assert report.exit_code == 0, report.to_json()
            spent = self.platform_spent()
            self.confirmed[n] = defaultdict(int, spent)
            self.since[n] = defaultdict(int)
            self.gross[n] = defaultdict(int)
            self.revoked_known[n] = self.platform_revoked()

        @rule(which=st.integers(0, 1), chance=st.integers(0, 3))
        def revoke(self, which: int, chance: int) -> None:
            if chance:  # a city revokes a voucher now and then, not at every other step
                return
            voucher_id = self.vouchers[which % len(self.vouchers)][0]
            platform_command(platform, "voucher", "revoke", voucher_id)

        def city(self, voucher_id: str) -> int:
            """What the platform holds as spent of a voucher now."""
            return self.platform_spent().get(voucher_id, 0)

        # -- what the platform holds --------------------------------------------------------

        def ids(self) -> list[str]:
            return [v[0] for v in self.vouchers]

        def platform_spent(self) -> dict[str, int]:
            ids = self.ids()
            marks = ", ".join("?" * len(ids))
            rows = platform.query(
                f"SELECT id, spent_cents FROM vouchers WHERE id IN ({marks})", ids
            )
            return {str(r[0]): int(r[1]) for r in rows}

        def platform_revoked(self) -> set[str]:
            ids = self.ids()
            marks = ", ".join("?" * len(ids))
            rows = platform.query(
                f"SELECT id FROM vouchers WHERE revoked_at IS NOT NULL AND id IN ({marks})", ids
            )
            return {str(r[0]) for r in rows}

        @invariant()
        def platform_spent_is_the_fold_of_accepted_events(self) -> None:
            if not self.vouchers:
                return
            ids = self.ids()
            marks = ", ".join("?" * len(ids))
            folded: dict[str, int] = defaultdict(int)
            stored: set[str] = set()
            for event_id, voucher_id, amount in platform.query(
                f"SELECT id, voucher_id, amount_cents FROM events WHERE voucher_id IN ({marks})",
                ids,
            ):
                folded[str(voucher_id)] += int(amount)
                stored.add(str(event_id))
            assert self.platform_spent() == {v: folded[v] for v in ids}
            accepted: set[str] = set()
            for terminal in self.terminals:
                rows = (
                    terminal.store.read()
                    .execute(
                        "SELECT e.id, o.state FROM events e JOIN outbox o ON o.seq = e.seq "
                        "WHERE e.voucher_id IS NOT NULL"
                    )
                    .fetchall()
                )
                assert all(r[1] != "quarantined" for r in rows), rows
                accepted |= {str(r[0]) for r in rows if r[1] == "synced"}
            assert stored == accepted

        @invariant()
        def no_terminal_holds_more_than_the_cap_unsynced(self) -> None:
            for terminal in self.terminals:
                rows = (
                    terminal.store.read()
                    .execute(
                        "SELECT e.voucher_id, SUM(e.amount_cents) FROM events e "
                        "JOIN outbox o ON o.seq = e.seq WHERE e.voucher_id IS NOT NULL "
                        "AND o.state != 'synced' GROUP BY e.voucher_id"
                    )
                    .fetchall()
                )
                assert all(int(r[1]) <= CAP for r in rows), rows

        def teardown(self) -> None:
            try:
                for n in range(len(self.terminals)):
                    self.offline[n] = False
                    self.sync(n)
                if self.terminals:
                    self.platform_spent_is_the_fold_of_accepted_events()
                    for terminal in self.terminals:
                        outbox = terminal.outbox()
                        assert outbox["pending"] == outbox["quarantined"] == 0, outbox
            finally:
                for terminal in self.terminals:
                    terminal.store.close()

    run_state_machine_as_test(
        VoucherMachine,
        settings=settings(
            max_examples=12,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
