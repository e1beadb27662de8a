"""Spending city vouchers at the counter (loyalty.voucher_book), on a real SQLite ledger."""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from city.cli import cli as city_cli
from config.settings import ProgramSettings
from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
from loyalty.cards import IssuerKey, TrustList
from loyalty.db import Store, iso
from loyalty.i18n import LANGUAGES, money
from loyalty.ledger import EventKind, Ledger, LedgerRefusal
from loyalty.programs import Program
from loyalty.staff import Role, StaffBook
from loyalty.trust import load_trust
from loyalty.voucher_book import (
    VOUCHER_PROGRAM,
    KnownVoucher,
    VoucherBook,
    VoucherRefused,
    revoked_vouchers,
)
from loyalty.vouchers import (
    Voucher,
    VoucherRefusalReason,
    issue_voucher,
    new_voucher_id,
    verify_voucher,
    voucher_key,
)
from sync.job import run_sync
from sync.outbox import resend_all
from sync.protocol import Updates, VoucherState
from sync.puller import PullReport, _apply_page
from tests.conftest_platform import FAST, PairedTerminal, RunningPlatform

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()
TRUST = TrustList(1, {"k1": IssuerKey("k1", "citie", KEY.public_key())})


def make_voucher(face_cents: int = 2500, *, expires_at: datetime | None = None) -> Voucher:
    """A voucher as the counter gets it: issued, then read back through the verifier."""
    code = issue_voucher(
        KEY,
        kid="k1",
        issuer="citie",
        voucher_id=new_voucher_id(),
        face_cents=face_cents,
        currency="EUR",
        city="roeselare",
        campaign="Kerstbon",
        issued_at=NOW - timedelta(days=1),
        expires_at=expires_at or NOW + timedelta(days=365),
    )
    voucher = verify_voucher(code, TRUST, now=NOW)
    assert isinstance(voucher, Voucher), voucher
    return voucher


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "ledger.db")
    yield opened
    opened.close()


@pytest.fixture
def ledger(store: Store) -> Ledger:
    return Ledger(store, shop_id="shop-a", terminal_id="t1")


@pytest.fixture
def book(ledger: Ledger) -> VoucherBook:
    return VoucherBook(ledger, offline_max_cents=5000)


def refusal_of(
    book: VoucherBook, voucher: Voucher, amount: int | None, **kw: object
) -> VoucherRefused:
    with pytest.raises(VoucherRefused) as caught:
        book.spend(voucher, amount, now=NOW, **kw)  # type: ignore[arg-type]
    return caught.value


def mark_synced(store: Store) -> None:
    """Every outbox row synced, the statement the push runs (triggers number them)."""
    with store.write() as db:
        db.execute(
            "UPDATE outbox SET state = 'synced', reason = NULL, updated_at = ? "
            "WHERE state != 'synced'",
            [iso(NOW)],
        )


def confirm(store: Store, voucher: Voucher, spent: int, version: int, **extra: object) -> None:
    """A page of updates carrying the platform's state of ``voucher``, stored by the puller."""
    state = VoucherState(
        voucher_key=voucher_key(voucher.voucher_id),
        face_cents=voucher.face_cents,
        currency=voucher.currency,
        expires_at=iso(voucher.expires_at),
        campaign=voucher.campaign,
        spent_cents=spent,
        version=version,
        **extra,  # type: ignore[arg-type]
    )
    cursor = str(version)
    updates = Updates(cursor="0", next_cursor=cursor, server_time=iso(NOW), vouchers=[state])
    report = PullReport()
    _apply_page(store, updates, report)
    assert report.vouchers == 1


# --- spending ------------------------------------------------------------------------------------


