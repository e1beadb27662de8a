"""Loyalty programs and their rules: how many stamps a visit or a purchase earns, and why.

A ``Program`` comes from the config at first and from the platform (as JSON) once synced,
so every field is validated and bounded. The shop's program in force is the one the platform
sent last (``program_in_force``); its file format is the JSON Schema
``loyalty/program.schema.json``, generated from the model (``python -m loyalty.programs``).
``evaluate`` is a pure function of the program, the card's recent history, the time and the
amount: the same inputs always give the same stamps and the same explanation lines, which
the counter shows and the receipt prints.

Decisions worth knowing:

* A purchase earns the per-visit stamps plus the per-amount stamps (amount // cents per
  stamp, integer arithmetic, rounded down). ``stamp --count N`` replaces both with N.
* Campaigns multiply; when several apply at once, the one with the highest multiplier wins
  (they do not stack, so two overlapping "double" campaigns never make x4).
* A campaign's hours and days are read in the shop's local time (Europe/Brussels), hours as
  ``start_hour <= hour < end_hour``, dates inclusive, weekdays ISO (1 = Monday ... 7 = Sunday).
* The daily limit counts stamps earned on the shop's local calendar day; a decision that
  would pass it is clipped to what remains, and says so.
* The minimum gap is measured from the card's last stamp-earning event, in UTC.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

import sqlite_utils
from babel import Locale
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from config.settings import LimitSettings, ProgramSettings
from loyalty.db import iso, parse_iso
from loyalty.i18n import CATALOGS, Catalog, datetime_text, locale_for, money

SHOP_TZ: Final = ZoneInfo("Europe/Brussels")
"""The shop's time zone: days, hours and campaigns are read in it."""

MAX_PROGRAM_JSON: Final = 64 * 1024
"""A program from the platform larger than this is refused unread."""

MAX_CAMPAIGNS: Final = 20
MAX_COUNT: Final = 100
"""Most stamps a shopkeeper may type for one stamp event."""

_MODEL = ConfigDict(
    extra="forbid", frozen=True, str_strip_whitespace=True, use_attribute_docstrings=True
)

# Anything the platform names is shown on screen and printed: no control characters.
_TEXT = r"^[^\x00-\x1f\x7f-\x9f]*$"


class ProgramError(ValueError):
    """A program (usually from the platform) is not valid; the message says what is wrong."""


class Campaign(BaseModel):
    """A multiplier on the stamps earned at given days, hours and dates (shop local time)."""

    model_config = _MODEL

    name: Annotated[str, Field(min_length=1, max_length=60, pattern=_TEXT)]
    """What the customer reads, e.g. "Saturday campaign"."""

    multiplier: Annotated[int, Field(ge=1, le=10)] = 2
    """Stamps are multiplied by this (2 = double stamps)."""

    weekdays: Annotated[frozenset[Annotated[int, Field(ge=1, le=7)]], Field(max_length=7)] = (
        frozenset()
    )
    """ISO weekdays it runs on (1 = Monday ... 7 = Sunday); empty means every day."""

    start_hour: Annotated[int, Field(ge=0, le=23)] = 0
    """First local hour it runs (inclusive)."""

    end_hour: Annotated[int, Field(ge=1, le=24)] = 24
    """Local hour it stops (exclusive): 0 and 24 is the whole day."""

    start_date: date | None = None
    """First local date it runs (inclusive); none means no start."""

    end_date: date | None = None
    """Last local date it runs (inclusive); none means no end."""

    @model_validator(mode="after")
    def _ranges(self) -> Campaign:
        if self.start_hour >= self.end_hour:
            raise ValueError("start_hour must be before end_hour (hours do not wrap midnight)")
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise ValueError("start_date must not be after end_date")
        return self

    def applies(self, local: datetime) -> bool:
        """Whether the campaign runs at this local time."""
        if self.weekdays and local.isoweekday() not in self.weekdays:
            return False
        if not self.start_hour <= local.hour < self.end_hour:
            return False
        day = local.date()
        if self.start_date is not None and day < self.start_date:
            return False
        return self.end_date is None or day <= self.end_date


