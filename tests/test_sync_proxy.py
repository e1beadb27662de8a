"""The sync client goes through the proxy the environment names, as curl and httpx do."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from sync.client import (
    PlatformClient,
    SyncError,
    UnsupportedProxy,
    environment_proxy,
)


@pytest.fixture
def proxy() -> Iterator[tuple[int, list[bytes]]]:
    """A proxy on 127.0.0.1 that writes down the first request it gets and answers 502."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                seen.append(data.split(b"\r\n", 1)[0])
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    server.close()


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_the_platform_is_reached_through_the_https_proxy_of_the_environment(
    proxy: tuple[int, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, seen = proxy
    _clear(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    with (
        PlatformClient("https://platform.citie.example", connect_timeout=2) as client,
        pytest.raises(SyncError),
    ):
        client.health()
    assert seen == [b"CONNECT platform.citie.example:443 HTTP/1.1"]


def test_no_proxy_and_loopback_go_straight(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("https_proxy", "http://proxy.shop.example:3128")
    monkeypatch.setenv("no_proxy", "platform.citie.example")
    assert environment_proxy("https://platform.citie.example") is None
    assert environment_proxy("https://other.example") == "http://proxy.shop.example:3128"
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.shop.example:3128")
    assert environment_proxy("http://127.0.0.1:8000") is None
    assert environment_proxy("http://localhost:8000") is None


def test_a_socks_proxy_is_refused_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(UnsupportedProxy, match="NO_PROXY") as caught:
        PlatformClient("https://platform.citie.example")
    assert caught.value.code == "proxy_unsupported"


@pytest.mark.parametrize(
    ("no_proxy", "bypassed"),
    [
        ("*", True),
        (".citie.example", True),
        ("citie.example", True),
        ("tie.example", False),
        ("", False),
        ("other.example, citie.example", True),
    ],
)
def test_no_proxy_names_hosts_and_domain_suffixes(
    no_proxy: str, bypassed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.shop.example:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    expected = None if bypassed else "http://proxy.shop.example:3128"
    assert environment_proxy("https://platform.citie.example") == expected
