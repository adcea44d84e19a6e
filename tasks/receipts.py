"""Receipts booked in an ERP come back to us: beat asks each ERP what it has received against our
open purchase orders and books the difference, so the warehouse's receiving in NetSuite or Odoo
fills waiting customers without anyone typing ``backorders po receive``."""
from __future__ import annotations

import logging
from collections import defaultdict
from typing import cast

from celery import shared_task
from sqlalchemy import select

from connectors.base import Capability, ErpConnector, supports
from connectors.errors import ConnectorError
from domain.core import effects
from domain.core.clock import utcnow
from domain.core.models import Store
from domain.purchasing import purchase_orders
from flows import effects as effect_rows
from flows.connections import connector_for
from flows.spine import dispatch
from tasks.base import DbTask

log = logging.getLogger(__name__)


@shared_task(base=DbTask, bind=True, name="tasks.receipts.poll_erp")
def poll_erp(self: DbTask) -> int:
    """Beat: one receipts query per ERP, one transaction per purchase order that moved; returns
    the number of purchase orders that had goods booked. An ERP that cannot be reached is logged
    and asked again on the next beat; the others go on."""
    with self.unit_of_work() as uow:
        orders = purchase_orders.open_erp_orders(uow.session)
        stores = {store.key: store for store in uow.session.scalars(
            select(Store).where(Store.key.in_(sorted(orders)), Store.enabled))}
        for store in stores.values():
            uow.session.expunge(store)
    booked = 0
    for store_key, numbers in sorted(orders.items()):
        store = stores.get(store_key)
        if store is None:
            log.warning("receipts: vendor ERP store %s is not an enabled store; its purchase orders are not read",
                        store_key)
            continue
        try:
            connector = connector_for(store)
            if not supports(connector, Capability.RECEIPTS):
                log.warning("receipts: store %s (%s) cannot report receipts", store_key, store.platform)
                continue
            lines = cast(ErpConnector, connector).fetch_receipts(sorted(numbers))
        except ConnectorError as exc:
            log.warning("receipts: could not read receipts from %s: %s", store_key, exc)
            continue
        totals: dict[str, dict[str, int]] = defaultdict(dict)
        for line in lines:
            if line.po_number in numbers:
                totals[line.po_number][line.sku] = totals[line.po_number].get(line.sku, 0) + line.received
        for number, received in sorted(totals.items()):
            with self.unit_of_work() as uow:
                result = purchase_orders.book_erp_receipt(uow.session, numbers[number], received, utcnow())
                if result is not None:
                    log.info("receipts: %s booked from %s: %s", result.number, store_key, result.received)
                    # its ``evaluate`` rows were recorded with the receipt (``domain.purchasing.purchase_orders.receive``)
                    dispatch(uow, effect_rows.follow_ups(effects.EVALUATE, result.sku_ids))
                    dispatch(uow, result.follow_ups)  # receipt ≠ ship notice: staff alerts
                    booked += 1
    return booked
