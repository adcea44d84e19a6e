"""``backorders refunds decide|list|what-if``: the refund and appeasement policy from the shell.

``decide`` records a request and prints the decision with the rule that made it (the same
request id twice prints the first decision); ``list`` prints stored decisions; ``what-if``
replays the last N days' requests under another rule file and prints only what would differ,
writing nothing. The rules are ``[[refunds.rules]]`` of the business file (docs/refund-policy.md).
"""
from __future__ import annotations

import json
import sys
import tomllib
import uuid
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def _cents(raw: str) -> int:
    try:
        amount = Decimal(raw)
        if amount < 0 or amount != amount.quantize(Decimal("0.01")):
            raise InvalidOperation
    except InvalidOperation as exc:
        raise click.BadParameter(f"expected an amount like 120.00, got {raw!r}", param_hint="--amount") from exc
    return int(amount * 100)


def _row(row: Any) -> dict[str, Any]:
    return {"id": row.id, "request_id": row.request_id, "order": row.order_number, "customer": row.customer,
            "reason": row.reason, "amount_asked_cents": row.amount_asked_cents, "currency": row.currency,
            "channel": row.channel, "tier": row.tier, "decision": row.decision,
            "amount_approved_cents": row.amount_approved_cents, "settle_as": row.settle_as,
            "rule_index": row.rule_index, "rule": row.rule_name, "figures": row.figures, "context": row.context,
            "created_at": row.created_at}


def _line(row: dict[str, Any]) -> str:
    paid = f" {_money(row['amount_approved_cents'])} as {row['settle_as']}" if row["settle_as"] else ""
    return (f"{row['request_id']}  order {row['order']}  {row['reason']} {_money(row['amount_asked_cents'])} "
            f"{row['currency']}  → {row['decision']}{paid}  (rule: {row['rule']})")


def payment(session: Any, decision_id: int) -> dict[str, Any] | None:
    """The decision's execution (where and how it is being paid), if it pays."""
    from sqlalchemy import select

    from domain.core.models import RefundExecution

    row = session.scalar(select(RefundExecution).where(RefundExecution.decision_id == decision_id))
    return None if row is None else {"route": row.route, "account": row.account, "provider": row.provider,
                                     "state": row.state, "provider_ref": row.provider_ref, "last_error": row.last_error}


@click.group("refunds")
def refunds() -> None:
    """Refund and appeasement decisions by the rules in [[refunds.rules]]."""


@refunds.command("decide")
@click.option("--order", "order_ref", required=True, help="Order number (1001 or #1001) or platform id.")
@click.option("--store", "store_key", default=None, help="Store key, when two stores share the order number.")
@click.option("--reason", required=True, help="Why the customer asks (defective, late_delivery, …).")
@click.option("--amount", required=True, help="Amount asked, e.g. 120.00.")
@click.option("--request-id", default=None, help="The request's own id (a ticket id); the same id decides once.")
@json_option
def decide(order_ref: str, store_key: str | None, reason: str, amount: str, request_id: str | None,
           as_json: bool) -> None:
    """Record a refund request for ORDER and print the decision with the rule that made it."""
    from sqlalchemy import select

    from domain.core.business_config import ConfigError, current_config
    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from domain.core.models import Store
    from domain.payments import executions
    from domain.policy import refunds as policy
    from flows.spine import send_now
    from domain.why import orders_by_reference
    from workers.cli import _environment

    _environment()
    cents = _cents(amount)
    try:
        config = current_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    with session_scope() as session:
        orders = orders_by_reference(session, order_ref)
        if store_key is not None:
            store_id = session.scalar(select(Store.id).where(Store.key == store_key))
            orders = [o for o in orders if o.store_id == store_id]
        if not orders:
            click.echo(f"refunds decide: no order {order_ref!r}", err=True)
            sys.exit(1)
        if len(orders) > 1:
            click.echo(f"refunds decide: order {order_ref!r} is on several stores; name one with --store", err=True)
            sys.exit(1)
        decided = policy.decide(session, config, orders[0], reason.strip(), cents,
                                request_id or f"cli-{uuid.uuid4().hex[:16]}")
        to_pay = executions.plan(session, config, decided.row, utcnow())  # paid once, at the provider or store
        out = {**_row(decided.row), "created": decided.created, "payment": payment(session, decided.row.id)}
    if to_pay:
        from workers.app import app

        try:
            send_now(to_pay, app)
        except Exception as exc:  # the row is stored: the payments sweeper sends it within a minute
            click.echo(f"refunds decide: payment queued for the sweeper ({exc.__class__.__name__})", err=True)
    if as_json:
        echo_json(out)
        return
    click.echo(_line(out) + ("" if out["created"] else "  [decided before]"))
    if out["payment"]:
        paid = out["payment"]
        click.echo(f"  payment: {paid['state']} via {paid['provider']} ({paid['account']})"
                   + (f": {paid['last_error']}" if paid["last_error"] else ""))
    hints = out["context"].get("fraud_hints") or []
    for hint in hints:
        click.echo(f"  fraud hint: {hint}")


@refunds.command("list")
@click.option("--limit", default=50, show_default=True, type=int, help="Newest decisions shown.")
@json_option
def list_decisions(limit: int, as_json: bool) -> None:
    """Stored refund decisions, newest first, each with its rule."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import RefundDecision
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        rows = [_row(r) for r in session.scalars(select(RefundDecision).order_by(
            RefundDecision.created_at.desc(), RefundDecision.id.desc()).limit(limit))]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no refund decisions yet")
    for row in rows:
        click.echo(_line(row))


@refunds.command("what-if")
@click.argument("rules_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--days", required=True, type=click.IntRange(min=1), help="Replay the requests of the last N days.")
@json_option
def what_if(rules_file: Path, days: int, as_json: bool) -> None:
    """Replay the last N days' requests under RULES_FILE (a business file or one holding only
    [refunds]) and print each request whose decision, amount or rule would differ. Writes nothing."""
    from domain.core.business_config import ConfigError, current_config, parse_refunds
    from domain.core.db import session_scope
    from domain.policy import what_if as replaying
    from workers.cli import _environment

    _environment()
    try:
        policy = parse_refunds(tomllib.loads(rules_file.read_text(encoding="utf-8")))
        timezone = current_config().timezone
    except (ConfigError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{rules_file}: {exc}") from exc
    with session_scope() as session:
        result = replaying.replay(session, policy, days, timezone)
        session.rollback()
    if as_json:
        echo_json({"days": days, "replayed": result.replayed,
                   "differences": [d.as_dict() for d in result.differences]})
        return
    click.echo(f"{result.replayed} request(s) of the last {days} day(s) replayed; "
               f"{len(result.differences)} would differ")
    for diff in result.differences:
        old, new = diff.old, diff.new
        click.echo(f"  {diff.request_id}  order {diff.order}  {diff.reason} {_money(diff.amount_asked_cents)}: "
                   f"{old['decision']} {_money(old['amount_cents'])} ({old['rule']}) → "
                   f"{new['decision']} {_money(new['amount_cents'])} ({new['rule']})")
