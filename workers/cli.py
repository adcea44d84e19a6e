"""The ``backorders`` command: what the ops team runs by hand.

Commands that need the database start (or find) the embedded servers when no URL is set;
``config check`` needs nothing but the file.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

import domain.core.env_settings as runtime_settings
from domain.core.stages import FollowUp, Stage
from flows.spine import send_now

REPO_ROOT = Path(__file__).resolve().parents[1]


def _environment() -> None:
    """Fill URLs from the embedded servers when unset, then validate; exit 2 naming bad variables."""
    from domain.core.env_settings import SettingsError, get_settings
    from workers.embedded import EmbeddedError, ensure_env

    try:
        ensure_env()
        get_settings.cache_clear()
        get_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    except EmbeddedError as exc:
        raise click.ClickException(f"embedded servers: {exc}") from exc


#: ``--json`` on every command that prints data: the same facts as one JSON document on stdout.
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group()
def main() -> None:
    """Backorder Automator: stock truth across channels, backorders handled end to end."""


@main.group()
def config() -> None:
    """Validate or load the business configuration (TOML)."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def config_check(file: Path, as_json: bool) -> None:
    """List every problem in FILE with its key path; exit 1 if there is any."""
    from domain.core.business_config import ConfigError, load_config

    try:
        loaded = load_config(file)
    except ConfigError as exc:
        if as_json:
            echo_json({"file": str(file), "ok": False, "problems": list(exc.problems)})
            sys.exit(1)
        for problem in exc.problems:
            click.echo(problem, err=True)
        click.echo(f"{file}: {len(exc.problems)} problem(s)", err=True)
        sys.exit(1)
    from domain.core.config_warnings import route_warnings

    warnings = route_warnings(loaded)
    counts = {"stores": len(loaded.stores), "locations": len(loaded.locations), "vendors": len(loaded.vendors),
              "skus": len(loaded.skus)}
    if as_json:
        echo_json({"file": str(file), "ok": True, "problems": [], "warnings": warnings, **counts})
        return
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{file}: ok ({counts['stores']} stores, {counts['locations']} locations, "
               f"{counts['vendors']} vendors, {counts['skus']} SKUs)")


@config.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@json_option
def config_apply(file: Path | None, as_json: bool) -> None:
    """Load FILE (default: $BACKORDERS_CONFIG) into the database."""
    from domain.core.business_config import ConfigError, load_config
    from domain.core.db import session_scope
    from domain.core.env_settings import get_settings
    from domain.stock.catalog import apply_config

    _environment()
    file = file or get_settings().config_file
    try:
        loaded = load_config(file)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    with session_scope() as session:
        summary = apply_config(session, loaded)
    if as_json:
        echo_json({"file": str(file), "stores": summary.stores, "locations": summary.locations,
                   "vendors": summary.vendors, "skus": summary.skus})
        return
    click.echo(f"applied {file}: {summary.stores} stores, {summary.locations} locations, "
               f"{summary.vendors} vendors, {summary.skus} SKUs")


@main.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION."""
    from alembic import command

    from domain.core.env_settings import get_settings
    from workers.schema import alembic_config

    _environment()
    command.upgrade(alembic_config(get_settings().database_url), revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (``base`` empties it)."""
    from alembic import command

    from domain.core.env_settings import get_settings
    from workers.schema import alembic_config

    _environment()
    command.downgrade(alembic_config(get_settings().database_url), revision)
    click.echo(f"database at {revision}")


def _redis_status() -> dict[str, Any]:
    """What lives in Redis rather than PostgreSQL: each messaging provider's circuit and the
    latest webhooks addressed to stores we do not know. Empty when Redis does not answer."""
    import redis

    from domain.messaging.circuit import get_breaker
    from domain.stock import stray_webhooks

    try:
        breaker = get_breaker()
        return {"circuits": {p: breaker.state(p) for p in ("mailgun", "sendgrid", "twilio", "slack")},
                "stray_webhooks": stray_webhooks.recent(20)}
    except redis.RedisError:
        return {"circuits": {}, "stray_webhooks": []}


def _business_timezone() -> str | None:
    """The configuration's timezone (quiet hours of customers whose own zone is unknown), if it loads."""
    from domain.core.business_config import ConfigError, current_config

    try:
        return current_config().timezone
    except (ConfigError, OSError):
        return None


