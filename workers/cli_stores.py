"""``backorders stores discover`` and ``stores connect``: a real store connected from its own data.

``discover`` lists the store's locations and writes (or merges) its catalogue into the TOML file;
``connect`` registers the webhooks through the platform's API, loads the file and takes the first
full sync, whose stock lands and whose SKUs already out or low alert at once. A store added this
way starts read-only (``docs/connect-a-store.md``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

#: Codes ``sync`` and ``connect`` print one per line before summarising the rest.
LISTED = 20


def echo_poll_notes(report: Any) -> None:
    """The warnings of a poll and the codes it could not match, after its summary line."""
    for warning in report.warnings:
        click.echo(f"  warning: {warning}", err=True)
    if report.unmatched:
        click.echo(f"  unmatched ({report.unknown} records): add them to [[skus]] and the store's locations, "
                   "or run `backorders stores discover`:")
        for code in report.unmatched[:LISTED]:
            click.echo(f"    {code}")
        if report.unknown > LISTED:
            click.echo(f"    … and {report.unknown - LISTED} more records")


def store_connections(session: Any) -> dict[str, Any]:
    """For ``status``: read-only stores, the writes held back from them, each store's last poll
    warnings (a missing permission, with what was still done); ``domain.status`` says why outbox rows wait."""
    from sqlalchemy import select

    from domain.core import blocked_writes
    from domain.core.models import AuditLog, Store

    warnings: dict[str, list[str]] = {}
    for key, store_id in session.execute(select(Store.key, Store.id).where(Store.enabled)):
        last = session.scalar(select(AuditLog.data).where(AuditLog.action == "poll", AuditLog.subject_type == "store",
                                                          AuditLog.subject_id == str(store_id))
                              .order_by(AuditLog.id.desc()).limit(1))
        if last and last.get("warnings"):
            warnings[key] = list(last["warnings"])
    return {"read_only_stores": list(session.scalars(select(Store.key).where(Store.enabled, Store.read_only)
                                                     .order_by(Store.key))),
            "blocked_writes": blocked_writes.by_store(session), "poll_warnings": warnings}


def echo_store_connections(data: dict[str, Any]) -> None:
    for key in data.get("read_only_stores") or []:
        click.echo(f"Store {key} is read-only: observed and alerted, nothing written to it")
    for row in data.get("blocked_writes") or []:
        click.echo(f"  held back from {row['store']}: {row['count']} {row['action']} ({row['reason']}), "
                   f"latest {row['latest']}")
    for key, warnings in sorted((data.get("poll_warnings") or {}).items()):
        for warning in warnings:
            click.echo(f"Store {key} last poll: {warning}")


def _report_json(report: Any, **extra: Any) -> None:
    """A report dataclass as JSON (sets as sorted lists), with ``extra`` keys beside it."""
    import dataclasses
    import json

    def plain(value: Any) -> Any:
        if isinstance(value, (set, frozenset)):
            return sorted(value)
        raise TypeError(f"{type(value).__name__} is not JSON")

    click.echo(json.dumps({**dataclasses.asdict(report), **extra}, indent=2, default=plain))


def _config_path(file: Path | None) -> Path:
    """``--file``, else ``$BACKORDERS_CONFIG`` as the settings read it (discover needs no database)."""
    return file or Path(os.environ.get("BACKORDERS_CONFIG", "examples/futon-store.toml"))


@click.group()
def stores() -> None:
    """Connect a store: read its locations and catalogue, register its webhooks."""


@stores.command("discover")
@click.argument("store_key")
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path),
              help="The business TOML file (default: $BACKORDERS_CONFIG).")
@click.option("--threshold", default=0, show_default=True, type=click.IntRange(min=0),
              help="The low-stock threshold written for each SKU added.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def discover(store_key: str, file: Path | None, threshold: int, as_json: bool) -> None:
    """List STORE_KEY's locations and merge its whole catalogue into the file's [[skus]].

    A back office (NetSuite, Odoo) has its locations mapped and its items counted, and each part its
    credential may not read is named with the permission to grant. Only adds: locations already
    mapped, SKUs already listed and keys already set stay as written."""
    from connectors.errors import ConnectorError
    from domain.core.business_config import ConfigError
    from flows.connect import discover as run

    path = _config_path(file)
    try:
        report = run(path, store_key, threshold)
    except ConfigError as exc:
        raise click.ClickException("\n".join(exc.problems)) from exc
    except ConnectorError as exc:
        raise click.ClickException(f"{store_key}: {exc}") from exc
    if as_json:
        _report_json(report, file=str(path))
        return
    click.echo(f"{store_key} ({report.platform}): {len(report.locations)} location(s)")
    for location in report.locations:
        click.echo(f"  {location.external_id}  {location.name}")
    for note in report.notes:
        click.echo(f"  {note}")
    if report.platform == "woocommerce":
        click.echo("  WooCommerce keeps one stock figure per product: its one location is \"default\"")
    for added in report.merge.locations_added:
        click.echo(f"  mapped {added}")
    if report.back_office:
        if report.counted:
            click.echo(f"catalogue: {report.items} {report.counted}; a back office's items are matched to the SKUs "
                       "the selling stores list, not added to [[skus]]")
    else:
        click.echo(f"catalogue: {report.items} items in {report.pages} page(s); {report.merge.skus_added} SKUs "
                   f"added, {report.merge.skus_kept} already listed (left as written)")
    for missing in report.missing:
        click.echo(f"missing permission for {missing}")
    if report.without_code:
        click.echo(f"  {len(report.without_code)} item(s) have no SKU code and cannot be matched until they do:")
        for name in report.without_code[:LISTED]:
            click.echo(f"    {name}")
    if report.repeated_codes:
        click.echo(f"  codes on more than one item (the first was kept): {', '.join(report.repeated_codes[:LISTED])}")
    if report.merge.keys_set:
        click.echo(f"  set on the store: {', '.join(report.merge.keys_set)}")
    click.echo(f"wrote {path}")
    if report.read_only:
        click.echo(f"{store_key} is read-only: it is polled and alerts, and nothing is written to it until "
                   "read_only = false")
    for problem in report.problems:
        click.echo(f"  still to fix: {problem}", err=True)


@stores.command("connect")
@click.argument("store_key")
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path),
              help="The business TOML file (default: $BACKORDERS_CONFIG).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def connect(store_key: str, file: Path | None, as_json: bool) -> None:
    """Register STORE_KEY's webhooks, load the file and take the store's first full sync.

    Run it again at any time: subscriptions already there are found, not duplicated."""
    from connectors.errors import ConnectorError
    from domain.core.business_config import ConfigError
    from domain.core.env_settings import get_settings
    from flows.connect import connect as run
    from workers.cli import _environment

    _environment()
    path = file or get_settings().config_file
    try:
        report = run(path, store_key, get_settings().public_base_url, owner=f"cli-{os.getpid()}")
    except ConfigError as exc:
        raise click.ClickException("\n".join(exc.problems)) from exc
    except ConnectorError as exc:
        raise click.ClickException(f"{store_key}: {exc}") from exc
    if as_json:
        _report_json(report)
        return
    if report.subscribable:
        click.echo(f"{store_key}: webhook secret {report.secret_env} ({report.secret_origin})")
        click.echo(f"{store_key}: webhooks to {report.address}")
    else:
        click.echo(f"{store_key}: webhooks are not registered through this platform's API; where it sends them, "
                   f"point them at {report.address} (docs/connect-a-store.md)")
    for subscription in report.subscriptions:
        click.echo(f"  {subscription.topic}: {subscription.outcome} (id {subscription.external_id})")
    if report.poll is not None:
        click.echo(f"{store_key}: first full sync: {report.poll.summary().split(': ', 1)[1]}; "
                   f"{report.poll.first_sync_evaluated} SKUs evaluated")
        echo_poll_notes(report.poll)
        _evaluate(sorted(report.poll.changed_sku_ids))
    else:
        click.echo(f"{store_key}: already synced once; polls continue on the workers")
    if report.read_only:
        click.echo(f"{store_key} is read-only: nothing is written to it (blocked writes are listed by "
                   "`backorders status`); set read_only = false and run `backorders config apply` to switch it on")


def _evaluate(sku_ids: list[int]) -> None:
    """Detection now, in this process, so what is out or low is alerted before the command ends."""
    if not sku_ids:
        return
    from sqlalchemy import func, select

    from domain.core.db import session_scope
    from domain.core.models import Sku, SkuTransition
    from tasks.stock import evaluate

    with session_scope() as session:
        last_seen = session.scalar(select(func.max(SkuTransition.id))) or 0
    evaluate.apply(args=(sku_ids,), throw=True)
    with session_scope() as session:
        for code, from_state, to_state, numbers in session.execute(
                select(Sku.code, SkuTransition.from_state, SkuTransition.to_state, SkuTransition.numbers)
                .join(Sku, Sku.id == SkuTransition.sku_id).where(SkuTransition.id > last_seen)
                .order_by(SkuTransition.id)):
            click.echo(f"  {code}: {from_state} -> {to_state} (available {numbers['available']})")
