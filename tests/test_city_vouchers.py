"""City vouchers on the platform (issue 13): issuing, spends judged and folded, statements and
the summary, on both stores (SQLite, PostgreSQL), with the operator's commands run for real."""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from city import statement
from city.checks import Context, Target, VoucherFacts, judge
from city.store import PlatformStore, TerminalRecord, open_store
from loyalty.db import iso, utc_now
from loyalty.programs import SHOP_TZ
from sync.protocol import Event, EventResult
from tests.conftest_platform import DB_POINTER, PLATFORM, PostgresServer, clean_env

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
T1 = TerminalRecord(id="t1", shop_id="shop-a", paired=True)
T2 = TerminalRecord(id="t2", shop_id="shop-b", paired=True)
_seq = iter(range(1, 1_000_000))


@dataclass(frozen=True)
class Issued:
    """A voucher as the issuer hands it to the store (the fields ``add_vouchers`` reads)."""

    voucher_id: str
    face_cents: int
    currency: str = "EUR"
    campaign: str = "spring"
    city: str = "leuven"
    kid: str = "k1"
    issued_at: datetime = NOW - timedelta(days=30)
    expires_at: datetime = NOW + timedelta(days=335)


def spend(
    voucher: str, cents: int | None, terminal: TerminalRecord = T1, **fields: Any
) -> dict[str, Any]:
    number = next(_seq)
    data: dict[str, Any] = {
        "id": f"{terminal.id}-e{number:07d}",  # id order is batch order (PostgreSQL stores so)
        "seq": number,
        "kind": "voucher_spend",
        "terminal_id": terminal.id,
        "shop_id": terminal.shop_id,
        "occurred_at": iso(utc_now()),
        "program_id": "voucher",
        "stamps": 0,
        "amount_cents": cents,
        "currency": "EUR",
        "voucher_id": voucher,
        "receipt_no": f"{terminal.id}-{number}",
    }
    data.update(fields)
    return data


def void(target: dict[str, Any], terminal: TerminalRecord = T1, **fields: Any) -> dict[str, Any]:
    data = spend(
        target["voucher_id"],
        -target["amount_cents"],
        terminal,
        kind="void",
        voids=target["id"],
    )
    data.update(fields)
    return data


def outcome(results: list[EventResult]) -> list[tuple[str, str | None, list[str]]]:
    return [(r.status, r.reason, list(r.flags)) for r in results]


def voucher_row(store: PlatformStore, voucher_id: str) -> tuple[int, int, int]:
    """(spent_cents, overspent, version) of a voucher."""
    ((spent, overspent, version),) = store.query(
        "SELECT spent_cents, overspent, version FROM vouchers WHERE id = ?", [voucher_id]
    )
    return int(spent), int(overspent), int(version)


# -- fixtures: a store of each kind, and a platform data folder using it ----------------------


@pytest.fixture
def target(platform_store: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh database: a SQLite file, or a new database on the session's PostgreSQL."""
    if platform_store == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return server.new_database()
    return str(tmp_path / "data" / "platform.db")


@pytest.fixture
def store(target: str) -> Iterator[PlatformStore]:
    opened = open_store(target)
    for terminal in (T1, T2):
        opened.add_terminal(
            shop_name=terminal.shop_id, shop_id=terminal.shop_id, terminal_id=terminal.id
        )
    yield opened
    opened.close()


@pytest.fixture
def data_dir(target: str, tmp_path: Path) -> Path:
    """The platform's data folder: ``citie-platform --data-dir`` uses the test's database."""
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    if target.startswith("postgresql://"):
        (folder / DB_POINTER).write_text(target + "\n", encoding="utf-8")
    return folder


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PLATFORM, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
        check=False,
    )


def json_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


# -- judged and folded --------------------------------------------------------------------------