def _liveness(session: Any) -> dict[str, Any]:
    """Workers' last heartbeats and every beat task's last run, late ones named (``domain.core.liveness``)."""
    from domain.core import liveness
    from workers.health import beat_schedule, expected_queues

    return liveness.snapshot(session.connection(), beat_schedule(), expected_queues(),
                             liveness.Thresholds.from_env())


def _echo_liveness(live: dict[str, Any]) -> None:
    for worker in live["workers"]:
        click.echo(f"Worker {worker['name']} (pid {worker['pid']}, queues {', '.join(worker['queues'])}): "
                   f"last heartbeat {worker['age_s']}s ago{'' if worker['live'] else ' — STALE'}")
    if not live["workers"]:
        click.echo("Workers: no heartbeat recorded")
    if live["queues_without_live_worker"]:
        click.echo("Queues without a live worker: " + ", ".join(live["queues_without_live_worker"]))
    click.echo("Late sweeps: " + ("; ".join(live["late_sweeps"]) or "none"))
    for sweep in live["sweeps"]:
        click.echo(f"  {sweep['task']}: last ran {sweep['age_s']}s ago ({sweep['runs']} runs)"
                   + (" — LATE" if sweep["late"] else ""))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status(as_json: bool) -> None:
    """SKUs by state, open backorders, due timers, outbox and inbox by state, dead letters."""
    from domain.core.db import session_scope
    from domain.status import snapshot
    from workers.cli_stores import echo_store_connections, store_connections

    from domain.core import spool

    _environment()
    spool.try_import()
    with session_scope() as session:
        data = snapshot(session, business_timezone=_business_timezone())
        data["liveness"] = _liveness(session)
        data.update(store_connections(session))
    data.update(_redis_status())
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"status at {data['at']}")
    for title, key in (("SKUs by state", "skus_by_state"), ("Backorders by state", "backorders_by_state"),
                       ("Outbox by state", "outbox_by_state"), ("Inbox by state", "inbox_by_state")):
        counts = data[key]
        click.echo(f"{title}: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))
    click.echo(f"Open backorders: {data['open_backorders']}")
    substituted = data["substitute_orders_by_state"]
    click.echo("Substitute orders by state: " + (", ".join(f"{k} {v}" for k, v in sorted(substituted.items()))
                                                 or "none"))
    click.echo(f"Timers: {data['timers']['pending']} pending, {data['timers']['due_now']} due now")
    for store in data["stores"]:
        click.echo(f"Store {store['platform']:<11} {store['poll_line']}")
    for account in data["shipping_accounts"]:
        click.echo(f"Shipping {account['provider']:<11} {account['line']}")
    for helpdesk in data.get("helpdesks") or []:
        click.echo(f"Helpdesk {helpdesk['platform']:<11} {helpdesk['line']}")
    waiting = data["outbox_waiting"]
    if waiting["total"]:
        click.echo(f"Outbox waiting {waiting['total']}:")
        for group in waiting["groups"]:
            click.echo(f"  {group['count']} {group['text']} ({', '.join(group['channels'])})")
    for row in data["channel_pushes"]["stores"]:
        delay = (f"{row['delay_s']}s over {row['delay_samples']} pushes" if row["delay_s"] is not None
                 else "not measured yet")
        click.echo(f"Pushes to {row['store']}: {row['due']} due, {row['in_flight']} in flight, "
                   f"{row['failing']} failing, {row['writes']} writes; propagation delay {delay}; "
                   f"buffer floor {row['buffer_floor']}")
    for push in data["channel_pushes"]["latest"][:10]:
        buffer = push["buffer"] or {}
        click.echo(f"  {push['at']} {push['sku']} → {push['store']}: wrote {push['levels']} from "
                   f"{push['before_buffer']} − buffer {buffer.get('units')} = ceil({buffer.get('velocity_per_day')}"
                   f"/day × {buffer.get('delay_s')} s ÷ 86400) + floor {buffer.get('floor')}")
    effects = data.get("pending_effects") or {}
    click.echo("Pending effects: " + (", ".join(f"{kind} {row['due']} due, {row['in_flight']} in flight, "
                                                f"{row['failing']} failing" for kind, row in effects.items())
                                      or "none"))
    circuits = data.get("circuits") or {}
    click.echo("Provider circuits: " + (", ".join(f"{k} {v}" for k, v in sorted(circuits.items()))
                                        or "Redis not answering"))
    if data.get("stray_webhooks"):
        click.echo("Webhooks for unknown stores (latest first):")
        for stray in data["stray_webhooks"][:10]:
            click.echo(f"  {stray.get('at', '?')} {stray.get('store_key', '?')} {stray.get('topic', '')} "
                       f"({stray.get('bytes', 0)} bytes, {stray.get('user_agent', '') or 'no user agent'})")
    _echo_liveness(data["liveness"])
    echo_store_connections(data)


    if data["spooled_dead_letters"]:
        click.echo(f"Dead letters spooled locally, not yet in the database: {data['spooled_dead_letters']} "
                   f"(in {spool.spool_dir()}; imported once the database accepts writes)")
    if data["dead_letters"]:
        click.echo("Dead letters:")
        for dead in data["dead_letters"]:
            click.echo(f"  #{dead['id']} {dead['task']} at {dead['failed_at']}: {dead['error']}")


@main.group()
def embedded() -> None:
    """The embedded PostgreSQL and Redis used when no URL is configured."""


@embedded.command("start")
@json_option
def embedded_start(as_json: bool) -> None:
    from workers import embedded as servers

    state = servers.start()
    if as_json:
        echo_json({"database_url": state.database_url, "redis_url": state.redis_url})
        return
    click.echo(f"PostgreSQL: {state.database_url}\nRedis: {state.redis_url}")


@embedded.command("stop")
def embedded_stop() -> None:
    from workers import embedded as servers

    click.echo("stopped" if servers.stop() else "nothing was running")


@embedded.command("status")
@json_option
def embedded_status(as_json: bool) -> None:
    from workers import embedded as servers

    running = servers.is_running()
    if as_json:
        echo_json({"running": running})
    else:
        click.echo("running" if running else "not running")
    sys.exit(0 if running else 1)


@main.command()
@click.option("--port", default=5555, show_default=True, type=int)
@click.option("--address", default="127.0.0.1", show_default=True)
def flower(port: int, address: str) -> None:
    """Run Flower behind basic auth, /metrics included (FLOWER_BASIC_AUTH=user:password, read from the
    environment, never passed on the command line; generated for the embedded set-up)."""
    from workers.embedded import flower_credentials

    _environment()
    auth = os.environ.get("FLOWER_BASIC_AUTH") or flower_credentials()
    if not auth:
        raise click.ClickException("FLOWER_BASIC_AUTH: not set; Flower never runs without credentials")
    click.echo(f"Flower on http://{address}:{port} (user {auth.split(':', 1)[0]})", err=True)
    # The credentials travel in the environment, never in argv (``ps`` shows argv to everyone);
    # workers.flower_app also puts /metrics behind them.
    os.environ["FLOWER_BASIC_AUTH"] = auth
    os.execvp(sys.executable, [sys.executable, "-m", "workers.flower_app", f"--port={port}",
                               f"--address={address}"])


@main.command()
@click.option("--keep", is_flag=True, help="Leave every process running afterwards (to browse Flower).")
def demo(keep: bool) -> None:
    """Run the demo scenario against the sandbox and print a summary (from a source checkout)."""
    from workers.demo_launcher import demo_command

    try:
        argv, env = demo_command(REPO_ROOT, keep, sys.executable, os.environ)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    os.execvpe(argv[0], argv, env)


@main.command()
@click.argument("store_key")
@click.option("--full", is_flag=True, help="Fetch the whole catalog, not just what changed since the cursor.")
@json_option
def sync(store_key: str, full: bool, as_json: bool) -> None:
    """Poll STORE_KEY now (in this process) and report what changed."""
    from sqlalchemy import select

    from connectors.errors import ConnectorError
    from flows import poll as syncing
    from domain.core.db import get_sessionmaker, session_scope
    from domain.core.models import Store
    from flows.connections import connector_for
    from workers import sync_progress as progress

    _environment()
    with session_scope() as session:
        store = session.scalar(select(Store).where(Store.key == store_key))
        if store is None:
            raise click.ClickException(f"unknown store {store_key!r} (run `backorders config apply` first?)")
        try:
            connector = connector_for(store)
        except ConnectorError as exc:
            raise click.ClickException(str(exc)) from exc
        store_id, cursors = store.id, (store.stock_cursor, store.order_cursor)
        before, expected = progress.available_by_sku(session, store_id), progress.expected_records(session, store_id)
    changed: set[int] = set()
    try:
        with progress.SyncProgress(store_key, expected if full else None, full) as shown:
            report = syncing.poll(get_sessionmaker(), connector, store_id, owner=f"cli-{os.getpid()}", full=full,
                                  stock_cursor=cursors[0], order_cursor=cursors[1], on_changed=changed.update,
                                  on_progress=shown.update)
    except ConnectorError as exc:
        from tasks.polling import keep_failure

        keep_failure(store_id, f"cli-{os.getpid()}", full, exc)
        raise click.ClickException(f"{store_key}: {exc}") from exc
    with session_scope() as session:
        moved = progress.changes(session, before, progress.available_by_sku(session, store_id))
    result: dict[str, Any] = {"store": store_key, "full": report.full, "skipped": report.skipped,
                              "pages": report.pages, "records": report.records, "changed": len(report.changed_sku_ids),
                              "unmatched": report.unknown, "unmatched_codes": report.unmatched,
                              "warnings": report.warnings, "orders": report.orders, "transitions": [],
                              "available_changed": [{"sku": code, "old": old, "new": new} for code, old, new in moved]}
    if not as_json:
        from workers.cli_stores import echo_poll_notes

        click.echo(report.summary(store_key))
        echo_poll_notes(report)
        progress.print_changes(store_key, moved)
    if changed:
        from sqlalchemy import func

        from domain.core.models import Sku, SkuTransition
        from tasks.stock import evaluate

        with session_scope() as session:
            last_seen = session.scalar(select(func.max(SkuTransition.id))) or 0
        evaluate.apply(args=[sorted(changed)], throw=True)
        with session_scope() as session:
            for code, from_state, to_state, numbers in session.execute(
                    select(Sku.code, SkuTransition.from_state, SkuTransition.to_state, SkuTransition.numbers)
                    .join(Sku, Sku.id == SkuTransition.sku_id).where(SkuTransition.id > last_seen)
                    .order_by(SkuTransition.id)):
                result["transitions"].append({"sku": code, "from_state": from_state, "to_state": to_state,
                                              "numbers": numbers})
                if not as_json:
                    click.echo(f"  {code}: {from_state} -> {to_state} (available {numbers['available']})")
        if not as_json:
            click.echo("  alerts are queued; channel pushes and messages run on the workers")
    if as_json:
        echo_json(result)


@main.group()
def eta() -> None:
    """Expected arrival dates of backordered SKUs."""


@eta.command("set")
@click.argument("sku_code")
@click.argument("new_date", type=click.DateTime(formats=["%Y-%m-%d"]))
@json_option
def eta_set(sku_code: str, new_date: Any, as_json: bool) -> None:
    """Set SKU_CODE's expected date (YYYY-MM-DD); waiting customers hear of a slip once."""
    from sqlalchemy import func, select

    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from domain.core.models import Backorder, Sku
    from domain.journey import customer_journey
    from workers.app import app

    _environment()
    when = new_date.date()
    if when < utcnow().date():
        raise click.ClickException(f"{when} is in the past")
    with session_scope() as session:
        sku = session.scalar(select(Sku).where(Sku.code == sku_code).with_for_update())
        if sku is None:
            raise click.ClickException(f"unknown SKU {sku_code!r}")
        sku.eta = when
        follow_ups = customer_journey.change_eta(session, sku.id, when, runtime_settings.current())
        waiting = session.scalar(select(func.count()).where(Backorder.sku_id == sku.id,
                                                              Backorder.state.in_(("notified", "accepted_wait"))))
    send_now(follow_ups, app)
    if as_json:
        echo_json({"sku": sku_code, "eta": when.isoformat(), "waiting_backorders": waiting,
                   "messages_queued": len(follow_ups)})
        return
    click.echo(f"{sku_code}: ETA {when}; {waiting} waiting backorder(s); {len(follow_ups)} message(s) queued")


@main.group()
def substitute() -> None:
    """Substitutes customers chose: approve the ones the store's policy leaves to staff."""


@substitute.command("approve")
@click.argument("backorder_id", type=int)
@json_option
def substitute_approve(backorder_id: int, as_json: bool) -> None:
    """Place the substitute BACKORDER_ID's customer chose, waiting for staff; settled by the policy."""
    from domain.core.db import session_scope
    from domain.journey import substitutes
    from workers.app import app

    _environment()
    try:
        with session_scope() as session:
            follow_ups = substitutes.approve(session, backorder_id)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    send_now(follow_ups, app)
    if as_json:
        echo_json({"backorder": backorder_id, "approved": bool(follow_ups)})
        return
    click.echo(f"backorder {backorder_id}: substitute approved; placing the order is queued" if follow_ups
               else f"backorder {backorder_id}: the substitute is not waiting for staff; nothing changed")


@main.group()
def po() -> None:
    """Purchase orders: list, approve, receive."""


@po.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include received and cancelled purchase orders.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON (every line with its reason).")
def po_list(show_all: bool, as_json: bool) -> None:
    """Purchase orders with their vendor, state, total and expected date, and under each one its
    lines with the numbers that sized them (reorder point, position, velocity and where it came
    from, the need and the rounding)."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import PurchaseOrder, PurchaseOrderLine, Sku, Vendor
    from domain.purchasing.reorder import explain

    _environment()
    with session_scope() as session:
        query = (select(PurchaseOrder, Vendor.key).join(Vendor, Vendor.id == PurchaseOrder.vendor_id)
                 .order_by(PurchaseOrder.id))
        if not show_all:
            query = query.where(PurchaseOrder.state.not_in(("received", "cancelled")))
        orders = session.execute(query).all()
        lines: dict[int, list[dict[str, Any]]] = {order.id: [] for order, _ in orders}
        for line, code in session.execute(
                select(PurchaseOrderLine, Sku.code).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
                .where(PurchaseOrderLine.purchase_order_id.in_(list(lines))).order_by(Sku.code)).tuples():
            lines[line.purchase_order_id].append({
                "sku": code, "quantity": line.quantity, "received_qty": line.received_qty,
                "unit_cost_cents": line.unit_cost_cents, "line_total_cents": line.quantity * line.unit_cost_cents,
                "eta": line.eta.isoformat() if line.eta else None, "reason": line.reason})
        listed = [{"id": order.id, "number": order.number, "vendor": vendor_key, "state": order.state,
                   "total_cents": order.total_cents,
                   "expected_at": order.expected_at.isoformat() if order.expected_at else None,
                   "lines": lines[order.id]} for order, vendor_key in orders]
    if as_json:
        click.echo(json.dumps(listed, indent=2, default=str))
        return
    if not listed:
        click.echo("no purchase orders")
        return
    click.echo(f"{'id':>5}  {'number':<22} {'vendor':<16} {'state':<19} {'total':>12} {'lines':>5}  expected")
    for order in listed:
        click.echo(f"{order['id']:>5}  {order['number']:<22} {order['vendor']:<16} {order['state']:<19} "
                   f"{order['total_cents'] / 100:>12,.2f} {len(order['lines']):>5}  {order['expected_at'] or '-'}")
        for line in order["lines"]:
            click.echo(f"       {line['sku']} × {line['quantity']} @ {line['unit_cost_cents'] / 100:,.2f} = "
                       f"{line['line_total_cents'] / 100:,.2f}")
            if line["reason"]:
                click.echo(f"         why: {explain(line['reason'])}")


def _purchase_order_id(session: Any, reference: str) -> int:
    from domain.purchasing import purchase_orders

    found = purchase_orders.find(session, reference)
    if found is None:
        raise click.ClickException(f"no purchase order {reference!r} (see `backorders po list`)")
    return found.id


@po.command("approve")
@click.argument("reference")
@json_option
def po_approve(reference: str, as_json: bool) -> None:
    """Approve purchase order REFERENCE (id or number) that is awaiting approval, and send it."""
    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from domain.purchasing import purchase_orders
    from workers.app import app

    _environment()
    try:
        with session_scope() as session:
            approved = purchase_orders.approve(session, _purchase_order_id(session, reference),
                                          f"cli:{os.environ.get('USER', 'staff')}", utcnow())
            po_id, number = approved.id, approved.number
    except purchase_orders.PurchasingError as exc:
        raise click.ClickException(str(exc)) from exc
    send_now([FollowUp(Stage.SEND_PO, (po_id,))], app)
    if as_json:
        echo_json({"id": po_id, "number": number, "state": "approved", "sending_queued": True})
        return
    click.echo(f"{number}: approved; sending to the vendor is queued")


def _sku_quantities(values: tuple[str, ...]) -> dict[str, int] | None:
    if not values:
        return None
    quantities: dict[str, int] = {}
    for value in values:
        code, _, qty = value.partition("=")
        if not code or not qty.strip().isdigit():
            raise click.BadParameter(f"expected CODE=QTY, got {value!r}", param_hint="--sku")
        quantities[code.strip()] = quantities.get(code.strip(), 0) + int(qty)
    return quantities


@po.command("receive")
@click.argument("reference")
@click.option("--sku", "skus", multiple=True, metavar="CODE=QTY",
              help="Received quantity of one SKU (repeat); without it, everything outstanding.")
@json_option
def po_receive(reference: str, skus: tuple[str, ...], as_json: bool) -> None:
    """Book goods in against REFERENCE (id or number); waiting customers are filled first."""
    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from domain.journey import customer_journey
    from domain.purchasing import purchase_orders
    from tasks.stock import evaluate
    from workers.app import app

    _environment()
    quantities = _sku_quantities(skus)
    try:
        with session_scope() as session:
            result = purchase_orders.receive(session, _purchase_order_id(session, reference), quantities, utcnow())
    except purchase_orders.PurchasingError as exc:
        raise click.ClickException(str(exc)) from exc
    report: dict[str, Any] = {"number": result.number, "state": result.state, "received": dict(result.received),
                              "mismatch_messages_queued": len(result.follow_ups), "customer_messages_queued": 0}
    if not as_json:
        for code, qty in sorted(result.received.items()):
            click.echo(f"  {code}: +{qty}")
        click.echo(f"{result.number}: {result.state.replace('_', ' ')}")
    send_now(result.follow_ups, app)
    if result.follow_ups and not as_json:
        click.echo(f"  the receipt differs from the ship notice: {len(result.follow_ups)} staff message(s) queued")
    if not result.sku_ids:
        if as_json:
            echo_json(report)
        return
    evaluate.apply(args=[result.sku_ids], throw=True)
    follow_ups: list[Any] = []
    with session_scope() as session:
        settings = runtime_settings.current()
        for sku_id in result.sku_ids:
            follow_ups += customer_journey.fill(session, sku_id, settings)
    send_now(follow_ups, app)
    if as_json:
        echo_json({**report, "customer_messages_queued": len(follow_ups)})
        return
    click.echo(f"  stock recorded, detection run; {len(follow_ups)} customer message(s) queued")


@po.command("asn")
@click.argument("reference")
@click.option("--arrival", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="When the shipment lands (YYYY-MM-DD).")
@click.option("--sku", "skus", multiple=True, metavar="CODE=QTY",
              help="Shipped quantity of one SKU (repeat); without it, everything outstanding.")
@json_option
def po_asn(reference: str, arrival: Any, skus: tuple[str, ...], as_json: bool) -> None:
    """Record the vendor's advance ship notice; waiting customers are re-dated."""
    from domain.core.db import session_scope
    from domain.purchasing import purchase_orders, vendor_loop
    from workers.app import app

    _environment()
    try:
        with session_scope() as session:
            follow_ups = vendor_loop.record_asn(session, _purchase_order_id(session, reference), arrival.date(),
                                                _sku_quantities(skus))
    except purchase_orders.PurchasingError as exc:
        raise click.ClickException(str(exc)) from exc
    send_now(follow_ups, app)
    if as_json:
        echo_json({"reference": reference, "arrival": arrival.date().isoformat(), "messages_queued": len(follow_ups)})
        return
    click.echo(f"{reference}: ship notice recorded, arriving {arrival.date()}; "
               f"{len(follow_ups)} message(s) queued")


@main.command()
@click.argument("dead_letter_ids", nargs=-1, type=int)
@click.option("--all", "redrive_all", is_flag=True, help="Every dead letter not re-driven yet.")
@click.option("--inbox", "inbox_ids", multiple=True, type=int, help="A quarantined webhook to apply again.")
@json_option
def redrive(dead_letter_ids: tuple[int, ...], redrive_all: bool, inbox_ids: tuple[int, ...], as_json: bool) -> None:
    """Run dead-lettered tasks again (after fixing their cause), or re-apply quarantined webhooks.

    A named id that is not a dead letter (or webhook) waiting to be re-driven exits 1 and nothing
    is re-sent. A dead letter is sent again as its stage (``flows.spine``), on that stage's queue;
    one whose stored task name no row of the spine names any more, or whose arguments the task no
    longer takes, is reported and left pending, and the command exits 1."""
    from domain.core import redrive as redriving
    from domain.core.db import session_scope
    from flows.spine import stage_of
    from workers.app import app

    if not (dead_letter_ids or redrive_all or inbox_ids):
        raise click.UsageError("name dead letter ids, --all, or --inbox EVENT_ID")
    _environment()
    with session_scope() as session:
        problems = redriving.unknown_references(session, list(dead_letter_ids), list(inbox_ids))
    if problems:
        for problem in problems:
            click.echo(f"redrive: {problem}", err=True)
        sys.exit(1)
    sent, unsendable = 0, []
    resent: list[dict[str, Any]] = []
    with session_scope() as session:
        pending = redriving.pending_dead_letters(session, list(dead_letter_ids) or None) \
            if dead_letter_ids or redrive_all else []
        for dead in pending:
            stage = stage_of(dead.task_name)
            if stage is None or dead.kwargs:
                why = "keyword arguments, which no stage takes" if stage else "no stage runs that task any more"
                click.echo(f"  not re-sent #{dead.id} {dead.task_name}{tuple(dead.args)}: {why}", err=as_json)
                unsendable.append(dead.id)
                continue
            try:
                send_now([FollowUp(stage, tuple(dead.args))], app)
            except TypeError as exc:  # Celery checks the arguments against the task's signature first
                click.echo(f"  not re-sent #{dead.id} {dead.task_name}{tuple(dead.args)}: {exc}", err=as_json)
                unsendable.append(dead.id)
                continue
            redriving.mark_redriven(session, dead, "cli")
            resent.append({"id": dead.id, "task": dead.task_name, "args": dead.args})
            if not as_json:
                click.echo(f"  re-sent #{dead.id} {dead.task_name}{tuple(dead.args)}")
            sent += 1
        sources = redriving.requeue_inbox(session, list(inbox_ids), "cli") if inbox_ids else []
    for source in sources:  # a shipping account's webhooks have their own drain (docs/shipping.md)
        shipping_account = source.removeprefix("ship:") if source.startswith("ship:") else None
        send_now([FollowUp(Stage.SHIPPING_DRAIN, (shipping_account,)) if shipping_account
                  else FollowUp(Stage.DRAIN, (source,))], app)
    missing = sorted(set(dead_letter_ids) - {dead.id for dead in pending})
    if as_json:
        echo_json({"dead_letters": resent, "not_resent": unsendable, "not_pending": missing,
                   "webhooks_requested": list(inbox_ids), "stores_woken": sources})
    else:
        click.echo(f"{sent} task(s) re-sent; {len(inbox_ids)} webhook(s) requested, {len(sources)} store(s) woken")
        if missing:
            click.echo(f"no pending dead letter (unknown, or re-driven already): {', '.join(f'#{i}' for i in missing)}")
    if missing or unsendable:
        sys.exit(1)


@main.group()
def vendors() -> None:
    """Vendor performance."""


@vendors.command("report")
@click.option("--days", default=90, show_default=True, type=click.IntRange(min=1),
              help="Purchase-order lines due in the last DAYS days.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), help="Also write a CSV file.")
@json_option
def vendors_report(days: int, csv_file: Path | None, as_json: bool) -> None:
    """Fill rate, on-time rate, average lateness, acknowledgement latency and quantity
    mismatches (ship notice vs PO, receipt vs ship notice) per vendor."""
    from datetime import timedelta

    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from domain.purchasing import purchase_orders, scorecards

    _environment()
    until = utcnow().date()
    since = until - timedelta(days=days)
    with session_scope() as session:
        scores = purchase_orders.scorecard(session, since, until)

    if csv_file is not None:
        csv_file.write_text(scorecards.to_csv(scores), newline="")
    if as_json:
        echo_json({"since": since.isoformat(), "until": until.isoformat(),
                   "vendors": [score.as_dict() for score in scores]})
        return

    def pct(value: Any) -> str:
        return "-" if value is None else f"{value * 100:.1f}%"

    click.echo(f"vendors, purchase-order lines due {since} to {until}")
    click.echo(f"{'vendor':<16} {'POs':>4} {'ordered':>8} {'received':>8} {'fill':>7} {'on time':>8} "
               f"{'days late':>9} {'ack hours':>9} {'ASN ≠ PO':>9} {'rcpt ≠ ASN':>10}")
    for score in scores:
        click.echo(f"{score.vendor_key:<16} {score.purchase_orders:>4} {score.ordered_units:>8} "
                   f"{score.received_units:>8} {pct(score.fill_rate):>7} {pct(score.on_time_rate):>8} "
                   f"{score.average_days_late if score.average_days_late is not None else '-':>9} "
                   f"{score.average_ack_hours if score.average_ack_hours is not None else '-':>9} "
                   f"{score.asn_mismatches:>9} {score.receipt_mismatches:>10}")
    if not scores:
        click.echo("no purchase orders due in that period")
    if csv_file is not None:
        click.echo(f"wrote {csv_file}")


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--backoff-max", default=30.0, show_default=True, type=float, help="Longest pause between restarts (s).")
@click.option("--stable-after", default=60.0, show_default=True, type=float,
              help="A run this long resets the backoff (s).")
@click.option("--max-quick-exits", default=0, show_default=True, type=int,
              help="Give up after this many exits in a row, each before --stable-after (0: never).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def supervise(backoff_max: float, stable_after: float, max_quick_exits: int, command: tuple[str, ...]) -> None:
    """Run COMMAND and start it again whenever it exits on its own (see workers/supervise.py).

    The Procfile runs worker, notify and beat under it: `backorders supervise -- celery -A workers.app worker …`.
    """
    from workers.supervise import Backoff, Supervisor

    sys.exit(Supervisor(command, Backoff(max_s=backoff_max, stable_after_s=stable_after),
                        max_quick_exits=max_quick_exits).run())


from workers.cli_why import why  # noqa: E402

main.add_command(why)
from workers.cli_doctor import doctor  # noqa: E402

main.add_command(doctor)
from workers.cli_stores import stores  # noqa: E402

main.add_command(stores)
from workers.cli_refunds import refunds  # noqa: E402

main.add_command(refunds)

from workers.cli_reset import reset as embedded_reset  # noqa: E402

embedded.add_command(embedded_reset)
from workers.cli_up import up  # noqa: E402

main.add_command(up)
from workers.cli_cases import cases  # noqa: E402

main.add_command(cases)
from workers.cli_disputes import disputes  # noqa: E402

main.add_command(disputes)
from workers.cli_fraud import fraud  # noqa: E402

main.add_command(fraud)
from workers.cli_shipping import shipping  # noqa: E402

main.add_command(shipping)
from workers.cli_payments import export as refunds_export, pay_again, payments as refunds_payments  # noqa: E402

refunds.add_command(refunds_export)
refunds.add_command(refunds_payments)
refunds.add_command(pay_again)
from workers.cli_import import import_group  # noqa: E402

main.add_command(import_group)
from workers.cli_tickets import tickets  # noqa: E402

main.add_command(tickets)
from workers.cli_helpdesks import helpdesks  # noqa: E402

main.add_command(helpdesks)

from workers.cli_csat import csat, notify_me  # noqa: E402

main.add_command(csat)
main.add_command(notify_me)
from workers.cli_returns import returns  # noqa: E402

main.add_command(returns)


if __name__ == "__main__":
    main()
