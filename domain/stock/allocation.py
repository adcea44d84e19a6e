"""Allocation: each new order line takes stock atomically, or the rest of it becomes a backorder.

Allocatable stock for a SKU = on hand (the latest figure per location, summed) − what open orders
already hold. Every allocation of a SKU happens under that SKU's row lock, so two orders for the
last unit, arriving on two channels through any number of workers, are decided one after the
other: one gets it, the other is backordered. A partly fillable line splits: the part we have is
allocated, the rest is backordered.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from domain.core import audit
from domain.core.clock import utcnow
from domain.core.db import any_int
from domain.core.models import Backorder, Order, OrderLine, Sku

ON_HAND_SQL = text("""
SELECT COALESCE(SUM(on_hand), 0)::int FROM (
    SELECT DISTINCT ON (location_id) on_hand FROM stock_levels WHERE sku_id = :sku_id
     ORDER BY location_id, COALESCE(source_updated_at, updated_at) DESC, updated_at DESC) latest
""")
HELD_SQL = text("""
SELECT COALESCE(SUM(ol.allocated_qty), 0)::int
  FROM order_lines ol JOIN orders o ON o.id = ol.order_id
 WHERE ol.sku_id = :sku_id AND o.status = 'open'
""")


@dataclass
class AllocationResult:
    allocated_line_ids: list[int] = field(default_factory=list)
    backorder_ids: list[int] = field(default_factory=list)
    sku_ids: set[int] = field(default_factory=set)


def allocatable(session: Session, sku_id: int) -> int:
    """Units free to promise now; call with the SKU row locked for a decision that holds."""
    on_hand = session.execute(ON_HAND_SQL, {"sku_id": sku_id}).scalar_one()
    held = session.execute(HELD_SQL, {"sku_id": sku_id}).scalar_one()
    return max(0, on_hand - held)


def unallocated_lines(session: Session, order_ids: Sequence[int]) -> list[OrderLine]:
    """Lines never decided yet (neither allocated nor backordered), SKU-ordered for lock order."""
    return list(session.scalars(
        select(OrderLine).join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.order_id.in_(order_ids), OrderLine.sku_id.is_not(None), Order.status == "open",
               OrderLine.allocated_qty == 0, OrderLine.backordered_qty == 0)
        .order_by(OrderLine.sku_id, OrderLine.id)
    ))


def allocate_orders(session: Session, order_ids: Sequence[int]) -> AllocationResult:
    """Decide every undecided line of these orders; returns new backorders to follow up."""
    result = AllocationResult()
    lines = unallocated_lines(session, order_ids)
    sku_ids = sorted({line.sku_id for line in lines if line.sku_id is not None})
    skus = {s.id: s for s in session.scalars(select(Sku).where(Sku.id == any_int("sku_ids", sku_ids)).order_by(Sku.id)
                                             .with_for_update(key_share=True))}
    now = utcnow()
    for line in lines:
        session.refresh(line, with_for_update={"key_share": True})
        if line.allocated_qty or line.backordered_qty:
            continue  # another worker decided it while we waited for the lock
        sku = skus[line.sku_id]  # type: ignore[index]
        free = allocatable(session, sku.id)
        take = min(line.quantity, free)
        short = line.quantity - take
        line.allocated_qty, line.backordered_qty = take, short
        result.sku_ids.add(sku.id)
        if take:
            result.allocated_line_ids.append(line.id)
        order = session.get(Order, line.order_id)
        assert order is not None
        if short:
            backorder = Backorder(order_line_id=line.id, sku_id=sku.id, quantity=short, state="open",
                                  ordered_at=order.placed_at, eta=sku.eta)
            session.add(backorder)
            session.flush()
            result.backorder_ids.append(backorder.id)
        audit.record(session, "allocation", "order_line.allocated", "order_line", line.id, sku=sku.code,
                     quantity=line.quantity, allocated=take, backordered=short, free_before=free,
                     order=order.number, at=now.isoformat())
    return result
