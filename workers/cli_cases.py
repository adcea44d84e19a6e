"""``backorders cases list|show|assign|resolve``: the exception queues from the command line.

Every change names who made it (``--by``, default ``$USER``) and lands in the case's history;
``--json`` prints the same dicts ``domain.cases.views`` builds, for scripts and the console.
"""
from __future__ import annotations

import json
import os
from typing import Any

import click

from domain.core.models import CASE_STATES


def _by_default() -> str:
    return os.environ.get("USER") or "cli"


def _print(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group("cases")
def cases() -> None:
    """Order exceptions (backorders, fraud holds, stuck parcels, chargebacks…) with owners and SLAs."""


@cases.command("list")
@click.option("--queue", help="Only this queue.")
@click.option("--state", type=click.Choice(CASE_STATES), help="Only this state (default: every unresolved case).")
@click.option("--json", "as_json", is_flag=True, help="Print the cases as one JSON list.")
def list_command(queue: str | None, state: str | None, as_json: bool) -> None:
    """Cases most urgent first, then soonest due."""
    from domain.cases import views
    from domain.core.db import session_scope
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        rows = views.list_cases(session, queue=queue, state=state)
    if as_json:
        _print(rows)
        return
    if not rows:
        click.echo("no cases")
    for row in rows:
        late = " LATE" if row["sla_breached"] else ""
        click.echo(f"#{row['id']:<6} {row['kind']:<18} {row['state']:<11} {row['priority']:<7} "
                   f"{row['queue']:<14} {row['owner'] or '-':<14} due {str(row['sla_due_at'])[:16]}{late}  "
                   f"{row['summary']}")


@cases.command("show")
@click.argument("case_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the case as one JSON document.")
def show_command(case_id: int, as_json: bool) -> None:
    """One case: its facts, the playbook for its kind and its history."""
    from domain.cases import views
    from domain.core.business_config import current_config
    from domain.core.db import session_scope
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        data = views.show(session, case_id, current_config().cases)
    if data is None:
        raise click.ClickException(f"no case {case_id}")
    if as_json:
        _print(data)
        return
    click.echo(f"case {data['id']}: {data['kind']} — {data['summary']}")
    click.echo(f"  state {data['state']}, queue {data['queue']}, owner {data['owner'] or '-'}, priority "
               f"{data['priority']}, channel {data['channel'] or '-'}, order {data['order'] or '-'}")
    rule = f"rule {data['route_index']}" if data["route_index"] is not None else "the defaults"
    click.echo(f"  routed by {rule}; SLA due {data['sla_due_at']}" + (" (missed)" if data["sla_breached"] else ""))
    if data["reasons"]:
        click.echo("  why:")
        for reason in data["reasons"]:
            click.echo(f"    - {reason}")
    click.echo("  playbook:")
    for number, step in enumerate(data["playbook"], 1):
        click.echo(f"    {number}. {step}")
    click.echo("  history:")
    for event in data["history"]:
        move = f" {event['from_state'] or ''}→{event['to_state']}" if event["to_state"] else ""
        note = f" — {event['note']}" if event["note"] else ""
        click.echo(f"    {str(event['at'])[:19]}  {event['actor']}: {event['action']}{move}{note}")


def _change(action: str, case_id: int, by: str, as_json: bool, **kwargs: str) -> None:
    from domain.cases import lifecycle
    from domain.core.db import session_scope
    from workers.cli import _environment

    _environment()
    try:
        with session_scope() as session:
            case = getattr(lifecycle, action)(session, case_id, *kwargs.values(), actor=by)
            result = {"id": case.id, "state": case.state, "owner": case.owner}
    except lifecycle.CaseError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _print(result)
    else:
        click.echo(f"case {result['id']}: {result['state']}, owner {result['owner'] or '-'}")


@cases.command("assign")
@click.argument("case_id", type=int)
@click.argument("owner")
@click.option("--by", default=_by_default, help="Who is assigning (default $USER).")
@click.option("--json", "as_json", is_flag=True)
def assign_command(case_id: int, owner: str, by: str, as_json: bool) -> None:
    """Give a case to OWNER (a person or a queue); an open case becomes in progress."""
    _change("assign", case_id, by, as_json, owner=owner)


@cases.command("resolve")
@click.argument("case_id", type=int)
@click.option("--note", required=True, help="What was done; kept in the case's history.")
@click.option("--by", default=_by_default, help="Who resolved it (default $USER).")
@click.option("--json", "as_json", is_flag=True)
def resolve_command(case_id: int, note: str, by: str, as_json: bool) -> None:
    """Close a case with a note; its SLA timer is cancelled."""
    _change("resolve", case_id, by, as_json, note=note)
