"""The vendor's page for a purchase order: confirm or change each line's date, no login.

``GET /po/{token}`` shows the open lines with date fields; only the form's POST changes anything
(mail scanners open links). The token is a signed, expiring link (``domain.journey.links``).
"""
from __future__ import annotations

import logging
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.db import session_scope
from domain.core.env_settings import get_settings
from domain.core.models import PurchaseOrder, PurchaseOrderLine, Sku, Vendor
from domain.journey.links import BadLink, ExpiredLink, verify_po_link
from domain.purchasing import purchase_orders, vendor_loop
from workers.replies import invalid_page, page, send_follow_ups

log = logging.getLogger("workers.vendor_pages")
router = APIRouter()


def _view(session: Any, po_id: int) -> dict[str, Any] | None:
    po = session.get(PurchaseOrder, po_id)
    if po is None:
        return None
    vendor = session.get(Vendor, po.vendor_id)
    lines = [{"sku": sku.code, "title": sku.title, "quantity": line.quantity - line.received_qty,
              "date": (line.eta or line.promised_date or po.expected_at or "") and
              str(line.eta or line.promised_date or po.expected_at)}
             for line, sku in session.execute(
                 select(PurchaseOrderLine, Sku).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
                 .where(PurchaseOrderLine.purchase_order_id == po.id).order_by(Sku.code)).tuples()
             if line.quantity > line.received_qty]
    return {"po_number": po.number, "vendor_name": vendor.name if vendor else "",
            "store_name": current_config().name, "lines": lines,
            "acknowledged": po.acknowledged_at.date().isoformat() if po.acknowledged_at else None}


def _po_id(token: str) -> int | HTMLResponse:
    try:
        return verify_po_link(get_settings().secret_key, token, utcnow())
    except ExpiredLink:
        return invalid_page("expired", 410)
    except BadLink:
        return invalid_page("invalid", 400)


def _show(po_id: int) -> HTMLResponse:
    with session_scope() as session:
        view = _view(session, po_id)
    if view is None:
        return invalid_page("missing", 404)
    return page("po_ack", 200, **view)


def _apply(po_id: int, form: dict[str, str]) -> HTMLResponse:
    dates: dict[str, date] = {}
    for key, value in form.items():
        if key.startswith("date_") and value:
            try:
                dates[key[5:]] = date.fromisoformat(value)
            except ValueError:
                return invalid_page("invalid", 400)
    with session_scope() as session:
        try:
            follow_ups = vendor_loop.acknowledge(session, po_id, dates)
        except purchase_orders.PurchasingError as exc:
            log.warning("vendor page for PO %s refused: %s", po_id, exc)
            view = _view(session, po_id)
            return page("po_ack", 409, **(view or {}))
        view = _view(session, po_id)
    send_follow_ups(follow_ups)
    return page("po_ack_done", 200, **(view or {}))


@router.get("/po/{token}", summary="A vendor's page to confirm a purchase order's dates")
async def show(token: str) -> HTMLResponse:
    po_id = _po_id(token)
    if isinstance(po_id, HTMLResponse):
        return po_id
    try:
        return await run_in_threadpool(_show, po_id)
    except SQLAlchemyError:
        log.exception("vendor page unavailable")
        return page("unavailable", 503, store_name=current_config().name)


@router.post("/po/{token}", summary="Record the vendor's dates (acknowledgement)")
async def submit(token: str, request: Request) -> HTMLResponse:
    po_id = _po_id(token)
    if isinstance(po_id, HTMLResponse):
        return po_id
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        return await run_in_threadpool(_apply, po_id, form)
    except SQLAlchemyError:
        log.exception("vendor page unavailable")
        return page("unavailable", 503, store_name=current_config().name)
