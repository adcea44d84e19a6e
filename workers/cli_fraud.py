"""``backorders fraud score ORDER``: an order's fraud score, every signal with its points and figures.

It scores the order as the ``fraud_score`` stage does (``domain.fraud.scoring``): a new score is
stored, a score at or above ``review_at`` opens the order's ``fraud_hold`` case, and an order whose
inputs have not changed prints its stored score. ``--again`` scores it anew whatever its inputs (after
changing ``[fraud]``). Orders of any age are scored here; without ``[fraud]`` in the file the
defaults apply (and nothing is scored on its own). An unknown order exits 1.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import click


@click.group("fraud")
def fraud() -> None:
    """Fraud hints: each order's score from explainable signals (docs/fraud.md)."""


@fraud.command("score")
@click.argument("order_ref")
@click.option("--store", "store_key", default=None, help="Store key, when two stores share the order number.")
@click.option("--again", is_flag=True, help="Score anew even if the order's inputs have not changed.")
@click.option("--json", "as_json", is_flag=True, help="Print the score as one JSON document (a list).")
def score_command(order_ref: str, store_key: str | None, again: bool, as_json: bool) -> None:
    """Score ORDER (1001, #1001 or the platform's id) and print its signals and score.

    \b
    backorders fraud score 1001
    backorders fraud score 1001 --store woo-outlet --again --json
    """
    from sqlalchemy import select

    from domain.core.business_config import ConfigError, current_config
    from domain.core.db import session_scope
    from domain.core.models import Store
    from domain.fraud import scoring, views
    from domain.why import orders_by_reference
    from flows.spine import send_now
    from workers.cli import _environment

    _environment()
    try:
        config = current_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    scores: list[dict[str, Any]] = []
    follow_ups = []
    with session_scope() as session:
        stores = dict(session.execute(select(Store.id, Store.key)).tuples().all())
        orders = [o for o in orders_by_reference(session, order_ref)
                  if store_key is None or stores.get(o.store_id) == store_key]
        if not orders:
            click.echo(f"fraud score: no order {order_ref!r}" + (f" on {store_key}" if store_key else ""), err=True)
            sys.exit(1)
        for order in orders:
            scored = scoring.score_order(session, order.id, config, again=again, any_age=True)
            assert scored is not None
            follow_ups += scored.follow_ups
            scores.append(views.as_dict(scored.row, order, stores.get(order.store_id, "?"), scored.case)
                          | {"scored_now": scored.rescored})
    if follow_ups:
        try:
            send_now(follow_ups)
        except Exception as exc:  # noqa: BLE001 - committed: the outbox sweeper sends them
            click.echo(f"fraud score: alerts queued, sent by the outbox sweeper ({exc})", err=True)
    if as_json:
        click.echo(json.dumps(scores, indent=2, default=str))
        return
    if not config.fraud.enabled:
        click.echo("note: [fraud] is not in the configuration: scored with the defaults; "
                   "orders are not scored on their own")
    for one in scores:
        for line in views.lines(one):
            click.echo(line)
        if not one["scored_now"]:
            click.echo("  inputs unchanged since: stored score shown (--again scores anew)")
