"""End-of-day figures from the ledger: a day's totals, an hourly histogram, a 30-day series.

Days and hours are the shop's local ones (Europe/Brussels), so a day is 23 or 25 hours long
when the clocks change.

Voids are booked on the day they are made, as a till's Z report books corrections: a day's
figures never change once the day is over. A void made the same day as its event cancels it
in that day's figures (stamps, rewards, purchases and total net out; the card no longer counts
as a visitor unless it did something else that stayed). A void made on a later day shows on
that later day as negative stamps, one reward or purchase fewer and a negative amount. The
``voids`` figure counts the voids made that day.

City voucher spends are not loyalty figures: they are counted apart (``voucher_spends`` and
``voucher_spent_cents``, what the city owes the shop), never in the purchases, and their voids
are booked like the others (a void made the same day nets the spend out; a later one shows on
its own day as one spend fewer and a negative sum).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from loyalty.db import Store, iso, parse_iso
from loyalty.programs import SHOP_TZ

EARNING = ("stamp", "purchase")


@dataclass(frozen=True)
class StaffFigures:
    """What one staff member did in a period, as recorded (gross: a void is counted as the
    voider's void, and the voided event stays in its recorder's figures)."""

    staff_id: str
    name: str
    stamps: int
    """Stamps given with their stamps and purchases."""
    rewards: int
    purchases: int
    purchase_total_cents: int
    voids: int
    """Voids they recorded."""
    approvals: int
    """Events they approved as a manager (their own approved actions included)."""

    def to_json(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class DayReport:
    """One local day's figures, voids netted as the module docstring says."""

    day: date
    stamps_issued: int
    rewards_redeemed: int
    purchases: int
    purchase_total_cents: int
    currency: str
    distinct_cards: int
    voids: int
    pending_sync: int
    quarantined: int
    voucher_spends: int = 0
    """City voucher spends made that day, voids netted (not in ``purchases``)."""
    voucher_spent_cents: int = 0
    """What was paid with city vouchers that day, voids netted: what the city owes the shop."""
    staff: tuple[StaffFigures, ...] = ()
    """Per staff member who recorded or approved something that day, by name."""

    def to_json(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict."""
        data = asdict(self)
        data["day"] = self.day.isoformat()
        data["staff"] = [figures.to_json() for figures in self.staff]
        return data


@dataclass(frozen=True)
class HourFigures:
    """One local hour of a day: events recorded (voids excluded) and net stamps issued."""

    hour: int
    events: int
    stamps: int


@dataclass(frozen=True)
class DayStamps:
    """Net stamps issued on one local day."""

    day: date
    stamps: int


@dataclass(frozen=True)
class Report:
    """What ``citie-terminal report`` shows: the day, its hours, and the 30 days up to it."""

    day: DayReport
    hours: list[HourFigures]
    series: list[DayStamps]

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            **self.day.to_json(),
            "hours": [asdict(hour) for hour in self.hours],
            "series": [{"day": d.day.isoformat(), "stamps": d.stamps} for d in self.series],
        }


@dataclass(frozen=True)
class _Row:
    id: str
    kind: str
    card_id: str | None
    stamps: int
    amount_cents: int | None
    local: datetime
    state: str | None
    voids: str | None
    voided_kind: str | None
    staff_id: str | None = None
    approver_id: str | None = None


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=tz)


def _rows(store: Store, first: date, last: date, tz: tzinfo) -> list[_Row]:
    start = iso(_local_midnight(first, tz))
    end = iso(_local_midnight(last + timedelta(days=1), tz))
    cursor = store.read().execute(
        "SELECT e.id, e.kind, e.card_id, e.stamps, e.amount_cents, e.occurred_at, o.state, "
        "e.voids, v.kind, e.staff_id, e.approver_id FROM events e "
        "LEFT JOIN outbox o ON o.seq = e.seq "
        "LEFT JOIN events v ON v.id = e.voids "
        "WHERE e.occurred_at >= ? AND e.occurred_at < ? ORDER BY e.seq",
        [start, end],
    )
    return [
        _Row(
            id=row[0],
            kind=row[1],
            card_id=row[2],
            stamps=int(row[3]),
            amount_cents=row[4],
            local=parse_iso(row[5]).astimezone(tz),
            state=row[6],
            voids=row[7],
            voided_kind=row[8],
            staff_id=row[9],
            approver_id=row[10],
        )
        for row in cursor.fetchall()
    ]


def _stamps_issued(row: _Row) -> int:
    """Net stamps a row adds to "stamps issued": earned ones, minus voids of earned ones."""
    if row.kind in EARNING:
        return max(row.stamps, 0)
    if row.kind == "void" and row.voided_kind in EARNING:
        return row.stamps
    return 0


def staff_names(store: Store) -> dict[str, str]:
    """Every staff id ever given on this terminal (removed accounts too) -> its name."""
    rows = store.read().execute("SELECT id, name FROM staff").fetchall()
    return {str(row[0]): str(row[1]) for row in rows}


def staff_figures(rows: list[_Row], names: dict[str, str]) -> tuple[StaffFigures, ...]:
    """Per staff member: what they recorded and what they approved, sorted by name."""
    counts: dict[str, list[int]] = {}
    for row in rows:
        if row.staff_id is not None:
            mine = counts.setdefault(row.staff_id, [0] * 6)
            if row.kind in EARNING:
                mine[0] += max(row.stamps, 0)
            if row.kind == "redeem":
                mine[1] += 1
            elif row.kind == "purchase":
                mine[2] += 1
                mine[3] += row.amount_cents or 0
            elif row.kind == "void":
                mine[4] += 1
        if row.approver_id is not None:
            counts.setdefault(row.approver_id, [0] * 6)[5] += 1
    figures = [
        StaffFigures(staff_id, names.get(staff_id, staff_id), *values)
        for staff_id, values in counts.items()
    ]
    return tuple(sorted(figures, key=lambda f: (f.name.casefold(), f.staff_id)))


def _day_figures(
    day: date, rows: list[_Row], currency: str, names: dict[str, str] | None = None
) -> DayReport:
    stamps = rewards = purchases = total = voids = pending = quarantined = 0
    voucher_spends = voucher_cents = 0
    for row in rows:
        stamps += _stamps_issued(row)
        if row.state in ("pending", "in_flight"):
            pending += 1
        elif row.state == "quarantined":
            quarantined += 1
        if row.kind == "redeem":
            rewards += 1
        elif row.kind == "purchase":
            purchases += 1
            total += row.amount_cents or 0
        elif row.kind == "voucher_spend":
            voucher_spends += 1
            voucher_cents += row.amount_cents or 0
        elif row.kind == "void":
            voids += 1
            if row.voided_kind == "redeem":
                rewards -= 1
            elif row.voided_kind == "purchase":
                purchases -= 1
                total += row.amount_cents or 0
            elif row.voided_kind == "voucher_spend":
                voucher_spends -= 1
                voucher_cents += row.amount_cents or 0
    voided_same_day = {row.voids for row in rows if row.kind == "void"}
    cards = {
        row.card_id
        for row in rows
        if row.card_id is not None
        and row.kind in ("stamp", "purchase", "redeem")
        and row.id not in voided_same_day
    }
    return DayReport(
        day=day,
        stamps_issued=stamps,
        rewards_redeemed=rewards,
        purchases=purchases,
        purchase_total_cents=total,
        currency=currency,
        distinct_cards=len(cards),
        voids=voids,
        pending_sync=pending,
        quarantined=quarantined,
        voucher_spends=voucher_spends,
        voucher_spent_cents=voucher_cents,
        staff=() if names is None else staff_figures(rows, names),
    )


def day_report(
    store: Store, day: date, *, tz: tzinfo = SHOP_TZ, currency: str = "EUR"
) -> DayReport:
    """The figures of one local day (per staff member too)."""
    return _day_figures(day, _rows(store, day, day, tz), currency, staff_names(store))


def hourly(store: Store, day: date, *, tz: tzinfo = SHOP_TZ) -> list[HourFigures]:
    """24 buckets by local hour: events recorded (voids excluded) and net stamps issued."""
    events = [0] * 24
    stamps = [0] * 24
    for row in _rows(store, day, day, tz):
        if row.kind != "void":
            events[row.local.hour] += 1
        stamps[row.local.hour] += _stamps_issued(row)
    return [HourFigures(hour, events[hour], stamps[hour]) for hour in range(24)]


def stamps_series(
    store: Store, last_day: date, *, days: int = 30, tz: tzinfo = SHOP_TZ
) -> list[DayStamps]:
    """Net stamps issued per local day, for ``days`` days ending with ``last_day``, oldest first."""
    if days < 1:
        raise ValueError("days must be at least 1")
    first = last_day - timedelta(days=days - 1)
    per_day = dict.fromkeys((first + timedelta(days=n) for n in range(days)), 0)
    for row in _rows(store, first, last_day, tz):
        day = row.local.date()
        if day in per_day:
            per_day[day] += _stamps_issued(row)
    return [DayStamps(day, stamps) for day, stamps in per_day.items()]


def report(
    store: Store, day: date, *, tz: tzinfo = SHOP_TZ, currency: str = "EUR", days: int = 30
) -> Report:
    """The day's figures, its hours and the series of ``days`` days ending with it."""
    return Report(
        day=day_report(store, day, tz=tz, currency=currency),
        hours=hourly(store, day, tz=tz),
        series=stamps_series(store, day, days=days, tz=tz),
    )


# --- exports for the accountant ---------------------------------------------------------

EXPORT_COLUMNS: tuple[str, ...] = (
    "receipt_no",
    "event_id",
    "kind",
    "occurred_at_utc",
    "occurred_at_local",
    "local_day",
    "shop_id",
    "terminal_id",
    "program_id",
    "card_id",
    "stamps",
    "amount",
    "currency",
    "voids_receipt_no",
    "voided_by_receipt_no",
    "sync_state",
    "voucher_id",
)
"""The columns of an export, in order: one row per ledger event (a city voucher spend and its
void name the voucher in ``voucher_id``; its ``amount`` is what was paid with the voucher)."""


def decimal_text(cents: int | None) -> str:
    """Integer cents as decimal text with two places ("12.50", "-3.05"); "" for none."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def event_rows(
    store: Store,
    first: date | None = None,
    last: date | None = None,
    *,
    tz: tzinfo = SHOP_TZ,
) -> Iterator[dict[str, Any]]:
    """Every event of the local days ``first`` to ``last`` (inclusive; open ends allowed),
    one dict per event in ledger order, with the columns of ``EXPORT_COLUMNS``.

    Voids are rows of their own (negative stamps and amount) that name the receipt they
    cancel; a cancelled event names the void that cancelled it. Money is decimal text with
    its currency, never a float; times are given in UTC and in the shop's local time.
    Rows are read as they are written out, so a year of events never sits in memory.
    """
    # ISO UTC text sorts as time: "" is before every event and "~" after every one.
    start = "" if first is None else iso(_local_midnight(first, tz))
    end = "~" if last is None else iso(_local_midnight(last + timedelta(days=1), tz))
    sql = (
        "SELECT e.receipt_no, e.id AS event_id, e.kind, e.occurred_at, e.shop_id, "
        "e.terminal_id, e.program_id, e.card_id, e.stamps, e.amount_cents, e.currency, "
        "v.receipt_no AS voids_receipt_no, c.receipt_no AS voided_by_receipt_no, "
        "o.state AS sync_state, e.voucher_id FROM events e "
        "LEFT JOIN events v ON v.id = e.voids "
        "LEFT JOIN events c ON c.voids = e.id "
        "LEFT JOIN outbox o ON o.seq = e.seq "
        "WHERE e.occurred_at >= ? AND e.occurred_at < ? ORDER BY e.seq"
    )
    # sqlite-utils' query() yields each row as a dict keyed by column name.
    for row in store.read().query(sql, [start, end]):
        moment = parse_iso(row["occurred_at"])
        local = moment.astimezone(tz)
        yield {
            "receipt_no": row["receipt_no"] or "",
            "event_id": row["event_id"],
            "kind": row["kind"],
            "occurred_at_utc": row["occurred_at"],
            "occurred_at_local": local.isoformat(timespec="seconds"),
            "local_day": local.date().isoformat(),
            "shop_id": row["shop_id"],
            "terminal_id": row["terminal_id"],
            "program_id": row["program_id"],
            "card_id": row["card_id"] or "",
            "stamps": int(row["stamps"]),
            "amount": decimal_text(row["amount_cents"]),
            "currency": (row["currency"] or "") if row["amount_cents"] is not None else "",
            "voids_receipt_no": row["voids_receipt_no"] or "",
            "voided_by_receipt_no": row["voided_by_receipt_no"] or "",
            "sync_state": row["sync_state"] or "",
            "voucher_id": row["voucher_id"] or "",
        }


@dataclass(frozen=True)
class MonthReport:
    """One local month: each day's figures (voids booked as in a day's report) and totals."""

    year: int
    month: int
    days: list[DayReport]

    @property
    def total(self) -> DayReport:
        """The month's figures summed; distinct cards counted over the whole month."""
        first = self.days[0]
        return DayReport(
            day=first.day,
            stamps_issued=sum(d.stamps_issued for d in self.days),
            rewards_redeemed=sum(d.rewards_redeemed for d in self.days),
            purchases=sum(d.purchases for d in self.days),
            purchase_total_cents=sum(d.purchase_total_cents for d in self.days),
            currency=first.currency,
            distinct_cards=self.distinct_cards,
            voids=sum(d.voids for d in self.days),
            pending_sync=sum(d.pending_sync for d in self.days),
            quarantined=sum(d.quarantined for d in self.days),
            voucher_spends=sum(d.voucher_spends for d in self.days),
            voucher_spent_cents=sum(d.voucher_spent_cents for d in self.days),
            staff=self.staff,
        )

    distinct_cards: int = 0
    """Cards seen in the month (a card seen on several days counts once)."""
    staff: tuple[StaffFigures, ...] = ()
    """Per staff member over the whole month."""

    def to_json(self) -> dict[str, Any]:
        """The month as a JSON-ready dict: its days and the totals."""
        total = self.total.to_json()
        total.pop("day")
        return {
            "month": f"{self.year:04d}-{self.month:02d}",
            "days": [day.to_json() for day in self.days],
            "total": total,
        }


def month_report(
    store: Store, year: int, month: int, *, tz: tzinfo = SHOP_TZ, currency: str = "EUR"
) -> MonthReport:
    """The figures of every local day of a month, and the month's totals."""
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    last = following - timedelta(days=1)
    rows = _rows(store, first, last, tz)
    by_day: dict[date, list[_Row]] = {}
    for row in rows:
        by_day.setdefault(row.local.date(), []).append(row)
    names = staff_names(store)
    days = [
        _day_figures(
            first + timedelta(days=n), by_day.get(first + timedelta(days=n), []), currency, names
        )
        for n in range((last - first).days + 1)
    ]
    whole = _day_figures(first, rows, currency, names)
    return MonthReport(year, month, days, whole.distinct_cards, whole.staff)
