"""``backorders csat report|sweep|answer`` and ``backorders notify-me add|list``.

``csat report`` prints the satisfaction figures (``domain.csat.report``) of subjects resolved in
the last ``--days`` days: overall, per queue, per kind and intent, per who resolved it, then the
comments; ``--json`` prints the same document the console and the weekly email use. ``csat
sweep`` asks the recently resolved subjects now (beat does it every five minutes). ``notify-me
add`` records a shopper's back-in-stock request (``domain.journey.rationing``) for a storefront
that cannot send our signed webhook.
"""
from __future__ import annotations

import json
from typing import Any

import click


def _print(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group("csat")
def csat() -> None:
    """Customer satisfaction: surveys after resolved backorders and cases, and their report."""


@csat.command("report")
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True,
              help="Subjects resolved in the last N days.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
def report_command(days: int, as_json: bool) -> None:
    """Satisfaction per queue, per kind/intent and per who resolved it (person or bot)."""
    import domain.core.env_settings as runtime_settings
    from domain.core.clock import utcnow
    from domain.core.db import session_scope
    from domain.csat import report
    from workers.cli import _environment

    _environment()
    negative = runtime_settings.current().config.csat.negative_at_most
    since, until = report.window(utcnow(), days)
    with session_scope() as session:
        data = report.report(session, since, until, negative)
    if as_json:
        _print(data)
        return
    click.echo(f"satisfaction of subjects resolved {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC")
    if not data["overall"]:
        click.echo("no survey in this period")
        return
    for key, title in (("overall", "overall"), ("queue", "per queue"), ("intent", "per kind / intent"),
                       ("resolved_by", "per who resolved it")):
        click.echo(title)
        for row in data[key]:
            click.echo(f"  {row['group']:<32} asked {row['asked']:>4}  answered {row['answered']:>4} "
                       f"({row['response_rate']:>6})  average {row['average']:>4}  CSAT {row['csat']:>6}  "
                       f"negative {row['negative']}")
    if data["comments"]:
        click.echo("comments (lowest score first)")
        for c in data["comments"]:
            decision = f" -> {c['decision']}" if c["decision"] else ""
            click.echo(f"  {c['score']}/5 {c['subject']} ({c['queue']}){decision}: {c['comment']}")


@csat.command("sweep")
def sweep_command() -> None:
    """Ask every subject resolved lately and not asked yet (beat does this every five minutes)."""
    import domain.core.env_settings as runtime_settings
    from domain.core.db import session_scope
    from domain.core.stages import FollowUp, Stage
    from domain.csat import surveys
    from domain.returns import csat_source  # noqa: F401  (registers the ``return`` source)
    from workers.cli import _environment
    from workers.replies import send_follow_ups

    _environment()
    settings = runtime_settings.current()
    with session_scope() as session:
        ids = surveys.sweep(session, settings.config, settings.public_base_url, settings.secret_key)
    send_follow_ups([FollowUp(Stage.DELIVER, (i,)) for i in ids])
    click.echo(f"{len(ids)} survey email(s) queued")


@csat.command("answer")
@click.argument("survey_id", type=int)
@click.argument("score", type=click.IntRange(1, 5))
@click.option("--comment", default=None, help="The customer's comment.")
def answer_command(survey_id: int, score: int, comment: str | None) -> None:
    """Record an answer given another way (a phone call, a reply); same rules as the link."""
    import domain.core.env_settings as runtime_settings
    from domain.core.db import session_scope
    from domain.csat import surveys
    from workers.cli import _environment

    _environment()
    try:
        with session_scope() as session:
            answered = surveys.answer(session, survey_id, score, comment, runtime_settings.current().config)
    except surveys.SurveyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"survey {survey_id}: {score}/5 saved" + (f", {answered.decision}" if answered.decision else ""))


@click.group("notify-me")
def notify_me() -> None:
    """Shoppers' back-in-stock requests, told oldest first after a restock, one notice per unit left."""


@notify_me.command("add")
@click.option("--sku", "sku_code", required=True, help="The SKU code.")
@click.option("--email", default=None)
@click.option("--phone", default=None, help="E.164 (or a national number of the default region).")
@click.option("--channel", type=click.Choice(("email", "sms")), default=None,
              help="How to tell them (default: email when given, else sms).")
@click.option("--store", "store_key", default=None, help="The storefront they asked on.")
def add_command(sku_code: str, email: str | None, phone: str | None, channel: str | None,
                store_key: str | None) -> None:
    """Record a request; asking again keeps the first place in the queue."""
    from domain.core.db import session_scope
    from domain.journey import rationing
    from workers.cli import _environment

    _environment()
    try:
        with session_scope() as session:
            added = rationing.add(session, sku_code, email=email, phone=phone, channel=channel, store_key=store_key)
    except rationing.RequestError as exc:
        raise click.ClickException(str(exc)) from exc
    state = "recorded" if added.created else "already waiting"
    click.echo(f"request {added.request_id} {state}: number {added.position} in the queue for {sku_code}")


@notify_me.command("list")
@click.option("--sku", "sku_code", required=True)
@click.option("--json", "as_json", is_flag=True)
def list_command(sku_code: str, as_json: bool) -> None:
    """The SKU's requests: waiting ones in queue order, then those told."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import Sku
    from domain.journey import rationing
    from workers.cli import _environment

    _environment()
    with session_scope() as session:
        sku_id = session.scalar(select(Sku.id).where(Sku.code == sku_code))
        if sku_id is None:
            raise click.ClickException(f"unknown SKU {sku_code!r}")
        rows = rationing.for_sku(session, sku_id)
    if as_json:
        _print(rows)
        return
    for row in rows:
        told = f" told {row['notified_at'][:16]} (of {row['notice'].get('units_left')} left)" if row["notified_at"] else ""
        click.echo(f"#{row['id']:<6} {row['state']:<9} #{row['position'] or '-':<4} {row['channel']:<5} "
                   f"{row['contact']}{told}")
    if not rows:
        click.echo("no requests")
