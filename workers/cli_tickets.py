"""``backorders tickets triage|list|show|resolve|draft``: support tickets triaged and routed here, offline.

``triage`` classifies a text on the spot (intent, sentiment, legal threat, priority, the queue the
ladder picks, every reason); with ``--save`` it is stored as a ticket like one from a helpdesk.
``--json`` prints the same dicts ``domain.support.views`` builds.
"""
from __future__ import annotations

import json
import os
from typing import Any

import click

from domain.core.models import TICKET_STATES
from domain.core.support_config import CHANNELS


def _print(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group("tickets")
def tickets() -> None:
    """Support tickets: intent, priority, customer value and the queue each goes to (docs/support.md)."""


def _echo_triage(result: Any) -> None:
    figures = result.triage_figures()
    click.echo(f"intent {figures['intent']} (confidence {figures['confidence']:.2f}), priority "
               f"{result.priority.level}, sentiment {result.sentiment.compound:+.2f} ({result.sentiment_label})")
    routing = result.routing
    owner = f", owner {routing.owner}" if routing.owner else ""
    click.echo(f"queue {routing.queue}{owner} by {routing.rule_name}; "
               f"{'may be answered by macro' if routing.auto_answer else 'people answer'}")
    click.echo("why:")
    for reason in dict.fromkeys([*result.triage_reasons(), *routing.reasons]):
        click.echo(f"  - {reason}")


@tickets.command("triage")
@click.option("--subject", default="", help="The ticket's subject line.")
@click.option("--body", required=True, help="The customer's message.")
@click.option("--email", help="The customer's email: links their orders and open cases, gives their lifetime value.")
@click.option("--channel", type=click.Choice(CHANNELS), default="email", show_default=True)
@click.option("--language", help="Two-letter language code (default: [support] default_language).")
@click.option("--save", is_flag=True, help="Store it as a ticket (with its decisions) instead of only printing.")
@click.option("--source", default="cli", show_default=True, help="With --save: where it came from.")
@click.option("--external-id", help="With --save: its id at the source (default: a new one).")
@click.option("--json", "as_json", is_flag=True, help="Print the triage as one JSON document.")
def triage_command(subject: str, body: str, email: str | None, channel: str, language: str | None, save: bool,
                   source: str, external_id: str | None, as_json: bool) -> None:
    """Triage a text now: nothing is sent, and without --save nothing is stored."""
    from domain.core.business_config import ConfigError, load_config
    from domain.core.clock import utcnow
    from domain.support import customer, triage
    from domain.support.intents import text_of

    try:  # read the file directly: an ad-hoc triage needs no database or other settings
        config = load_config(os.environ.get("BACKORDERS_CONFIG", "examples/futon-store.toml")).support
    except ConfigError as exc:
        raise click.ClickException("; ".join(exc.problems)) from exc
    result: triage.Triage | None = None
    needs_database = save or bool(email) or bool(customer.order_numbers(text_of(subject, body)))
    if not needs_database:  # nothing to look up: runs without a database
        result = triage.assess(config, subject, body, customer.CustomerFacts(email=None), channel=channel,
                               language=language)
        _print({**result.triage_figures(), "reasons": result.triage_reasons(), "routing": vars(result.routing)}) \
            if as_json else _echo_triage(result)
        return
    from domain.core.db import session_scope
    from domain.support import intake, views
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        if save:
            new = intake.NewTicket(source, external_id or f"cli-{utcnow():%Y%m%d%H%M%S%f}", subject, body, email,
                                   channel=channel, language=language)
            done = intake.intake(session, config, new)
            data = views.show(session, done.ticket)
            result = done.result
        else:
            facts = customer.gather(session, config, email, text_of(subject, body), utcnow())
            result = triage.assess(config, subject, body, facts, channel=channel, language=language)
            data = {**result.triage_figures(), "reasons": result.triage_reasons(), "routing": vars(result.routing)}
            session.rollback()
    if as_json:
        _print(data)
    elif result is None:
        click.echo(f"ticket {data['id']} was stored before: queue {data['queue']}, intent {data['intent']}")
    else:
        if save:
            click.echo(f"ticket {data['id']} stored")
        _echo_triage(result)


@tickets.command("list")
@click.option("--queue", help="Only this queue.")
@click.option("--state", type=click.Choice(TICKET_STATES), help="Only this state.")
@click.option("--limit", default=50, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the tickets as one JSON list.")
def list_command(queue: str | None, state: str | None, limit: int, as_json: bool) -> None:
    """Tickets, newest first, with their intent, priority and queue."""
    from domain.core.db import session_scope
    from domain.support import views
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        rows = views.list_tickets(session, queue=queue, state=state, limit=limit)
    if as_json:
        _print(rows)
        return
    if not rows:
        click.echo("no tickets")
    for r in rows:
        flags = (" LEGAL" if r["legal_threat"] else "") + (" HUMAN" if r["needs_human"] else "")
        click.echo(f"#{r['id']:<6} {r['state']:<9} {r['priority'] or '-':<7} {r['queue'] or '-':<16} "
                   f"{r['intent'] or '-':<23} {r['customer_email'] or '-':<28} {r['subject'][:50]}{flags}")


@tickets.command("show")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Print the ticket as one JSON document.")
def show_command(reference: str, as_json: bool) -> None:
    """One ticket (by id, or SOURCE:EXTERNAL_ID): its orders and cases and every decision with its reasons."""
    from domain.core.db import session_scope
    from domain.support import views
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        found = views.find(session, reference)
        data = views.show(session, found) if found is not None else None
    if data is None:
        raise click.ClickException(f"no ticket {reference}")
    if as_json:
        _print(data)
        return
    click.echo(f"ticket {data['id']} ({data['source']} {data['external_id']}): {data['subject']}")
    click.echo(f"  from {data['customer_email'] or '-'} by {data['channel']} ({data['language']}), state {data['state']}"
               f", queue {data['queue'] or '-'}, priority {data['priority'] or '-'}, intent {data['intent'] or '-'}")
    click.echo("  orders: " + (", ".join(f"{o['number']} (by {o['matched_by']})" for o in data["orders"]) or "-")
               + "; open cases: " + (", ".join(f"{c['id']} {c['kind']}" for c in data["cases"]) or "-"))
    if data["resolution"]:
        click.echo(f"  {data['resolution']} at {data['resolved_at'][:19]}")
    for decision in data["decisions"]:
        click.echo(f"  {decision['at'][:19]} {decision['kind']}: {decision['outcome']} ({decision['rule']})")
        for reason in decision["reasons"]:
            click.echo(f"      - {reason}")


@tickets.command("resolve")
@click.argument("ticket_id", type=int)
@click.option("--note", required=True)
@click.option("--by", "actor", default=lambda: os.environ.get("USER") or "cli", help="Who resolved it (default $USER).")
@click.option("--json", "as_json", is_flag=True)
def resolve_command(ticket_id: int, note: str, actor: str, as_json: bool) -> None:
    """Resolve a ticket; the QA sample decides (and records) whether it is reviewed."""
    from domain.core.business_config import current_config
    from domain.core.db import session_scope
    from domain.support import views
    from domain.support.resolve import TicketError, resolve
    from workers.cli import _environment

    _environment()
    try:
        with session_scope() as session:
            ticket = resolve(session, current_config().support, ticket_id, note, actor=actor)
            data = views.row(ticket)
    except TicketError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _print(data)
        return
    click.echo(f"ticket {ticket_id} resolved; {'sampled for QA' if data['qa_sampled'] else 'not sampled for QA'}")


@tickets.command("draft")
@click.argument("reference")
@click.option("--regenerate", is_flag=True, help="Compose a new draft now from the order's current facts.")
@click.option("--by", "actor", default=lambda: os.environ.get("USER") or "cli", help="Who asked (default $USER).")
@click.option("--json", "as_json", is_flag=True, help="Print the draft (text, facts, note) as one JSON document.")
def draft_command(reference: str, regenerate: bool, actor: str, as_json: bool) -> None:
    """A ticket's reply draft with the facts it used (composed now when it has none, or with
    --regenerate). An agent sends it: nothing goes to the customer from here."""
    import domain.core.env_settings as runtime_settings
    from domain.core.db import session_scope
    from domain.support import drafts, views
    from flows.spine import send_now
    from workers.cli import _environment

    _environment()
    follow_ups: tuple[Any, ...] = ()
    reason = ""
    with session_scope() as session:
        found = views.find(session, reference)
        if found is None:
            raise click.ClickException(f"no ticket {reference}")
        ticket_id = found.id
        if regenerate or drafts.latest_draft(session, found.id) is None:
            locked = session.get(type(found), found.id, with_for_update=True)
            assert locked is not None
            composed = drafts.compose(session, runtime_settings.current(), locked, actor=actor)
            follow_ups, reason = composed.follow_ups, composed.reason
        shown = views.drafts(session, ticket_id)
    if follow_ups:
        try:
            send_now(follow_ups)
        except Exception as exc:  # the rows are stored: the sweepers send them
            click.echo(f"warning: could not queue {len(follow_ups)} follow-up(s) ({exc}); the sweepers will", err=True)
    latest = shown[-1] if shown else None
    if as_json:
        _print({"ticket_id": ticket_id, "draft": latest, "versions": len(shown), "reason": reason or None})
        return
    if latest is None:
        click.echo(f"ticket {ticket_id}: no draft ({reason or 'none composed'})")
        return
    note = latest["note"]
    click.echo(f"ticket {ticket_id} draft v{latest['version']} from {latest['template']} ("
               f"{'tier-1 macro' if latest['auto_answer'] else 'an agent reviews it'}; internal note "
               f"{note['state'] if note else '-'})")
    if latest["applied"]:
        a = latest["applied"]
        click.echo(f"applied: {a['choice']} on backorder {a['backorder_id']}: {a['result']}")
    click.echo("")
    click.echo(latest["text"].rstrip())
    click.echo("")
    click.echo("facts used:")
    for line in latest["facts_lines"] or ["no order found for this customer"]:
        click.echo(f"  {line}")
