"""X-Series' webhook endpoints: ``/api/2.0/webhooks`` list, create, read, update, delete.

As the Webhooks reference documents them (the date-versioned API serves the same resource,
https://x-series-api.lightspeedhq.com/v2026.01/reference/post-webhooks; the ``webhooks`` scope):
a webhook is ``{"id", "retailer_id", "url", "type", "active"}`` with one ``type`` of
``sale.update``, ``product.update``, ``customer.update``, ``inventory.update``,
``register_closure.create``, ``consignment.send``, ``consignment.receive``; ``GET`` lists every
one under ``data`` (no paging parameters); ``POST`` and ``PUT /{id}`` take ``url`` (at least 3
characters), ``type`` and ``active``, all three required; a create answers 201 ``{"data": …}``
and a second webhook of the same type to the same URL is refused 409 ``{"error": …}``; an id
that is not there is 404 ``{"error": "Not Found"}``. The API takes no secret: deliveries are
signed with the app's client secret (https://x-series-api.lightspeedhq.com/docs/webhooks). The
400 body for a field the reference requires is this stand-in's (``{"error": …}``, the 409's shape).
The endpoints are ``sandbox.kit.subscriptions``'; this module declares X-Series' fields and rules.
"""
from __future__ import annotations

from sandbox.kit.pages import Whole
from sandbox.kit.subscriptions import Subscriptions
from sandbox.kit.validation import Rule, Schema
from sandbox.lightspeed.retailer import _uuid, kit

TYPES = ("sale.update", "product.update", "customer.update", "inventory.update", "register_closure.create",
         "consignment.send", "consignment.receive")
REQUIRED = (Rule("url", lambda url, _, s: isinstance(url, str) and len(url) >= 3, "url needs 3 characters", 400),
            Rule("type", lambda kind, _, s: kind in TYPES, f"type must be one of {', '.join(TYPES)}", 400),
            Rule("active", lambda active, _, s: isinstance(active, bool), "active must be true or false", 400))


def schema(*rules: Rule) -> Schema:
    return Schema((*REQUIRED, *rules), lambda field, message, status: {"error": message})


Subscriptions(
    lambda hook: {"id": str(hook["id"]), "retailer_id": hook["retailer_id"], "url": hook["address"],
                  "type": hook["topics"][0], "active": hook["active"]},
    Whole("data"), {"url": "address", "type": "topic", "active": "active"},
    create=schema(Rule("", lambda body, _, state: not any(  # one webhook per (type, URL)
        hook.get("via") == "api" and (hook["address"], hook["topics"]) == (body.get("url"), [body.get("type")])
        for hook in state.webhooks), "A webhook with this type and URL already exists.", 409)),
    update=schema(), new=lambda state, body, now: {"secret": None, "retailer_id": _uuid(state.name, "retailer")},
    unknown=lambda deleting: ({"error": "Not Found"}, 404), wrapper="data").serve(kit, "/2.0/webhooks")
