"""The stand-in kit: what every platform stand-in shares, so each one is mostly declarations.

A stand-in module declares one :class:`~sandbox.kit.standin.StandIn` (where it is served, its
state, its auth, rate limit and error body) and writes each endpoint as a module-level function
on ``kit.api`` or ``kit.admin``; ``install = kit.install`` is what ``sandbox.app`` calls. The
parts: ``standin`` (the call pipeline: request log, faults, auth, limit; admin faults, log,
clock, webhook list, redelivery), ``faults`` and ``instances`` (what it builds on: injected faults,
per-instance state and its request log), ``auth``, ``pages``, ``limits``, ``webhooks`` (signed headers as
templates), ``errors`` (the platforms' error body styles), ``resources`` (declared collections:
filters, sorting, reads), ``validation`` (request checks as rules), ``admin`` (config, seed, stock
changes, checkouts, state views), ``catalog``, ``locations``, ``money`` (cents and amounts) and
``ledger`` / ``ledger_endpoints`` (what was paid and given back per payment and line, refund caps,
issued codes, refusals as a table, endpoints that answer under the instance's lock), ``fixtures``
(resource JSON as data files with holes), ``subscriptions`` (webhook subscriptions served through
the platform's API), ``pricing`` (line subtotals and order-level discounts declared as data) and
``odata`` (OData collections: ``$filter``, ``$select``, ``$orderby``, ``$top``/``$skip``, paging by
``Prefer: odata.maxpagesize`` and a next link).
How to write one: docs/sandbox.md.
"""
from sandbox.kit.standin import Answer, Call, KitState, Limit, StandIn

__all__ = ["Answer", "Call", "KitState", "Limit", "StandIn"]
