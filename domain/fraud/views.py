"""A stored fraud score as a plain dict (``backorders fraud score --json``, ``backorders why order``)
and as lines for people: the score, the verdict against the thresholds it was read with, then
every signal — fired, clear or not known — with its points and what it saw."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import Case, FraudScore, Order


def thresholds_text(thresholds: dict[str, Any]) -> str:
    decline = thresholds.get("decline_at")
    return (f"review at {thresholds.get('review_at')}, hold at {thresholds.get('hold_at')}, "
            + (f"decline at {decline}" if decline is not None else "no automatic decline"))


def as_dict(row: FraudScore, order: Order, store_key: str, case: Case | None) -> dict[str, Any]:
    return {"order": order.number, "store": store_key, "score": row.score, "verdict": row.verdict,
            "thresholds": dict(row.thresholds), "signals": list(row.signals),
            "reasons": [f"{s['text']} (+{s['points']})" for s in row.signals if s.get("state") == "fired"],
            "case": None if case is None else {"id": case.id, "kind": case.kind, "state": case.state,
                                               "queue": case.queue, "priority": case.priority, "owner": case.owner},
            "scored_at": row.scored_at.isoformat(), "first_scored_at": row.created_at.isoformat(),
            "times_scored": row.times_scored}


def for_order(session: Session, order: Order, store_key: str) -> dict[str, Any] | None:
    """The order's stored score, or None when it has not been scored."""
    row = session.scalar(select(FraudScore).where(FraudScore.order_id == order.id))
    if row is None:
        return None
    return as_dict(row, order, store_key, session.get(Case, row.case_id) if row.case_id else None)


def lines(score: dict[str, Any]) -> list[str]:
    """The human form: a heading line, then one line per signal."""
    out = [f"order {score['order']} ({score['store']}): fraud score {score['score']} — {score['verdict']} "
           f"({thresholds_text(score['thresholds'])})"]
    for signal in score["signals"]:
        points = f"+{signal['points']}" if signal["points"] else "0"
        out.append(f"  {signal['state']:<8} {points:>4}  {signal['name']:<24} {signal['text']}")
    case = score["case"]
    if case:
        out.append(f"  case {case['id']} ({case['kind']}, {case['state']}, queue {case['queue']}, "
                   f"priority {case['priority']}, owner {case['owner'] or '-'})")
    out.append(f"  scored {score['scored_at'][:19].replace('T', ' ')} UTC ({score['times_scored']} time(s))")
    return out
