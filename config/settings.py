"""The terminal's typed settings: one object, a docstring per field, validated once.

Sources, strongest first: the command line, the environment (``CITIE_<SECTION>_<FIELD>``),
the TOML file, and the defaults written here. ``config/example.toml`` shows every field;
a test keeps the two in step.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

APP_NAME = "citie-terminal"

_SECTION = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
"""An id as the platform spells it: letters, digits, dot, dash, underscore."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Control characters: what the program, the screen and the slip refuse (loyalty.programs)."""


def control_character(value: str) -> str | None:
    """The first control character in ``value`` as ``U+0009``, or None if there is none."""
    found = _CONTROL.search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"


class _Section(BaseModel):
    """A config section: no string value (text, path, address) may hold a control character.

    Settings is the one place that validates: everything built from it (the Program, the
    slip, the screen) refuses control characters, so a tab here would otherwise pass
    ``config check`` and crash the first command that builds a Program.
    """

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        texts = value if isinstance(value, list) else [value]
        for text in texts:
            code = control_character(text) if isinstance(text, str) else None
            if code is not None:
                raise ValueError(
                    f"it holds a control character ({code}, e.g. a tab or a line break); "
                    "write the text on one line with plain spaces"
                )
        return value


def default_data_dir() -> Path:
    """Where a terminal keeps its database, keys and config when nothing says otherwise."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


class Language(StrEnum):
    """The languages the counter speaks."""

    FR = "fr"
    NL = "nl"
    DE = "de"
    EN = "en"


class ShopSettings(_Section):
    """Who this shop is."""

    model_config = _SECTION

    id: Identifier = "demo-shop"
    """The shop's id at the city platform (letters, digits, dot, dash, underscore)."""

    name: Annotated[str, Field(min_length=1, max_length=80)] = "Demo Coffee"
    """The shop's name as printed on receipts and shown in the status line."""

    address: Annotated[str, Field(max_length=160)] = ""
    """The shop's address, printed under the name on receipts (empty: no address line)."""

    language: Language = Language.NL
    """The counter's language at start-up: fr, nl, de or en (switchable in the app)."""


class TerminalSettings(_Section):
    """This device."""

    model_config = _SECTION

    id: Identifier = "demo-t1"
    """This terminal's id; receipt numbers are <terminal id>-<sequence>."""

    bell: bool = True
    """Ring the terminal bell when an event is recorded."""


class StorageSettings(_Section):
    """Where things are kept on disk."""

    model_config = _SECTION

    data_dir: Path = Field(default_factory=default_data_dir)
    """Folder for the database, keys, backups and receipts; empty means the user data folder."""

    database: Path | None = None
    """The SQLite ledger file; empty means ledger.db inside data_dir."""

    @field_validator("data_dir", mode="before")
    @classmethod
    def _default_dir(cls, value: object) -> object:
        return default_data_dir() if value in ("", None) else value

    @field_validator("database", mode="before")
    @classmethod
    def _empty_database(cls, value: object) -> object:
        return None if value == "" else value

    def database_path(self) -> Path:
        """The ledger file, resolved against the data directory."""
        if self.database is None:
            return self.data_dir / "ledger.db"
        return self.database if self.database.is_absolute() else self.data_dir / self.database


