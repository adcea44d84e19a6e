"""WooCommerce's webhook endpoints: ``/wp-json/wc/v3/webhooks`` list, create, read, update, delete.

As the REST API v3 documents them (https://developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/):
a webhook has ``name``, ``status`` (``active``, ``paused``, ``disabled``), ``topic``
(``resource.event``, e.g. ``product.updated``), ``resource``, ``event``, ``hooks``,
``delivery_url`` and a write-only ``secret`` (never listed) that signs each delivery;
``POST webhooks`` needs ``topic`` and ``delivery_url`` (400 ``rest_missing_callback_param``
otherwise) and answers 201; creating one pings its URL (``webhook_id=N``); ``DELETE``
needs ``force=true`` (webhooks have no trash: 501 ``woocommerce_rest_trash_not_supported``).
Errors follow the webhooks controller, whose codes carry the post type ``shop_webhook``
(``woocommerce_rest_shop_webhook_invalid_topic``, ``…_invalid_delivery_url``, ``…_invalid_id``: 404
"Invalid ID." on delete, 400 "ID is invalid." on read and update), and a secret not given is
generated (``wp_generate_password``). The endpoints are ``sandbox.kit.subscriptions``'; this
module declares WooCommerce's fields, rules (WordPress's first-error style), rendering and refusals:
https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/rest-api/Controllers/Version1/class-wc-rest-webhooks-v1-controller.php
"""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sandbox.kit import Rule, Subscriptions, one_of, optional, web_url, wp_required
from sandbox.woocommerce.site import SiteState, deliver_ping, error, fixture, kit, pages, schema

#: ``resource.event`` topics the core knows (custom ``action.*`` topics are not modelled).
TOPICS = tuple(f"{resource}.{event}" for resource in ("coupon", "customer", "order", "product")
               for event in ("created", "updated", "deleted", "restored"))
STATUSES = ("active", "paused", "disabled")
BAD_URL = ("woocommerce_rest_shop_webhook_invalid_delivery_url",
           "Webhook delivery URL must be a valid URL starting with http:// or https://.")


def rules(topic_error: str) -> tuple[Rule, ...]:
    """The controller's checks in its order; a create also needs ``topic`` and ``delivery_url``."""
    return (Rule("topic", optional(TOPICS.__contains__), ("woocommerce_rest_shop_webhook_invalid_topic", topic_error),
                 400),
            Rule("delivery_url", optional(web_url), BAD_URL, 400),
            Rule("status", one_of(STATUSES), ("rest_invalid_param", "Invalid parameter(s): status"), 400))


def new_webhook(state: SiteState, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A secret (``wp_generate_password`` when none is given), the status and a dated name."""
    return {"secret": str(body.get("secret") or secrets.token_urlsafe(38)), "status": body.get("status", "active"),
            "name": str(body.get("name") or f"Webhook created on {now:%b %d, %Y @ %I:%M %p}")}


Subscriptions(
    lambda hook: fixture.fill("webhook", hook, resource=hook["topic"].partition(".")[0],
                              event=hook["topic"].partition(".")[2]), pages,
    {"name": "name", "status": "status", "secret": "secret", "delivery_url": "address", "topic": "topic"},
    create=schema(wp_required("topic", "delivery_url"), *rules("Webhook topic is required and must be valid.")),
    update=schema(*rules("Webhook topic must be valid.")), new=new_webhook,
    unknown=lambda deleting: error("webhook:gone" if deleting else "webhook:unknown"),
    delete_guard=lambda query: None if query.get("force") in ("true", "1") else error("webhook:trash"),
    created=deliver_ping, filters=("status",)).serve(kit, "/webhooks")
