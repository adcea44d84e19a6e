"""The stand-in kit: what every platform stand-in shares, so each one is mostly declarations.

A stand-in module declares one :class:`~sandbox.kit.standin.StandIn` (where it is served, its
state, its auth, rate limit, error body and how it delivers webhooks) and its endpoints, declared
one a line on :class:`~sandbox.kit.endpoints.Endpoints` or written as module-level functions on
``kit.api`` / ``kit.admin``; ``install = kit.install`` is what ``sandbox.app`` calls. The parts:
``standin`` (the call pipeline: request log, faults, auth, limit, webhooks emitted by a request;
admin faults, log, clock, webhook list, redelivery), ``faults`` and ``instances`` (what it builds
on: injected faults, per-instance state and its request log), ``endpoints`` (reads, lists and
writes answered under the instance's lock, refusals from the platform's table, webhooks after the
lock), ``auth``, ``pages``, ``limits``, ``webhooks`` (signed headers as templates), ``errors`` (the
platforms' error body styles), ``resources`` (declared collections: filters, sorting, reads, id
lists), ``validation`` (request checks as rules, first error or every field), ``admin`` (config,
seed, stock changes, checkouts, state views, actions), ``records`` (a catalog state: products in
a lazy catalog, orders, one id sequence), ``catalog``, ``locations``, ``money`` (cents and
amounts), ``ledger`` (what was paid and given back per payment and line, refund caps and lines,
issued codes, refusals as a table), ``fixtures`` (resource JSON as data files with holes),
``subscriptions`` (webhook subscriptions served through the platform's API, in either error
style), ``inventory`` and ``dates`` (stock status words, site-local and UTC dates) and ``pricing``
(line subtotals and order-level discounts declared as data) and ``odata`` (OData collections:
``$filter``, ``$select``, ``$orderby``, ``$top``/``$skip``, paging by ``Prefer: odata.maxpagesize``
and a next link), ``graphql`` (a query parsed and answered with only the fields it asks for) and
``store_returns`` (returns a shop keeps: requested and moved in its admin, sent as webhooks, read
back through GraphQL).
Every name a stand-in declares with is importable from here (``from sandbox.kit import Collection,
Rule, StandIn``), so a platform module names what it uses, not where the kit keeps it.
How to write one: docs/sandbox.md.
"""

from sandbox.kit.standin import Answer, Call, Events, Json, KitState, Limit, StandIn
from sandbox.kit.admin import (Seed, Setting, add_action, add_checkout, add_config, add_connect, add_fulfillment,
                               add_item_state, add_secret, add_seed, add_set_stock, add_state_view, known, plain,
                               reset)
from sandbox.kit.auth import BearerToken, HeaderToken, KeyAndSecret
from sandbox.kit.catalog import Batch, LazyCatalog
from sandbox.kit.dates import SiteDates
from sandbox.kit.endpoints import Endpoints, Refuse, answering, answers
from sandbox.kit.errors import (errors, errors_invalid, errors_schema, wp_body, wp_error, wp_invalid, wp_required,
                                wp_schema)
from sandbox.kit.faults import Fault, answering_fault, any_fault, retry_headers
from sandbox.kit.fixtures import Fixtures
from sandbox.kit.inventory import StockStatus
from sandbox.kit.ledger import (FALSY, Codes, Context, Field, Issued, Ledger, Refusal, Refusals, an_object,
                                asked_lines, found, read, read_each, shown)
from sandbox.kit.limits import Bucket, LeakyBucket, Window, WindowLimit, ratelimit_headers, retry_at_date
from sandbox.kit.locations import Locations
from sandbox.kit.money import to_cents, to_money
from sandbox.kit.oauth1 import OAuth1
from sandbox.kit.pages import FirstPage, LinkCursor, NumberedPages, OffsetPages, VersionPages, only_fields
from sandbox.kit.pricing import Discounts, fixed_amount, percentage, subtotal
from sandbox.kit.records import CatalogRecords, CatalogState, add_order_view, changed_since
from sandbox.kit.resources import (Collection, Filter, IdLists, Sorting, equals, ids, in_list, instant, positions,
                                   since, since_id)
from sandbox.kit.store_returns import add_returns
from sandbox.kit.subscriptions import Subscriptions, optional, web_url
from sandbox.kit.validation import (MISSING, FieldErrors, Rule, Schema, decimal, exists, given, is_object,
                                    list_of_objects, non_empty_list, number, one_of, parses, present, required,
                                    whole_at_least)
from sandbox.kit.webhooks import Signed, post, send, subscribe, subscribers

__all__ = ["add_returns", "add_secret",
           "Answer", "Batch", "BearerToken", "Bucket", "Call", "CatalogRecords", "CatalogState", "Codes",
           "Collection", "Context", "Discounts", "Endpoints", "Events", "FALSY", "Fault", "Field", "FieldErrors",
           "Filter", "FirstPage", "Fixtures", "HeaderToken", "IdLists", "Issued", "Json",
           "KeyAndSecret", "KitState", "LazyCatalog", "LeakyBucket", "Ledger", "Limit", "LinkCursor", "Locations",
           "MISSING", "NumberedPages", "OAuth1", "OffsetPages", "Refusal", "Refusals", "Refuse", "Rule", "Schema",
           "Seed", "Setting", "Signed", "SiteDates", "Sorting", "StandIn", "StockStatus", "Subscriptions",
           "VersionPages", "Window", "WindowLimit", "add_action", "add_checkout", "add_config", "add_item_state", "add_order_view",
           "add_seed", "add_set_stock", "add_state_view", "an_object", "answering", "answering_fault", "answers",
           "any_fault", "asked_lines", "changed_since", "decimal", "equals", "errors", "errors_invalid",
           "errors_schema", "exists", "fixed_amount", "found", "given", "ids", "in_list", "instant", "is_object",
           "known", "list_of_objects", "non_empty_list", "number", "one_of", "only_fields", "optional", "parses",
           "percentage", "plain", "positions", "post", "present", "read", "read_each", "required", "reset",
           "retry_headers", "send", "shown", "since", "since_id", "subscribe", "subscribers", "subtotal",
           "to_cents", "to_money", "web_url", "whole_at_least", "wp_body", "wp_error", "wp_invalid", "wp_required",
           "wp_schema", "ratelimit_headers", "retry_at_date"]