def test_spends_without_a_card_are_accepted_and_folded_into_the_voucher(
    store: PlatformStore,
) -> None:
    store.add_vouchers([Issued("CV-A", 5000), Issued("CV-B", 2500)])
    _, _, issued_version = voucher_row(store, "CV-A")

    first = store.record_batch(T1, "b1", [spend("CV-A", 2000), spend("CV-B", 2500)])
    second = store.record_batch(T2, "b2", [spend("CV-A", 750, T2)])

    assert outcome(first) == [("accepted", None, []), ("accepted", None, [])]
    assert outcome(second) == [("accepted", None, [])]
    spent, overspent, version = voucher_row(store, "CV-A")
    assert (spent, overspent) == (2750, 0)
    assert version > issued_version, "each change of a voucher gets a new version"
    assert voucher_row(store, "CV-B")[:2] == (2500, 0)
    stored = store.query(
        "SELECT card_id, voucher_id, amount_cents FROM events WHERE kind = 'voucher_spend' "
        "ORDER BY pseq"
    )
    assert stored == [(None, "CV-A", 2000), (None, "CV-B", 2500), (None, "CV-A", 750)]


def test_an_overspend_is_kept_and_flagged_never_refused(store: PlatformStore) -> None:
    store.add_vouchers([Issued("CV-A", 5000)])
    # Two shops, both offline, each let 40 euros be spent on a 50 euro voucher.
    assert outcome(store.record_batch(T1, "b1", [spend("CV-A", 4000)])) == [("accepted", None, [])]
    late = store.record_batch(T2, "b2", [spend("CV-A", 4000, T2), spend("CV-A", 100, T2)])

    assert outcome(late) == [
        ("accepted", None, ["voucher_overspent"]),
        ("accepted", None, ["voucher_overspent"]),
    ]
    assert voucher_row(store, "CV-A")[:2] == (8100, 1)
    flagged = store.list_flagged()
    assert [f["flags"] for f in flagged] == [["voucher_overspent"]] * 2
    assert {f["voucher_id"] for f in flagged} == {"CV-A"}
    stats = store.stats()
    assert stats["flagged_voucher_overspent"] == 2
    assert stats["overspent_vouchers"] == 1


def test_spends_on_revoked_or_expired_vouchers_are_kept_and_flagged(
    store: PlatformStore,
) -> None:
    now = utc_now()
    store.add_vouchers(
        [
            Issued("CV-R", 5000),
            Issued(
                "CV-X",
                5000,
                issued_at=now - timedelta(days=400),
                expires_at=now - timedelta(hours=2),
            ),
        ]
    )
    assert store.revoke_vouchers(["CV-R"]) == 1
    assert store.revoke_vouchers(["CV-R"]) == 0, "a revocation counts once"

    results = store.record_batch(
        T1,
        "b1",
        [
            spend("CV-R", 1000),
            spend("CV-X", 1000),
            # Spent offline before the expiry, synced after it: nothing to flag.
            spend("CV-X", 500, occurred_at=iso(now - timedelta(hours=3))),
        ],
    )

    assert outcome(results) == [
        ("accepted", None, ["voucher_revoked"]),
        ("accepted", None, ["voucher_expired"]),
        ("accepted", None, []),
    ]
    assert voucher_row(store, "CV-X")[0] == 1500


def test_unknown_vouchers_and_another_currency_are_rejected_with_the_reason(
    store: PlatformStore,
) -> None:
    store.add_vouchers([Issued("CV-A", 5000)])
    results = store.record_batch(
        T1,
        "b1",
        [
            spend("CV-NEVER", 1000),
            spend("CV-A", 1000, currency="USD"),
            spend("CV-A", 0),
            spend("CV-A", -500),
            spend("CV-A", 1000, voucher_id=None),
            spend("CV-A", 1000, card_id="CT-AAAA-BBBB"),
            spend("CV-A", 1000, kind="stamp", stamps=1, amount_cents=None, card_id="CT-1"),
            spend("CV-A", 1000, voids="t1-e0000001"),
        ],
    )
    reasons = [(r.status, r.reason) for r in results]
    assert reasons == [
        ("rejected", "voucher_unknown"),
        ("rejected", "currency_mismatch"),
        ("rejected", "amount_invalid"),
        ("rejected", "amount_invalid"),
        ("rejected", "voucher_missing"),
        ("rejected", "voucher_invalid"),
        ("rejected", "voucher_invalid"),
        ("rejected", "voucher_invalid"),
    ]
    assert all(r.message for r in results)
    assert "CV-NEVER" in (results[0].message or "")
    assert voucher_row(store, "CV-A")[0] == 0
    assert store.query("SELECT COUNT(*) FROM events") == [(0,)]


