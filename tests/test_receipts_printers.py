"""Printers: bytes arrive whole; every fault is a clear PrinterError (files, FIFOs, sockets)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import PrinterKind, PrinterSettings
from receipts.printers import (
    FilePrinter,
    NetworkPrinter,
    NoPrinter,
    PrinterError,
    UsbPrinter,
    printer_for,
)

SLIP = b"\x1b@\x1bt\x13Caf\x82\n\x1dV\x00"


def test_printer_for_follows_the_settings(tmp_path: Path) -> None:
    assert isinstance(printer_for(PrinterSettings()), NoPrinter)
    file = printer_for(PrinterSettings(kind=PrinterKind.FILE, target=str(tmp_path / "x")))
    assert isinstance(file, FilePrinter)
    usb = printer_for(PrinterSettings(kind=PrinterKind.USB, target="/dev/usb/lp0"))
    assert isinstance(usb, UsbPrinter)
    net = printer_for(PrinterSettings(kind=PrinterKind.NETWORK, target="10.0.0.9"))
    assert isinstance(net, NetworkPrinter) and net.address() == ("10.0.0.9", 9100)
    assert NetworkPrinter("printer.local:9101").address() == ("printer.local", 9101)


def test_no_printer_says_the_slip_stays_on_screen() -> None:
    with pytest.raises(PrinterError) as caught:
        NoPrinter().send(SLIP)
    assert caught.value.reason == "none"
    assert "on screen" in str(caught.value)
    assert "écran" in caught.value.text("fr")


def test_file_printer_appends_each_slip(tmp_path: Path) -> None:
    target = tmp_path / "spool.bin"
    printer = FilePrinter(str(target))
    printer.send(SLIP)
    printer.send(SLIP)
    assert target.read_bytes() == SLIP + SLIP


def test_file_printer_in_a_missing_folder_is_absent(tmp_path: Path) -> None:
    with pytest.raises(PrinterError) as caught:
        FilePrinter(str(tmp_path / "no" / "spool.bin")).send(SLIP)
    assert caught.value.reason == "absent"


def test_usb_printer_writes_to_the_device_file(tmp_path: Path) -> None:
    device = tmp_path / "lp0"
    device.touch()
    UsbPrinter(str(device)).send(SLIP)
    assert device.read_bytes() == SLIP


def test_usb_printer_unplugged_is_absent(tmp_path: Path) -> None:
    with pytest.raises(PrinterError) as caught:
        UsbPrinter(str(tmp_path / "lp0")).send(SLIP)
    assert caught.value.reason == "absent"
    assert "Plug it in" in str(caught.value)


def test_usb_device_node_with_nothing_behind_it_is_absent(tmp_path: Path) -> None:
    # A FIFO with no reader answers a non-blocking open with ENXIO, as a device node does
    # when the printer behind it is gone.
    fifo = tmp_path / "lp0"
    os.mkfifo(fifo)
    with pytest.raises(PrinterError) as caught:
        UsbPrinter(str(fifo)).send(SLIP)
    assert caught.value.reason == "absent"


def test_usb_printer_that_stops_taking_bytes_times_out(tmp_path: Path) -> None:
    # A reader that never reads is a printer out of paper: the pipe fills, writes stall.
    fifo = tmp_path / "lp0"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(PrinterError) as caught:
            UsbPrinter(str(fifo), timeout=0.3).send(b"x" * (4 * 1024 * 1024))
    finally:
        os.close(reader)
    assert caught.value.reason == "failed"
    assert "out of paper" in str(caught.value)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)
    yield server
    server.close()


def serve_once(
    server: socket.socket, status: bytes | None, received: list[bytes]
) -> threading.Thread:
    def run() -> None:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(5)
            data = b""
            if status is not None:
                data = conn.recv(3)
                conn.sendall(status)
            while chunk := conn.recv(65536):
                data += chunk
            received.append(data)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_network_printer_sends_the_slip_after_a_paper_check(listener: socket.socket) -> None:
    received: list[bytes] = []
    thread = serve_once(listener, b"\x12", received)  # status: paper present
    port = listener.getsockname()[1]
    NetworkPrinter(f"127.0.0.1:{port}").send(SLIP)
    thread.join(5)
    assert received == [b"\x10\x04\x04" + SLIP]


def test_network_printer_out_of_paper_is_refused_before_sending(listener: socket.socket) -> None:
    received: list[bytes] = []
    thread = serve_once(listener, b"\x72", received)  # bits 5 and 6: paper end
    port = listener.getsockname()[1]
    with pytest.raises(PrinterError) as caught:
        NetworkPrinter(f"127.0.0.1:{port}").send(SLIP)
    thread.join(5)
    assert caught.value.reason == "paper_out"
    assert received == [b"\x10\x04\x04"]
    assert "papier" in caught.value.text("nl")


def test_network_printer_that_is_off_is_unreachable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    with pytest.raises(PrinterError) as caught:
        NetworkPrinter(f"127.0.0.1:{port}", timeout=1).send(SLIP)
    assert caught.value.reason == "unreachable"
    assert f"127.0.0.1:{port}" in str(caught.value)