def test_partial_spends_down_to_zero_then_spent(book: VoucherBook, store: Store) -> None:
    voucher = make_voucher(2500)
    first = book.spend(voucher, 750, now=NOW)
    event = first.event
    assert event.kind is EventKind.VOUCHER_SPEND
    assert (event.card_id, event.program_id, event.stamps) == (None, VOUCHER_PROGRAM, 0)
    assert (event.amount_cents, event.currency, event.voucher_id) == (
        750,
        "EUR",
        voucher.voucher_id,
    )
    assert event.detail["face_cents"] == 2500
    assert event.detail["remaining_after_cents"] == 1750
    assert (event.detail["campaign"], event.detail["city"]) == ("Kerstbon", "roeselare")
    assert first.balance is None
    assert money(1750, "nl") in first.lines[0].text("nl")
    assert money(1750, "fr") in event.lines[0].text("fr")  # kept with the event for history
    # Recorded means committed: the event and its outbox row are on disk, pending.
    row = (
        store.read()
        .execute(
            "SELECT e.voucher_id, o.state FROM events e JOIN outbox o ON o.seq = e.seq "
            "WHERE e.id = ?",
            [event.id],
        )
        .fetchone()
    )
    assert tuple(row) == (voucher.voucher_id, "pending")

    assert book.balance(voucher).remaining_cents == 1750
    book.spend(voucher, 1000, now=NOW)
    last = book.spend(voucher, 750, now=NOW)
    assert last.event.detail["remaining_after_cents"] == 0
    balance = book.balance(voucher)
    assert (balance.remaining_cents, balance.local_unconfirmed, balance.confirmed_spent) == (
        0,
        2500,
        None,
    )
    spent = refusal_of(book, voucher, 1)
    assert spent.reason is VoucherRefusalReason.SPENT
    assert "spent in full" in spent.message
    assert refusal_of(book, voucher, None).reason is VoucherRefusalReason.SPENT


def test_the_whole_remaining_value(book: VoucherBook) -> None:
    voucher = make_voucher(2500)
    book.spend(voucher, 1010, now=NOW)
    whole = book.spend(voucher, None, now=NOW)
    assert whole.event.amount_cents == 1490
    assert book.balance(voucher).remaining_cents == 0


def test_more_than_remains_is_refused_naming_what_is_left(book: VoucherBook, store: Store) -> None:
    voucher = make_voucher(2500)
    book.spend(voucher, 1750, now=NOW)
    refused = refusal_of(book, voucher, 1000)
    assert refused.reason is VoucherRefusalReason.INSUFFICIENT
    assert refused.refusal.remaining_cents == 750
    texts = {lang: refused.text(lang) for lang in LANGUAGES}
    assert len(set(texts.values())) == 4
    for lang, text in texts.items():
        assert money(750, lang) in text, text
        assert money(1000, lang) in text, text
    assert refused.refusal.to_json()["remaining_cents"] == 750
    # More than the face value on a fresh voucher too; nothing was recorded by a refusal.
    assert refusal_of(book, make_voucher(2500), 2501).refusal.remaining_cents == 2500
    assert store.read().execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
    # The offered value is then accepted.
    assert book.spend(voucher, 750, now=NOW).event.amount_cents == 750


@pytest.mark.parametrize(
    ("amount", "key"),
    [
        (0, "amount.zero"),
        (-1, "amount.negative"),
        (-2500, "amount.negative"),
        (100_000_001, "amount.too_large"),
    ],
)
def test_bad_amounts_are_refused(book: VoucherBook, store: Store, amount: int, key: str) -> None:
    refused = refusal_of(book, make_voucher(), amount)
    assert (refused.reason, refused.refusal.key) == (VoucherRefusalReason.AMOUNT, key)
    assert len({refused.text(lang) for lang in LANGUAGES}) == 4
    assert store.read().execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_an_amount_that_is_not_whole_cents_is_a_programming_error(book: VoucherBook) -> None:
    for amount in (True, 7.5, "750"):
        with pytest.raises(TypeError):
            book.spend(make_voucher(), amount, now=NOW)  # type: ignore[arg-type]


# --- offline -------------------------------------------------------------------------------------


def test_offline_cap_counts_only_spends_not_synced_yet(book: VoucherBook, store: Store) -> None:
    voucher = make_voucher(20_000)
    book.spend(voucher, 3000, now=NOW)
    book.spend(voucher, 2000, now=NOW)
    balance = book.balance(voucher)
    assert (balance.remaining_cents, balance.offline_left_cents, balance.spendable_cents) == (
        15_000,
        0,
        0,
    )
    none_left = refusal_of(book, voucher, 1)
    assert none_left.reason is VoucherRefusalReason.OFFLINE_VOUCHER_LIMIT
    assert none_left.refusal.key == "offline_voucher_limit.none"
    assert money(5000, "de") in none_left.text("de")

    mark_synced(store)  # the push went through: those spends are the platform's now
    balance = book.balance(voucher)
    assert (balance.remaining_cents, balance.offline_left_cents) == (15_000, 5000)
    book.spend(voucher, 4000, now=NOW)
    some_left = refusal_of(book, voucher, 1500)
    assert some_left.reason is VoucherRefusalReason.OFFLINE_VOUCHER_LIMIT
    assert some_left.refusal.remaining_cents == 1000
    for lang in LANGUAGES:
        assert money(1000, lang) in some_left.text(lang)
    # The whole remaining value is more than may go offline: refused, offering the allowance.
    whole = refusal_of(book, voucher, None)
    assert (whole.reason, whole.refusal.remaining_cents) == ("offline_voucher_limit", 1000)
    assert book.spend(voucher, 1000, now=NOW).event.amount_cents == 1000


