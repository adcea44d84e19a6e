"""The helpdesk stand-ins (Zendesk, Gorgias, Intercom) wired into the example store's business
file, as the helpdesk integration tests use them: the ``[[helpdesks]]`` entries, their
credentials and shared webhook secret in the environment, and an order waiting on a backorder
for a customer to write in about."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import Backorder, Order, OrderLine, Sku, Store
from sandbox.server import SandboxServer
from tests.conftest import REPO_ROOT
from tests.connectors.conftest import sandbox_app

SECRET = "helpdesk-secret-for-tests"
NOWHERE = "http://127.0.0.1:9/hooks"  # the stand-in's delivery fails; its record keeps body and headers
ENV = {"ZD_EMAIL": "agent@futon.example", "ZD_TOKEN": "zd_token_sandbox", "GG_EMAIL": "agent@futon.example",
       "GG_KEY": "gorgias_key_sandbox", "IC_TOKEN": "intercom_token_sandbox", "HELPDESK_SECRET": SECRET}
STAND_INS = ("sandbox.zendesk", "sandbox.gorgias", "sandbox.intercom")
#: key → (platform, its credentials' environment names, the options it always has)
DESKS = {
    "zd": ("zendesk", 'email = "ZD_EMAIL", api_token = "ZD_TOKEN"', ""),
    "gg": ("gorgias", 'email = "GG_EMAIL", api_key = "GG_KEY"', ""),
    "ic": ("intercom", 'access_token = "IC_TOKEN"', 'admin_id = "814860"'),
}


def helpdesks(base: str, options: Mapping[str, str] | None = None) -> str:
    """One ``[[helpdesks]]`` entry a stand-in account (``zd``, ``gg``, ``ic``), signing with
    ``HELPDESK_SECRET``; ``options`` adds inline-table entries to a key's ``options``."""
    entries = []
    for key, (platform, credentials, always) in DESKS.items():
        extra = ", ".join(part for part in (always, (options or {}).get(key, "")) if part)
        entries.append(f'''
[[helpdesks]]
key = "{key}"
platform = "{platform}"
base_url = "{base}/{platform}/{key}"
credentials = {{ {credentials} }}
webhook_secret_env = "HELPDESK_SECRET"
''' + (f"options = {{ {extra} }}\n" if extra else ""))
    return "".join(entries)


@contextmanager
def stand_ins(*apps: str) -> Iterator[str]:
    """The named stand-in apps on one local server; its base URL."""
    server = SandboxServer(app=sandbox_app(*(apps or STAND_INS))).start()
    try:
        yield server.base_url
    finally:
        server.stop()


@contextmanager
def store_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra_toml: str) -> Iterator[Path]:
    """The example store's business file with ``extra_toml`` appended, named by
    ``BACKORDERS_CONFIG`` beside the helpdesks' credentials; the settings re-read on both sides."""
    from domain.core.env_settings import get_settings

    path = tmp_path / "store.toml"
    path.write_text((REPO_ROOT / "examples" / "futon-store.toml").read_text() + extra_toml)
    for key, value in {**ENV, "BACKORDERS_CONFIG": str(path)}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        yield path
    finally:
        get_settings.cache_clear()


@contextmanager
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               toml: Callable[[str], str] = helpdesks) -> Iterator[str]:
    """The three stand-ins running and the store configured with ``toml(base_url)``; the base URL."""
    with stand_ins() as base, store_config(tmp_path, monkeypatch, toml(base)):
        yield base


def backordered_order(session: Session, number: str, email: str, customer_name: str,
                      days_ago: int) -> tuple[Order, Backorder]:
    """Order ``#number`` of the oak frame, placed ``days_ago``, its one line all on backorder
    (flushed, not offered)."""
    store = session.scalar(select(Store).where(Store.key == "shopify-main"))
    frame = session.scalar(select(Sku).where(Sku.code == "FUT-FRM-OAK-FULL"))
    assert store is not None and frame is not None
    order = Order(store_id=store.id, external_id=f"x-{number}", number=f"#{number}", customer_name=customer_name,
                  email=email, total_cents=frame.price_cents, placed_at=utcnow() - timedelta(days=days_ago))
    session.add(order)
    session.flush()
    line = OrderLine(order_id=order.id, sku_id=frame.id, external_id=f"{number}-1", quantity=1, backordered_qty=1,
                     allocated_qty=0, price_cents=frame.price_cents, title=frame.title)
    session.add(line)
    session.flush()
    backorder = Backorder(order_line_id=line.id, sku_id=frame.id, quantity=1, ordered_at=order.placed_at)
    session.add(backorder)
    session.flush()
    return order, backorder
