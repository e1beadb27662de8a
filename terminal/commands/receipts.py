"""``receipt show|print ID|last``: any recorded event's slip as text, PNG or ESC/POS, or printed."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from loyalty.keys import KeyFileError
from loyalty.ledger import Ledger
from receipts.build import ReceiptNotFound, latest_receipt_no, receipt_for
from receipts.escpos import render_escpos
from receipts.messages import MESSAGES
from receipts.model import Receipt
from receipts.png import render_png
from receipts.printers import PrinterError, printer_for
from receipts.text import columns_for_paper, render_text
from terminal.cli_support import CliEnv, Refused, common_options, emit, pass_env
from terminal.commands.setup import open_store


def register(group: click.Group) -> None:
    """Add ``receipt`` to the program."""
    group.add_command(receipt_group)


@click.group("receipt")
def receipt_group() -> None:
    """Show or print the slip of a recorded event (by receipt number, event id, or "last")."""


def _load(env: CliEnv, ref: str) -> tuple[Receipt, int]:
    settings = env.settings
    store = open_store(env)
    try:
        ledger = Ledger(store, shop_id=settings.shop.id, terminal_id=settings.terminal.id)
        if ref.strip().lower() == "last":
            latest = latest_receipt_no(ledger)
            if latest is None:
                raise Refused("no_receipts", MESSAGES.text("no_receipts", env.language))
            ref = latest
        try:
            receipt = receipt_for(ledger, ref, settings, env.language)
        except ReceiptNotFound as exc:
            raise Refused(exc.reason, exc.text(env.language)) from exc
        except KeyFileError as exc:
            raise Refused("key_file", exc.text(env.language), exit_code=3) from exc
    finally:
        store.close()
    return receipt, columns_for_paper(settings.printer.paper_width_mm)


@receipt_group.command("show")
@click.argument("ref", metavar="ID|last")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "png", "escpos"]),
    default="text",
    show_default=True,
)
@click.option("--width", type=click.Choice(["32", "48"]), help="Columns (default: the paper's).")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file (needed for png and escpos).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the slip (or what was written) as JSON."
)
@common_options
@pass_env
def show(
    env: CliEnv, ref: str, fmt: str, width: str | None, output: Path | None, as_json: bool
) -> None:
    """Show a slip: text on stdout, or text, PNG or ESC/POS bytes into --output."""
    if fmt != "text" and output is None:
        raise Refused("output_needed", env.say("cli.receipt.output_needed", fmt=fmt), exit_code=2)
    receipt, columns = _load(env, ref)
    if width is not None:
        columns = int(width)
    if fmt == "png":
        data = render_png(receipt, columns)
    elif fmt == "escpos":
        data = render_escpos(receipt, width=columns)
    else:
        data = render_text(receipt, columns).encode("utf-8")
    if output is None:
        if as_json:
            emit(
                {
                    "receipt_no": receipt.receipt_no,
                    "kind": receipt.kind,
                    "language": receipt.language,
                    "columns": columns,
                    "text": data.decode("utf-8"),
                }
            )
            return
        sys.stdout.write(data.decode("utf-8"))
        return
    _write(env, output, data)
    if as_json:
        emit(
            {
                "receipt_no": receipt.receipt_no,
                "format": fmt,
                "columns": columns,
                "output": str(output),
                "bytes": len(data),
            }
        )
        return
    wrote = env.say(
        "cli.receipt.wrote", path=output, fmt=fmt, columns=columns, receipt_no=receipt.receipt_no
    )
    click.echo(wrote, err=True)


def _write(env: CliEnv, output: Path, data: bytes) -> None:
    try:
        output.write_bytes(data)
    except OSError as exc:
        cause = exc.strerror or type(exc).__name__
        raise Refused(
            "output_failed", env.say("cli.receipt.output_failed", path=output, cause=cause)
        ) from exc


@receipt_group.command("print")
@click.argument("ref", metavar="ID|last")
@click.option(
    "--width", type=click.Choice(["32", "48"]), help="Columns (default: the printer's paper)."
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the printer's ESC/POS bytes to this file instead of the configured printer.",
)
@click.option("--image-qr", is_flag=True, help="Send the QR as an image (printers without QR).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@common_options
@pass_env
def print_(
    env: CliEnv, ref: str, width: str | None, output: Path | None, image_qr: bool, as_json: bool
) -> None:
    """Send a slip to the configured printer; on failure say why (the slip stays stored)."""
    receipt, columns = _load(env, ref)
    if width is not None:
        columns = int(width)
    data = render_escpos(receipt, width=columns, native_qr=not image_qr)
    if output is not None:
        _write(env, output, data)
        target = str(output)
    else:
        printer = printer_for(env.settings.printer)
        target = printer.target
        try:
            printer.send(data)
        except PrinterError as exc:
            raise Refused(
                f"printer_{exc.reason}",
                env.say("cli.receipt.print_failed", problem=exc, receipt_no=receipt.receipt_no),
                exit_code=4,
            ) from exc
    if as_json:
        emit({"printed": receipt.receipt_no, "printer": target, "bytes": len(data)})
    else:
        click.echo(env.say("cli.receipt.printed", receipt_no=receipt.receipt_no, target=target))