def test_the_cap_is_per_voucher(book: VoucherBook) -> None:
    first, second = make_voucher(10_000), make_voucher(10_000)
    book.spend(first, 5000, now=NOW)
    assert book.spend(second, 5000, now=NOW).event.voucher_id == second.voucher_id


def test_more_than_remains_offline_names_the_binding_bound(ledger: Ledger) -> None:
    book = VoucherBook(ledger, offline_max_cents=1000)
    voucher = make_voucher(2500)
    refused = refusal_of(book, voucher, 3000)
    # 2500 is left but only 1000 may go before a sync: offering 2500 would be refused next.
    assert (refused.reason, refused.refusal.remaining_cents) == ("offline_voucher_limit", 1000)


def test_offline_cap_is_bounded(ledger: Ledger) -> None:
    for bad in (0, -1, True, 100_000_001):
        with pytest.raises(ValueError, match="offline_max_cents"):
            VoucherBook(ledger, offline_max_cents=bad)


def test_two_threads_never_both_pass_the_limits(ledger: Ledger) -> None:
    book = VoucherBook(ledger, offline_max_cents=5000)
    voucher = make_voucher(10_000)
    results: list[str] = []
    lock = threading.Lock()

    def spend() -> None:
        try:
            book.spend(voucher, 1000, now=NOW)
            outcome = "ok"
        except VoucherRefused as exc:
            outcome = exc.reason.value
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["offline_voucher_limit"] * 3 + ["ok"] * 5
    assert book.balance(voucher).remaining_cents == 5000


# --- what the platform confirmed -----------------------------------------------------------------


def test_confirmed_spends_and_this_terminals_later_ones_are_counted_once(
    book: VoucherBook, store: Store
) -> None:
    voucher = make_voucher(10_000)
    book.spend(voucher, 1000, now=NOW)
    mark_synced(store)
    # The pull after that push: the platform counts our 1000 and 2500 spent at another shop.
    confirm(store, voucher, 3500, version=7)
    balance = book.balance(voucher)
    assert (balance.confirmed_spent, balance.local_unconfirmed, balance.remaining_cents) == (
        3500,
        0,
        6500,
    )
    # Spent after the confirmation: counted until a newer confirmation holds it.
    book.spend(voucher, 500, now=NOW)
    assert book.balance(voucher).remaining_cents == 6000
    mark_synced(store)  # pushed, but no pull yet: still not in the confirmation we hold
    assert book.balance(voucher).local_unconfirmed == 500
    assert book.balance(voucher).remaining_cents == 6000
    # The same version again (a page re-read) must not pretend it holds the later spend.
    confirm(store, voucher, 3500, version=7)
    assert book.balance(voucher).remaining_cents == 6000
    # An older version never wins.
    confirm(store, voucher, 0, version=3)
    assert book.balance(voucher).confirmed_spent == 3500
    # The next pull's newer version holds it: counted once, from the platform.
    confirm(store, voucher, 4000, version=8)
    balance = book.balance(voucher)
    assert (balance.confirmed_spent, balance.local_unconfirmed, balance.remaining_cents) == (
        4000,
        0,
        6000,
    )


