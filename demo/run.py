"""The demo story (``make demo``, ``python -m demo``, ``backorders demo``): the product end to end on one
machine, against the sandbox.

Starts (or finds) the embedded servers, the sandbox and the five processes, points the example
store at the sandbox, lets beat poll every store (the five storefronts among them), sells a futon
frame out (the showroom's last on Magento, the warehouse's on Shopify), and shows what followed: the
SKU's state, each of the five storefronts told of the sell-out, the staff alerts, and the
purchase order it drafted with the numbers behind each line. Then come order exceptions
(``demo/exceptions.py``): refunds approved and paid at Stripe, Adyen and PayPal, one sent to review
with its case, a stuck parcel's case and message, Stripe and PayPal chargebacks staged before their
deadlines, and a policy what-if. Then support (``demo/support.py``): a Zendesk ticket triaged, routed
and written back with its reply draft as an internal note, a return approved by policy, labelled at
ShipStation, received, refunded at Stripe and restocked, and the customer's one-click satisfaction
answer recorded and followed up. Everything it started is stopped when
it ends — done, failed, Ctrl-C or SIGTERM; with ``--keep`` only at Ctrl-C (``demo/processes.py``).
It says only what the rows show: a text held for quiet hours is told as held, and the channels'
figures after the restock are told once they have stopped moving.

Every run starts from nothing: the demo has its own database (``DEMO_DATABASE`` on the server of
``DATABASE_URL``, embedded or not), dropped and created again at the start, and its own broker key
prefix, so a second run never meets the first one's orders or messages, and the same story drafts
the same purchase orders every time.
"""
from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from demo import counters, exceptions, support
from demo.processes import (PATIENCE, REPO_ROOT, DemoFailed, Processes, Terminated, signals_ignored,
                            stop_signals_raise)

__all__ = ["DemoFailed", "Processes", "main", "run"]
DEMO_SKU = "FUT-FRM-OAK-FULL"
#: The draft window is long enough to collect the sell-out and the two customers' orders that follow
#: it within seconds (as the real 30-minute window would), so the PO is the same on every run.
DEMO_SLA, DEMO_REMINDER, DEMO_PO_WINDOW = "25s", "10s", "20s"
DEMO_DATABASE = "backorders_demo"
SETTLE_S = 3.0
FLOWER_PORT = 5555
#: How long Flower takes to bind its port on a quiet machine, with room (scaled by ``PATIENCE``).
FLOWER_BIND_S = 4.0
CUSTOMERS = ({"name": ("Jamie", "Rivera"), "email": "jamie@example.com", "phone": "+12015550123"},
             {"name": ("Sam", "Okafor"), "email": "sam@example.com", "phone": "+12015550188"})


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_flower(procs: Processes, bin_dir: Path, port: int) -> None:
    procs.start("flower", [str(bin_dir / "backorders"), "flower", "--port", str(port)])


