"""``backorders returns create|list|show|receive|approve|reject|cancel|stuck``: returns (RMA) from the shell.

``create`` records a staff return for an order's lines (``--lines SKU:QTY,SKU:QTY``) and prints
the refund policy's decision with its rule; ``receive`` is the warehouse's receive scan with the QC
outcome (restock, dispose, refurbish, empty); ``approve`` is a person's word on a return in
review; ``show`` prints one return with its steps; ``stuck`` lists open returns that have not
moved for ``[returns] stuck_after``. The flow is docs/returns.md.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from domain.core.models import RETURN_QC

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _parse_lines(raw: str) -> dict[str, int]:
    wanted: dict[str, int] = {}
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        code, _, qty = part.rpartition(":")
        if not code or not qty.isdigit() or int(qty) <= 0:
            raise click.BadParameter(f"expected SKU:QTY, got {part!r}", param_hint="--lines")
        wanted[code] = wanted.get(code, 0) + int(qty)
    if not wanted:
        raise click.BadParameter("name at least one SKU:QTY", param_hint="--lines")
    return wanted


def _config() -> Any:
    from domain.core.business_config import ConfigError, current_config
    from workers.cli import _environment

    _environment()
    try:
        return current_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _send(follow_ups: list[Any], what: str) -> None:
    if not follow_ups:
        return
    from flows.spine import send_now
    from workers.app import app

    try:
        send_now(follow_ups, app)
    except Exception as exc:  # the rows are stored: the returns sweeper sends the step
        click.echo(f"returns {what}: left for the sweeper ({exc.__class__.__name__})", err=True)


def _line(row: dict[str, Any]) -> str:
    lines = ", ".join(f"{one['quantity']} × {one['sku']}" for one in row["lines"])
    decision = row["decision"] or {}
    return (f"{row['rma']}  order {row['order']}  {row['state']}  {lines}  {row['reason']}  "
            f"{row['amount_cents'] / 100:,.2f} {row['currency']}"
            + (f"  → {decision['decision']} (rule: {decision['rule']})" if decision else "")
            + (f"  flags: {'; '.join(f['reason'] for f in row['flags'])}" if row["flags"] else ""))


@click.group("returns")
def returns() -> None:
    """Returns (RMA): request → policy → label → receive + QC → refund + disposition → email."""


@returns.command("create")
@click.option("--order", "order_ref", required=True, help="Order number (1001 or #1001) or platform id.")
@click.option("--lines", "raw_lines", required=True, help="SKU:QTY[,SKU:QTY…] being returned.")
@click.option("--reason", required=True, help="defective, damaged, changed_mind, wrong_item, …")
@click.option("--ref", default=None, help="The request's own reference (a ticket id); the same one is one return.")
@click.option("--by", "actor", default="staff", help="Who asks (recorded on the return).")
@json_option
def create(order_ref: str, raw_lines: str, reason: str, ref: str | None, actor: str, as_json: bool) -> None:
    """Record a staff return for ORDER and print the policy's decision."""
    import uuid

    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from domain.returns import flow, views
    from domain.why import orders_by_reference

    config, wanted = _config(), _parse_lines(raw_lines)
    with session_scope() as session:
        orders = orders_by_reference(session, order_ref)
        if len(orders) != 1:
            click.echo(f"returns create: {'no' if not orders else 'more than one'} order {order_ref!r}", err=True)
            sys.exit(1)
        try:
            done = flow.request(session, config, orders[0], wanted, reason.strip().lower(), "staff",
                                ref or f"cli-{uuid.uuid4().hex[:16]}", actor, utcnow())
        except flow.ReturnError as exc:
            click.echo(f"returns create: {exc}", err=True)
            sys.exit(1)
        assert done.row is not None
        out = {**views.summary(session, done.row), "created": done.created}
    _send(done.follow_ups, "create")
    _echo_json(out) if as_json else click.echo(_line(out) + ("" if out["created"] else "  [requested before]"))


@returns.command("receive")
@click.argument("rma")
@click.option("--qc", type=click.Choice(RETURN_QC), required=True, help="The QC outcome.")
@click.option("--weight", "weight_g", type=int, default=None, help="The parcel's weight in grams.")
@click.option("--by", "actor", default="warehouse", help="Who scanned it.")
@json_option
def receive(rma: str, qc: str, weight_g: int | None, actor: str, as_json: bool) -> None:
    """The receive scan of RMA with its QC outcome; the refund and disposition follow."""
    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from domain.returns import flow, views

    config = _config()
    with session_scope() as session:
        found = views.find(session, rma)
        if found is None:
            click.echo(f"returns receive: no return {rma!r}", err=True)
            sys.exit(1)
        before = found.state
        done = flow.receive(session, config, found.rma, qc, weight_g, actor, utcnow())
        assert done.row is not None
        out = views.summary(session, done.row)
    if before == out["state"]:
        click.echo(f"returns receive: {out['rma']} is {before}; nothing received", err=True)
        sys.exit(1)
    _send(done.follow_ups, "receive")
    _echo_json(out) if as_json else click.echo(_line(out))