def test_a_resend_counts_nothing_twice(book: VoucherBook, store: Store) -> None:
    voucher = make_voucher(2500)
    book.spend(voucher, 750, now=NOW)
    mark_synced(store)
    confirm(store, voucher, 750, version=1)
    assert book.balance(voucher).remaining_cents == 1750
    # `sync --resend-all`: every row pending again, then sent; the platform has the spend
    # (duplicate) and sends no newer state, since nothing changed on the voucher.
    assert resend_all(store) == 1
    balance = book.balance(voucher)
    assert (balance.remaining_cents, balance.offline_left_cents) == (1750, 5000)
    mark_synced(store)
    balance = book.balance(voucher)
    assert (balance.remaining_cents, balance.local_unconfirmed) == (1750, 0)
    # A spend made after the resend is still counted until a confirmation holds it.
    book.spend(voucher, 250, now=NOW)
    mark_synced(store)
    assert book.balance(voucher).remaining_cents == 1500
    confirm(store, voucher, 1000, version=2)
    assert book.balance(voucher).remaining_cents == 1500


def test_an_overspent_voucher_shows_nothing_left_not_a_negative(
    book: VoucherBook, store: Store
) -> None:
    voucher = make_voucher(2500)
    book.spend(voucher, 2000, now=NOW)
    confirm(store, voucher, 1500, version=2)  # another shop spent 1500 while we were offline
    balance = book.balance(voucher)
    assert balance.remaining_cents == 0
    assert refusal_of(book, voucher, 1).reason is VoucherRefusalReason.SPENT


def test_a_typed_number_finds_what_the_platform_sent(book: VoucherBook, store: Store) -> None:
    voucher = make_voucher(2500)
    assert book.known(voucher.voucher_id) is None
    confirm(store, voucher, 1000, version=4)
    known = book.known(voucher.voucher_id)
    assert isinstance(known, KnownVoucher)
    assert (known.face_cents, known.spent_cents, known.campaign, known.revoked_at) == (
        2500,
        1000,
        "Kerstbon",
        None,
    )
    assert known.expires_at == voucher.expires_at
    assert known.to_json()["spent_cents"] == 1000
    assert book.balance(known).remaining_cents == 1500
    recorded = book.spend(known, None, now=NOW)
    assert (recorded.event.amount_cents, recorded.event.voucher_id) == (1500, voucher.voucher_id)


# --- voids, revocation, expiry, the clock --------------------------------------------------------


def test_a_void_gives_the_value_back(book: VoucherBook, ledger: Ledger, store: Store) -> None:
    voucher = make_voucher(2500)
    spent = book.spend(voucher, 2500, now=NOW)
    assert book.balance(voucher).remaining_cents == 0
    void = ledger.void(spent.event.receipt_no, now=NOW)
    assert (void.event.voucher_id, void.event.amount_cents) == (voucher.voucher_id, -2500)
    balance = book.balance(voucher)
    assert (balance.remaining_cents, balance.offline_left_cents) == (2500, 5000)
    # Both synced and confirmed by the platform (which nets the void): still all there.
    mark_synced(store)
    confirm(store, voucher, 0, version=5)
    assert book.balance(voucher).remaining_cents == 2500
    assert book.spend(voucher, 2500, now=NOW).event.amount_cents == 2500


def test_a_void_of_a_synced_spend_after_the_confirmation(
    book: VoucherBook, ledger: Ledger, store: Store
) -> None:
    voucher = make_voucher(2500)
    spent = book.spend(voucher, 1000, now=NOW)
    mark_synced(store)
    confirm(store, voucher, 1000, version=2)
    ledger.void(spent.event.id, now=NOW)
    assert book.balance(voucher).remaining_cents == 2500


def test_revoked_by_the_city_is_refused(book: VoucherBook, store: Store) -> None:
    voucher = make_voucher(2500)
    book.spend(voucher, 500, now=NOW)
    confirm(store, voucher, 500, version=9, revoked_at=iso(NOW))
    assert book.balance(voucher).revoked
    assert book.balance(voucher).spendable_cents == 0
    refused = refusal_of(book, voucher, 100)
    assert refused.reason is VoucherRefusalReason.REVOKED
    assert len({refused.text(lang) for lang in LANGUAGES}) == 4
    revoked = revoked_vouchers(store.read())
    assert voucher.voucher_id in revoked and len(revoked) == 1
    assert make_voucher(2500).voucher_id not in revoked
    # And the verifier refuses the code itself, given the revoked list.
    code_again = verify_voucher(
        issue_voucher(
            KEY,
            kid="k1",
            issuer="citie",
            voucher_id=voucher.voucher_id,
            face_cents=2500,
            currency="EUR",
            city="roeselare",
            campaign="Kerstbon",
            issued_at=voucher.issued_at,
            expires_at=voucher.expires_at,
        ),
        TRUST,
        revoked=revoked_vouchers(store.read()),
        now=NOW,
    )
    assert not isinstance(code_again, Voucher)
    assert code_again.reason is VoucherRefusalReason.REVOKED


