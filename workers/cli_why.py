"""``backorders why sku|order|po|backorder|dispute|return REFERENCE``: the audit trail of one subject, in time order.

The trail is assembled by ``domain.why`` from rows the product keeps anyway; this module only
finds the database and prints. An unknown reference exits 1 with the reason on stderr, so a
script can tell "nothing happened" from "no such thing".
"""
from __future__ import annotations

import json
import sys

import click

KINDS = ("sku", "order", "po", "backorder", "dispute", "ticket", "return")


def _line(event: dict[str, object]) -> str:
    at = str(event["at"] or "")
    when = at.replace("T", " ")[:19] if at else "(no time)"
    return f"  {when}  {event['text']}"


def echo_trail(trail: dict[str, object]) -> None:
    """The human form: the subject, its facts that are set, then one line per event."""
    click.echo(str(trail["subject"]))
    facts = trail["facts"]
    assert isinstance(facts, dict)
    shown = {k: v for k, v in facts.items() if v not in (None, "", [], {}) and k not in ("lines", "orders")}
    if shown:
        click.echo("  " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in shown.items()))
    events = trail["events"]
    assert isinstance(events, list)
    if not events:
        click.echo("  nothing recorded yet")
    for event in events:
        click.echo(_line(event))


@click.command("why")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Print the trail as one JSON document.")
def why(kind: str, reference: str, as_json: bool) -> None:
    """Why a SKU, order, purchase order, backorder or dispute is where it is: every transition with
    its numbers, alert, push, notice (to whom, by which channel, held or sent), reply, timer, refund,
    purchase-order line reason, chargeback step (packet, calls, finance note) and support-ticket
    decision (triage, routing, QA, each with its reasons), oldest first.

    \b
    backorders why sku FUT-FRM-OAK-FULL
    backorders why order 1001
    backorders why po PO-20261125-7
    backorders why backorder 42
    backorders why dispute 7
    backorders why ticket 12
    backorders why return RMA-000012
    """
    from domain import why as explaining
    from domain.core.db import session_scope
    from workers.cli import _environment

    _environment()
    try:
        with session_scope() as session:
            trail = explaining.explain(session, kind, reference).as_dict()
    except explaining.NotFound as exc:
        click.echo(f"why {kind}: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(trail, indent=2, default=str))
        return
    echo_trail(trail)
