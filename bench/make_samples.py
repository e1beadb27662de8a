"""Make docs/sample-receipt.png and docs/sample-card.png from a throw-away ledger.

Run: ``.venv/bin/python bench/make_samples.py``. The keys are fixed demo keys (not secret,
never used anywhere else) and the times are fixed, so the card only changes when the
renderer does; the receipt's claim QR changes each run (a new event id is made each time).
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run as a script, this folder comes first on sys.path; the project root must be there too.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO_TERMINAL_KEY = bytes(range(32))
DEMO_ISSUER_KEY = bytes(range(32, 64))
WHEN = datetime(2026, 3, 14, 10, 42, tzinfo=UTC)


def main() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from config.settings import ProgramSettings, Settings, ShopSettings, StorageSettings
    from loyalty import cards
    from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
    from loyalty.db import Store
    from loyalty.ledger import Ledger
    from loyalty.programs import Program
    from receipts.build import receipt_for
    from receipts.cards import render_card_png
    from receipts.png import render_png

    docs = ROOT / "docs"
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            shop=ShopSettings(
                name="Koffiebar De Zwaan",
                address="Grote Markt 1, 8800 Roeselare",
                language="nl",
            ),
            storage=StorageSettings(data_dir=Path(folder)),
            program=ProgramSettings(cents_per_stamp=1000, reward_name="een gratis koffie"),
        )
        with Store.open(settings.database_path) as store:
            ledger = Ledger(store, shop_id=settings.shop.id, terminal_id=settings.terminal.id)
            program = Program.from_settings(settings.program)
            recorded = ledger.purchase(None, 2450, program, now=WHEN)
            key = Ed25519PrivateKey.from_private_bytes(DEMO_TERMINAL_KEY)
            receipt = receipt_for(ledger, recorded.event.id, settings, "nl", private_key=key)
            (docs / "sample-receipt.png").write_bytes(render_png(receipt, 32))

    issuer = Ed25519PrivateKey.from_private_bytes(DEMO_ISSUER_KEY)
    card_id = "CT-7KQ2-M9XD-4HPR"
    code = cards.issue(
        issuer,
        kid="demo",
        issuer="citie",
        card_id=card_id,
        issued_at=WHEN,
        expires_at=WHEN + timedelta(days=3650),
    )
    (docs / "sample-card.png").write_bytes(render_card_png(code, card_id, "Citie"))
    for name in ("sample-receipt.png", "sample-card.png"):
        print(f"wrote docs/{name} ({(docs / name).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
