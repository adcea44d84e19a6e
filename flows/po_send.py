"""Sending an approved purchase order: one vendor email (with the CSV), one ERP record, state ``sent``.

Exactly-once is built from three guards, so running the task twice, concurrently or after a crash
leaves one email and one ERP purchase order:

* the PO row is locked (``FOR UPDATE``) for the whole send and only an ``approved`` PO is sent: a
  second run waits for the first, then sees ``sent`` and does nothing;
* the vendor email is an outbox row with the key ``po:{po_id}:email`` (a unique key: never two rows),
  delivered by the ``deliver`` stage only after this transaction commits;
* the ERP record is keyed by our PO number (NetSuite ``externalId`` upsert, Odoo ``partner_ref``
  and SAP Business One ``NumAtCard`` lookups), so an ERP write whose transaction then rolled back
  is found, not repeated, on the retry.

The ERP call happens inside the transaction on purpose: if it fails the email row rolls back with
it, so a vendor never receives a PO that is missing from the ERP; the retry sends both.

Vendor ERP ids: the vendor's key in our configuration must be the vendor's key in the ERP (NetSuite
vendor ``externalId``, Odoo partner ``ref``, SAP business partner ``CardCode``) and each SKU the ERP
item's code (NetSuite ``itemid``, Odoo ``default_code``, SAP ``ItemCode``).
"""
from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import Capability, ErpConnector, supports
from connectors.errors import PermanentError
from connectors.types import PurchaseOrderLineRequest, PurchaseOrderRequest
from domain.core import audit
from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.env_settings import get_settings
from domain.core.models import OutboxMessage, PurchaseOrder, PurchaseOrderEvent, Store, Vendor
from domain.core.stages import FollowUp, Stage
from domain.messaging import outbox
from domain.purchasing import vendor_loop
from domain.purchasing.po_documents import po_context, po_csv
from flows.connections import connector_for
from flows.spine import dispatch
from flows.work import Transactional

VENDOR_TEMPLATE = "po_to_vendor"
ACTOR = "purchasing"


def email_key(po_id: int) -> str:
    return f"po:{po_id}:email"


def csv_attachment(context: dict[str, Any]) -> dict[str, str]:
    """The CSV as an outbox attachment entry (base64: the outbox context is JSON)."""
    return {"filename": f"{context['po_number']}.csv", "content_type": "text/csv",
            "content_b64": base64.b64encode(po_csv(context)).decode("ascii")}


def queue_vendor_email(session: Session, po: PurchaseOrder, vendor: Vendor, context: dict[str, Any]) -> int:
    """The one outbox row for this PO's vendor email; an earlier attempt's row is reused."""
    outbox_id = outbox.enqueue(session, idempotency_key=email_key(po.id), channel="email",
                               template=VENDOR_TEMPLATE, recipient=vendor.email,
                               context={**context, "attachments": [csv_attachment(context)]})
    if outbox_id is None:
        outbox_id = session.scalar(select(OutboxMessage.id).where(
            OutboxMessage.idempotency_key == email_key(po.id)))
    return int(outbox_id)


def erp_request(po: PurchaseOrder, vendor: Vendor, context: dict[str, Any]) -> PurchaseOrderRequest:
    lines = [PurchaseOrderLineRequest(sku=line["sku"], quantity=line["quantity"],
                                      unit_cost_cents=line["unit_cost_cents"], title=line["title"],
                                      expected_date=line["expected_date"]) for line in context["lines"]]
    return PurchaseOrderRequest(number=po.number, vendor_ref=vendor.key, lines=lines,
                                currency=context["currency"], expected_date=context["expected_date"],
                                memo=po.number)


def create_in_erp(session: Session, po: PurchaseOrder, vendor: Vendor, context: dict[str, Any]) -> str:
    """The ERP's id for this PO, created there unless an earlier attempt already did."""
    store = session.scalar(select(Store).where(Store.key == vendor.erp_store_key))
    if store is None:
        raise PermanentError(f"vendor {vendor.key}: erp_store {vendor.erp_store_key!r} is not a configured store")
    connector = connector_for(store)
    if not supports(connector, Capability.PURCHASE_ORDERS):
        raise PermanentError(f"store {store.key}: platform {store.platform} cannot take purchase orders",
                             platform=store.platform)
    result = cast(ErpConnector, connector).create_purchase_order(erp_request(po, vendor, context))
    audit.record(session, ACTOR, "po.erp_created" if result.created else "po.erp_found", "purchase_order",
                 po.id, store=store.key, erp_ref=result.external_id, detail=result.detail)
    return result.external_id


def mark_sent(session: Session, po: PurchaseOrder, vendor: Vendor, outbox_id: int, now: datetime) -> None:
    po.state, po.sent_at, po.email_outbox_id = "sent", now, outbox_id
    po.ack_due_at = now + timedelta(hours=int(vendor.ack_within_hours))
    session.add(PurchaseOrderEvent(purchase_order_id=po.id, kind="sent", at=now, data={
        "outbox_id": outbox_id, "erp_store": vendor.erp_store_key, "erp_ref": po.erp_ref, "to": vendor.email}))


def send(task: Transactional, po_id: int) -> str:
    """Send an approved PO once; returns ``sent`` or why nothing was done (for logs and tests)."""
    business_name = current_config().name
    public_base_url = get_settings().public_base_url
    with task.unit_of_work() as uow:
        session = uow.session
        po = session.scalar(select(PurchaseOrder).where(PurchaseOrder.id == po_id).with_for_update(key_share=True))
        if po is None:
            return "missing"
        if po.state != "approved":
            return f"skipped:{po.state}"
        vendor = session.get(Vendor, po.vendor_id)
        assert vendor is not None, "a purchase order's vendor row is never deleted (foreign key)"
        now = utcnow()
        link = vendor_loop.ack_link(public_base_url, get_settings().secret_key, po.id, now)
        context = po_context(session, po.id, public_base_url, link, business_name=business_name)
        outbox_id = queue_vendor_email(session, po, vendor, context)
        if vendor.erp_store_key and not po.erp_ref:
            po.erp_ref = create_in_erp(session, po, vendor, context)
        mark_sent(session, po, vendor, outbox_id, now)
        vendor_loop.watch(session, po)
        dispatch(uow, [FollowUp(Stage.DELIVER, (outbox_id,))])
    return "sent"
