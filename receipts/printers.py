"""Where ESC/POS bytes go: nowhere, a file, a USB printer's device file, or a network printer.

Every fault becomes a ``PrinterError`` with a stable reason and a sentence that says what to
do. Printing never touches the ledger: the receipt stays stored and ``receipt print ID``
prints it again once the printer is fixed.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from config.settings import NETWORK_PRINTER_PORT, PrinterKind, PrinterSettings, network_address
from receipts.messages import MESSAGES

NETWORK_PORT: Final = NETWORK_PRINTER_PORT
TIMEOUT_SECONDS: Final = 5.0
# DLE EOT 4: "paper roll sensor status"; bits 5 and 6 set mean the paper has run out.
PAPER_STATUS_QUERY: Final = b"\x10\x04\x04"
PAPER_OUT_BITS: Final = 0x60
# Every real-time status byte has bit 1 and 4 set and bits 0 and 7 clear.
STATUS_FIXED_MASK: Final = 0x93
STATUS_FIXED_BITS: Final = 0x12


class PrinterError(Exception):
    """The slip could not be printed: a stable reason code and an English sentence."""

    def __init__(self, reason: str, target: str) -> None:
        self.reason = reason
        self.target = target
        super().__init__(MESSAGES.text(f"printer_{reason}", "en", target=target))

    @property
    def message(self) -> str:
        """The English sentence."""
        return str(self)

    def text(self, language: str) -> str:
        """The sentence in the counter's language."""
        return MESSAGES.text(f"printer_{self.reason}", language, target=self.target)


class Printer(Protocol):
    """Something that takes a whole slip of ESC/POS bytes."""

    target: str

    def send(self, data: bytes) -> None:
        """Print the bytes, or raise PrinterError."""


@dataclass
class NoPrinter:
    """No printer set up: every slip stays on screen."""

    target: str = "none"

    def send(self, data: bytes) -> None:
        """Refuse: there is nothing to print on."""
        raise PrinterError("none", self.target)


@dataclass
class FilePrinter:
    """Appends each slip's bytes to a file (tests, demos, a spooler that watches a file)."""

    target: str

    def send(self, data: bytes) -> None:
        """Append the bytes and flush them to disk."""
        path = Path(self.target)
        try:
            with path.open("ab") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except FileNotFoundError as exc:
            raise PrinterError("absent", self.target) from exc
        except PermissionError as exc:
            raise PrinterError("permission", self.target) from exc
        except OSError as exc:
            raise PrinterError("failed", self.target) from exc


@dataclass
class UsbPrinter:
    """A USB printer through its kernel device file (``/dev/usb/lp0``)."""

    target: str = "/dev/usb/lp0"
    timeout: float = TIMEOUT_SECONDS

    def send(self, data: bytes) -> None:
        """Write every byte within the timeout; an absent, off or stuck printer is an error."""
        try:
            fd = os.open(self.target, os.O_WRONLY | os.O_NONBLOCK | os.O_APPEND)
        except FileNotFoundError as exc:
            raise PrinterError("absent", self.target) from exc
        except PermissionError as exc:
            raise PrinterError("permission", self.target) from exc
        except OSError as exc:
            # ENODEV / ENXIO: the device node exists but no printer answers behind it.
            raise PrinterError("absent" if exc.errno in _GONE else "failed", self.target) from exc
        try:
            _write_all(fd, data, self.timeout, self.target)
        finally:
            os.close(fd)


_GONE = {errno.ENODEV, errno.ENXIO, errno.ENOENT}


def _write_all(fd: int, data: bytes, timeout: float, target: str) -> None:
    # Non-blocking writes with a deadline: a printer that is out of paper or jammed stops
    # taking bytes, and the counter must get its answer rather than hang.
    deadline = time.monotonic() + timeout
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            raise PrinterError("absent" if exc.errno in _GONE else "failed", target) from exc
        view = view[written:]
        if view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PrinterError("failed", target)
            select.select([], [fd], [], min(remaining, 0.2))


@dataclass
class NetworkPrinter:
    """A network printer on raw port 9100 (``host`` or ``host:port``)."""

    target: str
    timeout: float = TIMEOUT_SECONDS
    check_paper: bool = True

    def address(self) -> tuple[str, int]:
        """Host and port from the target (ValueError if it is not host[:port])."""
        return network_address(self.target)

    def send(self, data: bytes) -> None:
        """Connect, check the paper sensor if the printer answers, send, close."""
        try:
            host, port = self.address()
        except ValueError as exc:
            raise PrinterError("unreachable", self.target) from exc
        try:
            with socket.create_connection((host, port), timeout=self.timeout) as conn:
                if self.check_paper and self._paper_out(conn):
                    raise PrinterError("paper_out", self.target)
                conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)
        except PrinterError:
            raise
        except (TimeoutError, ConnectionError, socket.gaierror) as exc:
            raise PrinterError("unreachable", self.target) from exc
        except OSError as exc:
            raise PrinterError("unreachable", self.target) from exc

    def _paper_out(self, conn: socket.socket) -> bool:
        # Printers that do not answer status queries are given the benefit of the doubt:
        # a short wait, then the slip is sent anyway.
        conn.sendall(PAPER_STATUS_QUERY)
        ready, _, _ = select.select([conn], [], [], min(self.timeout, 0.5))
        if not ready:
            return False
        status = conn.recv(1)
        if not status:
            raise PrinterError("unreachable", self.target)
        if status[0] & STATUS_FIXED_MASK != STATUS_FIXED_BITS:
            return False  # not a status byte: something else answered; do not guess
        return bool(status[0] & PAPER_OUT_BITS)


def printer_for(settings: PrinterSettings) -> Printer:
    """The printer the settings describe."""
    if settings.kind is PrinterKind.FILE:
        return FilePrinter(settings.target)
    if settings.kind is PrinterKind.USB:
        return UsbPrinter(settings.target or "/dev/usb/lp0")
    if settings.kind is PrinterKind.NETWORK:
        return NetworkPrinter(settings.target)
    return NoPrinter()