def test_a_resent_batch_is_duplicate_and_counts_once(store: PlatformStore) -> None:
    store.add_vouchers([Issued("CV-A", 5000)])
    events = [spend("CV-A", 1200), spend("CV-A", 300)]
    assert [r.status for r in store.record_batch(T1, "b1", events)] == ["accepted"] * 2
    before = voucher_row(store, "CV-A")

    again = store.record_batch(T1, "b1", events)

    assert [r.status for r in again] == ["duplicate"] * 2
    assert voucher_row(store, "CV-A") == before == (1500, 0, before[2])


def test_a_void_gives_the_value_back_and_must_be_the_exact_negative(
    store: PlatformStore,
) -> None:
    store.add_vouchers([Issued("CV-A", 5000), Issued("CV-B", 5000)])
    first, second = spend("CV-A", 2000), spend("CV-A", 3000)
    store.record_batch(T1, "b1", [first, second])
    _, _, version = voucher_row(store, "CV-A")

    results = store.record_batch(
        T1,
        "b2",
        [
            void(first, amount_cents=-1000),  # not the exact negative
            void(first, voucher_id="CV-B"),  # another voucher
            void(first, voucher_id=None),  # no voucher at all
            void(first),
            void(first),  # a void counts once
            spend("CV-A", 2000),  # the value given back is spendable again, unflagged
        ],
    )

    assert [(r.status, r.reason) for r in results] == [
        ("rejected", "void_mismatch"),
        ("rejected", "void_mismatch"),
        ("rejected", "void_mismatch"),
        ("accepted", None),
        ("rejected", "already_voided"),
        ("accepted", None),
    ]
    assert [list(r.flags) for r in results if r.status == "accepted"] == [[], []]
    spent, overspent, after = voucher_row(store, "CV-A")
    assert (spent, overspent) == (5000, 0)
    assert after > version
    assert voucher_row(store, "CV-B")[0] == 0


def test_a_void_of_a_spend_in_the_same_batch_nets_to_nothing(store: PlatformStore) -> None:
    store.add_vouchers([Issued("CV-A", 5000)])
    first = spend("CV-A", 6000)
    results = store.record_batch(T1, "b1", [first, void(first)])
    assert outcome(results) == [
        ("accepted", None, ["voucher_overspent"]),
        ("accepted", None, []),
    ]
    assert voucher_row(store, "CV-A")[0] == 0


