"""Signed trust lists (issue 11, item 9): the terminal pins the city root at pairing and
installs only lists that root (or a root it announced) signed, over real HTTP."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from city.issuer import Issuer
from city.roots import CityRoot
from loyalty.cards import Card, TrustList, verify
from loyalty.db import Store
from loyalty.signed_trust import fingerprint, parse_signed, sign_trust
from loyalty.trust import load_trust, trust_root, trust_version
from sync.client import PlatformClient
from sync.puller import PullReport, pull
from tests.conftest_platform import PLATFORM, PairedTerminal, RunningPlatform, clean_env

Terminals = Callable[..., PairedTerminal]


def hostile_pull(terminal: PairedTerminal, url: str, trust: dict[str, Any]) -> PullReport:
    """Pull through a man in the middle that swaps the platform's trust list for ``trust``.

    The answer itself comes from the real platform over real HTTP; only the trust list is
    replaced, which no real platform would do on demand.
    """

    class Swap(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if "/updates" not in request.url.path:
                return response
            body = json.loads(response.read())
            response.close()
            body["trust"] = trust
            return httpx.Response(response.status_code, json=body)

    credential = terminal.settings.token_path.read_text().strip()
    with PlatformClient(url, credential, transport=Swap()) as client:
        return pull(terminal.store, client, terminal.terminal_id)


def genuine_pull(terminal: PairedTerminal, url: str) -> PullReport:
    credential = terminal.settings.token_path.read_text().strip()
    with PlatformClient(url, credential) as client:
        return pull(terminal.store, client, terminal.terminal_id)


def platform_cli(platform: RunningPlatform, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PLATFORM, *args, "--data-dir", str(platform.data_dir)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )


def exported(platform: RunningPlatform) -> dict[str, Any]:
    result = platform_cli(platform, "keys", "export")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def forged(keys_from: Issuer, version: int) -> TrustList:
    return TrustList(version=version, keys=dict(keys_from.trust_list().keys))


def test_pairing_pins_the_city_root_and_installs_the_signed_list(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform)
    data = exported(platform)
    assert data["format"] == "citie-trust/2"
    root = parse_signed(data).root
    db = terminal.store.read()
    assert trust_root(db) == root
    assert trust_version(db) == data["version"]
    _, code = Issuer.open(platform.data_dir / "issuer").issue_card()
    assert isinstance(verify(code, load_trust(db)), Card)


def test_an_unsigned_list_with_a_huge_version_is_refused_and_blocks_nothing(
    platform: RunningPlatform, terminal_factory: Terminals, tmp_path: Path
) -> None:
    terminal = terminal_factory(platform)
    hostile_issuer = Issuer.open(tmp_path / "hostile", issuer="hostile")
    unsigned = forged(hostile_issuer, 999_999).to_json()

    report = hostile_pull(terminal, platform.url, unsigned)

    assert [w.split(":")[0] for w in report.warnings] == ["trust_unsigned"]
    assert trust_version(terminal.store.read()) == 1
    # The genuine list still moves forward: rotate the issuer key and pull again.
    assert platform_cli(platform, "keys", "rotate").returncode == 0
    after = genuine_pull(terminal, platform.url)
    assert after.warnings == []
    assert after.trust_installed
    assert trust_version(terminal.store.read()) == 2
    assert "hostile" not in {k.issuer for k in load_trust(terminal.store.read()).keys.values()}


def test_a_list_signed_by_another_root_is_refused(
    platform: RunningPlatform, terminal_factory: Terminals, tmp_path: Path
) -> None:
    terminal = terminal_factory(platform)
    hostile_issuer = Issuer.open(tmp_path / "hostile", issuer="hostile")
    foreign = sign_trust(forged(hostile_issuer, 999_999), Ed25519PrivateKey.generate())

    report = hostile_pull(terminal, platform.url, foreign.to_json())

    assert [w.split(":")[0] for w in report.warnings] == ["trust_foreign_root"]
    assert trust_version(terminal.store.read()) == 1


def test_a_tampered_signed_list_is_refused(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform)
    data = exported(platform)
    data["version"] = 999_999  # the genuine root's signature no longer covers it

    report = hostile_pull(terminal, platform.url, data)

    assert [w.split(":")[0] for w in report.warnings] == ["trust_bad_signature"]
    assert trust_version(terminal.store.read()) == 1


def test_a_new_root_announced_by_the_old_one_is_followed_and_pinned(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform)
    old_root = trust_root(terminal.store.read())
    assert old_root is not None

    rotated = platform_cli(platform, "keys", "rotate-root")
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stderr.startswith(f"city root {fingerprint(old_root)} -> ")
    new_list = json.loads(rotated.stdout)
    new_root = parse_signed(new_list).root
    assert new_root != old_root
    assert platform_cli(platform, "keys", "rotate").returncode == 0

    report = genuine_pull(terminal, platform.url)

    assert report.warnings == []
    assert report.trust_root == fingerprint(new_root)
    assert trust_root(terminal.store.read()) == new_root
    assert trust_version(terminal.store.read()) == 2
    # From now on a list signed by the old root alone is foreign.
    old_key = CityRoot.open(platform.data_dir / "issuer")
    assert old_key.current.public_key == new_root
    issuer = Issuer.open(platform.data_dir / "issuer")
    stale = sign_trust(forged(issuer, 3), _old_private(platform, old_root))
    refused = hostile_pull(terminal, platform.url, stale.to_json())
    assert [w.split(":")[0] for w in refused.warnings] == ["trust_foreign_root"]


def _old_private(platform: RunningPlatform, root: bytes) -> Ed25519PrivateKey:
    from loyalty.keys import load_private_key

    return load_private_key(platform.data_dir / "issuer" / f"root-{fingerprint(root)}.pem")


def test_a_terminal_paired_before_signed_lists_pins_at_its_next_sync(
    platform: RunningPlatform, terminal_factory: Terminals, tmp_path: Path
) -> None:
    terminal = terminal_factory(platform)
    # As a terminal paired before this change: no pin, and a hostile unsigned list installed.
    with terminal.store.write() as db:
        db.execute("DELETE FROM meta WHERE key = 'trust_root'")
    hostile_issuer = Issuer.open(tmp_path / "hostile", issuer="hostile")
    planted = hostile_pull(terminal, platform.url, forged(hostile_issuer, 999_999).to_json())
    assert planted.trust_installed and trust_version(terminal.store.read()) == 999_999

    report = genuine_pull(terminal, platform.url)

    assert report.warnings == []
    db = terminal.store.read()
    assert trust_root(db) == parse_signed(exported(platform)).root
    assert trust_version(db) == 1, "the first signed list replaces what no root vouched for"
    assert {k.issuer for k in load_trust(db).keys.values()} == {"citie"}


def invoke(*args: str) -> Result:
    from terminal.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_keys_import_pins_a_signed_list_and_then_refuses_unsigned_and_foreign_ones(
    tmp_path: Path,
) -> None:
    data = tmp_path / "terminal"
    assert invoke("init", "--data-dir", str(data), "--shop-language", "fr").exit_code == 0
    issuer = Issuer.open(tmp_path / "platform")
    root = CityRoot.open(tmp_path / "platform")
    signed, unsigned, foreign = (tmp_path / n for n in ("signed.json", "v1.json", "f.json"))
    signed.write_text(json.dumps(root.sign(issuer.trust_list()).to_json()))
    unsigned.write_text(json.dumps(forged(issuer, 999_999).to_json()))
    other = sign_trust(forged(issuer, 999_999), Ed25519PrivateKey.generate())
    foreign.write_text(json.dumps(other.to_json()))

    first = invoke("keys", "import", str(signed), "--json", "--data-dir", str(data))
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout) == {
        "installed": True,
        "version": 1,
        "kids": sorted(issuer.trust_list().keys),
        "root": root.current.kid,
        "pinned": True,
    }
    plain = invoke("keys", "import", str(unsigned), "--data-dir", str(data))
    assert plain.exit_code == 1
    assert plain.stderr.startswith("refused: trust_unsigned: ")
    alien = invoke("keys", "import", str(foreign), "--data-dir", str(data))
    assert alien.exit_code == 1
    assert alien.stderr.startswith("refused: trust_foreign_root: ")
    assert "signée par une autre ville" in alien.stderr, "said in the shopkeeper's language"
    with Store.open(data / "ledger.db") as ledger:
        assert trust_version(ledger.read()) == 1
        assert trust_root(ledger.read()) == root.current.public_key


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(signature="00" * 64),
        lambda d: d.update(roots=[]),
        lambda d: d["roots"].append({"public_key": "11" * 32, "endorsement": "22" * 64}),
        lambda d: d["keys"].pop(),
    ],
    ids=["zero-signature", "no-roots", "unendorsed-root", "dropped-key"],
)
def test_a_damaged_signed_list_is_never_installed(tmp_path: Path, change: Any) -> None:
    from loyalty.trust import TrustError, install_document

    issuer = Issuer.open(tmp_path / "platform")
    issuer.rotate()
    root = CityRoot.open(tmp_path / "platform")
    data = root.sign(issuer.trust_list()).to_json()
    change(data)
    with Store.open(tmp_path / "ledger.db") as store:
        with pytest.raises(TrustError):
            install_document(store, data)
        assert trust_version(store.read()) == 0
        assert trust_root(store.read()) is None


def test_many_root_rotations_keep_lists_readable_and_followable(tmp_path: Path) -> None:
    from loyalty.signed_trust import MAX_ROOTS
    from loyalty.trust import install_document

    issuer = Issuer.open(tmp_path / "platform")
    root = CityRoot.open(tmp_path / "platform")
    with Store.open(tmp_path / "ledger.db") as store:
        install_document(store, root.sign(issuer.trust_list()).to_json())
        for _ in range(MAX_ROOTS + 3):  # more rotations than a list carries roots
            root.rotate()
            done = install_document(store, root.sign(issuer.trust_list()).to_json())
            assert done.pinned
        assert trust_root(store.read()) == root.current.public_key
    signed = root.sign(issuer.trust_list()).to_json()
    assert len(signed["roots"]) == MAX_ROOTS
    with Store.open(tmp_path / "fresh.db") as fresh:
        assert install_document(fresh, signed).pinned
