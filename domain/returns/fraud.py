"""Fraud checks on a return: each check that fires is a flag with its reason and figures, and a
flagged return goes to a person (state ``review``) instead of being paid.

* serial returner: this customer's returns (this one included) within ``serial_window`` reach
  ``serial_returns``;
* outside the window: the order was placed longer ago than ``window``;
* empty box: the receive scan weighed the parcel under ``empty_box_grams``, or under
  ``empty_box_percent`` of what its items weigh (``[returns.item_grams]``), or its QC said empty.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import Order, ReturnRequest
from domain.core.returns_config import ReturnsConfig


def at_request(session: Session, config: ReturnsConfig, row: ReturnRequest, order: Order,
               now: datetime) -> list[dict[str, Any]]:
    flags: list[dict[str, Any]] = []
    since = now - timedelta(seconds=config.serial_window_s)
    count = session.scalar(select(func.count()).select_from(ReturnRequest).where(
        ReturnRequest.customer == row.customer, ReturnRequest.created_at >= since,
        ReturnRequest.state != "cancelled")) or 0
    if row.customer and count >= config.serial_returns:
        flags.append({"check": "serial_returner", "reason": f"{count} returns by {row.customer} in "
                      f"{config.serial_window_s // 86400} days (limit {config.serial_returns})",
                      "returns": count, "limit": config.serial_returns, "window_days": config.serial_window_s // 86400})
    age_days = (now - order.placed_at).total_seconds() / 86400
    if age_days > config.window_s / 86400:
        flags.append({"check": "outside_window", "reason": f"order placed {age_days:.0f} days ago; the return "
                      f"window is {config.window_s // 86400} days", "age_days": round(age_days, 1),
                      "window_days": config.window_s // 86400})
    return flags


def at_receipt(config: ReturnsConfig, qc: str, weight_g: int | None,
               expected_g: int | None = None) -> list[dict[str, Any]]:
    """``expected_g``: what the returned items weigh (``ReturnsConfig.expected_grams``), if known."""
    if qc == "empty":
        return [{"check": "empty_box", "reason": "QC found the box empty", "qc": qc}]
    if weight_g is not None and config.empty_box_grams and weight_g < config.empty_box_grams:
        return [{"check": "empty_box", "reason": f"parcel weighed {weight_g} g, under {config.empty_box_grams} g",
                 "weight_g": weight_g, "limit_g": config.empty_box_grams}]
    if weight_g is not None and expected_g and weight_g * 100 < expected_g * config.empty_box_percent:
        return [{"check": "empty_box", "reason": f"parcel weighed {weight_g} g, under {config.empty_box_percent}% "
                 f"of the {expected_g} g its items weigh", "weight_g": weight_g, "expected_g": expected_g,
                 "percent": config.empty_box_percent}]
    return []
