"""An approved purchase order of the example's Kyoto vendor, as the send tests start from."""
from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import PurchaseOrder, PurchaseOrderLine, Sku, Vendor

#: SKU → (quantity, unit cost in cents) of the PO's lines.
SKUS = {"FUT-FRM-OAK-FULL": (4, 18950), "FUT-FRM-OAK-QUEEN": (2, 21000)}


def approved_po(session: Session, erp_store: str | None = None, number: str = "PO-20250102-1") -> int:
    """Commit an approved PO with the two ``SKUS`` lines; ``erp_store`` (if given) becomes the
    vendor's ERP, as a store key."""
    vendor = session.scalar(select(Vendor).where(Vendor.key == "kyoto-frames"))
    assert vendor is not None
    if erp_store is not None:
        vendor.erp_store_key = erp_store
    now = datetime(2025, 1, 2, 15, 0, tzinfo=UTC)
    po = PurchaseOrder(number=number, vendor_id=vendor.id, state="approved", approved_at=now,
                       expected_at=date(2025, 1, 23), total_cents=sum(q * c for q, c in SKUS.values()))
    session.add(po)
    session.flush()
    for code, (quantity, cost) in SKUS.items():
        sku = session.scalar(select(Sku).where(Sku.code == code))
        assert sku is not None
        session.add(PurchaseOrderLine(purchase_order_id=po.id, sku_id=sku.id, quantity=quantity,
                                      unit_cost_cents=cost, reason={"open_backorders": 1}))
    session.commit()
    return po.id
