"""The issuer trust list in the ledger, the platform's issuer keys, and `keys import`."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from city.issuer import Issuer, IssuerError
from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
from loyalty.cards import Card, Refusal, RefusalReason, TrustList, verify
from loyalty.db import Store, utc_now
from loyalty.keys import public_hex
from loyalty.trust import (
    MAX_TRUST_FILE_BYTES,
    TrustError,
    TrustVersionError,
    install_trust,
    load_trust,
    read_trust_file,
    revoked_cards,
    trust_version,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "ledger.db") as opened:
        yield opened


@pytest.fixture
def issuer(tmp_path: Path) -> Issuer:
    return Issuer.open(tmp_path / "platform", issuer="roeselare")


def with_version(trust: TrustList, version: int) -> TrustList:
    return TrustList(version=version, keys=dict(trust.keys))


# --- the trust list in the ledger ----------------------------------------------------------------


def test_a_fresh_ledger_trusts_nothing(store: Store) -> None:
    trust = load_trust(store.read())
    assert trust.version == 0
    assert dict(trust.keys) == {}


def test_install_then_load_round_trips(store: Store, issuer: Issuer) -> None:
    offered = issuer.trust_list()
    assert install_trust(store, offered) is True
    loaded = load_trust(store.read())
    assert loaded.version == 1
    assert loaded.to_json() == offered.to_json()
    row = store.read().execute("SELECT value FROM meta WHERE key = 'trust_version'").fetchone()
    assert row == ("1",)
    _, code = issuer.issue_card()
    assert isinstance(verify(code, loaded), Card)


def test_the_same_list_again_is_a_no_op(store: Store, issuer: Issuer) -> None:
    install_trust(store, issuer.trust_list())
    added = store.read().execute("SELECT kid, added_at FROM issuer_keys").fetchall()
    assert install_trust(store, issuer.trust_list()) is False
    assert store.read().execute("SELECT kid, added_at FROM issuer_keys").fetchall() == added


def test_an_older_version_is_refused_and_changes_nothing(store: Store, issuer: Issuer) -> None:
    first = issuer.trust_list()
    issuer.rotate()
    second = issuer.trust_list()
    install_trust(store, second)
    with pytest.raises(TrustVersionError) as caught:
        install_trust(store, first)
    assert caught.value.reason == "trust_version_older"
    assert (caught.value.installed, caught.value.offered) == (2, 1)
    assert "older than the installed version 2" in caught.value.message
    assert load_trust(store.read()).to_json() == second.to_json()


def test_the_same_version_with_other_keys_is_a_conflict(store: Store, issuer: Issuer) -> None:
    install_trust(store, issuer.trust_list())
    other = Issuer.open(issuer.directory.parent / "other", issuer="roeselare").trust_list()
    with pytest.raises(TrustVersionError) as caught:
        install_trust(store, other)
    assert caught.value.reason == "trust_version_conflict"
    assert load_trust(store.read()).to_json() == issuer.trust_list().to_json()


def test_the_version_never_goes_back_over_many_installs(store: Store, issuer: Issuer) -> None:
    base = issuer.trust_list()
    installed = 0
    for version in [3, 1, 5, 5, 4, 2, 9, 8, 9]:
        try:
            install_trust(store, with_version(base, version))
        except TrustVersionError:
            assert version < installed
        else:
            assert version >= installed
            installed = version
        assert trust_version(store.read()) == installed
    assert installed == 9


def test_rotation_keeps_old_cards_and_a_dropped_key_stops_working(
    store: Store, issuer: Issuer
) -> None:
    _, old_code = issuer.issue_card()
    old_kid = issuer.current_kid
    new_kid = issuer.rotate()
    assert new_kid != old_kid
    _, new_code = issuer.issue_card()
    install_trust(store, issuer.trust_list())
    trust = load_trust(store.read())
    assert set(trust.keys) == {old_kid, new_kid}
    old, new = verify(old_code, trust), verify(new_code, trust)
    assert isinstance(old, Card)
    assert old.kid == old_kid
    assert isinstance(new, Card)
    assert new.kid == new_kid

    # The platform drops the old key (e.g. it leaked): a newer list without it revokes it.
    without_old = TrustList(trust.version + 1, {new_kid: trust.keys[new_kid]})
    install_trust(store, without_old)
    trust = load_trust(store.read())
    refusal = verify(old_code, trust)
    assert isinstance(refusal, Refusal)
    assert refusal.reason == RefusalReason.UNKNOWN_KEY
    assert isinstance(verify(new_code, trust), Card)


def test_a_damaged_key_row_reads_as_an_unknown_key(store: Store, issuer: Issuer) -> None:
    install_trust(store, issuer.trust_list())
    _, code = issuer.issue_card()
    with store.write() as db:
        db.execute("UPDATE issuer_keys SET public_key = ?", [b"short"])
    trust = load_trust(store.read())
    assert dict(trust.keys) == {}
    refusal = verify(code, trust)
    assert isinstance(refusal, Refusal)
    assert refusal.reason == RefusalReason.UNKNOWN_KEY


def test_revoked_cards_come_from_the_ledger(store: Store, issuer: Issuer) -> None:
    install_trust(store, issuer.trust_list())
    card_id, code = issuer.issue_card()
    assert revoked_cards(store.read()) == set()
    with store.write() as db:
        db.execute(
            "INSERT INTO revoked_cards (card_id, revoked_at) VALUES (?, ?)",
            [card_id, "2026-01-01Z"],
        )
    revoked = revoked_cards(store.read())
    assert revoked == {card_id}
    refusal = verify(code, load_trust(store.read()), revoked=revoked)
    assert isinstance(refusal, Refusal)
    assert refusal.reason == RefusalReason.REVOKED


# --- the trust list's JSON form ------------------------------------------------------------------

HEX = "ab" * 32


def good() -> dict[str, Any]:
    return {
        "format": "citie-trust/1",
        "version": 4,
        "keys": [{"kid": "k1", "issuer": "roeselare", "public_key": HEX}],
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="citie-trust/2"), '"format" must be "citie-trust/1"'),
        (lambda d: d.pop("format"), '"format" must be'),
        (lambda d: d.update(version=0), '"version" must be a whole number'),
        (lambda d: d.update(version=-3), '"version" must be a whole number'),
        (lambda d: d.update(version=True), '"version" must be a whole number'),
        (lambda d: d.update(version=2.0), '"version" must be a whole number'),
        (lambda d: d.update(version="4"), '"version" must be a whole number'),
        (lambda d: d.update(version=2**60), '"version" must be a whole number'),
        (lambda d: d.update(keys={}), '"keys" must be a list'),
        (lambda d: d.update(keys=[]), '"keys" must hold 1 to 64 keys'),
        (lambda d: d.update(keys=d["keys"] * 65), '"keys" must hold 1 to 64 keys'),
        (lambda d: d.update(keys=["k1"]), "key 1: must be an object"),
        (lambda d: d["keys"][0].update(kid=""), 'key 1: "kid" must be'),
        (lambda d: d["keys"][0].update(kid="k" * 33), 'key 1: "kid" must be'),
        (lambda d: d["keys"][0].update(kid="a b"), 'key 1: "kid" must be'),
        (lambda d: d["keys"][0].update(kid=7), 'key 1: "kid" must be'),
        (lambda d: d["keys"][0].update(issuer="a\x1bb"), 'key 1 (k1): "issuer" must be'),
        (lambda d: d["keys"][0].pop("issuer"), 'key 1 (k1): "issuer" must be'),
        (lambda d: d["keys"][0].update(public_key="ab" * 31), '"public_key" must be 64 hex'),
        (lambda d: d["keys"][0].update(public_key="zz" * 32), '"public_key" must be 64 hex'),
        (lambda d: d["keys"].append(dict(d["keys"][0])), 'the key id "k1" appears twice'),
    ],
)
def test_bad_trust_lists_say_what_is_wrong(change: Any, message: str) -> None:
    data = good()
    change(data)
    with pytest.raises(ValueError) as caught:
        TrustList.from_json(data)
    assert message in str(caught.value)


def test_a_good_trust_list_reads_and_writes_back() -> None:
    trust = TrustList.from_json(good())
    assert trust.version == 4
    assert trust.keys["k1"].issuer == "roeselare"
    assert trust.to_json() == good()


def test_not_an_object_is_refused() -> None:
    values: list[object] = [None, [], "citie-trust/1", 4]
    for data in values:
        with pytest.raises(ValueError, match="JSON object"):
            TrustList.from_json(data)


@pytest.mark.parametrize(
    ("content", "reason", "message"),
    [
        pytest.param(None, "trust_file_unreadable", "cannot read the trust list", id="missing"),
        pytest.param(b"", "trust_file_invalid", "is not valid JSON", id="empty"),
        pytest.param(b"{not json", "trust_file_invalid", "is not valid JSON", id="not-json"),
        pytest.param(b"\xff\xfe{}", "trust_file_invalid", "is not valid JSON", id="not-utf8"),
        pytest.param(
            b"[" * 30_000 + b"]" * 30_000, "trust_file_invalid", "is not valid JSON", id="deep"
        ),
        pytest.param(
            b" " * (MAX_TRUST_FILE_BYTES + 1),
            "trust_file_invalid",
            "far more than a trust list",
            id="too-big",
        ),
        pytest.param(
            b'{"format": "other"}', "trust_file_invalid", '"format" must be', id="wrong-format"
        ),
    ],
)
def test_bad_trust_files_are_refused_clearly(
    tmp_path: Path, content: bytes | None, reason: str, message: str
) -> None:
    path = tmp_path / "trust.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TrustError) as caught:
        read_trust_file(path)
    assert caught.value.reason == reason
    assert message in caught.value.message
    assert str(path) in caught.value.message


# --- the platform's issuer -----------------------------------------------------------------------


def test_open_creates_one_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    directory = tmp_path / "platform"
    issuer = Issuer.open(directory)
    pems = list(directory.glob("issuer-*.pem"))
    assert [p.name for p in pems] == [f"issuer-{issuer.current_kid}.pem"]
    assert stat.S_IMODE(pems[0].stat().st_mode) == 0o600
    state = json.loads((directory / "issuer.json").read_text())
    assert state["format"] == "citie-issuer/1"
    assert state["version"] == 1
    assert state["issuer"] == "citie"
    assert "PRIVATE" not in (directory / "issuer.json").read_text()
    again = Issuer.open(directory, issuer="ignored-for-an-existing-directory")
    assert (again.current_kid, again.issuer, again.version) == (issuer.current_kid, "citie", 1)
    assert len(list(directory.glob("issuer-*.pem"))) == 1


def test_issue_card_signs_with_the_current_key(issuer: Issuer) -> None:
    now = utc_now()
    card_id, code = issuer.issue_card(expires_days=30, now=now)
    card = verify(code, issuer.trust_list(), now=now)
    assert isinstance(card, Card)
    assert card.card_id == card_id
    assert card.issuer == "roeselare"
    assert card.kid == issuer.current_kid
    assert card.expires_at - card.issued_at == timedelta(days=30)
    named, code = issuer.issue_card("CT-PRINTED-0001", expires_days=3650)
    assert named == "CT-PRINTED-0001"
    assert isinstance(verify(code, issuer.trust_list()), Card)
    for days in (0, -1, 20 * 366 + 1):
        with pytest.raises(ValueError, match="expires after"):
            issuer.issue_card(expires_days=days)


def test_rotate_adds_a_key_and_bumps_the_version(issuer: Issuer) -> None:
    first = issuer.current_kid
    second = issuer.rotate()
    third = issuer.rotate()
    assert len({first, second, third}) == 3
    assert issuer.version == 3
    assert set(issuer.trust_list().keys) == {first, second, third}
    reopened = Issuer.open(issuer.directory)
    assert (reopened.version, reopened.current_kid) == (3, third)
    for kid in (first, second, third):
        path = issuer.directory / f"issuer-{kid}.pem"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_key_file_others_can_read_is_refused(issuer: Issuer) -> None:
    path = issuer.directory / f"issuer-{issuer.current_kid}.pem"
    path.chmod(0o644)
    reopened = Issuer.open(issuer.directory)
    with pytest.raises(IssuerError, match="chmod 600"):
        reopened.issue_card()


def test_a_damaged_state_file_is_refused(issuer: Issuer) -> None:
    state_file = issuer.directory / "issuer.json"
    state_file.write_text('{"format": "citie-issuer/1", "issuer": "x"}')
    with pytest.raises(IssuerError, match="is damaged"):
        Issuer.open(issuer.directory)
    state_file.write_text("{")
    with pytest.raises(IssuerError, match="cannot read the issuer state"):
        Issuer.open(issuer.directory)


def test_a_swapped_key_file_is_refused(tmp_path: Path, issuer: Issuer) -> None:
    other = Issuer.open(tmp_path / "other")
    mine = issuer.directory / f"issuer-{issuer.current_kid}.pem"
    mine.write_bytes((other.directory / f"issuer-{other.current_kid}.pem").read_bytes())
    with pytest.raises(IssuerError, match="does not match"):
        Issuer.open(issuer.directory).issue_card()


def test_a_bad_issuer_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="issuer name"):
        Issuer.open(tmp_path / "x", issuer="Stad Roeselare")
    assert not (tmp_path / "x" / "issuer.json").exists()


def test_trust_list_holds_public_keys_only(issuer: Issuer) -> None:
    data = issuer.trust_list().to_json()
    assert data["format"] == "citie-trust/1"
    pem = (issuer.directory / f"issuer-{issuer.current_kid}.pem").read_bytes()
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    private = load_pem_private_key(pem, password=None)
    assert data["keys"] == [
        {
            "kid": issuer.current_kid,
            "issuer": "roeselare",
            "public_key": public_hex(private.public_key()),  # type: ignore[arg-type]
        }
    ]


# --- keys import ---------------------------------------------------------------------------------


def invoke(*args: str) -> Result:
    """Run a citie-terminal command in this process (the real command group)."""
    from terminal.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_keys_import_installs_and_refuses_an_older_list(tmp_path: Path, issuer: Issuer) -> None:
    data = tmp_path / "terminal"
    assert invoke("init", "--data-dir", str(data)).exit_code == 0
    v1, v2 = tmp_path / "v1.json", tmp_path / "v2.json"
    v1.write_text(json.dumps(issuer.trust_list().to_json()))
    issuer.rotate()
    v2.write_text(json.dumps(issuer.trust_list().to_json()))

    first = invoke("keys", "import", str(v2), "--json", "--data-dir", str(data))
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout) == {
        "installed": True,
        "version": 2,
        "kids": sorted(issuer.trust_list().keys),
    }
    again = invoke("keys", "import", str(v2), "--data-dir", str(data), "--lang", "en")
    assert again.exit_code == 0
    assert again.stdout.startswith("unchanged: trust list version 2")

    older = invoke("keys", "import", str(v1), "--data-dir", str(data))
    assert older.exit_code == 1
    assert older.stderr.startswith("refused: trust_version_older: this trust list is version 1")

    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "citie-trust/1", "version": 3, "keys": "none"}')
    bad = invoke("keys", "import", str(broken), "--data-dir", str(data))
    assert bad.exit_code == 1
    assert bad.stderr.startswith("refused: trust_file_invalid: ")
    assert '"keys" must be a list' in bad.stderr

    missing = invoke("keys", "import", str(tmp_path / "nope.json"), "--data-dir", str(data))
    assert missing.exit_code == 1
    assert missing.stderr.startswith("refused: trust_file_unreadable: ")

    with Store.open(data / "ledger.db") as ledger:
        assert trust_version(ledger.read()) == 2


def test_keys_import_needs_an_initialised_terminal(tmp_path: Path, issuer: Issuer) -> None:
    trust_file = tmp_path / "trust.json"
    trust_file.write_text(json.dumps(issuer.trust_list().to_json()))
    result = invoke("keys", "import", str(trust_file), "--data-dir", str(tmp_path / "none"))
    assert result.exit_code == 1
    assert result.stderr.startswith("refused: not_initialised: ")
