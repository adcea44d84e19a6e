"""``backorders refunds export|payments|pay``: what was paid back, for finance and for operators.

``export`` lists every refund and credit decided since a date with its decision, rule, amount,
provider, provider reference, state and GL note (``domain.payments.export``), as CSV (``--csv
FILE``, ``-`` for stdout) and/or JSON. ``payments`` lists refund executions that are not done —
pending, in flight, awaiting the provider, held or failed — with their last error; ``pay ID``
sends a failed or held one again.
"""
from __future__ import annotations

import csv
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from workers.cli_refunds import echo_json, json_option


def _since(raw: str) -> datetime:
    try:
        when = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise click.BadParameter(f"expected a date like 2026-11-01, got {raw!r}", param_hint="--since") from exc
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


@click.command("export")
@click.option("--since", "since_raw", required=True, help="Decided on or after this date (2026-11-01, UTC).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the rows as CSV to FILE ('-': stdout).")
@json_option
def export(since_raw: str, csv_path: Path | None, as_json: bool) -> None:
    """Every refund and credit decided since --since: decision, rule, amount, provider, reference,
    state and GL note."""
    from domain.core.business_config import ConfigError, current_config
    from domain.core.db import session_scope
    from domain.payments.export import COLUMNS, rows
    from workers.cli import _environment

    _environment()
    try:
        config = current_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    with session_scope() as session:
        found = [row.as_dict() for row in rows(session, config, _since(since_raw))]
    if csv_path is not None:
        handle = sys.stdout if str(csv_path) == "-" else csv_path.open("w", newline="", encoding="utf-8")
        try:
            writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
            writer.writeheader()
            writer.writerows(found)
        finally:
            if handle is not sys.stdout:
                handle.close()
    if as_json:
        echo_json({"since": since_raw, "rows": found})
    elif csv_path is None or str(csv_path) != "-":
        total = sum(int(row["amount"].replace(".", "")) for row in found)
        click.echo(f"{len(found)} refund(s) and credit(s) since {since_raw}, {total / 100:,.2f} in all"
                   + (f"; written to {csv_path}" if csv_path else ""))
        for row in found if csv_path is None else []:
            click.echo(f"  {row['decided_at'][:10]}  {row['request_id']}  order {row['order']}  {row['amount']} "
                       f"{row['currency']} {row['settle_as']}  {row['provider']} {row['provider_ref'] or '-'}  "
                       f"{row['state']}")


@click.command("payments")
@json_option
def payments(as_json: bool) -> None:
    """Refund executions not done: pending, in flight, awaiting the provider, held or failed."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import RefundExecution
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        found: list[dict[str, Any]] = [
            {"id": r.id, "decision_id": r.decision_id, "route": r.route, "account": r.account, "provider": r.provider,
             "amount_cents": r.amount_cents, "currency": r.currency, "state": r.state, "attempts": r.attempts,
             "provider_ref": r.provider_ref, "last_error": r.last_error, "due_at": r.due_at}
            for r in session.scalars(select(RefundExecution).where(RefundExecution.state != "succeeded")
                                     .order_by(RefundExecution.id))]
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("every refund execution has succeeded")
    for row in found:
        click.echo(f"#{row['id']}  decision {row['decision_id']}  {row['amount_cents'] / 100:,.2f} {row['currency']}  "
                   f"{row['provider']} ({row['account']})  {row['state']}"
                   + (f"  {row['last_error']}" if row["last_error"] else ""))


@click.command("pay")
@click.argument("execution_id", type=int)
@json_option
def pay_again(execution_id: int, as_json: bool) -> None:
    """Send a failed or held refund payment again (same idempotency key), e.g. after setting a
    missing credential; exit 1 when it is not failed or held."""
    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from domain.payments import executions
    from flows.spine import send_now
    from workers.app import app
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        follow_ups = executions.retry(session, execution_id, utcnow())
    if not follow_ups:
        click.echo(f"refunds pay: execution {execution_id} is not failed or held", err=True)
        sys.exit(1)
    send_now(follow_ups, app)
    if as_json:
        echo_json({"execution_id": execution_id, "state": "pending"})
    else:
        click.echo(f"execution {execution_id} sent again")