def test_expired_is_refused_naming_the_date(book: VoucherBook) -> None:
    voucher = make_voucher(2500, expires_at=NOW + timedelta(hours=1))
    assert book.spend(voucher, 100, now=NOW).event.amount_cents == 100
    with pytest.raises(VoucherRefused) as caught:
        book.spend(voucher, 100, now=NOW + timedelta(hours=1))
    assert caught.value.reason is VoucherRefusalReason.EXPIRED
    assert "30 Nov 2026" in caught.value.message
    before, after = (
        book.balance(voucher, now=NOW),
        book.balance(voucher, now=NOW + timedelta(hours=1)),
    )
    assert (before.expired, before.spendable_cents) == (False, 2400)
    assert (after.expired, after.spendable_cents, after.remaining_cents) == (True, 0, 2400)
    assert after.to_json()["expired"] is True


def test_a_clock_set_back_does_not_reopen_an_expired_voucher(
    book: VoucherBook, ledger: Ledger
) -> None:
    voucher = make_voucher(2500, expires_at=NOW + timedelta(hours=1))
    # Something recorded after the expiry (an anonymous purchase), then the clock goes back.
    later = NOW + timedelta(hours=2)
    ledger.purchase(None, 1200, _program(), now=later)
    with pytest.raises(VoucherRefused) as caught:
        book.spend(voucher, 100, now=NOW)
    assert caught.value.reason is VoucherRefusalReason.EXPIRED
    assert book.balance(voucher, now=NOW).expired
    # A spend the clock allows is recorded at the newest event's time, never before it.
    fresh = make_voucher(2500, expires_at=NOW + timedelta(days=2))
    assert book.spend(fresh, 100, now=NOW).event.occurred_at == later


def test_staff_and_approver_are_recorded_and_checked(book: VoucherBook, store: Store) -> None:
    staff = StaffBook(store)
    manager = staff.add("Ann", Role.MANAGER, "4711")
    cashier = staff.add("Bob", Role.CASHIER, "1234")
    voucher = make_voucher(2500)
    # Once staff accounts exist, a spend must say who records it.
    with pytest.raises(LedgerRefusal) as caught:
        book.spend(voucher, 100, now=NOW)
    assert caught.value.reason.value == "staff_required"
    recorded = book.spend(voucher, 100, now=NOW, staff_id=cashier.id, approver_id=manager.id)
    assert (recorded.event.staff_id, recorded.event.approver_id) == (cashier.id, manager.id)


def _program() -> Program:
    return Program.from_settings(ProgramSettings())


# --- with the reference platform over real HTTP --------------------------------------------------


def test_a_real_sync_brings_the_confirmation_and_frees_the_offline_allowance(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)  # keys, nothing else
    result = CliRunner().invoke(
        city_cli,
        ["--data-dir", str(platform.data_dir), "voucher", "new", "--amount", "100,00", "--json"],
    )
    assert result.exit_code == 0, result.output
    code = json.loads(result.output.splitlines()[-1])["code"]
    voucher = verify_voucher(code, load_trust(terminal.store.read()))
    assert isinstance(voucher, Voucher), voucher
    ledger = Ledger(
        terminal.store,
        shop_id=terminal.shop_id,
        terminal_id=terminal.terminal_id,
        platform_configured=True,
    )
    book = VoucherBook(ledger, offline_max_cents=5000)
    book.spend(voucher, 3000)
    book.spend(voucher, 2000)
    with pytest.raises(VoucherRefused) as caught:
        book.spend(voucher, 1)
    assert caught.value.reason is VoucherRefusalReason.OFFLINE_VOUCHER_LIMIT

    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert report.exit_code == 0, report.to_json()
    row = (
        terminal.store.read()
        .execute(
            "SELECT spent_cents, revoked_at FROM voucher_states WHERE voucher_key = ?",
            [voucher_key(voucher.voucher_id)],
        )
        .fetchone()
    )
    assert tuple(row) == (5000, None)
    balance = book.balance(voucher)
    assert (
        balance.confirmed_spent,
        balance.local_unconfirmed,
        balance.remaining_cents,
        balance.offline_left_cents,
    ) == (5000, 0, 5000, 5000)
    # The typed number is now known too, on the platform's word.
    known = book.known(voucher.voucher_id)
    assert known is not None and known.spent_cents == 5000
    # A second sync brings nothing new and changes nothing.
    run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert book.balance(voucher) == balance
    assert book.spend(voucher, None).event.amount_cents == 5000