class PlatformSettings(_Section):
    """The city platform this terminal syncs with."""

    model_config = _SECTION

    url: Annotated[str, Field(max_length=300)] = ""
    """Base URL of the city platform (https://...; plain http only to 127.0.0.1). Empty: offline."""

    token_file: Path | None = None
    """File with this terminal's credential (mode 0600); empty means platform.token in data_dir."""

    @field_validator("token_file", mode="before")
    @classmethod
    def _empty_token_file(cls, value: object) -> object:
        return None if value == "" else value

    connect_timeout: Annotated[float, Field(gt=0, le=60)] = 5.0
    """Seconds to wait for a connection to the platform."""

    read_timeout: Annotated[float, Field(gt=0, le=300)] = 20.0
    """Seconds to wait for the platform's answer."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            return value
        if value.startswith("https://"):
            return value
        if re.match(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/.*)?$", value):
            return value
        raise ValueError("must start with https:// (plain http:// is allowed only for 127.0.0.1)")


DecoderName = Literal["zxing", "zbar", "opencv"]


def _all_decoders() -> list[DecoderName]:
    return ["zxing", "zbar", "opencv"]


class CameraSettings(_Section):
    """The webcam that reads customers' codes."""

    model_config = _SECTION

    enabled: bool = True
    """Use a camera at all; without one the counter takes scanner and typed codes."""

    device: Annotated[str, Field(max_length=300)] = "0"
    """Camera index (0), device path (/dev/video0), stream URL (rtsp://...), or a video file."""

    width: Annotated[int, Field(ge=160, le=3840)] = 1280
    """Capture width in pixels."""

    height: Annotated[int, Field(ge=120, le=2160)] = 720
    """Capture height in pixels."""

    decoders: Annotated[list[DecoderName], Field(min_length=1, max_length=3)] = Field(
        default_factory=_all_decoders
    )
    """Decoders in the order they are tried: zxing, zbar, opencv."""

    debounce_seconds: Annotated[float, Field(ge=0, le=60)] = 3.0
    """The same code read again within this many seconds is reported once."""

    exposure: Annotated[str, Field(pattern=r"^(auto|\d{1,6}(\.\d{1,3})?)$")] = "auto"
    """auto, or a fixed exposure in driver units (V4L2: 100 us each); short stops motion blur."""

    focus: Annotated[str, Field(pattern=r"^(auto|\d{1,4})$")] = "auto"
    """auto, or a fixed focus position in the driver's units (V4L2 0-255: higher is nearer)."""

    @field_validator("exposure", "focus", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        # ``exposure = 100`` in TOML is an integer; the setting keeps "auto" or a number.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f"{value:g}"
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("decoders", mode="before")
    @classmethod
    def _split_decoders(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class PrinterKind(StrEnum):
    """How receipts leave the terminal."""

    NONE = "none"
    FILE = "file"
    USB = "usb"
    NETWORK = "network"


NETWORK_PRINTER_PORT = 9100
"""The raw printing port of network receipt printers."""


def network_address(target: str) -> tuple[str, int]:
    """Host and port of a network printer target: ``host``, ``host:port``, ``[v6]``,
    ``[v6]:port`` or a bare IPv6 address; port 9100 when none is given.

    The one parser for the printer, ``doctor`` and the config check; a ValueError says what
    is wrong and how to write it.
    """
    text = target.strip()
    port_text: str | None = None
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ValueError("write an IPv6 printer as [address] or [address]:port")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host = text  # a host name, an IPv4 address or a bare IPv6 address
    if port_text is not None and not (port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise ValueError(
            f"the printer port {port_text!r} is not a number from 1 to 65535 "
            "(receipt printers listen on 9100); write host:port, e.g. 192.168.1.50:9100"
        )
    if not host.strip():
        raise ValueError("name the printer's host, e.g. 192.168.1.50:9100")
    return host.strip(), NETWORK_PRINTER_PORT if port_text is None else int(port_text)


class PrinterSettings(_Section):
    """The receipt printer."""

    model_config = _SECTION

    kind: PrinterKind = PrinterKind.NONE
    """none, file (write ESC/POS bytes to a file), usb (/dev/usb/lp0) or network (host:9100)."""

    target: Annotated[str, Field(max_length=300)] = ""
    """The file path, device path or host:port the printer kind needs."""

    paper_width_mm: Literal[58, 80] = 80
    """Paper width in millimetres: 58 (32 columns) or 80 (48 columns)."""

    @field_validator("target")
    @classmethod
    def _network_target(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("kind") is PrinterKind.NETWORK and value.strip():
            network_address(value)  # a ValueError says what is wrong with it
        return value

    def network_address(self) -> tuple[str, int]:
        """Host and port of a network printer (see ``network_address``)."""
        return network_address(self.target)

    @model_validator(mode="after")
    def _target_needed(self) -> PrinterSettings:
        if self.kind is not PrinterKind.NONE and not self.target.strip():
            raise ValueError(f"printer kind {self.kind.value!r} needs a target")
        return self


class ProgramSettings(_Section):
    """The shop's loyalty program until the platform sends one."""

    model_config = _SECTION

    id: Identifier = "coffee"
    """The program id used in events."""

    stamps_per_visit: Annotated[int, Field(ge=0, le=100)] = 1
    """Stamps a card earns for a visit, whatever is spent."""

    cents_per_stamp: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    """Cents to spend for one stamp (1000 = 1 stamp per 10.00 EUR, rounded down); 0 turns it off."""

    reward_threshold: Annotated[int, Field(ge=1, le=1000)] = 10
    """Stamps needed for one reward."""

    reward_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)
    ] = "a reward"
    """What the reward is, as the customer reads it; empty: the usual words in the shop's
    language ("een beloning", "une récompense", "eine Prämie", "a reward")."""

    max_stamps_per_day: Annotated[int, Field(ge=1, le=1000)] = 5
    """Most stamps one card may earn in a day at this shop."""

    min_minutes_between_stamps: Annotated[int, Field(ge=0, le=1440)] = 0
    """Minimum minutes between two stamp events for one card (0: no gap needed)."""

    repeat_confirm_seconds: Annotated[float, Field(ge=0, le=3600)] = 60.0
    """A second stamp for the same card within this many seconds asks for Enter first (0: never)."""


DEFAULT_REWARD_NAMES: dict[Language, str] = {
    Language.FR: "une récompense",
    Language.NL: "een beloning",
    Language.DE: "eine Prämie",
    Language.EN: "a reward",
}
"""The reward's name when none is set, in the shop's language (never a demo's coffee)."""


class LimitSettings(_Section):
    """What the counter allows while the platform cannot confirm."""

    model_config = _SECTION

    offline_redemptions_per_card: Annotated[int, Field(ge=0, le=100)] = 1
    """Rewards one card may redeem per day before a sync confirms them."""

    offline_redemptions_per_terminal: Annotated[int, Field(ge=0, le=10_000)] = 20
    """Rewards this terminal may redeem per day before a sync confirms them."""

    offline_max_hours_since_sync: Annotated[float, Field(ge=0, le=24 * 30)] = 72.0
    """No redemption once the last good sync is older than this many hours (0: no limit)."""

    max_purchase_cents: Annotated[int, Field(ge=1, le=100_000_000)] = 1_000_000
    """Largest purchase the counter accepts, in cents (1000000 = 10 000.00 EUR)."""

    allow_manager_override: bool = False
    """A manager's PIN may approve a redeem beyond the offline allowance (false: never)."""

    approval_over_stamps: Annotated[int, Field(ge=0, le=1000)] = 3
    """Stamps given by hand (--count) above this need a manager's approval (0: every --count)."""

    approval_over_cents: Annotated[int, Field(ge=0, le=100_000_000)] = 20_000
    """A purchase above this many cents needs a manager's approval (20000 = 200.00 EUR; 0: all)."""


class SyncSettings(_Section):
    """How events travel to the platform."""

    model_config = _SECTION

    batch_size: Annotated[int, Field(ge=1, le=5000)] = 1000
    """Events sent in one request."""

    interval_seconds: Annotated[int, Field(ge=10, le=86_400)] = 60
    """Seconds between background syncs while the app runs."""

    time_budget_seconds: Annotated[float, Field(gt=0, le=3600)] = 120.0
    """Longest one sync run keeps retrying before it gives up and keeps the events."""

    keep_backups: Annotated[int, Field(ge=0, le=365)] = 7
    """Ledger backups to keep in the backups folder, newest first (0: no nightly backups)."""

    @property
    def backup_retention(self) -> int:
        """The old name of ``keep_backups`` (a config file may still say ``backup_retention``)."""
        return self.keep_backups


class StaffSettings(_Section):
    """Staff accounts at the counter (citie-terminal staff add NAME --role manager)."""

    model_config = _SECTION

    idle_lock_minutes: Annotated[int, Field(ge=1, le=1440)] = 10
    """The counter locks and asks for a PIN after this many idle minutes."""

    max_failures: Annotated[int, Field(ge=1, le=100)] = 5
    """Wrong PINs in a row before a staff account is locked until a manager unlocks it."""

    slip_name: Literal["first", "none"] = "first"
    """What a slip says about who served: first (the first name) or none."""


class CounterSettings(_Section):
    """The counter screen."""

    model_config = _SECTION

    clear_after_seconds: Annotated[int, Field(ge=0, le=3600)] = 30
    """The customer panel clears after this many seconds without a key or a scan (0: never)."""


class VoucherSettings(_Section):
    """City vouchers spent at the counter."""

    model_config = _SECTION

    offline_max_cents: Annotated[int, Field(ge=1, le=1_000_000)] = 5000
    """The most this terminal lets be spent on one voucher between two syncs, in cents."""


class Settings(_Section):
    """Everything the terminal is told, in one validated object."""

    model_config = _SECTION

    shop: ShopSettings = Field(default_factory=ShopSettings)
    """Who this shop is."""

    terminal: TerminalSettings = Field(default_factory=TerminalSettings)
    """This device."""

    storage: StorageSettings = Field(default_factory=StorageSettings)
    """Where things are kept on disk."""

    platform: PlatformSettings = Field(default_factory=PlatformSettings)
    """The city platform."""

    camera: CameraSettings = Field(default_factory=CameraSettings)
    """The webcam."""

    printer: PrinterSettings = Field(default_factory=PrinterSettings)
    """The receipt printer."""

    program: ProgramSettings = Field(default_factory=ProgramSettings)
    """The loyalty program defaults."""

    limits: LimitSettings = Field(default_factory=LimitSettings)
    """Offline limits."""

    sync: SyncSettings = Field(default_factory=SyncSettings)
    """Sync with the platform."""

    staff: StaffSettings = Field(default_factory=StaffSettings)
    """Staff accounts."""

    counter: CounterSettings = Field(default_factory=CounterSettings)
    """The counter screen."""

    vouchers: VoucherSettings = Field(default_factory=VoucherSettings)
    """City vouchers."""

    @model_validator(mode="before")
    @classmethod
    def _empty_reward_name(cls, data: object) -> object:
        # reward_name = "" (what init writes when none was given) means "the shop
        # language's usual words": the key is dropped so the default below applies.
        if isinstance(data, dict) and isinstance(data.get("program"), dict):
            program = data["program"]
            if program.get("reward_name") == "":
                kept = {key: value for key, value in program.items() if key != "reward_name"}
                data = {**data, "program": kept}
        return data

    @model_validator(mode="after")
    def _reward_name_in_the_shop_language(self) -> Settings:
        if "reward_name" not in self.program.model_fields_set:
            name = DEFAULT_REWARD_NAMES[self.shop.language]
            # Frozen: the validated object is completed once, here, before anyone sees it.
            program = self.program.model_copy(update={"reward_name": name})
            object.__setattr__(self, "program", program)
        return self

    @property
    def data_dir(self) -> Path:
        """The terminal's data directory."""
        return self.storage.data_dir

    @property
    def database_path(self) -> Path:
        """The ledger file."""
        return self.storage.database_path()

    @property
    def token_path(self) -> Path:
        """The file with the platform credential."""
        token = self.platform.token_file
        if token is None:
            return self.data_dir / "platform.token"
        return token if token.is_absolute() else self.data_dir / token

    @property
    def private_key_path(self) -> Path:
        """The terminal's Ed25519 private key (mode 0600)."""
        return self.data_dir / "terminal.key"

    @property
    def public_key_path(self) -> Path:
        """The terminal's Ed25519 public key."""
        return self.data_dir / "terminal.pub"

    @property
    def backup_dir(self) -> Path:
        """Where online backups of the ledger go."""
        return self.data_dir / "backups"


SECTIONS: dict[str, type[BaseModel]] = {
    name: info.annotation  # type: ignore[misc]
    for name, info in Settings.model_fields.items()
}
