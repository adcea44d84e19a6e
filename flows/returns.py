"""Drive one return's next step (``domain.returns.flow``): buy its ShipStation return label between
two transactions, read the label's tracking until the parcel is delivered to us, and settle a
received return (refund planned, units restocked, the customer told) — each exactly once.

The label is the one outside call: the row is leased (``due_at`` pushed on) in one transaction,
the label bought with no transaction open, and recorded in another; a run that dies in between is
taken over by the sweeper, and ``connectors.shipstation_returns`` finds the label already bought
under the RMA instead of buying a second.

Our moves on a store's own return (``domain.returns.store_writes``) are written the same way: the
row claimed in one transaction, the store's mutation sent with none open
(``connectors.store_returns``: ``returnApproveRequest`` / ``returnDeclineRequest`` /
``returnCancel`` / ``returnClose``), the answer recorded in another, with the return's next write
sent after it; a transient failure gives the row back due (the task retries, the sweeper finds it
again), a permanent one leaves it ``failed``.
"""
from __future__ import annotations

from datetime import timedelta
from typing import cast

from connectors.carriers import TrackRequest
from connectors.errors import ConnectorError, PermanentError, TransientError
from connectors.shipstation import ShipStationConnector
from connectors.shipstation_returns import buy_return_label
from connectors.store_returns import StoreReturns
from domain.core import effects
from domain.core.business_config import current_config
from domain.core.clock import utcnow
import domain.core.env_settings as runtime_settings
from domain.core.env_settings import get_settings
from domain.core.models import Order, Store
from domain.core.stages import Stage
from domain.returns import flow, machine, store_writes
from flows.connections import connector_for as store_connector
from flows.effects import follow_ups as effect_follow_ups
from flows.shipping import account_config, connector_for
from flows.spine import dispatch, for_ids
from flows.work import Transactional

LEASE = timedelta(minutes=5)
#: A label call that failed for a while (a 5xx, a 429, an answer lost) is due again this long
#: after its first failure, doubling each time up to the lease: beat's sweep (every 60 s) sends it
#: again within a minute or two, not after the five minutes a run still in flight is given.
FIRST_RETRY = timedelta(seconds=30)


def retry_in(attempts: int) -> timedelta:
    return min(FIRST_RETRY * 2 ** max(0, attempts - 1), LEASE)


def _connector(key: str) -> ShipStationConnector:
    return cast(ShipStationConnector, connector_for(account_config(key)))


def step(task: Transactional, return_id: int) -> str:
    """Run the return's next step; returns what happened (for logs and tests)."""
    config, now = current_config(), utcnow()
    with task.unit_of_work() as uow:
        row = machine.lock(uow.session, return_id)
        if row is None:
            return "nothing to do"
        state = row.state
        if state == "received":
            settings = get_settings()
            done = flow.settle(uow.session, config, return_id, now, secret=settings.secret_key,
                               base_url=settings.public_base_url, journey=runtime_settings.current())
            dispatch(uow, done.follow_ups)
            dispatch(uow, effect_follow_ups(effects.EVALUATE, done.restocked_sku_ids))
            return "settled"
        if state not in ("approved", "label_created") or not config.returns.label_account:
            row.due_at = None
            return f"nothing to do: {state}"
        row.due_at = now + LEASE  # the lease: the sweeper leaves it until then
        account = config.returns.label_account
        rma, tracking, label_ref, carrier = row.rma, row.tracking_number, row.label_ref, row.label_carrier
        order = uow.session.get(Order, row.order_id)
        assert order is not None
        address, name = order.shipping_address, order.customer_name
    try:  # the one outside call, with no transaction open
        connector = _connector(account)
        if state == "approved":
            label = buy_return_label(connector, rma, address, name)
        else:
            scans = connector.track(TrackRequest(label_ref or "", carrier or "", tracking or "", label_ref)) or []
    except PermanentError as exc:
        with task.unit_of_work() as uow:
            row = machine.lock(uow.session, return_id)
            if row is not None:
                row.last_error, row.due_at = str(exc)[:2000], None
                machine.note(uow.session, row, "label_failed", flow.ACTOR, utcnow(), error=str(exc)[:500])
        return f"failed: {exc}"
    except ConnectorError as exc:
        with task.unit_of_work() as uow:
            row = machine.lock(uow.session, return_id)
            if row is not None:
                row.last_error, row.attempts = str(exc)[:2000], row.attempts + 1
                row.due_at = utcnow() + retry_in(row.attempts)  # the call is over: its lease given back
        return f"retry later: {exc}"
    with task.unit_of_work() as uow:
        if state == "approved":
            flow.record_label(uow.session, return_id, account, label.label_id, label.carrier_code,
                              label.tracking_number, label.url, utcnow())
            return f"label {label.label_id}" + (" (found)" if label.found else "")
        delivered = [scan for scan in scans if scan.status == "delivered"]
        if delivered:
            flow.delivered(uow.session, return_id, delivered[-1].description, utcnow())
            return "delivered"
        row = machine.lock(uow.session, return_id)
        if row is not None and row.state == "label_created":
            row.due_at = utcnow() + timedelta(seconds=config.returns.label_sweep_after_s)
        return "in transit"


