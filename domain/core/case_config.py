"""The ``[cases]`` table: routing rules and playbooks for order exceptions.

A rule matches a case by kind, SKU or category, channel (store key) and customer tier (segment
key); a criterion left out matches anything, and the first rule that matches decides queue,
owner, priority and SLA. Playbooks (the next steps shown to whoever owns a case) have a default
per kind and can be replaced per kind in the file. Problems are reported with their key path,
like the rest of the file (``domain.core.business_config``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from domain.core.models import CASE_KINDS, CASE_PRIORITIES

if TYPE_CHECKING:
    from domain.core.business_config import _Reader

DEFAULT_QUEUE = "ops"
DEFAULT_PRIORITY = "normal"
DEFAULT_SLA_S = 24 * 3600

DEFAULT_PLAYBOOKS: dict[str, tuple[str, ...]] = {
    "out_of_stock": ("Check on-hand at every location and open POs", "Offer the customer wait, substitute or cancel",
                     "Correct the channel's stock if it oversold"),
    "partial_allocation": ("Confirm the allocated lines can ship", "Offer split-or-wait to the customer",
                           "Ship the allocated part if they choose split"),
    "address_problem": ("Compare the address with the carrier's validation", "Contact the customer to confirm",
                        "Update the order and release it to the warehouse"),
    "fraud_hold": ("Review the fraud signals on the order", "Verify the customer (AVS/CVV, prior orders)",
                   "Release or cancel with a refund; never decline without a store rule"),
    "carrier_failure": ("Open a trace with the carrier", "Tell the customer the new estimate",
                        "Reship or refund if the carrier confirms loss"),
    "stuck_in_transit": ("Check the last scan and open a carrier trace", "Tell the customer proactively",
                         "Reship or refund after the carrier's deadline"),
    "delivery_exception": ("Read the carrier's exception code", "Arrange redelivery or pickup with the customer",
                           "Refund or reship on return-to-sender"),
    "split_shipment": ("Confirm each shipment's tracking", "Tell the customer which items arrive when"),
    "refund_request": ("Check the refund policy decision and its rule", "Approve, adjust or decline with a note",
                       "Confirm the provider's refund reference"),
    "chargeback": ("Gather the evidence the reason code needs", "Stage the evidence before the due date",
                   "Submit and record the outcome for finance"),
    "backorder": ("Check the ETA and open POs for the SKU", "Make sure the customer has their choices",
                  "Ship or refund when the backorder ends"),
    "csat_follow_up": ("Read the customer's score and comment, and how the subject was resolved",
                       "Contact the customer and put it right", "Note what would have avoided it"),
}


@dataclass(frozen=True)
class CaseRoute:
    """One ``[[cases.routes]]`` rule: criteria (None = any) → where the case goes."""

    queue: str
    owner: str | None = None
    priority: str = DEFAULT_PRIORITY
    sla_s: int = DEFAULT_SLA_S
    kind: str | None = None
    sku: str | None = None
    category: str | None = None
    channel: str | None = None
    tier: str | None = None


@dataclass(frozen=True)
class CasesConfig:
    routes: tuple[CaseRoute, ...] = ()
    playbooks: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_PLAYBOOKS))
    default_queue: str = DEFAULT_QUEUE
    default_priority: str = DEFAULT_PRIORITY
    default_sla_s: int = DEFAULT_SLA_S


ROUTE_KEYS = {"kind", "sku", "category", "channel", "tier", "queue", "owner", "priority", "sla"}


def read_cases(reader: _Reader, data: dict[str, Any], *, store_keys: set[str], sku_codes: set[str],
               categories: set[str], tiers: set[str]) -> CasesConfig:
    """``[cases]`` with ``default_queue``, ``default_priority``, ``default_sla``, ``[[cases.routes]]``
    and ``[cases.playbooks]``; every name a rule uses must exist elsewhere in the file."""
    table = reader.table(data, "cases", "cases")
    reader.unknown_keys(table, {"default_queue", "default_priority", "default_sla", "routes", "playbooks"}, "cases")
    default_queue = reader.string(table, "default_queue", "cases", required=False, default=DEFAULT_QUEUE)
    default_priority = _priority(reader, table, "cases", "default_priority", DEFAULT_PRIORITY)
    default_sla = reader.duration(table, "default_sla", "cases", DEFAULT_SLA_S)
    known = {"kind": set(CASE_KINDS), "sku": sku_codes, "category": categories, "channel": store_keys, "tier": tiers}
    routes = []
    for path, item in reader.tables(table, "routes"):
        path = "cases." + path
        reader.unknown_keys(item, ROUTE_KEYS, path)
        criteria: dict[str, str | None] = {}
        for key, names in known.items():
            value = reader.string(item, key, path, required=False)
            if value is not None and value not in names:
                reader.problem(f"{path}.{key}", f"unknown {key} {value!r}"
                               + (f" (one of {', '.join(CASE_KINDS)})" if key == "kind" else ""))
            criteria[key] = value
        queue = reader.string(item, "queue", path)
        if queue is None:
            continue
        routes.append(CaseRoute(queue=queue, owner=reader.string(item, "owner", path, required=False),
                                priority=_priority(reader, item, path, "priority", default_priority),
                                sla_s=reader.duration(item, "sla", path, default_sla), **criteria))
    playbooks = dict(DEFAULT_PLAYBOOKS)
    raw_playbooks = reader.table(table, "playbooks", "cases.playbooks")
    for kind, steps in raw_playbooks.items():
        path = f"cases.playbooks.{kind}"
        if kind not in CASE_KINDS:
            reader.problem(path, f"unknown kind (one of {', '.join(CASE_KINDS)})")
        elif not (isinstance(steps, list) and steps and all(isinstance(s, str) and s.strip() for s in steps)):
            reader.problem(path, "expected a non-empty list of steps (strings)")
        else:
            playbooks[kind] = tuple(steps)
    return CasesConfig(routes=tuple(routes), playbooks=playbooks, default_queue=default_queue or DEFAULT_QUEUE,
                       default_priority=default_priority, default_sla_s=default_sla)


def _priority(reader: _Reader, table: dict[str, Any], path: str, key: str, default: str) -> str:
    value = table.get(key, default)
    if value not in CASE_PRIORITIES:
        reader.problem(f"{path}.{key}", f"expected one of {', '.join(CASE_PRIORITIES)}, got {value!r}")
        return default
    return str(value)