def test_two_shops_spending_one_voucher_at_once_are_judged_one_after_the_other(
    store: PlatformStore,
) -> None:
    """The voucher's row is locked in the batch: of two 30 euro spends on a 50 euro voucher
    sent at the same moment, exactly one is flagged, whichever lands second."""
    rounds = 8
    store.add_vouchers([Issued(f"CV-{n}", 5000) for n in range(rounds)])
    answers: dict[str, list[EventResult]] = {}

    def send(terminal: TerminalRecord, n: int, start: threading.Barrier) -> None:
        start.wait()
        answers[f"{terminal.id}-{n}"] = store.record_batch(
            terminal, f"b{n}", [spend(f"CV-{n}", 3000, terminal)]
        )

    for n in range(rounds):
        start = threading.Barrier(2)
        threads = [threading.Thread(target=send, args=(t, n, start)) for t in (T1, T2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        flags = [list(answers[f"{t.id}-{n}"][0].flags) for t in (T1, T2)]
        assert sorted(flags) == [[], ["voucher_overspent"]], (n, flags)
        assert voucher_row(store, f"CV-{n}")[:2] == (6000, 1)


# -- the books ---------------------------------------------------------------------------------


def fold_events(store: PlatformStore) -> dict[str, dict[str, int]]:
    """The test's own fold of the stored events: per voucher, spent and voided cents."""
    books: dict[str, dict[str, int]] = defaultdict(lambda: {"spent": 0, "voided": 0})
    for voucher_id, kind, amount in store.query(
        "SELECT voucher_id, kind, amount_cents FROM events WHERE voucher_id IS NOT NULL"
    ):
        books[voucher_id]["spent" if kind == "voucher_spend" else "voided"] += (
            amount if kind == "voucher_spend" else -amount
        )
    return books


def test_the_statement_and_the_summary_sum_exactly_to_the_events(store: PlatformStore) -> None:
    rng = random.Random(13)
    now = utc_now()
    vouchers = [
        Issued(f"CV-{n:03d}", rng.choice([1000, 2500, 5000]), campaign=rng.choice(["a", "b"]))
        for n in range(30)
    ]
    vouchers.append(Issued("CV-OLD", 5000, campaign="a", expires_at=now - timedelta(hours=1)))
    store.add_vouchers(vouchers)
    spends: list[dict[str, Any]] = []
    for batch in range(6):
        for terminal in (T1, T2):
            events = []
            for _ in range(25):
                if spends and rng.random() < 0.2:
                    target = spends.pop(rng.randrange(len(spends)))
                    if target["terminal_id"] == terminal.id:
                        events.append(void(target, terminal))
                        continue
                voucher = rng.choice(vouchers)
                event = spend(voucher.voucher_id, rng.randint(1, 2000), terminal)
                spends.append(event)
                events.append(event)
            store.record_batch(terminal, f"b{batch}", events)
    store.revoke_vouchers(["CV-000", "CV-001"])

    books = fold_events(store)
    # The folded rows agree with the events.
    for voucher_id, spent in store.query("SELECT id, spent_cents FROM vouchers"):
        expected = books.get(voucher_id, {"spent": 0, "voided": 0})
        assert spent == expected["spent"] - expected["voided"], voucher_id

    # Each shop's statement for today: every line, and the total, is what its events say.
    today = now.astimezone(SHOP_TZ).date()
    for terminal in (T1, T2):
        with statement.lines(store, terminal.shop_id, today, today, for_csv=True) as (
            totals,
            rows,
        ):
            out = io.StringIO()
            statement.write_csv(rows, totals, out)
        table = list(csv.reader(io.StringIO(out.getvalue())))
        assert table[0] == list(statement.COLUMNS)
        body, total_row = table[1:-1], table[-1]
        own = store.query(
            "SELECT id, amount_cents FROM events WHERE shop_id = ? AND voucher_id IS NOT NULL",
            [terminal.shop_id],
        )
        assert sorted((r[3], int(r[6])) for r in body) == sorted(own)
        net = sum(amount for _, amount in own)
        assert total_row[4:8] == ["total", "", str(net), "EUR"]
        assert totals.to_json()[0]["total_cents"] == net
    # A day before any spend owes nothing.
    with statement.lines(store, "shop-a", today - timedelta(days=3), today - timedelta(days=1)) as (
        nothing,
        rows,
    ):
        assert list(rows) == []
        assert nothing.to_json() == []

    figures = {f.campaign: f for f in store.voucher_summary()}
    for campaign in ("a", "b"):
        line = figures[campaign]
        mine = [v for v in vouchers if v.campaign == campaign]
        assert line.vouchers == len(mine)
        assert line.issued_cents == sum(v.face_cents for v in mine)
        assert line.spent_cents == sum(
            books[v.voucher_id]["spent"] for v in mine if v.voucher_id in books
        )
        assert line.voided_cents == sum(
            books[v.voucher_id]["voided"] for v in mine if v.voucher_id in books
        )
        left = {
            v.voucher_id: v.face_cents
            - books.get(v.voucher_id, {"spent": 0, "voided": 0})["spent"]
            + books.get(v.voucher_id, {"spent": 0, "voided": 0})["voided"]
            for v in mine
        }
        revoked = {"CV-000", "CV-001"}
        assert line.expired_cents == sum(
            max(left[v.voucher_id], 0)
            for v in mine
            if v.expires_at < now and v.voucher_id not in revoked
        )
        assert line.revoked_cents == sum(max(left[v], 0) for v in left if v in revoked)
        assert line.overspent_cents == sum(-min(x, 0) for x in left.values())
        assert line.outstanding_cents == sum(
            max(left[v.voucher_id], 0)
            for v in mine
            if v.expires_at > now and v.voucher_id not in revoked
        )
        assert (
            line.issued_cents + line.overspent_cents
            == line.spent_cents
            - line.voided_cents
            + line.expired_cents
            + line.revoked_cents
            + line.outstanding_cents
        )
    total = figures[next(k for k in figures if k not in ("a", "b"))]
    assert total.to_json()["campaign"] is None
    assert total.issued_cents == figures["a"].issued_cents + figures["b"].issued_cents
    assert (
        total.outstanding_cents == figures["a"].outstanding_cents + figures["b"].outstanding_cents
    )


# -- checks on their own ----------------------------------------------------------------------


def test_judge_counts_the_batch_own_spends_and_gives_voids_back() -> None:
    facts = VoucherFacts("CV-A", 5000, "EUR", NOW + timedelta(days=1), spent_cents=1000)
    first = Event.model_validate(spend("CV-A", 3000, occurred_at=iso(NOW)))
    second = Event.model_validate(spend("CV-A", 1500, occurred_at=iso(NOW)))
    back = Event.model_validate(void(first.model_dump(), occurred_at=iso(NOW)))
    third = Event.model_validate(spend("CV-A", 1500, occurred_at=iso(NOW)))
    context = Context(received_at=NOW, vouchers={"CV-A": facts})

    verdicts = judge([first, second, back, third], context)

    assert [(v.accepted, v.flags) for v in verdicts] == [
        (True, ()),
        (True, ("voucher_overspent",)),
        (True, ()),
        (True, ()),
    ]


def test_judge_flags_a_spend_past_the_expiry_only_beyond_the_clock_leeway() -> None:
    facts = VoucherFacts("CV-A", 5000, "EUR", NOW)
    at = [NOW + timedelta(minutes=5), NOW + timedelta(minutes=11)]
    events = [Event.model_validate(spend("CV-A", 100, occurred_at=iso(t))) for t in at]
    verdicts = judge(events, Context(received_at=NOW, vouchers={"CV-A": facts}))
    assert [v.flags for v in verdicts] == [(), ("voucher_expired",)]


def test_a_void_of_a_stamp_carrying_a_voucher_is_a_mismatch() -> None:
    stamp = Target("s1", "shop-a", "stamp", "CT-1", "coffee", 1, None, False)
    event = Event.model_validate(
        spend(
            "CV-A",
            None,
            kind="void",
            voids="s1",
            card_id="CT-1",
            program_id="coffee",
            stamps=-1,
            currency=None,
        )
    )
    (verdict,) = judge([event], Context(received_at=NOW, targets={"s1": stamp}))
    assert (verdict.accepted, verdict.reason) == (False, "void_mismatch")


# -- the operator's commands -------------------------------------------------------------------


def trust(data_dir: Path) -> Any:
    from city.issuer import Issuer

    return Issuer.open(data_dir / "issuer").trust_list()


def test_voucher_new_stores_the_row_and_prints_the_code_last_with_a_png_that_scans(
    store: PlatformStore, data_dir: Path
) -> None:
    from loyalty.vouchers import Voucher, verify_voucher
    from tests.test_city_operator import decode

    png = data_dir / "out" / "voucher.png"
    made = cli(
        data_dir,
        "voucher",
        "new",
        "--amount",
        "25,00",
        "--campaign",
        "Kerst 2026",
        "--png",
        str(png),
    )

    assert made.returncode == 0, made.stderr
    code = made.stdout.splitlines()[-1]
    verified = verify_voucher(code, trust(data_dir))
    assert isinstance(verified, Voucher), verified
    assert (verified.face_cents, verified.currency, verified.campaign) == (
        2500,
        "EUR",
        "Kerst 2026",
    )
    rows = store.query(
        "SELECT id, face_cents, currency, campaign, expires_at, spent_cents, version FROM vouchers"
    )
    assert len(rows) == 1
    voucher_id, face, currency, campaign, expires_at, spent, version = rows[0]
    assert (voucher_id, face, currency, campaign, spent) == (
        verified.voucher_id,
        2500,
        "EUR",
        "Kerst 2026",
        0,
    )
    assert expires_at == iso(verified.expires_at)
    assert version >= 1
    import cv2
    import numpy as np

    image = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
    assert image.shape[:2] == (638, 1011)
    assert decode(np.asarray(image)) == [code]


def test_voucher_new_count_makes_a_mailing_of_a4_sheets(
    store: PlatformStore, data_dir: Path
) -> None:
    from tests.test_city_operator import decode, sheet_images

    sheet = data_dir / "mailing.pdf"
    made = cli(
        data_dir, "voucher", "new", "--amount", "10", "--count", "12", "--expires", "30",
        "--json", "--pdf", str(sheet), "--language", "fr",
    )  # fmt: skip

    assert made.returncode == 0, made.stderr
    *vouchers, summary = json_lines(made)
    assert summary == {"vouchers": 12, "pdf": str(sheet)}
    assert len({v["voucher_id"] for v in vouchers}) == 12
    assert {v["face_cents"] for v in vouchers} == {1000}
    rows = store.query("SELECT id, version FROM vouchers ORDER BY version")
    assert sorted(r[0] for r in rows) == sorted(v["voucher_id"] for v in vouchers)
    assert len({r[1] for r in rows}) == 12, "each voucher has its own version"
    pdf = sheet.read_bytes()
    assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 2
    scanned = [text for page in sheet_images(pdf) for text in decode(page)]
    assert sorted(scanned) == sorted(v["code"] for v in vouchers)


@pytest.mark.parametrize(
    ("amount", "reason"),
    [("0", "zero"), ("-1", "negative"), ("12,505", "ambiguous"), ("abc", "not_a_number"),
     ("", "empty"), ("99999999", "too_large"), ("1,234", "ambiguous")],
)  # fmt: skip
def test_voucher_new_refuses_an_amount_it_cannot_read_with_the_reason(
    store: PlatformStore, data_dir: Path, amount: str, reason: str
) -> None:
    made = cli(data_dir, "voucher", "new", "--amount", amount)
    assert made.returncode == 1, made.stdout
    assert made.stderr.startswith("refused: bad_amount: "), made.stderr
    assert f"({reason})" in made.stderr
    assert store.query("SELECT COUNT(*) FROM vouchers") == [(0,)]


def test_voucher_new_refuses_a_huge_count_a_png_of_many_and_a_bad_campaign(
    store: PlatformStore, data_dir: Path
) -> None:
    huge = cli(data_dir, "voucher", "new", "--amount", "5", "--count", "100000000000")
    assert huge.returncode == 2 and "--count" in huge.stderr
    many = cli(data_dir, "voucher", "new", "--amount", "5", "--count", "2", "--png", "x.png")
    assert many.returncode == 1 and "refused: png_one_voucher" in many.stderr
    never = cli(data_dir, "voucher", "new", "--amount", "5", "--expires", "0")
    assert never.returncode == 2 and "--expires" in never.stderr
    city = cli(data_dir, "voucher", "new", "--amount", "5", "--city", "Sint\x07Niklaas")
    assert city.returncode == 1 and "refused: bad_voucher" in city.stderr
    assert "\x07" not in city.stderr, "a control character is never echoed raw"
    for campaign in ("a\x1b[31mred", " padded", "x" * 81):
        bad = cli(data_dir, "voucher", "new", "--amount", "5", "--campaign", campaign)
        assert bad.returncode == 1 and "refused: bad_campaign" in bad.stderr, campaign
        assert "\x1b" not in bad.stderr
    assert store.query("SELECT COUNT(*) FROM vouchers") == [(0,)]


def test_voucher_revoke_refuses_unknown_ids_and_revokes_nothing(
    store: PlatformStore, data_dir: Path
) -> None:
    made = json_lines(cli(data_dir, "voucher", "new", "--amount", "5", "--count", "3", "--json"))
    ids = [v["voucher_id"] for v in made]

    refused = cli(data_dir, "voucher", "revoke", ids[0], "CV-NOPE-NOPE-NOPE")
    assert refused.returncode == 1
    assert "refused: unknown_vouchers" in refused.stderr and "CV-NOPE-NOPE-NOPE" in refused.stderr
    assert store.query("SELECT COUNT(*) FROM vouchers WHERE revoked_at IS NOT NULL") == [(0,)]

    before = {r[0]: r[1] for r in store.query("SELECT id, version FROM vouchers")}
    listed = data_dir / "lost.txt"
    listed.write_text(f"# lost in the post\n{ids[1]}\n", encoding="utf-8")
    typed = ids[0].lower().replace("-", " ")  # as read aloud over the phone
    revoked = cli(data_dir, "voucher", "revoke", typed, "--from", str(listed), "--json")
    assert revoked.returncode == 0, revoked.stderr
    assert json_lines(revoked) == [{"revoked": 2, "already_revoked": 0}]
    after = {
        r[0]: (r[1], r[2]) for r in store.query("SELECT id, version, revoked_at FROM vouchers")
    }
    for voucher_id in ids[:2]:
        assert after[voucher_id][1] is not None
        assert after[voucher_id][0] > before[voucher_id], "a revocation bumps the version"
    assert after[ids[2]] == (before[ids[2]], None)
    again = cli(data_dir, "voucher", "revoke", ids[1])
    assert again.returncode == 0 and "already revoked" in again.stdout


def test_statement_and_summary_commands_match_the_events(
    store: PlatformStore, data_dir: Path
) -> None:
    made = json_lines(
        cli(
            data_dir,
            "voucher",
            "new",
            "--amount",
            "20",
            "--count",
            "2",
            "--campaign",
            "x",
            "--json",
        )
    )
    a, b = (v["voucher_id"] for v in made)
    first, second = spend(a, 1500), spend(b, 700)
    store.record_batch(T1, "b1", [first, second])
    store.record_batch(T2, "b1", [spend(b, 600, T2)])
    store.record_batch(T1, "b2", [void(second), spend(a, 900)])  # the last one overspends
    today = utc_now().astimezone(SHOP_TZ).date().isoformat()

    as_csv = cli(data_dir, "statement", "--shop", "shop-a", "--from", today, "--to", today, "--csv")
    assert as_csv.returncode == 0, as_csv.stderr
    table = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert table[0] == list(statement.COLUMNS)
    assert [(r[4], r[5], int(r[6])) for r in table[1:-1]] == [
        ("voucher_spend", a, 1500),
        ("voucher_spend", b, 700),
        ("void", b, -700),
        ("voucher_spend", a, 900),
    ]
    assert table[2][3] == table[3][8] == second["id"], "the void's line names the spend"
    assert table[-1][4:8] == ["total", "", "2400", "EUR"]

    as_json = json_lines(
        cli(data_dir, "statement", "--shop", "shop-b", "--from", today, "--to", today, "--json")
    )
    assert [line.get("amount_cents") for line in as_json[:-1]] == [600]
    assert as_json[-1]["totals"] == [
        {
            "currency": "EUR",
            "spends": 1,
            "voids": 0,
            "spent_cents": 600,
            "voided_cents": 0,
            "total_cents": 600,
        }
    ]
    text = cli(data_dir, "statement", "--shop", "shop-a", "--from", today, "--to", today)
    assert text.returncode == 0 and "total 24.00 EUR" in text.stdout

    summary = json_lines(cli(data_dir, "voucher", "summary", "--json"))
    campaign, total = summary
    assert campaign["campaign"] == "x" and total["campaign"] is None
    assert campaign["issued_cents"] == 4000
    assert campaign["spent_cents"] == 1500 + 700 + 600 + 900
    assert campaign["voided_cents"] == 700
    assert campaign["overspent_cents"] == 400
    assert campaign["outstanding_cents"] == 2000 - 600
    assert campaign["overspent_vouchers"] == 1
    assert {k: v for k, v in total.items() if k != "campaign"} == {
        k: v for k, v in campaign.items() if k != "campaign"
    }
    shown = cli(data_dir, "voucher", "summary")
    assert shown.returncode == 0 and "TOTAL" in shown.stdout

    stats = json_lines(cli(data_dir, "stats", "--json"))[0]
    assert stats["flagged_voucher_overspent"] == 1
    flagged = json_lines(cli(data_dir, "flags", "--json"))
    assert [(f["voucher_id"], f["amount_cents"], f["flags"]) for f in flagged][:1] == [
        (a, 900, ["voucher_overspent"])
    ]
    listed = cli(data_dir, "flags").stdout.splitlines()
    assert any(f"voucher_overspent  voucher_spend +0  voucher {a} 9.00" in line for line in listed)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--shop", "nowhere", "--from", "2026-11-01", "--to", "2026-11-30"], "unknown_shop"),
        (["--shop", "shop-a", "--from", "2026-11-31", "--to", "2026-12-01"], "bad_day"),
        (["--shop", "shop-a", "--from", "yesterday", "--to", "2026-12-01"], "bad_day"),
        (["--shop", "shop-a", "--from", "02/12/2026", "--to", "2026-12-01"], "bad_period"),
        (["--shop", "shop-a", "--from", "2026-11-01", "--to", "2026-11-30", "--csv", "--json"],
         "bad_format"),
    ],
)  # fmt: skip
def test_statement_refuses_what_it_cannot_answer(
    store: PlatformStore, data_dir: Path, args: list[str], code: str
) -> None:
    refused = cli(data_dir, "statement", *args)
    assert refused.returncode in (1, 2)
    assert refused.stderr.startswith(f"refused: {code}: "), refused.stderr


