"""A back office (Airtable, Odoo, Business Central, QuickBooks) connected over real HTTP: its
stand-in and our web app each on a local server, the business file written and named by
``BACKORDERS_CONFIG``, and the command that connects or loads it run once."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from sandbox.server import SandboxServer

#: The business and its Newark warehouse; ``SHOWROOM`` adds the Brooklyn showroom.
BUSINESS = """[business]
name = "Futon Loft"
timezone = "America/New_York"

[[locations]]
key = "warehouse"
name = "Newark warehouse"
"""
SHOWROOM = """
[[locations]]
key = "showroom"
name = "Brooklyn showroom"
"""
#: The oak and ash frames, each with a threshold of 2.
FRAMES = """
[[skus]]
code = "FUT-OAK"
title = "Oak futon frame"
threshold = 2

[[skus]]
code = "FUT-ASH"
title = "Ash futon frame"
threshold = 2
"""


@contextmanager
def stand_ins_and_web() -> Iterator[tuple[str, str]]:
    """The stand-ins and our web app, each on its own local server: their base URLs."""
    from workers.web import create_app

    with SandboxServer() as sandbox, SandboxServer(app=create_app(), health_path="/readyz") as web:
        yield sandbox.base_url, web.base_url


@contextmanager
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, env: Mapping[str, str],
               command: list[str], unset: Iterable[str] = ()) -> Iterator[str]:
    """``toml`` as the business file, ``env`` set (``unset`` removed), the settings and the webhook
    stores read afresh, and ``command`` run (it must succeed); its output. Both are forgotten after."""
    from domain.core.env_settings import get_settings
    from workers import webhook_stores
    from workers.cli import main

    path = tmp_path / "store.toml"
    path.write_text(toml)
    paths = {"BACKORDERS_CONFIG": str(path), "BACKORDERS_DATA_DIR": str(tmp_path / "data")}
    for key, value in {**env, **paths}.items():
        monkeypatch.setenv(key, value)
    for key in unset:
        monkeypatch.delenv(key, raising=False)
    get_settings.cache_clear()
    webhook_stores.forget()
    try:
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0, result.output
        yield result.output
    finally:
        webhook_stores.forget()
        get_settings.cache_clear()


def admin(env: dict[str, Any], path: str, body: dict[str, Any] | None = None) -> Any:
    """POST ``body`` to the stand-in's ``_admin/{path}`` under ``env["root"]`` (GET without one)."""
    answer = requests.post(f"{env['root']}/_admin/{path}", json=body, timeout=10) if body is not None else \
        requests.get(f"{env['root']}/_admin/{path}", timeout=10)
    answer.raise_for_status()
    return answer.json()
