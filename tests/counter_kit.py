"""A terminal made with `citie-terminal init` and driven through the real CLI, for the ledger
tests (a real data directory, a real SQLite file, a test issuer the terminal trusts)."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from city.issuer import Issuer
from loyalty.db import Store
from loyalty.trust import install_trust
from terminal.cli import cli


@dataclass
class Counter:
    """A terminal made with `citie-terminal init`, trusting a test issuer."""

    data_dir: Path
    issuer: Issuer

    @classmethod
    def made(cls, tmp_path: Path) -> Counter:
        """An initialised terminal "till-2" (English) in ``tmp_path``, trusting a new issuer."""
        counter = cls(tmp_path / "terminal", Issuer.open(tmp_path / "issuer"))
        counter.ok("init", "--terminal-id", "till-2", "--shop-language", "en")
        with Store.open(counter.ledger_path) as opened:
            install_trust(opened, counter.issuer.trust_list())
        return counter

    @property
    def ledger_path(self) -> Path:
        return self.data_dir / "ledger.db"

    def run(self, *args: str) -> Result:
        env = {name: None for name in os.environ if name.startswith("CITIE_")}
        return CliRunner().invoke(cli, [*args, "--data-dir", str(self.data_dir)], env=env)

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result.stdout

    def card(self) -> tuple[str, str]:
        return self.issuer.issue_card(expires_days=30)

    def events(self, path: Path | None = None) -> int:
        conn = sqlite3.connect(path or self.ledger_path)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        finally:
            conn.close()