def test_the_csv_statement_never_hands_a_spreadsheet_a_formula(
    store: PlatformStore, data_dir: Path
) -> None:
    store.add_vouchers([Issued("CV-A", 5000)])
    hostile = spend("CV-A", 100, receipt_no='=HYPERLINK("http://x","pay")')
    assert store.record_batch(T1, "b1", [hostile])[0].status == "accepted"
    today = utc_now().astimezone(SHOP_TZ).date().isoformat()

    as_csv = cli(data_dir, "statement", "--shop", "shop-a", "--from", today, "--to", today, "--csv")
    as_json = cli(
        data_dir, "statement", "--shop", "shop-a", "--from", today, "--to", today, "--json"
    )

    (line,) = list(csv.reader(io.StringIO(as_csv.stdout)))[1:-1]
    assert line[9] == "'" + hostile["receipt_no"]
    assert json_lines(as_json)[0]["receipt_no"] == hostile["receipt_no"], "JSON keeps the text"


ODD_RECEIPTS = [
    "plain 7",
    'quote " and \\ backslash',
    "tab\there",
    "new\nline",
    "\r=cr",
    "café",
    "€ 😀",
    "del\x7f",
    "sep\u2028arator",
    "record\x1eseparator",
    "=1+2",
    None,
]


def test_statement_lines_written_by_the_database_are_what_python_would_write(
    store: PlatformStore, data_dir: Path
) -> None:
    """The database writes every statement line (CSV, JSON, text) so a million cost no Python
    step each; each must be byte for byte what ``json.dumps`` and the text format make of the
    row, whatever the terminal put in its receipt number."""
    store.add_vouchers([Issued("CV-ODD", 100_000)])
    events = [spend("CV-ODD", 101 + n, receipt_no=r) for n, r in enumerate(ODD_RECEIPTS)]
    events.append(void(events[0], receipt_no="voider"))
    results = store.record_batch(T1, "b1", events)
    assert {r.status for r in results} == {"accepted"}
    today = utc_now().astimezone(SHOP_TZ).date()
    with statement.lines(store, "shop-a", today, today) as (_totals, raw_rows):
        rows = list(raw_rows)
    assert len(rows) == len(events)
    expected = {
        "json": "".join(
            json.dumps(dict(zip(statement.COLUMNS, r, strict=True))) + "\n" for r in rows
        ),
        "text": "".join(
            f"{r[0]}  {r[2]}  {r[5]}  {r[4]:<13}  "
            f"{statement.cents_text(int(r[6]), str(r[7])):>14}"
            + (f"  (cancels {r[8]})" if r[8] else "")
            + "\n"
            for r in rows
        ),
    }
    for fmt, want in expected.items():
        out = io.StringIO()
        statement.write(store, "shop-a", today, today, fmt, out)  # type: ignore[arg-type]
        assert out.getvalue() == want, fmt
    # Through the command (stdout: the bytes path) too.
    day = today.isoformat()
    shown = cli(data_dir, "statement", "--shop", "shop-a", "--from", day, "--to", day, "--json")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(expected["json"])
    out = io.StringIO()
    statement.write(store, "shop-a", today, today, "csv", out)
    table = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert table[0] == list(statement.COLUMNS)
    for line, row in zip(table[1:-1], rows, strict=True):
        receipt = row[9] or ""
        guarded = "'" + receipt if receipt[:1] in statement.FORMULA_STARTS else receipt
        assert line == [*(str(v) if v is not None else "" for v in row[:9]), guarded]
    assert table[-1][4:8] == ["total", "", str(sum(e["amount_cents"] for e in events)), "EUR"]
