"""Shared fixtures: a real config and a real SQLite session log in a temporary directory."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import tests.fakes.vendors  # noqa: F401 - registers the scripted vendors
from bot.config import Config, load_config
from bot.proxies import proxy_for

#: What the standard library, httpx and aiohttp read to pick a proxy, in either case.
_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ws_proxy", "wss_proxy"})


@pytest.fixture(autouse=True)
def no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A developer's or a CI runner's HTTPS_PROXY would send the requests meant for the loopback fakes out
    through that proxy, off this machine. The tests of proxy support set their own."""
    for name in os.environ:
        if name.lower() in _PROXY_VARIABLES:
            monkeypatch.delenv(name)
    proxy_for.cache_clear()
    yield
    proxy_for.cache_clear()


@pytest.fixture
def photo_bytes() -> bytes:
    """A plain JPEG big enough to pass intake; scripted vendors don't look at the pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (640, 420), (200, 210, 220)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def make_config(tmp_path: Path):
    """Write a config.toml into tmp_path and load it the way the CLI does."""

    def make(text: str = "", **bot: object) -> Config:
        lines = [f'database = "{tmp_path / "log.db"}"']
        lines += [f"{key} = {json.dumps(value)}" for key, value in bot.items()]  # JSON scalars are TOML
        path = tmp_path / "config.toml"
        path.write_text("[bot]\n" + "\n".join(lines) + "\n" + text, encoding="utf-8")
        return load_config(path, environ={})

    return make
