"""The vendor scorecard as a file and as the buyer's scheduled email.

``[notifications] scorecard_schedule`` (default ``"weekly mon 08:00"``, business timezone) says
when; beat asks often (``tasks.purchasing.send_scorecard``) and the scorecard goes out once per
period: the staff alert's dedupe key is the period's scheduled date, and its outbox rows keep the
alert's id in their idempotency keys. It covers purchase-order lines due in the last
``SCORECARD_DAYS`` days (as ``backorders vendors report`` does by default), is routed like any
other staff message (event ``vendor.scorecard``: the buyer's email, a Slack channel) and carries
the same rows as ``backorders vendors report --csv`` as an attachment.
"""
from __future__ import annotations

import base64
import csv
import io
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from domain.core.business_config import RouteConfig, ScorecardSchedule
from domain.messaging import alerts
from domain.purchasing.purchase_orders import VendorScore, scorecard

EVENT = "vendor.scorecard"
TEMPLATE = "vendor_scorecard"
SCORECARD_DAYS = 90


def to_csv(scores: Sequence[VendorScore]) -> str:
    """One row per vendor, every ``VendorScore`` field, rates as fractions (``0.750``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(VendorScore.__dataclass_fields__), lineterminator="\n")
    writer.writeheader()
    for score in scores:
        writer.writerow(score.as_dict())
    return buffer.getvalue()


def period_due(now: datetime, timezone: str, schedule: ScorecardSchedule) -> date | None:
    """The scheduled date of the latest period whose send time has come (local), else None
    (``off``). A beat that was down sends the latest period once on its return, not each
    period it missed."""
    if schedule.every == "off":
        return None
    local = now.astimezone(ZoneInfo(timezone))
    today, reached = local.date(), local.time() >= schedule.at
    if schedule.every == "weekly":
        back = (today.weekday() - schedule.day) % 7
        if back == 0 and not reached:
            back = 7
        return today - timedelta(days=back)
    day = date(today.year, today.month, schedule.day)
    if today > day or (today == day and reached):
        return day
    previous = today.replace(day=1) - timedelta(days=1)
    return date(previous.year, previous.month, schedule.day)


def _percent(value: Decimal | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def scorecard_context(session: Session, business_name: str, period: date, days: int = SCORECARD_DAYS
                      ) -> dict[str, Any]:
    """The email's facts: each vendor's figures as printed by ``vendors report``, and the CSV."""
    since = period - timedelta(days=days)
    scores = scorecard(session, since, period)
    rows = [{"vendor": s.vendor_name, "vendor_key": s.vendor_key, "purchase_orders": s.purchase_orders,
             "ordered_units": s.ordered_units, "received_units": s.received_units, "fill_rate": _percent(s.fill_rate),
             "on_time_rate": _percent(s.on_time_rate),
             "average_days_late": "-" if s.average_days_late is None else str(s.average_days_late),
             "average_ack_hours": "-" if s.average_ack_hours is None else str(s.average_ack_hours),
             "asn_mismatches": s.asn_mismatches, "receipt_mismatches": s.receipt_mismatches} for s in scores]
    filename = f"vendor-scorecard-{period.isoformat()}.csv"
    return {"business_name": business_name, "period": period.isoformat(), "since": since.isoformat(),
            "until": period.isoformat(), "days": days, "vendors": rows,
            "attachments": [{"filename": filename, "content_type": "text/csv",
                             "content_b64": base64.b64encode(to_csv(scores).encode()).decode()}]}


def send_scorecard(session: Session, now: datetime, timezone: str, schedule: ScorecardSchedule, business_name: str,
                   routes: Sequence[RouteConfig]) -> list[int]:
    """Queue this period's scorecard if its time has come and it was not queued yet; returns the
    outbox ids to deliver (none when already sent, not due, or nobody is routed for it)."""
    period = period_due(now, timezone, schedule)
    if period is None or not any(route.event == EVENT for route in routes):
        return []
    context = scorecard_context(session, business_name, period)
    message = (f"vendor scorecard {context['since']} to {context['until']}: "
               f"{len(context['vendors'])} vendor(s)")
    return alerts.raise_alert(session, event=EVENT, dedupe_key=f"scorecard:{period.isoformat()}", message=message,
                              context=context, routes=routes, template=TEMPLATE)
