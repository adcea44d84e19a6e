"""Evidence sources: where the facts of a packet come from, one function per source.

A source reads what it knows about the disputed order and returns facts by name (the names of
``domain.chargebacks.requirements.FACT_LABELS``): a :class:`Fact` when it has one, a :class:`Gap`
when it looked and can say why there is none (e.g. "one prior order qualifies, CE 3.0 needs two").
:func:`gather` runs every registered source in priority order; the first fact found for a name
wins, and a gap is kept only when no source found the fact.

This is the seam new data plugs into. Built in: the order and its SKUs, the checkout's payment
facts (``orders.payment_facts``, else the store's own order), the refund policy from
``[chargebacks]``, the customer's messages, and the customer's prior orders. Shipments (carrier,
tracking, ship date, delivered scan or signature) come through ``domain.chargebacks.shipment_evidence``,
which reads the shipments the shipping part recorded; any other source registers itself with
``@source("name", priority=N)`` (lower runs first).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from domain.core.chargeback_config import ChargebacksConfig
from domain.core.models import Dispute, Order


@dataclass(frozen=True)
class Fact:
    """One piece of evidence: ``text`` as it goes into a provider's text field (and the bundle),
    the source that found it, and structured ``rows`` the HTML bundle shows as a table or list."""

    text: str
    source: str
    rows: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "source": self.source, "rows": [dict(r) for r in self.rows]}


@dataclass(frozen=True)
class Gap:
    """A source looked for the fact and can say why it has none."""

    why: str
    source: str


@dataclass(frozen=True)
class Scope:
    """What a source reads: the dispute, its order (None when no order carries the payment
    reference) and the ``[chargebacks]`` settings, as of ``now``."""

    session: Session
    dispute: Dispute
    order: Order | None
    config: ChargebacksConfig
    now: datetime
    compelling_evidence_3: bool = False


Found = dict[str, Fact | Gap]
Source = Callable[[Scope], Found]


@dataclass(frozen=True)
class Registered:
    name: str
    priority: int
    read: Source


SOURCES: dict[str, Registered] = {}


def source(name: str, priority: int = 50) -> Callable[[Source], Source]:
    """Register ``read`` as the evidence source ``name``; registering a name again replaces it."""

    def register(read: Source) -> Source:
        SOURCES[name] = Registered(name, priority, read)
        return read

    return register


@dataclass
class Gathered:
    facts: dict[str, Fact] = field(default_factory=dict)
    gaps: dict[str, Gap] = field(default_factory=dict)


def gather(scope: Scope) -> Gathered:
    """Every source's findings; the first fact per name (by priority, then name) wins."""
    out = Gathered()
    for registered in sorted(SOURCES.values(), key=lambda r: (r.priority, r.name)):
        for name, found in registered.read(scope).items():
            if isinstance(found, Fact):
                if name not in out.facts and found.text.strip():
                    out.facts[name] = found
            elif name not in out.gaps:
                out.gaps[name] = found
    for name in out.facts:
        out.gaps.pop(name, None)
    return out
