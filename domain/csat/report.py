"""The satisfaction report: per queue, per kind and intent, per who resolved it (a person or
``bot:<process>``), over surveys of subjects resolved in a window.

Each group shows surveys asked (a recipient to ask), answered, the response rate, the average
score, CSAT (the share of answers scoring 4 or 5, the usual definition) and the negative answers
(at or below ``[csat] negative_at_most``). ``send_report`` queues it weekly by the same schedule
machinery as the vendor scorecard (``domain.purchasing.scorecards.period_due``): ``[csat]
report_schedule``, event ``csat.report``, once per period (the alert's dedupe key is the period).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session

from domain.core.business_config import BusinessConfig
from domain.core.models import CsatRequest
from domain.messaging import alerts
from domain.purchasing.scorecards import period_due

EVENT = "csat.report"
TEMPLATE = "csat_report"
REPORT_DAYS = 7
GROUPS = {"queue": (CsatRequest.queue,), "intent": (CsatRequest.subject_kind, CsatRequest.intent),
          "resolved_by": (CsatRequest.resolved_by,)}


@dataclass(frozen=True)
class Figures:
    group: str
    asked: int
    answered: int
    response_rate: str
    average: str
    csat: str
    negative: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(part: int, whole: int) -> str:
    if not whole:
        return "-"
    return f"{(Decimal(part) * 100 / whole).quantize(Decimal('0.1'), ROUND_HALF_UP)}%"


def figures(session: Session, since: datetime, until: datetime, negative_at_most: int = 2
            ) -> dict[str, list[Figures]]:
    """``{"overall": [...], "queue": [...], "intent": [...], "resolved_by": [...]}``, each group by name."""
    answered = func.count(CsatRequest.score)
    happy = func.sum(case((CsatRequest.score >= 4, 1), else_=0)).cast(Integer)
    negative = func.sum(case((CsatRequest.score <= negative_at_most, 1), else_=0)).cast(Integer)
    measures = (func.count(CsatRequest.recipient), answered, func.avg(CsatRequest.score), happy, negative)
    window = (CsatRequest.resolved_at >= since, CsatRequest.resolved_at < until)

    def build(name: str, asked: int, count: int, avg: Any, good: int | None, bad: int | None) -> Figures:
        average = "-" if avg is None else str(Decimal(avg).quantize(Decimal("0.01"), ROUND_HALF_UP))
        return Figures(name, asked, count, _ratio(count, asked), average, _ratio(good or 0, count), bad or 0)

    out: dict[str, list[Figures]] = {}
    total = session.execute(select(*measures).where(*window)).one()
    out["overall"] = [build("all", *total)] if total[0] or total[1] else []
    for group, columns in GROUPS.items():
        rows = session.execute(select(*columns, *measures).where(*window).group_by(*columns)
                               .order_by(*columns)).all()
        width = len(columns)
        out[group] = [build(" / ".join(str(v) for v in row[:width]), *row[width:]) for row in rows]  # type: ignore[arg-type]
    return out


def comments(session: Session, since: datetime, until: datetime, limit: int = 20) -> list[dict[str, Any]]:
    """The latest answers with a comment, lowest score first: what to read."""
    rows = session.scalars(select(CsatRequest).where(
        CsatRequest.resolved_at >= since, CsatRequest.resolved_at < until, CsatRequest.comment.is_not(None))
        .order_by(CsatRequest.score, CsatRequest.answered_at.desc()).limit(limit))
    return [{"id": r.id, "subject": f"{r.subject_kind} {r.subject_id}", "queue": r.queue, "score": r.score,
             "comment": r.comment, "decision": r.decision, "follow_up_case_id": r.follow_up_case_id}
            for r in rows]


def report(session: Session, since: datetime, until: datetime, negative_at_most: int = 2) -> dict[str, Any]:
    found = figures(session, since, until, negative_at_most)
    return {"since": since.isoformat(), "until": until.isoformat(), "negative_at_most": negative_at_most,
            **{group: [f.as_dict() for f in rows] for group, rows in found.items()},
            "comments": comments(session, since, until)}


def send_report(session: Session, now: datetime, config: BusinessConfig) -> list[int]:
    """Queue this period's report if its time has come and it was not queued yet; returns the
    outbox ids to deliver (none when already sent, not due, or nobody is routed for it)."""
    routes = config.notifications.routes
    period = period_due(now, config.timezone, config.csat.schedule())
    if period is None or not any(route.event == EVENT for route in routes):
        return []
    until = _local_midnight(period, config.timezone)
    since = until - timedelta(days=REPORT_DAYS)
    context = {"business_name": config.name, "period": period.isoformat(), "days": REPORT_DAYS,
               **report(session, since, until, config.csat.negative_at_most)}
    overall = context["overall"][0] if context["overall"] else None
    message = (f"satisfaction {since:%Y-%m-%d} to {until:%Y-%m-%d}: "
               + (f"{overall['answered']} answer(s), CSAT {overall['csat']}, average {overall['average']}"
                  if overall else "no survey"))
    return alerts.raise_alert(session, event=EVENT, dedupe_key=f"csat-report:{period.isoformat()}", message=message,
                              context=context, routes=routes, template=TEMPLATE)


def _local_midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0, 0), ZoneInfo(timezone))


def window(now: datetime, days: int) -> tuple[datetime, datetime]:
    return now - timedelta(days=days), now + timedelta(seconds=1)


__all__: Sequence[str] = ("figures", "report", "send_report", "window")
