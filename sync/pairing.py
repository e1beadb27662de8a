"""Pairing: trade a one-time token for this terminal's credential, then pull keys and rules.

The credential goes to ``settings.token_path`` (0600, never printed); the city root key of
the first signed trust list pulled is pinned (``loyalty.trust``). The platform URL goes
into the data directory's config.toml by rewriting just that key; when the settings came from
a ``--config`` file the operator manages, nothing is rewritten and the result says what to
set instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from config import Settings
from loyalty.db import Store
from loyalty.keys import write_secret
from loyalty.trust import unpin
from sync.client import PlatformClient, SyncError, check_url
from sync.puller import PullReport, pull


class PairingError(SyncError):
    """Pairing cannot finish; the message says why and what to do."""

    code = "pairing_failed"


@dataclass
class PairResult:
    """What pairing did."""

    url: str
    terminal_id: str
    shop_id: str
    shop_name: str
    token_path: str
    config_path: str
    config_written: bool
    to_set: dict[str, dict[str, str]] = field(default_factory=dict)
    pull: PullReport | None = None
    pull_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """For ``--json`` output (the credential is never part of it)."""
        data = dict(self.__dict__)
        data["pull"] = None if self.pull is None else self.pull.to_json()
        return data


def pair_terminal(
    settings: Settings,
    store: Store,
    url: str,
    token: str,
    *,
    config_path: Path,
    config_is_managed: bool,
    transport: httpx.BaseTransport | None = None,
) -> PairResult:
    """Pair with the platform at ``url`` and pull its keys and programs."""
    url = check_url(url)
    try:
        public_hex = settings.public_key_path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise PairingError(
            f"cannot read this terminal's public key {settings.public_key_path} ({exc}). "
            "Run `citie-terminal init` first.",
            code="no_key_pair",
        ) from None
    with PlatformClient(
        url,
        transport=transport,
        connect_timeout=settings.platform.connect_timeout,
        read_timeout=settings.platform.read_timeout,
    ) as anonymous:
        answer = anonymous.pair(token, public_hex)
    # The token is spent now: keep the credential whatever happens next.
    write_secret(settings.token_path, (answer.credential + "\n").encode("ascii"))

    to_set: dict[str, dict[str, str]] = {"platform": {"url": url}}
    if answer.shop_id != settings.shop.id:
        to_set["shop"] = {"id": answer.shop_id}
    if answer.terminal_id != settings.terminal.id:
        to_set["terminal"] = {"id": answer.terminal_id}
    if len(to_set) > 1:
        _refuse_id_change(store, settings, answer.shop_id, answer.terminal_id)

    written = False
    if not config_is_managed:
        text = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
        for section, values in to_set.items():
            for key, value in values.items():
                text = set_toml_key(text, section, key, value)
        config_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = config_path.with_name(config_path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(config_path)
        written = True

    result = PairResult(
        url=url,
        terminal_id=answer.terminal_id,
        shop_id=answer.shop_id,
        shop_name=answer.shop_name,
        token_path=str(settings.token_path),
        config_path=str(config_path),
        config_written=written,
        to_set={} if written else to_set,
    )
    # Pairing is the operator's word on which city this terminal belongs to: the first signed
    # trust list of this platform pins its root, replacing any earlier pin.
    unpin(store)
    # A new credential may come from a platform that starts its cursors afresh (one that lost
    # its data): pull everything again; applying updates twice changes nothing.
    with store.write() as db:
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('sync_cursor', '0') "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        )
    with PlatformClient(
        url,
        answer.credential,
        transport=transport,
        connect_timeout=settings.platform.connect_timeout,
        read_timeout=settings.platform.read_timeout,
    ) as client:
        try:
            result.pull = pull(store, client, answer.terminal_id)
        except SyncError as exc:
            result.pull_error = f"{exc.code}: {exc.message}"
    return result


def _refuse_id_change(store: Store, settings: Settings, shop_id: str, terminal_id: str) -> None:
    row = (
        store.read()
        .execute(
            "SELECT COUNT(*) FROM events WHERE shop_id != ? OR terminal_id != ?",
            [shop_id, terminal_id],
        )
        .fetchone()
    )
    if row and row[0]:
        raise PairingError(
            f"the platform registered this device as terminal {terminal_id} of shop {shop_id}, "
            f"but this ledger already holds {row[0]} event(s) of terminal "
            f"{settings.terminal.id} of shop {settings.shop.id}. Ask the platform operator to "
            f"run `citie-platform terminal add --shop-id {settings.shop.id} --terminal-id "
            f"{settings.terminal.id} --shop NAME` and pair again with that token.",
            code="terminal_id_mismatch",
        )


_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")


def set_toml_key(text: str, section: str, key: str, value: str) -> str:
    """Set one string key in one section of a TOML text, keeping every other line as is."""
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    line_for = f"{key} = {quoted}"
    lines = text.splitlines()
    start = None
    for number, line in enumerate(lines):
        match = _SECTION.match(line)
        if match and match.group(1).strip() == section:
            start = number
            break
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += [f"[{section}]", line_for]
        return "\n".join(lines) + "\n"
    end = len(lines)
    for number in range(start + 1, len(lines)):
        if _SECTION.match(lines[number]):
            end = number
            break
    key_line = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number in range(start + 1, end):
        if key_line.match(lines[number]):
            lines[number] = line_for
            return "\n".join(lines) + "\n"
    insert_at = start + 1
    lines.insert(insert_at, line_for)
    return "\n".join(lines) + "\n"