class Program(BaseModel):
    """A shop's loyalty program: what earns stamps, what a reward costs, and the limits."""

    model_config = _MODEL

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    """The program id used in events."""

    name: Annotated[str, Field(min_length=1, max_length=80, pattern=_TEXT)] = "Loyalty card"
    """The program's name as the customer reads it."""

    stamps_per_visit: Annotated[int, Field(ge=0, le=100)] = 1
    """Stamps a card earns for a visit, whatever is spent."""

    cents_per_stamp: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    """Cents to spend for one stamp (1000 = 1 per 10.00 EUR, rounded down); 0 turns it off."""

    reward_threshold: Annotated[int, Field(ge=1, le=1000)] = 10
    """Stamps one reward costs."""

    reward_name: Annotated[str, Field(min_length=1, max_length=60, pattern=_TEXT)] = "a free coffee"
    """What the reward is."""

    max_stamps_per_day: Annotated[int, Field(ge=1, le=1000)] = 5
    """Most stamps one card may earn per local day at this shop."""

    min_minutes_between_stamps: Annotated[int, Field(ge=0, le=1440)] = 0
    """Minimum minutes between two stamp-earning events of one card (0: none)."""

    campaigns: Annotated[tuple[Campaign, ...], Field(max_length=MAX_CAMPAIGNS)] = ()
    """Multipliers for given days, hours and dates."""

    @classmethod
    def from_settings(cls, settings: ProgramSettings, *, name: str | None = None) -> Program:
        """The program the config describes (no campaigns: those come from the platform)."""
        return cls(
            id=settings.id,
            name=name or "Loyalty card",
            stamps_per_visit=settings.stamps_per_visit,
            cents_per_stamp=settings.cents_per_stamp,
            reward_threshold=settings.reward_threshold,
            reward_name=settings.reward_name,
            max_stamps_per_day=settings.max_stamps_per_day,
            min_minutes_between_stamps=settings.min_minutes_between_stamps,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Program:
        """A program as the platform sends it; ProgramError (never anything else) if invalid."""
        if len(text) > MAX_PROGRAM_JSON:
            raise ProgramError(
                f"the program is {len(text)} bytes, more than {MAX_PROGRAM_JSON}: refused unread"
            )
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise ProgramError(explain(exc)) from exc

    def to_json(self) -> str:
        """The program as JSON (what ``from_json`` reads back)."""
        return self.model_dump_json()


IN_FORCE_KEY: Final = "program_in_force"
"""The ``meta`` key that holds the id of the shop's program in force, as the platform sent it."""

SCHEMA_PATH: Final = Path(__file__).with_name("program.schema.json")
"""The program file format, generated from ``Program`` (a test keeps the two in step)."""


FILE_REQUIRED: Final = ("id", "reward_name")
"""What a program file must name: the customer reads the reward on every slip, in the shop's
language, so a file never falls back to the model's default words."""


def program_schema() -> dict[str, Any]:
    """The JSON Schema of a program file (what ``citie-platform program`` accepts)."""
    schema = Program.model_json_schema()
    schema["required"] = [name for name in Program.model_fields if name in FILE_REQUIRED]
    schema["properties"]["reward_name"].pop("default", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://citie.example/schemas/program.schema.json",
        **schema,
    }


def read_program_file(text: str | bytes) -> Program:
    """A program file as ``citie-platform program`` takes it: valid by ``program_schema()``
    (the model, and the fields a file must name); ProgramError names the field and the fix."""
    program = Program.from_json(text)
    named = program.model_fields_set
    for name in FILE_REQUIRED:
        if name not in named:
            about = (Program.model_fields[name].description or "").strip().rstrip(".")
            raise ProgramError(
                f"invalid program: {name}: Field required. Fix: give {name} ({about}) in the "
                f"shop's language (the format: loyalty/{SCHEMA_PATH.name})"
            )
    return program


def schema_text() -> str:
    """The schema file's text: stable key order, two-space indent, a final newline."""
    return json.dumps(program_schema(), indent=2, ensure_ascii=False) + "\n"


def explain(exc: ValidationError) -> str:
    """The first problem of a program: the field, what is wrong, and how to fix it."""
    first = exc.errors(include_url=False)[0]
    loc = [str(part) for part in first["loc"]]
    where = ".".join(loc) or "program"
    problem = str(first["msg"]).removeprefix("Value error, ")
    model: type[BaseModel] = Program
    name = ""
    for part in loc:
        if part in model.model_fields:
            name = part
            if part == "campaigns":
                model = Campaign
        elif not part.isdigit():
            name = part
    fields = model.model_fields
    if first["type"] == "extra_forbidden":
        fix = f"remove {name!r}; the fields are: {', '.join(fields)}"
    elif name in fields:
        prop = model.model_json_schema().get("properties", {}).get(name, {})
        allowed = _allowed(prop)
        about = (fields[name].description or "").strip().rstrip(".")
        fix = f"give {name}" + (f" ({about})" if about else "")
        fix += f" as {allowed}" if allowed else ""
    else:
        fix = "write a JSON object with the fields of the program format"
    return (
        f"invalid program: {where}: {problem}. Fix: {fix} (the format: loyalty/{SCHEMA_PATH.name})"
    )


def _allowed(prop: Mapping[str, Any]) -> str:
    kind = prop.get("type")
    low, high = prop.get("minimum"), prop.get("maximum")
    if kind == "integer" and low is not None and high is not None:
        return f"a whole number from {low} to {high}"
    if kind == "string":
        longest = prop.get("maxLength")
        return f"text of at most {longest} characters, on one line" if longest else "text"
    if kind == "array":
        return "a list" + (f" of at most {prop['maxItems']}" if "maxItems" in prop else "")
    return ""


def program_in_force(
    db: sqlite_utils.Database,
    settings: ProgramSettings,
    *,
    program_id: str | None = None,
    on_invalid: Callable[[ProgramError], None] | None = None,
) -> Program:
    """The program in force: the platform's copy of ``program_id`` when it sent a valid one,
    else the program the config describes.

    Without ``program_id`` it is the shop's program in force: the one the platform sent last
    (the puller records its id under ``IN_FORCE_KEY``, whatever the id), before that the
    platform's copy of the configured id, else the config's program.

    The one answer for the counter app, the headless commands and the slips. A stored copy
    that is not valid never stops the counter: ``on_invalid`` hears why, and the config's
    program is used.
    """
    wanted = program_id
    if wanted is None:
        chosen = db.execute("SELECT value FROM meta WHERE key = ?", [IN_FORCE_KEY]).fetchone()
        # Before the platform chose one (not paired, or an older pull): the configured id.
        wanted = settings.id if chosen is None else str(chosen[0])
    row = db.execute("SELECT body FROM programs WHERE id = ?", [wanted]).fetchone()
    if row is not None:
        try:
            return Program.from_json(row[0])
        except ProgramError as exc:
            if on_invalid is not None:
                on_invalid(exc)
    return Program.from_settings(settings)


class OfflineLimits(BaseModel):
    """What the counter allows while the platform has not confirmed redemptions."""

    model_config = _MODEL

    per_card_per_day: Annotated[int, Field(ge=0, le=100)] = 1
    """Unconfirmed redemptions one card may make per local day (0: none offline)."""

    per_terminal_per_day: Annotated[int, Field(ge=0, le=10_000)] = 20
    """Unconfirmed redemptions this terminal may make per local day (0: none offline)."""

    max_hours_since_sync: Annotated[float, Field(ge=0, le=24 * 30)] = 72.0
    """No redemption once the last good sync is older than this (0: no limit)."""

    @classmethod
    def from_settings(cls, settings: LimitSettings) -> OfflineLimits:
        """The limits the config sets."""
        return cls(
            per_card_per_day=settings.offline_redemptions_per_card,
            per_terminal_per_day=settings.offline_redemptions_per_terminal,
            max_hours_since_sync=settings.offline_max_hours_since_sync,
        )


# --- explanations -----------------------------------------------------------------------

CATALOG = Catalog("programs", "loyalty", "programs")

ParamValue = int | str


@dataclass(frozen=True)
class Explanation:
    """One human-readable line: a catalog key and its parameters, said in any language.

    Parameters named ``*_cents`` are shown as money and ``*_at`` (UTC ISO text) as local
    times; a ``stamps`` parameter picks the singular or plural form.
    """

    key: str
    params: Mapping[str, ParamValue] = field(default_factory=dict)

    def text(self, language: str, tz: tzinfo = SHOP_TZ) -> str:
        """The line in ``language`` (fr, nl, de, en; English for anything else)."""
        key = self.key
        catalog = _catalog_for(key)
        if catalog is None:
            # A key with plural forms: the stamp count picks one by the language's rules.
            stamps = self.params.get("stamps")
            form = "other"
            if isinstance(stamps, int):
                form = Locale.parse(locale_for(language)).plural_form(abs(stamps))
            key = f"{self.key}.{form}"
            catalog = _catalog_for(key)
            if catalog is None:
                key = f"{self.key}.other"
                catalog = _catalog_for(key)
        if catalog is None:
            return self.key
        shown: dict[str, Any] = {}
        for name, value in self.params.items():
            if name.endswith("_cents") and isinstance(value, int):
                shown[name] = money(value, language)
            elif name.endswith("_at") and isinstance(value, str):
                shown[name] = _moment_text(value, language, tz)
            else:
                shown[name] = value
        return catalog.text(key, language, **shown)

    def to_json(self, language: str = "en") -> dict[str, Any]:
        """Key, parameters and the text, for JSON output and the event's detail."""
        return {"key": self.key, "params": dict(self.params), "text": self.text(language)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Explanation:
        """Read back what ``to_json`` wrote (unknown shapes become an empty line)."""
        key = data.get("key")
        params = data.get("params")
        if not isinstance(key, str) or not isinstance(params, Mapping):
            return cls("programs.nothing")
        clean = {str(k): v for k, v in params.items() if isinstance(v, int | str)}
        return cls(key, clean)


def _catalog_for(key: str) -> Catalog | None:
    for catalog in CATALOGS:
        if key in catalog:
            return catalog
    return None


def _moment_text(value: str, language: str, tz: tzinfo) -> str:
    try:
        moment = parse_iso(value)
    except ValueError:
        return value
    return datetime_text(moment, language, tz)


# --- evaluation -------------------------------------------------------------------------


class RuleReason(StrEnum):
    """Why the rules give no stamps."""

    TOO_SOON = "too_soon"
    DAILY_LIMIT = "daily_limit"
    NOTHING_TO_STAMP = "nothing_to_stamp"


@dataclass(frozen=True)
class PastStamp:
    """One earlier stamp-earning event of the card (not voided): when, and how many."""

    at: datetime
    stamps: int


@dataclass(frozen=True)
class RuleRefusal:
    """The rules give nothing: why, the line that says it, and when stamps are possible again."""

    reason: RuleReason
    line: Explanation
    next_allowed_at: datetime | None = None


@dataclass(frozen=True)
class StampDecision:
    """What the rules give: stamps (0 when refused), the explanation, and the refusal if any."""

    stamps: int
    lines: list[Explanation]
    refusal: RuleRefusal | None = None


def history_window_start(program: Program, now: datetime, tz: tzinfo = SHOP_TZ) -> datetime:
    """The earliest event time ``evaluate`` needs to see (start of the local day or the gap)."""
    local = now.astimezone(tz)
    day_start = datetime.combine(local.date(), datetime.min.time(), tzinfo=tz)
    gap_start = now - timedelta(minutes=program.min_minutes_between_stamps)
    return min(day_start, gap_start)


def local_day(moment: datetime, tz: tzinfo = SHOP_TZ) -> date:
    """The shop's calendar day of a moment."""
    return moment.astimezone(tz).date()


def evaluate(
    program: Program,
    history: Sequence[PastStamp],
    *,
    now: datetime,
    amount_cents: int | None = None,
    count: int | None = None,
    tz: tzinfo = SHOP_TZ,
) -> StampDecision:
    """The stamps a card earns now, with the lines that explain them.

    ``history`` is the card's stamp-earning events that were not voided, at least from
    ``history_window_start`` on (older ones are ignored). ``amount_cents`` is a purchase
    amount; ``count`` is a number of stamps typed by the shopkeeper (1 to 100).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be between 1 and {MAX_COUNT}")
    if amount_cents is not None and amount_cents < 0:
        raise ValueError("amount_cents must not be negative")

    gap = program.min_minutes_between_stamps
    earning = [past for past in history if past.stamps > 0]
    if gap and earning:
        next_at = max(past.at for past in earning) + timedelta(minutes=gap)
        if now < next_at:
            line = Explanation("programs.too_soon", {"minutes": gap, "next_at": iso(next_at)})
            return StampDecision(0, [line], RuleRefusal(RuleReason.TOO_SOON, line, next_at))

    today = local_day(now, tz)
    earned_today = sum(past.stamps for past in earning if local_day(past.at, tz) == today)
    remaining = program.max_stamps_per_day - earned_today
    if remaining <= 0:
        line = Explanation("programs.daily_limit", {"limit": program.max_stamps_per_day})
        return StampDecision(0, [line], RuleRefusal(RuleReason.DAILY_LIMIT, line))

    lines: list[Explanation] = []
    stamps = 0
    if count is not None:
        stamps = count
        lines.append(Explanation("programs.by_hand", {"stamps": count}))
    else:
        if program.stamps_per_visit:
            stamps += program.stamps_per_visit
            lines.append(Explanation("programs.per_visit", {"stamps": program.stamps_per_visit}))
        if amount_cents is not None and program.cents_per_stamp:
            earned = amount_cents // program.cents_per_stamp
            stamps += earned
            lines.append(
                Explanation(
                    "programs.per_amount",
                    {"per_cents": program.cents_per_stamp, "stamps": earned},
                )
            )
    if stamps == 0:
        line = Explanation("programs.nothing")
        return StampDecision(0, [*lines, line], RuleRefusal(RuleReason.NOTHING_TO_STAMP, line))

    local = now.astimezone(tz)
    running = [campaign for campaign in program.campaigns if campaign.applies(local)]
    if running:
        best = max(running, key=lambda campaign: campaign.multiplier)
        if best.multiplier > 1:
            stamps *= best.multiplier
            key = "programs.campaign.double" if best.multiplier == 2 else "programs.campaign.other"
            lines.append(Explanation(key, {"name": best.name, "multiplier": best.multiplier}))

    if stamps > remaining:
        lines.append(
            Explanation(
                "programs.daily_clipped",
                {"limit": program.max_stamps_per_day, "stamps": remaining, "wanted": stamps},
            )
        )
        stamps = remaining
    lines.append(Explanation("programs.total", {"stamps": stamps}))
    return StampDecision(stamps, lines)


def lines_to_json(lines: Sequence[Explanation], language: str = "en") -> list[dict[str, Any]]:
    """Explanation lines as JSON-ready dicts."""
    return [line.to_json(language) for line in lines]


def lines_from_json(text: str) -> list[Explanation]:
    """Lines stored in an event's detail (bad JSON gives no lines, never an exception)."""
    try:
        data = json.loads(text)
    except ValueError:
        return []
    raw = data.get("lines") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        return []
    return [Explanation.from_json(item) for item in raw if isinstance(item, dict)]


if __name__ == "__main__":
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
