"""``backorders disputes list|show|approve|submit``: chargebacks from the command line.

``approve`` is the person's step between staged evidence and submitted evidence; ``submit`` sends
an approved dispute's evidence now, in this process (after a failure, or once a person has checked
a submission whose outcome was unknown). Every change names who made it (``--by``, default
``$USER``) in the dispute's case history; ``--json`` prints the dicts ``domain.chargebacks.views``
builds.
"""
from __future__ import annotations

import json
import os
from typing import Any

import click

from domain.core.models import DISPUTE_STATES


def _by_default() -> str:
    return os.environ.get("USER") or "cli"


def _print(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _money(cents: int, currency: str) -> str:
    return f"{cents / 100:,.2f} {currency}".strip()


@click.group("disputes")
def disputes() -> None:
    """Chargebacks: each dispute's deadline, evidence packet, approval and outcome."""


@disputes.command("list")
@click.option("--state", type=click.Choice(DISPUTE_STATES), help="Only this state (default: every open dispute).")
@click.option("--all", "include_closed", is_flag=True, help="Include won, lost and accepted disputes.")
@click.option("--json", "as_json", is_flag=True, help="Print the disputes as one JSON list.")
def list_command(state: str | None, include_closed: bool, as_json: bool) -> None:
    """Disputes with the soonest evidence deadline first."""
    from domain.chargebacks import views
    from domain.core.db import session_scope
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        rows = views.list_disputes(session, state=state, include_closed=include_closed)
    if as_json:
        _print(rows)
        return
    if not rows:
        click.echo("no disputes")
    for row in rows:
        missing = f"  missing: {', '.join(row['missing'])}" if row["missing"] else ""
        late = " LATE" if row["escalated"] else ""
        click.echo(f"#{row['id']:<5} {row['provider']:<7} {row['dispute_ref']:<24} {row['state']:<12} "
                   f"{_money(row['amount_cents'], row['currency']):>14}  {row['category']:<17} order "
                   f"{row['order'] or '-':<8} due {str(row['due_by'] or '-')[:16]}{late}{missing}")


@disputes.command("show")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Print the dispute as one JSON document.")
def show_command(reference: str, as_json: bool) -> None:
    """One dispute (our id or the provider's reference): its packet — the rule, what it has, what
    it misses and why, the provider's fields — its provider calls and its notices."""
    from domain.chargebacks import views
    from domain.core.db import session_scope
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        found = views.find(session, reference)
        data = views.show(session, found) if found else None
    if data is None:
        raise click.ClickException(f"no dispute {reference}")
    if as_json:
        _print(data)
        return
    click.echo(f"dispute {data['id']}: {data['provider']} {data['dispute_ref']} — {data['state']}, "
               f"{_money(data['amount_cents'], data['currency'])}, {data['category']}"
               + (f" ({data['reason_code']}" + (f", network {data['network_code']}" if data['network_code'] else "") + ")"
                  if data["reason_code"] else ""))
    case = data["case"]
    click.echo(f"  order {data['order'] or '-'}, payment {data['payment_ref'] or '-'}, evidence due "
               f"{data['due_by'] or '-'}" + (" (passed, escalated)" if data["escalated"] else ""))
    if case:
        click.echo(f"  case {case['id']}: {case['state']}, queue {case['queue']}, owner {case['owner'] or '-'}, "
                   f"priority {case['priority']}")
    packet = data["packet"]
    if packet is None:
        click.echo("  no evidence packet yet")
    else:
        click.echo(f"  packet v{packet['version']} by rule: {packet['rule']}")
        click.echo(f"    has: {', '.join(packet['present']) or 'nothing'}")
        for gap in packet["missing"]:
            click.echo(f"    missing {gap['label']}: {gap['why']}")
        for name, value in sorted(packet["fields"].items()):
            click.echo(f"    {name} = {value[:100]}{'…' if len(value) > 100 else ''}")
        click.echo(f"    documents: {', '.join(packet['documents']) or '-'}"
                   + (f"; defense reason {packet['defense_reason']}" if packet["defense_reason"] else ""))
    for call in data["calls"]:
        error = f" — {call['last_error']}" if call["last_error"] else ""
        click.echo(f"  call {call['id']}: {call['action']} {call['state']} (attempts {call['attempts']}){error}")


@disputes.command("approve")
@click.argument("dispute_id", type=int)
@click.option("--by", default=_by_default, help="Who approves (default $USER).")
@click.option("--json", "as_json", is_flag=True)
def approve_command(dispute_id: int, by: str, as_json: bool) -> None:
    """Approve a dispute's evidence for submission; it is submitted before the deadline."""
    from domain.chargebacks import approval
    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from flows.spine import send_now
    from workers.app import app
    from workers.cli import _environment

    _environment()
    try:
        with session_scope() as session:
            approved = approval.approve(session, dispute_id, by, utcnow())
    except approval.DisputeError as exc:
        raise click.ClickException(str(exc)) from exc
    send_now(approved.follow_ups, app)
    if as_json:
        _print({"id": dispute_id, "state": "approved", "submit_call": approved.call_id, "approved_by": by})
        return
    click.echo(f"dispute {dispute_id}: approved by {by}; submitting the evidence is queued")


@disputes.command("submit")
@click.argument("dispute_id", type=int)
@click.option("--by", default=_by_default, help="Who sends it (default $USER).")
@click.option("--json", "as_json", is_flag=True)
def submit_command(dispute_id: int, by: str, as_json: bool) -> None:
    """Submit an approved dispute's evidence now, in this process (again after a failure, or after
    checking at the provider that a submission whose outcome was unknown did not arrive)."""
    from connectors.errors import TransientError
    from domain.chargebacks import approval
    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from domain.core.stages import FollowUp, Stage
    from flows import dispute_desk
    from flows.spine import send_now
    from tasks.base import Standalone
    from workers.app import app
    from workers.cli import _environment

    _environment()
    try:
        with session_scope() as session:
            call_id = approval.submit_again(session, dispute_id, by, utcnow())
    except approval.DisputeError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        outcome = dispute_desk.call_provider(Standalone(app), call_id)
    except TransientError as exc:  # the worker retries it with backoff
        send_now([FollowUp(Stage.DISPUTE_CALL, (call_id,))], app)
        outcome = f"not yet: {exc}; the worker retries it"
    if as_json:
        _print({"id": dispute_id, "submit_call": call_id, "result": outcome})
        return
    click.echo(f"dispute {dispute_id}: submit {outcome}")
