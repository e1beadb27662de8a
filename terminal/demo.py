"""Demo mode: a counter that works out of the box, with cards a newcomer can present.

``citie-terminal`` with no config file lands here: the data directory is initialised (ledger,
terminal key pair), a demo issuer's trust list is installed when no other is, and a few demo
cards are issued and saved as PNG files under ``<data_dir>/demo-cards``. F12 in the app
feeds the next one through the scanner's file source, as if the customer held it up.
Any PNG put in that folder (for example a card printed by ``citie-platform card new --png``)
is presented too. Demo city vouchers, signed by the same demo issuer, are saved under
``<data_dir>/demo-vouchers``; F11 presents the next one the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from city.issuer import Issuer
from config import Settings
from config.settings import DEFAULT_REWARD_NAMES, Language
from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
from loyalty.db import Store
from loyalty.keys import generate_key_pair
from loyalty.trust import TrustError, install_trust, trust_version
from receipts.cards import render_card_png
from receipts.vouchers import render_voucher_file

DEMO_ISSUER = "citie-demo"
DEMO_CARDS = 3
CARDS_DIR = "demo-cards"
VOUCHERS_DIR = "demo-vouchers"
DEMO_VOUCHERS = (2500, 1000)
"""The face values of the demo vouchers, in cents: one to spend in parts, a smaller one."""
DEMO_CITY = "roeselare"
DEMO_CAMPAIGN = "Demo city voucher"
ISSUER_DIR = "demo-issuer"

DEMO_ADDRESS = "Grote Markt 1, 8800 Roeselare"
"""The demo shop's address: printed on demo slips only, never on a real shop's."""

DEMO_REWARDS: dict[Language, str] = {
    Language.FR: "un café offert",
    Language.NL: "een gratis koffie",
    Language.DE: "ein Gratiskaffee",
    Language.EN: "a free coffee",
}
"""The demo shop's reward, in the demo shop's language."""


def demo_settings(settings: Settings) -> Settings:
    """The settings of demo mode: the demo shop's address and reward where none is set.

    Only demo mode (no config file) shows them; a shop set up with ``init`` keeps its own
    (an empty address, the usual words of its language for the reward).
    """
    shop, program = settings.shop, settings.program
    if not shop.address:
        shop = shop.model_copy(update={"address": DEMO_ADDRESS})
    if program.reward_name == DEFAULT_REWARD_NAMES[settings.shop.language]:
        program = program.model_copy(update={"reward_name": DEMO_REWARDS[settings.shop.language]})
    return settings.model_copy(update={"shop": shop, "program": program})


@dataclass(frozen=True)
class DemoKit:
    """What demo mode prepared: the card images to present, and what was created."""

    cards: tuple[Path, ...]
    created: tuple[str, ...]
    vouchers: tuple[Path, ...] = ()


def prepare(settings: Settings, store: Store, *, cards: int = DEMO_CARDS) -> DemoKit:
    """Make the data directory usable for a demo; running it again changes nothing."""
    created: list[str] = []
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    if not settings.private_key_path.exists():
        generate_key_pair(settings.private_key_path, settings.public_key_path)
        created.append("terminal key pair")
    issuer = Issuer.open(data_dir / ISSUER_DIR, issuer=DEMO_ISSUER)
    if trust_version(store.read()) == 0:
        try:
            if install_trust(store, issuer.trust_list()):
                created.append("demo trust list")
        except TrustError:
            pass  # another list is installed (a paired platform): its cards are the real ones
    folder = data_dir / CARDS_DIR
    folder.mkdir(exist_ok=True)
    if not any(folder.glob("*.png")):
        for number in range(1, cards + 1):
            card_id, code = issuer.issue_card(expires_days=3650)
            path = folder / f"demo-card-{number}.png"
            path.write_bytes(render_card_png(code, card_id, language=settings.shop.language.value))
            created.append(f"demo card {path.name} ({card_id})")
    vouchers = data_dir / VOUCHERS_DIR
    vouchers.mkdir(exist_ok=True)
    if not any(vouchers.glob("*.png")):
        for number, cents in enumerate(DEMO_VOUCHERS, start=1):
            voucher, code = issuer.issue_voucher(
                cents, city=DEMO_CITY, campaign=DEMO_CAMPAIGN, expires_days=3650
            )
            path = vouchers / f"demo-voucher-{number}.png"
            png = render_voucher_file(
                code, voucher, kind="png", language=settings.shop.language.value
            )
            path.write_bytes(png)
            created.append(f"demo voucher {path.name} ({voucher.voucher_id})")
    return DemoKit(
        cards=tuple(sorted(folder.glob("*.png"))),
        created=tuple(created),
        vouchers=demo_voucher_files(settings),
    )


def demo_voucher_files(settings: Settings) -> tuple[Path, ...]:
    """The voucher images F11 presents (``<data_dir>/demo-vouchers/*.png``), in name order."""
    folder = settings.data_dir / VOUCHERS_DIR
    return tuple(sorted(folder.glob("*.png"))) if folder.is_dir() else ()
