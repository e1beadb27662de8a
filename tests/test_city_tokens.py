"""Pairing tokens and credentials the platform hands out can be typed on a command line."""

from __future__ import annotations

import pytest

from city import store


def test_a_token_never_starts_like_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    # `citie-terminal pair URL TOKEN` read a token beginning with "-" as an unknown option, so
    # one token in 64 (URL-safe Base64 starts with "-" that often) could not pair a terminal.
    drawn = iter(["-looks-like-an-option", "_fine-token"])
    monkeypatch.setattr(store.secrets, "token_urlsafe", lambda _n: next(drawn))
    assert store.new_secret() == "_fine-token"


def test_tokens_are_long_and_random() -> None:
    tokens = {store.new_secret() for _ in range(200)}
    assert len(tokens) == 200
    assert all(len(t) == 43 and not t.startswith("-") for t in tokens)