@returns.command("approve")
@click.argument("rma")
@click.option("--by", "actor", required=True, help="Who approves (recorded with the decision).")
@click.option("--note", default="", help="Why.")
def approve(rma: str, actor: str, note: str) -> None:
    """Approve RMA, in review (the rules' review, or a fraud flag)."""
    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from domain.returns import flow, views

    config = _config()
    with session_scope() as session:
        found = views.find(session, rma)
        if found is None or found.state != "review":
            click.echo(f"returns approve: {rma!r} is not a return in review", err=True)
            sys.exit(1)
        done = flow.approve(session, config, found.rma, actor, utcnow(), note)
        assert done.row is not None
        out = views.summary(session, done.row)
    _send(done.follow_ups, "approve")
    click.echo(_line(out))


@returns.command("reject")
@click.argument("rma")
@click.option("--by", "actor", required=True, help="Who rejects.")
@click.option("--note", required=True, help="Why (recorded on the return).")
def reject(rma: str, actor: str, note: str) -> None:
    """Reject RMA, in review."""
    _close(rma, "rejected", actor, note)


@returns.command("cancel")
@click.argument("rma")
@click.option("--by", "actor", required=True, help="Who cancels.")
@click.option("--note", default="", help="Why.")
def cancel(rma: str, actor: str, note: str) -> None:
    """Cancel RMA before it is received (the customer changed their mind)."""
    _close(rma, "cancelled", actor, note)


def _close(rma: str, to_state: str, actor: str, note: str) -> None:
    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from domain.returns import flow, views

    config = _config()
    with session_scope() as session:
        found = views.find(session, rma)
        done = flow.close(session, found.rma if found else rma, to_state, actor, utcnow(), note, config)
        if done.row is None or done.row.state != to_state:
            click.echo(f"returns: {rma!r} cannot become {to_state}"
                       + (f" (it is {done.row.state})" if done.row else " (no such return)"), err=True)
            sys.exit(1)
        out = views.summary(session, done.row)
    _send(done.follow_ups, to_state)
    click.echo(_line(out))


@returns.command("list")
@click.option("--state", default=None, help="Only returns in this state.")
@click.option("--limit", default=100, show_default=True)
@json_option
def list_returns(state: str | None, limit: int, as_json: bool) -> None:
    """Returns, newest first."""
    from domain.core.db import session_scope
    from domain.returns import views

    _config()
    with session_scope() as session:
        rows = [views.summary(session, row) for row in views.listed(session, state, limit)]
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        click.echo(_line(row))
    if not rows:
        click.echo("no returns")


@returns.command("show")
@click.argument("rma")
@json_option
def show(rma: str, as_json: bool) -> None:
    """One return with every step, who took it and the figures."""
    from domain.core.db import session_scope
    from domain.returns import views

    _config()
    with session_scope() as session:
        found = views.find(session, rma)
        if found is None:
            click.echo(f"returns show: no return {rma!r}", err=True)
            sys.exit(1)
        out = {**views.summary(session, found), "steps": [
            {"at": s.at, "kind": s.kind, "text": s.text, "data": s.data} for s in views.steps(session, found)]}
    if as_json:
        _echo_json(out)
        return
    click.echo(_line(out))
    for write in out.get("store_writes") or []:
        if write["state"] != "done":  # a done one is a step below
            click.echo(f"  store write: {write['action']} {write['store_return']} {write['state']} after "
                       f"{write['attempts']} attempt(s)" + (f": {write['last_error']}" if write["last_error"] else ""))
    for step in out["steps"]:
        click.echo(f"  {str(step['at'])[:19]}  {step['text']}")


@returns.command("stuck")
@json_option
def stuck(as_json: bool) -> None:
    """Open returns that have not moved for [returns] stuck_after."""
    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from domain.returns import flow, views

    config = _config()
    with session_scope() as session:
        rows = [views.summary(session, row) for row in flow.stuck(session, config, utcnow())]
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        click.echo(_line(row) + f"  (since {str(row['updated_at'])[:19]})")
    if not rows:
        click.echo("no stuck returns")
