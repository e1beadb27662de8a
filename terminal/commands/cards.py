"""``card verify`` and ``keys import``: check a card code, install the issuer trust list."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from loyalty.cards import MAX_LENGTH, Card
from loyalty.db import DatabaseError, Store, utc_now
from loyalty.ledger import Ledger
from loyalty.trust import (
    CardVerifier,
    TrustError,
    install_document,
    read_trust_document,
)
from terminal.card_numbers import typed_card_refusal
from terminal.cli_support import CliEnv, Refused, common_options, emit, pass_env
from terminal.commands.setup import open_store
from terminal.flags import card_flag, flag_json, flag_warning


def register(group: click.Group) -> None:
    """Add ``card`` and ``keys`` to the program."""
    group.add_command(card_group)
    group.add_command(keys_group)


@click.group("card")
def card_group() -> None:
    """Loyalty card codes."""


@card_group.command("verify")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Print the card (or refusal) as JSON.")
@common_options
@pass_env
def card_verify(env: CliEnv, code: str, as_json: bool) -> None:
    """Verify CODE with this terminal's issuer keys and revocations; print the card.

    A typed card number (CT-7KQ2-M9XD-4HTW) is shown when this terminal knows the card
    (refused otherwise: number_typo, number_unknown, revoked), as at the counter.

    CODE "-" reads the code from standard input (codes contain spaces, so a till can pipe
    a scanned code instead of quoting it). A refusal exits 1 with its reason (not_a_card,
    too_long, malformed, unknown_key, bad_signature, expired, not_yet_valid, revoked) and a
    sentence on stderr.
    """
    if code == "-":
        # Read a little more than the limit so that verify() still sees "too long".
        code = sys.stdin.read(MAX_LENGTH + 1)
    store = open_store(env)
    try:
        typed = _typed(env, store, code, as_json)
        if typed:
            return
        verifier = CardVerifier.from_db(store.read())
        result = verifier.verify(code, now=utc_now())
        flag = card_flag(store.read(), result.card_id) if isinstance(result, Card) else None
    finally:
        store.close()
    trust = verifier.trust
    if isinstance(result, Card):
        if as_json:
            emit({**result.to_json(), **flag_json(flag, env.language)})
        else:
            card = result.to_json()
            click.echo(env.say("cli.card", card_id=card["card_id"]))
            for name in ("issuer", "kid", "issued_at", "expires_at"):
                click.echo("  " + env.say(f"cli.card.{name}", value=card[name]))
            if flag is not None:  # a warning, not a refusal: the card stays valid
                click.echo("  " + flag_warning(flag.reasons, env.language))
        return
    language = env.language
    if as_json:
        emit({**result.to_json(), "language": language, "text": result.text(language)})
    if not trust.keys:
        # The usual reason on a fresh terminal: say how to get keys, not just "unknown key".
        raise Refused(
            result.reason.value, result.text(language) + " " + env.say("cli.card.no_keys")
        )
    raise Refused(result.reason.value, result.text(language))


def _typed(env: CliEnv, store: Store, code: str, as_json: bool) -> bool:
    """A typed card number (``CT-...``): shown if this terminal knows the card, else refused
    as at the counter (``Ledger.typed_card``). False when CODE is not a typed number."""
    settings = env.settings
    ledger = Ledger(store, shop_id=settings.shop.id, terminal_id=settings.terminal.id)
    typed = ledger.typed_card([code])
    if typed is None:
        return False
    language = env.language
    if typed.refusal is not None:
        reason, sentence = typed_card_refusal(typed, language)
        if as_json:
            emit(
                {
                    "refused": reason,
                    "card_id": typed.card_id,
                    "language": language,
                    "text": sentence,
                }
            )
        raise Refused(reason, sentence)
    flag = card_flag(store.read(), typed.card_id)
    if as_json:
        # No signed code was read: only the id, which this terminal's ledger knows.
        emit({"card_id": typed.card_id, "typed": True, **flag_json(flag, language)})
        return True
    click.echo(env.say("cli.card", card_id=typed.card_id))
    if flag is not None:
        click.echo("  " + flag_warning(flag.reasons, language))
    return True


@click.group("keys")
def keys_group() -> None:
    """The card issuer's public keys that this terminal trusts."""


@keys_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@common_options
@pass_env
def keys_import(env: CliEnv, file: Path, as_json: bool) -> None:
    """Install the issuer trust list in FILE (from `citie-platform keys export`).

    A signed list must be signed by the city root this terminal pinned at pairing (or by a
    root it announced); with no root pinned yet, its root is pinned. Once a root is pinned an
    unsigned list is refused (trust_unsigned), and so is a list of another city
    (trust_foreign_root). An older version than the installed one is refused
    (trust_version_older); the same list again changes nothing.
    """
    try:
        data = read_trust_document(file)
    except TrustError as exc:
        raise Refused(exc.reason, exc.message) from exc
    store = open_store(env)
    try:
        done = install_document(store, data)
    except TrustError as exc:
        if exc.reason == "trust_invalid":
            raise Refused("trust_file_invalid", f"{file}: {exc.message}") from exc
        raise Refused(exc.reason, exc.text(env.settings.shop.language.value)) from exc
    except DatabaseError as exc:
        raise Refused("database_error", exc.text(env.language), exit_code=3) from exc
    finally:
        store.close()
    trust = done.trust
    kids = sorted(trust.keys)
    if as_json:
        emit(done.to_json())
        return
    if done.changed:
        click.echo(env.say("cli.keys.installed", version=trust.version, kids=", ".join(kids)))
    else:
        click.echo(env.say("cli.keys.unchanged", version=trust.version))
    if done.pinned and done.root is not None:
        click.echo(f"pinned: city root key {done.root}")
