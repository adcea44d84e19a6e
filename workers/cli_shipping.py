"""``backorders shipping list|subscribe``: shipments as stored, and webhooks registered with a provider.

``subscribe ACCOUNT`` registers ``PUBLIC_BASE_URL/webhooks/shipping/ACCOUNT?token=…`` with the
provider where its API allows (ShipStation ``POST /webhooks/subscribe`` for SHIP_NOTIFY and
ITEM_SHIP_NOTIFY; a second run finds them), generating the account's token when its
``webhook_secret_env`` is unset (kept as store secrets are: ``domain.core.store_secrets``).
Flexport has no subscription call: the command prints what to enter in its Settings.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import click


def _print(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group("shipping")
def shipping() -> None:
    """Shipments from ShipStation and Flexport, and their webhooks (docs/shipping.md)."""


@shipping.command("list")
@click.option("--status", help="Only shipments in this status (in_transit, exception, …).")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the shipments as one JSON list.")
def list_command(status: str | None, limit: int, as_json: bool) -> None:
    """The newest shipments: account, order, carrier, tracking, status and last scan."""
    from domain.core.db import session_scope
    from domain.shipping import views
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        rows = views.recent(session, limit=limit, status=status)
    if as_json:
        _print(rows)
        return
    if not rows:
        click.echo("no shipments")
    for row in rows:
        stuck = "  STUCK" if row["stuck_at"] else ""
        click.echo(f"#{row['id']:<6} {row['account']:<18} {row['order'] or '-':<10} {row['carrier']:<10} "
                   f"{row['tracking_number']:<24} {row['status']:<16} last scan {str(row['last_scan_at'])[:16]}{stuck}")


@shipping.command("subscribe")
@click.argument("account")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def subscribe_command(account: str, as_json: bool) -> None:
    """Register ACCOUNT's webhook URL with its provider (once)."""
    from connectors.errors import ConnectorError
    from domain.core import store_secrets
    from domain.core.business_config import current_config
    from domain.core.env_settings import get_settings
    from flows.shipping import connector_for
    from workers.cli import _environment

    _environment()
    found = current_config().shipping.account(account)
    if found is None:
        click.echo(f"no shipping account {account!r} in the business file", err=True)
        sys.exit(1)
    if found.webhook_secret_env is None:
        click.echo(f"shipping.accounts[{account}]: set webhook_secret_env first", err=True)
        sys.exit(1)
    secret = store_secrets.lookup(found.webhook_secret_env)
    generated = None
    if not secret:
        secret, path = store_secrets.generate(found.webhook_secret_env)
        generated = str(path)
    url = f"{get_settings().public_base_url}/webhooks/shipping/{account}"
    try:
        done = connector_for(found).subscribe(f"{url}?token={secret}" if found.provider == "shipstation" else url)
    except ConnectorError as exc:
        click.echo(f"{account}: {exc}", err=True)
        sys.exit(1)
    if as_json:
        _print({"account": account, "url": url, "done": done, "token_generated_in": generated})
        return
    for line in done:
        click.echo(f"{account}: {line}")
    if generated:
        click.echo(f"{account}: token generated and kept in {generated} as {found.webhook_secret_env}")