def flower_bound(procs: Processes, bin_dir: Path, port: int, attempts: int = 3) -> int:
    """The port Flower listens on. Another demo (or test) may take the port between choosing it
    and Flower binding it: Flower then exits with "Address already in use" and is started again on
    a fresh port, so a port race never fails the demo. Called once the sandbox and the web process
    answer, by when Flower (which binds first thing) has long had its port or failed to."""
    for _ in range(attempts):
        proc = procs.running["flower"]
        deadline = time.monotonic() + FLOWER_BIND_S * PATIENCE
        while proc.poll() is None and not _port_taken_by_someone(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        if proc.poll() is None or "Address already in use" not in (procs.log_dir / "flower.log").read_text(
                errors="replace"):
            return port
        port = free_port()
        start_flower(procs, bin_dir, port)
    return port


def _port_taken_by_someone(port: int) -> bool:
    return not _port_free(port)


def fresh_database(database_url: str, name: str = DEMO_DATABASE) -> str:
    """Drop and create the demo's own database on the server ``database_url`` points at; its URL.

    The user's database is never touched: the demo's orders, stock and purchase orders live in
    ``name`` only, and a run starts with none of the previous run's rows."""
    import psycopg

    parts = urlsplit(database_url)
    admin = urlunsplit(parts._replace(path="/postgres")).replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise DemoFailed(f"the demo needs its own database {name!r} on the server of DATABASE_URL and could "
                         f"not create it: {exc}") from exc
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class Held:
    """What a run has started and must stop however it ends: the process group, and the embedded
    servers when this run started them (a user's own running servers are left alone)."""

    procs: Processes | None = None
    started_embedded: bool = False

    def release(self, say: Callable[[str], None]) -> None:
        from workers import embedded

        if self.procs is not None and self.procs.running:
            left = self.procs.stop()
            names = ", ".join(self.procs.running)
            say(f"stopped the demo's processes ({names}; process group {self.procs.pgid})"
                + (f"; still running: {left}" if left else ""))
        if self.started_embedded:
            embedded.stop()
            say("stopped the embedded PostgreSQL and Redis this run started")


def run(keep: bool, say: Callable[[str], None]) -> dict[str, Any]:
    """The story, start to end; every process it started is stopped when it ends — at once on a
    failure, Ctrl-C, SIGTERM or SIGHUP, and with ``keep`` only at Ctrl-C (or either signal)."""
    held = Held()
    with stop_signals_raise():
        try:
            return _story(keep, say, held)
        finally:
            with signals_ignored():  # a second Ctrl-C must not cut the clean-up short
                held.release(say)


def _story(keep: bool, say: Callable[[str], None], held: Held) -> dict[str, Any]:
    from sqlalchemy import func, select

    from domain.core.business_config import load_config
    from domain.core.db import reset_engine, session_scope
    from domain.core.env_settings import get_settings
    from domain.core.models import Alert, Sku, SkuTransition, StockLevel, Store
    from domain.stock.catalog import apply_config
    from demo import scenario
    from workers import embedded
    from workers.schema import alembic_config

    embedded_before = embedded.is_running()
    state = embedded.ensure_env()
    held.started_embedded = state is not None and not embedded_before
    # A fresh database and broker namespace for this run; the processes below inherit both.
    os.environ["DATABASE_URL"] = fresh_database(get_settings().database_url)
    os.environ["CELERY_KEY_PREFIX"] = f"demo-{secrets.token_hex(4)}:"
    get_settings.cache_clear()
    reset_engine()
    settings = get_settings()
    data_dir = settings.data_dir
    log_dir = data_dir / "demo-logs"
    log_dir.mkdir(parents=True, exist_ok=True)

    from alembic import command

    alembic = alembic_config(settings.database_url)
    alembic.attributes["configure_logging"] = False
    command.upgrade(alembic, "head")

    sandbox_port, web_port = free_port(), free_port()
    flower_port = FLOWER_PORT if _port_free(FLOWER_PORT) else free_port()  # another demo may hold 5555
    sandbox_url, web_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{web_port}"
    config_path = data_dir / "demo-store.toml"
    config_text = scenario.sandbox_config_text(REPO_ROOT / "examples" / "futon-store.toml", sandbox_url,
                                               set(scenario.DEMO_PLATFORMS))
    # An accelerated follow-up policy, so a customer's SLA passes within the demo.
    config_text = re.sub(r'(?m)^reminder_after = "[^"]*"', f'reminder_after = "{DEMO_REMINDER}"', config_text)
    config_text = re.sub(r'(?m)^sla = "72h"', f'sla = "{DEMO_SLA}"', config_text)
    config_text = re.sub(r'(?m)^po_window = "[^"]*"', f'po_window = "{DEMO_PO_WINDOW}"', config_text)
    # Texts go out whatever the hour, so the demo tells the same story at night.
    config_text = re.sub(r'(?m)^quiet_hours = "[^"]*"', 'quiet_hours = "00:00-00:00"', config_text)
    # The example's Zendesk entry, switched on against the stand-in, for the support act.
    config_text = support.with_helpdesk(config_text, sandbox_url)
    config_path.write_text(config_text)
    env = {**os.environ, **scenario.sandbox_env(sandbox_url, web_url), **support.HELPDESK_ENV,
           "BACKORDERS_CONFIG": str(config_path),
           "SWEEP_INTERVAL_S": "2", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    os.environ.update(env)
    get_settings.cache_clear()
    reset_engine()
    flower_auth = os.environ.get("FLOWER_BASIC_AUTH") or embedded.flower_credentials() or ""
    env["FLOWER_BASIC_AUTH"] = flower_auth
    bin_dir = Path(sys.executable).parent
    procs = held.procs = Processes(log_dir, env)
    say(f"sandbox on {sandbox_url}, web on {web_url}")
    procs.start("sandbox", [sys.executable, "-m", "sandbox", "--port", str(sandbox_port)])
    procs.start("web", [str(bin_dir / "uvicorn"), "workers.web:app", "--port", str(web_port), "--log-level",
                        "warning"])
    procs.start("worker", [str(bin_dir / "celery"), "-A", "workers.app", "worker", "-Q",
                           "sync,detect,default,timers", "-n", "demo-worker@%h", "-c", "4", "-l", "WARNING"])
    procs.start("notify", [str(bin_dir / "celery"), "-A", "workers.app", "worker", "-Q", "notify", "-n",
                           "demo-notify@%h", "-c", "2", "-l", "WARNING"])
    procs.start("beat", [str(bin_dir / "celery"), "-A", "workers.app", "beat", "-l", "WARNING",
                         "--schedule", str(data_dir / "demo-beat-schedule")])
    start_flower(procs, bin_dir, flower_port)
    procs.wait("the sandbox", lambda: requests.get(f"{sandbox_url}/_sandbox/health", timeout=1).ok)
    procs.wait("the web process", lambda: requests.get(f"{web_url}/readyz", timeout=3).ok)
    flower_port = flower_bound(procs, bin_dir, flower_port)

    config = load_config(config_path)
    # The stand-ins are seeded before the stores exist in the database: beat polls a store as soon as
    # its row is there, and a poll that reads a stand-in not yet seeded records an empty catalogue
    # until its next interval (Lightspeed's is five minutes), so nothing would be written to it.
    scenario.prepare(sandbox_url, config, web_url, env, available=25)
    with session_scope() as session:
        apply_config(session, config)
        session.execute(Store.__table__.update().values(next_poll_at=None, stock_cursor=None,
                                                        order_cursor=None, lease_owner=None))
    say(f"configured {len(config.stores)} stores and {len(config.skus)} SKUs; beat polls every store now")

    def polled() -> bool:
        procs.check_alive()
        with session_scope() as session:
            return all(session.scalars(select(Store.last_full_sync_at.is_not(None))))

    procs.wait("the first poll of every store", polled, 120)
    with session_scope() as session:
        stock_rows = session.scalar(select(func.count()).select_from(StockLevel))
        per_store = {key: count for key, count in session.execute(
            select(Store.key, func.count()).join(StockLevel, StockLevel.store_id == Store.id)
            .group_by(Store.key).order_by(Store.key))}
    say(f"polled: {stock_rows} stock figures stored ({', '.join(f'{k} {v}' for k, v in per_store.items())})")
    if empty := sorted({store.key for store in config.stores} - set(per_store)):
        raise DemoFailed(f"the first poll stored no stock figures for {', '.join(empty)}: nothing could be "
                         "written to it; see demo-logs/worker.log")

    showroom = next(s for s in config.stores if s.platform == "lightspeed")
    trade = next(s for s in config.stores if s.platform == "magento")
    say(f"the showroom's floor model, its last {DEMO_SKU}, sells to a trade customer: Magento reports its "
        "showroom source at 0 (webhook)")
    showroom_source = next(code for code, place in trade.locations.items() if place == "showroom")
    requests.post(f"{sandbox_url}/magento/{trade.key}/_admin/set_stock", timeout=10, json={
        "sku": DEMO_SKU, "source_code": showroom_source, "quantity": 0}).raise_for_status()
    time.sleep(2)
    say(f"online, the last 25 × {DEMO_SKU} in the warehouse sell: Shopify reports 0 (webhook)")
    requests.post(f"{sandbox_url}/shopify/shopify-main/_admin/set_stock", timeout=10,
                  json={"sku": DEMO_SKU, "available": 0}).raise_for_status()

    def sku_state() -> str | None:
        procs.check_alive()
        with session_scope() as session:
            value = session.scalar(select(Sku.state).where(Sku.code == DEMO_SKU))
        return value if value == "BACKORDER" else None

    procs.wait(f"{DEMO_SKU} to become BACKORDER", sku_state, 60)

    def item(platform: str, store: str) -> dict[str, Any]:
        response = requests.get(f"{sandbox_url}/{platform}/{store}/_admin/state/items",
                                params={"skus": DEMO_SKU}, timeout=5)
        return response.json()["items"][0]

    sold_out = sell_out_on_every_storefront(item, sandbox_url, trade.key, showroom.key, procs)
    def staff_messages() -> dict[str, int] | None:
        response = requests.get(f"{sandbox_url}/_sandbox/messaging/messages", timeout=5).json()["messages"]
        counts = {p: sum(1 for m in response if m["provider"] == p) for p in ("slack", "mailgun")}
        return counts if counts["slack"] and counts["mailgun"] else None

    messages = procs.wait("the staff alerts (Slack and email)", staff_messages, 60)
    journey_summary, po_lines = customer_journeys(sandbox_url, web_url, say, procs)
    restocked = channels_after_restock(item, showroom.key, trade.key, say, procs)
    exception_lines = exceptions.run(sandbox_url, web_url, config_path, say, procs)
    support_lines = support.run(sandbox_url, web_url, say, procs)
    with session_scope() as session:
        transitions = [f"{t.from_state} → {t.to_state} (available {t.numbers['available']}"
                       + (f", {t.numbers['oversold']} sold beyond stock" if t.numbers.get("oversold") else "")
                       + f", open demand {t.numbers['open_demand']})"
                       for t in session.scalars(select(SkuTransition).join(Sku).where(Sku.code == DEMO_SKU)
                                                .order_by(SkuTransition.id))]
        alerts = session.scalar(select(func.count()).select_from(Alert))
    user, _, password = flower_auth.partition(":")

    def counted_all() -> dict[str, dict[str, float]] | None:
        """Counts are written as each task ends, a moment after the rows the story waited for."""
        scraped = counters.scrape(web_url, (user, password))
        return scraped if counters.all_counted(scraped) else None

    counted = procs.wait("/metrics to count webhooks, pushes and sends", counted_all, 10)
    summary = {"stock_figures": stock_rows, "per_store": per_store, "transitions": transitions,
               "sold_out": sold_out, "messages": messages,
               "alerts": alerts, "journeys": journey_summary, "purchase_orders": po_lines, "restocked": restocked,
               "exceptions": exception_lines, "support": support_lines,
               "message_page": f"{sandbox_url}/_sandbox/messages", "flower": f"http://127.0.0.1:{flower_port}",
               "flower_auth": flower_auth, "metrics": f"{web_url}/metrics", "counted": counted}
    _print_summary(summary, say, keep)
    if keep:
        say(f"processes left running (--keep, process group {procs.pgid}); Ctrl-C stops them all. The "
            f"demo's data is in its own database: DATABASE_URL={os.environ['DATABASE_URL']} "
            f"CELERY_KEY_PREFIX={os.environ['CELERY_KEY_PREFIX']} backorders po list")
        try:
            while True:
                procs.check_alive()
                time.sleep(1)
        except KeyboardInterrupt:
            return summary
    return summary


def customer_journeys(sandbox_url: str, web_url: str, say: Callable[[str], None],
                      procs: Processes) -> tuple[list[str], list[str]]:
    """Two customers order the sold-out frame; the date slips; one texts WAIT, one stays silent
    past the (accelerated) SLA and is refunded; stock arrives and the one who waited ships.
    Returns the journeys' outcomes and the purchase order's lines as it was sent."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import Backorder, Order, OrderLine, OutboxMessage
    from domain.messaging import sms_replies

    shop = f"{sandbox_url}/shopify/shopify-main/_admin"
    for customer in CUSTOMERS:
        first, last = customer["name"]
        say(f"{first} orders a {DEMO_SKU} on Shopify while it is sold out")
        requests.post(f"{shop}/create_order", timeout=10, json={
            "lines": [{"sku": DEMO_SKU, "quantity": 1, "price": "649.00"}], "email": customer["email"],
            "phone": customer["phone"], "customer": {"first_name": first, "last_name": last}}).raise_for_status()

    def backorders_in(state: str) -> dict[str, int] | None:
        procs.check_alive()
        with session_scope() as session:
            rows = session.execute(select(Order.email, Backorder.id).join(OrderLine, OrderLine.id ==
                                                                          Backorder.order_line_id)
                                   .join(Order, Order.id == OrderLine.order_id).where(Backorder.state == state))
            found = {email: backorder_id for email, backorder_id in rows}
        return found if len(found) == len(CUSTOMERS) else None

    ids = procs.wait("both delay notices", lambda: backorders_in("notified"), 60)
    told = notices_told(ids, "backorder_notice", procs)
    say(f"delay notices (ETA from the vendor's lead time; silence = wait): {told}")
    new_eta = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
    subprocess.run([str(Path(sys.executable).parent / "backorders"), "eta", "set", DEMO_SKU, new_eta], check=True,
                   cwd=REPO_ROOT, env=procs.env, capture_output=True)
    say(f"the vendor slips: `backorders eta set {DEMO_SKU} {new_eta}` sends renewed notices that need a yes")

    def consent_asked() -> bool:
        with session_scope() as session:
            return all(session.scalar(select(Backorder.consent_required).where(Backorder.id == i))
                       for i in ids.values())

    procs.wait("renewed notices", consent_asked, 30)
    jamie = CUSTOMERS[0]

    def jamie_texted() -> bool:  # a text answers the last question texted to that number
        with session_scope() as session:
            return bool(session.scalar(select(OutboxMessage.id).where(
                OutboxMessage.channel == "sms", OutboxMessage.state.in_(sms_replies.LEFT_US),
                OutboxMessage.idempotency_key.like(f"backorder:{ids[jamie['email']]}:backorder_renewed_notice:%"))))

    procs.wait("Jamie's renewed notice by SMS", jamie_texted, 30)
    requests.post(f"{sandbox_url}/_sandbox/messaging/twilio/inbound", timeout=10, json={
        "url": f"{web_url}/sms/inbound", "from": jamie["phone"], "to": "+15005550006", "body": "WAIT"},
    ).raise_for_status()
    say(f"Jamie texts WAIT; Sam says nothing (the demo's SLA is {DEMO_SLA})")

    def state_of(email: str) -> str | None:
        with session_scope() as session:
            return session.scalar(select(Backorder.state).where(Backorder.id == ids[email]))

    procs.wait("Jamie's answer", lambda: state_of(jamie["email"]) == "accepted_wait", 30)
    sam = CUSTOMERS[1]
    procs.wait("Sam's deadline and refund",
               lambda: state_of(sam["email"]) == "auto_cancelled" and _refunded(ids[sam["email"]]), 120)
    say("Sam's order line was cancelled at the deadline and refunded on Shopify")
    po_number, po_lines = purchase_order_story(web_url, say, procs)
    procs.wait("Jamie's backorder to fill", lambda: state_of(jamie["email"]) == "filled", 60)
    say(f"the goods of {po_number} filled Jamie's backorder first; Jamie is told it ships")
    return [f"Jamie: {state_of(jamie['email'])}", f"Sam: {state_of(sam['email'])} (refunded)"], po_lines


def purchase_order_story(web_url: str, say: Callable[[str], None], procs: Processes) -> tuple[str, list[str]]:
    """The sell-out put the frame on Kyoto's draft PO; its window closes, it is approved under the
    limit and sent (email with CSV + NetSuite PO); the vendor confirms on its page; goods arrive.
    Returns the PO's number and its lines with their numbers, as sent (what the story drafted;
    what the goods' arrival leads to afterwards depends on figures still arriving at the end)."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import OutboxMessage, PurchaseOrder, Store, Vendor

    def kyoto_po(states: tuple[str, ...]) -> tuple[int, str, str, int] | None:
        procs.check_alive()
        with session_scope() as session:
            row = session.execute(select(PurchaseOrder.id, PurchaseOrder.number, PurchaseOrder.state,
                                         PurchaseOrder.total_cents).join(Vendor).where(
                Vendor.key == "kyoto-frames", PurchaseOrder.state.in_(states))).first()
        return (row[0], row[1], row[2], row[3]) if row else None

    po_id, number, state, total = procs.wait("Kyoto's draft to close its window",
                                             lambda: kyoto_po(("awaiting_approval", "approved", "sent")), 90)
    if state == "awaiting_approval":
        say(f"{number} (${total // 100:,}.{total % 100:02d}) is over the auto-approve limit: staff were asked "
            f"on Slack; the buyer runs `backorders po approve {number}`")
        subprocess.run([str(Path(sys.executable).parent / "backorders"), "po", "approve", number], check=True,
                       cwd=REPO_ROOT, env=procs.env, capture_output=True)
    po_id, number, state, total = procs.wait("the purchase order to be sent", lambda: kyoto_po(("sent",)), 60)
    with session_scope() as session:
        po = session.get(PurchaseOrder, po_id)
        context = session.scalar(select(OutboxMessage.context).where(
            OutboxMessage.idempotency_key == f"po:{po_id}:email"))
        erp_ref = po.erp_ref if po else None
        erp = session.scalar(select(Store.name).join(Vendor, Vendor.erp_store_key == Store.key)
                             .where(Vendor.id == po.vendor_id)) if po else None
    say(f"{number} was drafted from the sell-out and sent: vendor email with the CSV, "
        f"{erp or 'ERP'} purchase order {erp_ref}")
    lines = purchase_order_lines([po_id])
    for line in lines[1:]:
        say(line)
    link = re.search(r"/po/[A-Za-z0-9_\-.]+", str(context))
    if link is None:
        raise DemoFailed("the vendor email carries no acknowledgement link")
    arrival = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    requests.post(f"{web_url}{link.group(0)}", data={f"date_{DEMO_SKU}": arrival}, timeout=10).raise_for_status()
    say(f"Kyoto confirms on its page (no login): ships {arrival}")
    subprocess.run([str(Path(sys.executable).parent / "backorders"), "po", "receive", number], check=True,
                   cwd=REPO_ROOT, env=procs.env, capture_output=True)
    say(f"the goods arrive: `backorders po receive {number}`")
    return number, lines


def sell_out_on_every_storefront(item: Callable[[str, str], dict[str, Any]], sandbox_url: str, trade_key: str,
                                 pos_key: str, procs: Processes) -> list[str]:
    """Each of the five storefronts told of the sell-out, one line each, as the stand-ins show it
    once the figures have stopped moving, with the writes we made to it since the first poll
    (from the audit log; Lightspeed's from its own write log too)."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import AuditLog, Sku

    procs.wait("Shopify to allow backorders", lambda: item("shopify", "shopify-main")["inventory_policy"] == "continue")
    procs.wait("WooCommerce to show onbackorder", lambda: item("woocommerce", "woo-outlet")["stock_status"] == "onbackorder")
    procs.wait("BigCommerce to show the frame as pre-order",
               lambda: item("bigcommerce", "bigcommerce-trade")["availability"] == "preorder")
    procs.wait("Magento to take backorders with every source at 0", lambda: (i := item("magento", trade_key))
               ["backorders"] == 2 and not any(i["sources"].values()))
    procs.wait("the Lightspeed POS to be written its showroom's 0", lambda: not any(
        item("lightspeed", pos_key)["inventory"].values()) and any(w["sku"] == DEMO_SKU for w in requests.get(
            f"{sandbox_url}/lightspeed/{pos_key}/_admin/writes", timeout=5).json()["writes"]))
    shown = settled("the five storefronts' figures to settle", lambda: {
        "shopify": item("shopify", "shopify-main"), "woocommerce": item("woocommerce", "woo-outlet"),
        "bigcommerce": item("bigcommerce", "bigcommerce-trade"), "magento": item("magento", trade_key),
        "lightspeed": item("lightspeed", pos_key)}, procs)
    with session_scope() as session:
        sku_id = session.scalar(select(Sku.id).where(Sku.code == DEMO_SKU))
        pushes = [row.data for row in session.scalars(
            select(AuditLog).where(AuditLog.action == "channel.push", AuditLog.subject_type == "sku",
                                   AuditLog.subject_id == str(sku_id)).order_by(AuditLog.id))]

    def written(store_key: str) -> str:
        mine = [push for push in pushes if push.get("store") == store_key and push.get("ok")]
        if not mine:
            return "nothing written by us"
        levels: dict[str, Any] = {}
        for push in mine:  # the latest figure we wrote at each location
            levels.update(push.get("levels") or {})
        return f"we wrote {levels} in {len(mine)} write(s)"
    shop, woo, bc, mag, pos = (shown[name] for name in ("shopify", "woocommerce", "bigcommerce", "magento",
                                                        "lightspeed"))
    return [f"Shopify: available {shop['available']}, inventory_policy {shop['inventory_policy']} "
            f"({written('shopify-main')})",
            f"WooCommerce: stock {woo['stock_quantity']}, status {woo['stock_status']}, backorders "
            f"{woo['backorders']} ({written('woo-outlet')})",
            f"BigCommerce: levels {bc['levels']}, availability {bc['availability']} "
            f"({bc['availability_description']!r}; {written('bigcommerce-trade')})",
            f"Magento: sources {mag['sources']}, backorders {mag['backorders']} ({written(trade_key)})",
            f"Lightspeed POS: {pos['inventory']} ({written(pos_key)})"]


def channels_after_restock(item: Callable[[str, str], dict[str, Any]], pos_key: str, trade_key: str,
                           say: Callable[[str], None], procs: Processes) -> list[str]:
    """Once the goods are booked in, every channel that sells the frame is written its new sellable
    figure (received − units filled for waiting customers − that store's buffer), not only the
    ones that were at zero. Waits for Shopify and WooCommerce to show stock again, then returns
    what each channel shows beside the figures of our last push to it (from the audit log)."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import AuditLog, Sku

    procs.wait("Shopify to show the restocked frame", lambda: (i := item("shopify", "shopify-main"))
               ["available"] > 0 and i["inventory_policy"] == "deny" and i, 60)
    procs.wait("WooCommerce to show the restocked frame", lambda: (i := item("woocommerce", "woo-outlet"))
               ["stock_status"] == "instock" and i, 60)
    # The first write after the arrival is not necessarily the last (the buffer and what is promised
    # move as the fill lands): the figures told are the ones that stopped moving.
    procs.wait("BigCommerce to sell the restocked frame again", lambda: item("bigcommerce", "bigcommerce-trade")
               ["availability"] == "available", 60)
    shown = settled("the storefronts' figures to settle", lambda: {
        "shopify": item("shopify", "shopify-main"), "woocommerce": item("woocommerce", "woo-outlet"),
        "bigcommerce": item("bigcommerce", "bigcommerce-trade"), "magento": item("magento", trade_key)}, procs)
    shopify, woo, trade, trade_store = (shown[name] for name in ("shopify", "woocommerce", "bigcommerce", "magento"))
    pos = item("lightspeed", pos_key)
    with session_scope() as session:
        sku_id = session.scalar(select(Sku.id).where(Sku.code == DEMO_SKU))
        pushes = {row.data.get("store"): row.data for row in session.scalars(
            select(AuditLog).where(AuditLog.action == "channel.push", AuditLog.subject_type == "sku",
                                   AuditLog.subject_id == str(sku_id)).order_by(AuditLog.id))}

    def why(store_key: str) -> str:
        data = pushes.get(store_key)
        if not data:
            return "no write needed"
        buffer = data.get("buffer") or {}
        delay = buffer.get("delay_s")
        free = sum((data.get("before_buffer") or {}).values())
        return (f"our last push: {free} free to sell after {data.get('promised', 0)} "
                f"promised to waiting customers, buffer {buffer.get('units', 0)} = ⌈{buffer.get('velocity_per_day')}"
                f"/day × {'unmeasured' if delay is None else f'{delay} s'} delay⌉ + floor {buffer.get('floor', 0)}")
    lines = [f"Shopify: available {shopify['available']}, inventory_policy {shopify['inventory_policy']} "
             f"({why('shopify-main')})",
             f"WooCommerce: stock {woo['stock_quantity']}, status {woo['stock_status']} ({why('woo-outlet')})",
             f"BigCommerce: levels {trade['levels']}, availability {trade['availability']} "
             f"({why('bigcommerce-trade')})",
             f"Magento: sources {trade_store['sources']}, backorders {trade_store['backorders']} ({why(trade_key)})",
             f"Lightspeed POS: {pos['inventory']} ({why(pos_key)})"]
    say(f"every selling channel shows the restock: Shopify {shopify['available']}, WooCommerce "
        f"{woo['stock_quantity']} (what arrived, less the units filled for waiting customers and each "
        "store's sync-lag buffer)")
    return lines


def settled(what: str, read: Callable[[], dict[str, Any]], procs: Processes, quiet_s: float = SETTLE_S,
            timeout_s: float = 60.0) -> dict[str, Any]:
    """``read()`` once it has returned the same value for ``quiet_s`` seconds in a row."""
    last: dict[str, Any] | None = None
    since = time.monotonic()

    def steady() -> dict[str, Any] | None:
        nonlocal last, since
        value = read()
        if value != last:
            last, since = value, time.monotonic()
            return None
        return value if time.monotonic() - since >= quiet_s else None

    result: dict[str, Any] = procs.wait(what, steady, timeout_s)
    return result


def notices_told(ids: dict[str, int], template: str, procs: Processes) -> str:
    """What became of each customer's ``template`` notice, by channel, from the outbox rows once
    none is still on its way: sent, or held (quiet hours) until when — never more than happened."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import OutboxMessage

    def outcome() -> list[str] | None:
        told = []
        with session_scope() as session:
            for email, backorder_id in ids.items():
                rows = session.execute(select(OutboxMessage.channel, OutboxMessage.state, OutboxMessage.not_before)
                                       .where(OutboxMessage.idempotency_key.like(
                                           f"backorder:{backorder_id}:{template}:%")).order_by(OutboxMessage.id)).all()
                if not rows:
                    return None
                parts = []
                for channel, state, not_before in rows:
                    held = state == "pending" and not_before is not None and not_before > datetime.now(UTC)
                    if held:
                        parts.append(f"{channel} held for quiet hours until {not_before:%H:%M} UTC")
                    elif state in ("sent", "delivered", "failed", "suppressed", "unknown"):
                        parts.append(f"{channel} {state}")
                    else:
                        return None  # still on its way
                told.append(f"{email.split('@')[0].title()}: {', '.join(parts)}")
        return told

    return "; ".join(procs.wait(f"the {template.replace('_', ' ')}s to leave or be held", outcome, 60))


def purchase_order_lines(po_ids: list[int]) -> list[str]:
    """These POs, each line with the numbers that sized it (as `backorders po list` shows them)."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import PurchaseOrder, PurchaseOrderLine, Sku, Vendor
    from domain.purchasing.reorder import explain

    out: list[str] = []
    with session_scope() as session:
        for po, vendor in session.execute(select(PurchaseOrder, Vendor.name).join(Vendor)
                                          .where(PurchaseOrder.id.in_(po_ids)).order_by(PurchaseOrder.id)).tuples():
            out.append(f"{po.number} to {vendor}: ${po.total_cents / 100:,.2f}, {po.state.replace('_', ' ')}")
            for line, code in session.execute(select(PurchaseOrderLine, Sku.code).join(Sku)
                                              .where(PurchaseOrderLine.purchase_order_id == po.id)
                                              .order_by(Sku.code)).tuples():
                out.append(f"  {code} × {line.quantity} at ${line.unit_cost_cents / 100:,.2f}")
                out.append(f"    why: {explain(line.reason)}")
    return out


def _refunded(backorder_id: int) -> bool:
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import Backorder

    with session_scope() as session:
        return bool(session.scalar(select(Backorder.resolution_ref).where(Backorder.id == backorder_id)))


def _print_summary(summary: dict[str, Any], say: Callable[[str], None], keep: bool) -> None:
    say("")
    say("== Demo summary ==")
    say(f"stock figures stored by polling: {summary['stock_figures']} {summary['per_store']}")
    for line in summary["transitions"]:
        say(f"{DEMO_SKU}: {line}")
    for line in summary["sold_out"]:
        say(f"at the sell-out, {line}")
    for line in summary["restocked"]:
        say(f"after the goods arrived, {line}")
    say(f"staff alerts: {summary['alerts']} alert(s) in all; the sell-out reached staff as {summary['messages']}")
    say(f"customer journeys: {'; '.join(summary['journeys'])}")
    say("the purchase order drafted from the sell-out, as sent (each line with the numbers behind it):")
    for line in summary["purchase_orders"]:
        say(f"  {line}")
    say("order exceptions (refunds by policy, a stuck parcel, chargebacks, a policy what-if):")
    for line in summary["exceptions"]:
        say(f"  {line}")
    say("support (a helpdesk ticket triaged with its draft, a return refunded, a satisfaction answer recorded):")
    for line in summary["support"]:
        say(f"  {line}")
    user, _, password = summary["flower_auth"].partition(":")
    if not keep:
        say("the sandbox's message page and Flower stop with the demo; `make demo KEEP=1` keeps them running:")
    say(f"sandbox message page (every email, SMS and Slack post): {summary['message_page']}")
    say(f"Flower: {summary['flower']} (basic auth: user {user}, password {password})")
    say(f"/metrics: {summary['metrics']} (same basic auth) counted {counters.describe(summary['counted'])}")


def main(keep: bool, say: Callable[[str], None]) -> int:
    """0 when the story was told (with ``keep``, also when Ctrl-C ends it afterwards); 1 when a
    step failed; 130 / 143 when Ctrl-C / SIGTERM cut it short. Every process is stopped first."""
    try:
        summary = run(keep, say)
    except DemoFailed as exc:
        say(f"demo failed: {exc}")
        return 1
    except Terminated as exc:
        say(f"demo stopped by {exc}")
        return 143
    except KeyboardInterrupt:
        say("demo interrupted")
        return 130
    return 0
