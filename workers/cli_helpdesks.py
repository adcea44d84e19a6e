"""``backorders helpdesks list|poll``: the configured helpdesks (Zendesk, Gorgias, Intercom) as
polled, and a reconciliation poll run now.

``list`` shows each ``[[helpdesks]]`` entry's last poll and error, its tickets, deliveries waiting
and write-backs pending / done / failed. ``poll KEY`` reads the helpdesk's tickets changed since
its cursor now (the same poll beat runs every ``options.poll_interval_s``), stores the new and
updated ones as support tickets — never twice — and sends the new ones to triage.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import click


def _print(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group("helpdesks")
def helpdesks() -> None:
    """Helpdesks whose tickets are triaged here and written back (docs/support-helpdesks.md)."""


@helpdesks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the helpdesks as one JSON list.")
def list_command(as_json: bool) -> None:
    """Each helpdesk: last poll and error, tickets, deliveries waiting, write-backs."""
    from domain.core.business_config import current_config
    from domain.core.db import session_scope
    from domain.helpdesks import states, views
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        states.sync(session, current_config().helpdesks)
        session.flush()
        rows = views.states(session)
    if as_json:
        _print(rows)
        return
    if not rows:
        click.echo("no helpdesks: add a [[helpdesks]] entry (docs/support-helpdesks.md)")
    for row in rows:
        click.echo(f"{row['platform']:<9} {row['line']}")


@helpdesks.command("poll")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the poll's report as JSON.")
def poll_command(key: str, as_json: bool) -> None:
    """Poll helpdesk KEY now; new tickets are sent to triage (a worker runs it)."""
    import dataclasses
    import uuid

    from domain.core.business_config import current_config
    from domain.core.db import get_sessionmaker, session_scope
    from domain.core.stages import FollowUp
    from flows import helpdesk_tickets
    from flows.spine import send_now
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        from domain.helpdesks import states

        state_id = states.sync(session, current_config().helpdesks).get(key)
    if state_id is None:
        click.echo(f"unknown helpdesk {key!r}: not in the business file's [[helpdesks]]", err=True)
        sys.exit(2)

    def send(follow_ups: list[FollowUp]) -> None:
        send_now(follow_ups)  # new tickets to triage, on a worker

    try:
        report = helpdesk_tickets.poll(get_sessionmaker(), state_id, f"cli-{uuid.uuid4().hex[:12]}", send)
    except Exception as exc:  # noqa: BLE001 - reported and stored as the helpdesk's last error
        click.echo(f"helpdesk {key}: poll failed: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    if as_json:
        _print(dataclasses.asdict(report))
        return
    click.echo(report.summary())