# --- any sequence of spends, voids, pushes and pulls ---------------------------------------------


class OneTerminal(RuleBasedStateMachine):
    """One terminal, one voucher, a platform that confirms what was pushed (voids netted).

    Whatever the order, what is left equals face - every spend net of voids (the mark trick
    counts each event once: from the confirmation or from the ledger, never both, never
    neither), and the spends not synced never exceed the offline allowance.
    """

    FACE = 10_000
    CAP = 3000

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.store = Store.open(Path(self.folder.name) / "ledger.db")
        self.ledger = Ledger(self.store, shop_id="shop-a", terminal_id="t1")
        self.book = VoucherBook(self.ledger, offline_max_cents=self.CAP)
        self.voucher = make_voucher(self.FACE)
        self.version = 0
        self.confirmed = 0
        self.spends: list[str] = []

    def teardown(self) -> None:
        self.store.close()
        self.folder.cleanup()

    def net(self, synced_only: bool = False) -> int:
        """Every spend net of voids; ``synced_only``: those the platform has (sent once)."""
        sql = "SELECT COALESCE(SUM(e.amount_cents), 0) FROM events e JOIN outbox o USING (seq)"
        if synced_only:
            sql += " WHERE o.synced_mark IS NOT NULL"
        return int(self.store.read().execute(sql).fetchone()[0])

    @rule(amount=st.one_of(st.none(), st.integers(min_value=-5, max_value=4000)))
    def spend(self, amount: int | None) -> None:
        before = self.book.balance(self.voucher, now=NOW)
        try:
            recorded = self.book.spend(self.voucher, amount, now=NOW)
        except VoucherRefused as refused:
            if amount is not None and amount > 0:
                assert amount > before.spendable_cents or before.remaining_cents == 0
            if refused.refusal.remaining_cents is not None:
                assert refused.refusal.remaining_cents == before.spendable_cents
            return
        assert recorded.event.amount_cents is not None
        assert 0 < recorded.event.amount_cents <= before.spendable_cents
        self.spends.append(recorded.event.id)

    @precondition(lambda self: bool(self.spends))
    @rule(pick=st.integers(min_value=0, max_value=50))
    def void(self, pick: int) -> None:
        event_id = self.spends.pop(pick % len(self.spends))
        self.ledger.void(event_id, now=NOW)

    @rule()
    def push(self) -> None:
        mark_synced(self.store)

    @rule()
    def resend(self) -> None:
        """``sync --resend-all``: every row pending again; the platform answers duplicate."""
        resend_all(self.store)

    @rule()
    def pull(self) -> None:
        """The platform's state, its version bumped only when the spent value changed (an
        unchanged voucher is sent again at most as the same version, a page read twice)."""
        spent = self.net(synced_only=True)
        if spent != self.confirmed:
            self.version += 1
            self.confirmed = spent
        if self.version:
            confirm(self.store, self.voucher, spent, version=self.version)

    @invariant()
    def counted_once_and_capped(self) -> None:
        balance = self.book.balance(self.voucher, now=NOW)
        assert balance.remaining_cents == self.FACE - self.net()
        (unsynced,) = (
            self.store.read()
            .execute(
                "SELECT COALESCE(SUM(e.amount_cents), 0) FROM events e JOIN outbox o USING (seq) "
                "WHERE e.kind = 'voucher_spend' AND o.synced_mark IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM events v WHERE v.voids = e.id)"
            )
            .fetchone()
        )
        assert unsynced <= self.CAP
        assert balance.offline_left_cents == self.CAP - unsynced


OneTerminal.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None, database=None
)
test_any_order_of_spends_voids_pushes_and_pulls = OneTerminal.TestCase


def test_a_spends_explanation_line_is_said_wherever_only_the_ledger_was_imported() -> None:
    import subprocess
    import sys

    script = (
        "import loyalty.ledger\n"
        "from loyalty.programs import _catalog_for\n"
        "print(_catalog_for('voucher.paid') is not None)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "True"