def write_store(task: Transactional, row_id: int) -> str:
    """Write one owed move to the store's return; what happened (for logs and tests). A
    transient failure is raised after the row is given back (the task's retry runs it again)."""
    with task.unit_of_work() as uow:
        claimed = store_writes.claim(uow.session, row_id, utcnow())
        if claimed is None:
            earlier = store_writes.behind(uow.session, row_id, utcnow())
            refund = store_writes.unpaid(uow.session, row_id) if earlier is None else None
            return (f"store write {row_id}: waits for write {earlier} of its return" if earlier is not None
                    else f"store write {row_id}: waits for refund execution {refund} to be paid" if refund
                    else f"store write {row_id}: done, failed, or another run holds it")
        store = uow.session.get(Store, claimed.store_id)
        assert store is not None
        try:
            connector = store_connector(store)
        except (PermanentError, KeyError, ValueError) as exc:
            dispatch(uow, store_writes.release(uow.session, claimed, f"{type(exc).__name__}: {exc}", utcnow(),
                                               permanent=True))
            return f"store write {row_id}: {exc}"
    try:  # the one outside call, with no transaction open
        if not isinstance(connector, StoreReturns):
            raise PermanentError(f"{store.platform} keeps no returns of its own to write to")
        written = connector.decide_return(claimed.store_return, claimed.action, claimed.decline_reason or "OTHER",
                                          claimed.note)
    except ConnectorError as exc:
        with task.unit_of_work() as uow:
            dispatch(uow, store_writes.release(uow.session, claimed, f"{type(exc).__name__}: {exc}", utcnow(),
                                               permanent=not isinstance(exc, TransientError)))
        if isinstance(exc, TransientError):
            raise
        return f"store write {row_id} failed: {exc}"
    with task.unit_of_work() as uow:
        dispatch(uow, store_writes.done(uow.session, claimed, written.outcome, written.status, utcnow(),
                                        written.message))
    return f"{claimed.action} {claimed.store_return}: {written.outcome} ({written.status})"


def sweep(task: Transactional) -> int:
    """Beat: returns whose step is due (a lost message, a died run, a label to track again); one
    staff alert for each return stuck in a state past ``[returns] stuck_after``; decisions owed to
    a store whose message was lost (or that waited for an earlier write of its return)."""
    with task.unit_of_work() as uow:
        ids = flow.due(uow.session, utcnow())
        dispatch(uow, for_ids(Stage.RETURN_STEP, ids))
        dispatch(uow, flow.stuck_alerts(uow.session, current_config(), utcnow()))
        writes = store_writes.stranded(uow.session, utcnow())
        dispatch(uow, for_ids(Stage.STORE_RETURN_WRITE, writes))
    return len(ids) + len(writes)
