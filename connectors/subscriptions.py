"""Webhook subscriptions registered through a platform's API, found again on a second run.

``backorders stores connect`` makes sure the store calls ``{PUBLIC_BASE_URL}/webhooks/{store}``
for every topic the connector reads, and only creates what is missing: a subscription to our
address for a topic is found by listing first, so connecting twice changes nothing.

* Shopify Admin REST ``webhooks.json``: ``GET`` lists the app's subscriptions (``address``,
  ``topic``), ``POST {"webhook": {"topic", "address", "format": "json"}}`` creates one
  (https://shopify.dev/docs/api/admin-rest/latest/resources/webhook). Shopify takes no secret: it
  signs every delivery with the app's API secret key (client secret)
  (https://shopify.dev/docs/apps/build/webhooks/verify-deliveries), so
  that key is the store's webhook secret.
* WooCommerce REST ``/wp-json/wc/v3/webhooks``: ``GET`` lists (``topic``, ``delivery_url``,
  ``status``), ``POST {"name", "topic", "delivery_url", "secret", "status"}`` creates, ``PUT
  webhooks/{id}`` updates (https://developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/). The
  secret is ours to choose and is write-only (never listed), so a subscription found without a
  secret we hold is given ours again with ``PUT``; one paused or disabled is set ``active``.
* Lightspeed Retail (X-Series) ``/api/2.0/webhooks`` (the ``webhooks`` scope): ``GET`` lists the
  retailer's webhooks under ``data`` (``id``, ``url``, ``type``, ``active``), ``POST {"url",
  "type", "active"}`` creates one (201; 409 when that type already goes to that URL), ``PUT
  webhooks/{id}`` with the same three fields updates one; one webhook is one ``type``
  (https://x-series-api.lightspeedhq.com/v2026.01/reference/post-webhooks, the date-versioned
  reference of the same resource). Deliveries are form-encoded POSTs whose ``payload`` field holds
  the API 1.0 object, signed ``X-Signature`` with the app's client secret
  (https://x-series-api.lightspeedhq.com/docs/webhooks): the API takes no secret, so the client
  secret is the store's webhook secret, as with Shopify. A webhook found inactive is switched on.
  ``inventory.update``, ``product.update`` and ``sale.update`` are asked for: a sale rung up is
  demand (``connectors.lightspeed``) besides the inventory it lowers.
* BigCommerce ``/v3/hooks``: ``GET`` lists the app's hooks (``scope``, ``destination``,
  ``headers``, ``is_active``), ``POST {"scope", "destination", "is_active", "headers"}`` creates
  one, ``PUT hooks/{id}`` updates it (https://developer.bigcommerce.com/docs/webhooks/webhooks).
  Nothing is signed: the custom ``headers`` are sent back with every delivery
  (https://developer.bigcommerce.com/docs/integrations/webhooks#security), so our secret travels
  in one we choose and is read back from the listing; a hook found with another value, or
  deactivated (BigCommerce deactivates a hook after 48 hours of failed deliveries), is mended with
  ``PUT``. BigCommerce only delivers to ``https`` on port 443: ``PUBLIC_BASE_URL`` must be that.
* Zoho Inventory sends webhooks from workflow rules the operator sets up in Zoho (Settings →
  Automation → Workflow Actions → Webhooks, https://www.zoho.com/books/kb/automation/create-webhook.html);
  there is no API to register them, so ``connect`` only generates the secret the webhook must send
  in a custom header and names the address.
* Cin7 Core ``/ExternalApi/v2/webhooks`` (the Automation module): ``GET`` lists them under
  ``Webhooks`` (``ID``, ``Type``, ``ExternalURL``, ``IsActive``, ``ExternalHeaders``), ``POST``
  creates one, ``PUT`` (the ``ID`` in the body) updates one (https://dearinventory.docs.apiary.io/#reference/webhooks).
  Nothing is signed: our secret and the type travel in ``ExternalHeaders`` we set, and a webhook
  Cin7 deactivated (after six failed retries) or holding another secret is mended with ``PUT``.
* Magento Open Source has no webhooks and no registration API; Adobe Commerce's Webhooks module
  (``POST /V1/webhooks/subscribe``) signs with an RSA key pair
  (https://developer.adobe.com/commerce/extensibility/webhooks/signature-verification/), not the
  HMAC a store's own observer module sends us, so a Magento store is connected by hand (``WHY_NOT``).
* Business Central ``/api/v2.0/subscriptions``: subscriptions that take a validation handshake and
  expire after three days; the connector creates, renews or finds them itself
  (``connectors.notification_subscriptions``, :class:`Validated`), with a client state we generate,
  to ``/webhooks/{store}/notifications`` (:data:`NOTIFICATION_PATHS`, :func:`address`); each
  :class:`Subscription` says when it expires, and a timer row renews it
  (``domain.stock.subscription_renewals``).
* Airtable ``/v0/bases/{baseId}/webhooks``: the connector lists, refreshes (seven more days) or
  creates the base's webhook itself (``connectors.airtable``); Airtable makes the MAC secret and
  shows it once, on creation (:data:`PLATFORM_SECRET`): it comes back on the :class:`Subscription`
  and ``stores connect`` (or the renewal that had to create it again) keeps it as the store's
  webhook secret.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from connectors.base import MetaPaginationPaginator, PageNumberPaginator, Stream, shopify_link_paginator
from connectors.bigcommerce import KINDS as BIGCOMMERCE_KINDS
from connectors.bigcommerce import SECRET_HEADER as BIGCOMMERCE_SECRET_HEADER
from connectors.cin7_core import SECRET_HEADER as CIN7_SECRET_HEADER
from connectors.cin7_core import TOPIC_HEADER as CIN7_TOPIC_HEADER
from connectors.cin7_core import TOPICS as CIN7_TOPICS
from connectors.errors import PermanentError
from connectors.http import RestConnector

#: Topics each platform is asked for: the ones its connector reads (``webhooks.kinds``).
TOPICS: dict[str, tuple[str, ...]] = {
    "shopify": ("inventory_levels/update", "inventory_levels/connect", "inventory_levels/disconnect", "orders/create",
                "orders/fulfilled", "orders/partially_fulfilled", "products/update", "refunds/create",
                "returns/request", "returns/approve", "returns/decline", "returns/cancel", "returns/close",
                "returns/reopen", "returns/update"),
    "woocommerce": ("product.created", "product.updated", "order.created"),
    "lightspeed": ("inventory.update", "product.update", "sale.update"),
    "bigcommerce": tuple(BIGCOMMERCE_KINDS),
    "cin7_core": CIN7_TOPICS,
}
#: Platforms whose subscriptions carry a secret we generate (else the platform's app secret signs).
GENERATED_SECRET = frozenset({"woocommerce", "bigcommerce", "business_central", "zoho_inventory", "cin7_core"})
#: Platforms that make the signing secret themselves when a subscription is created (kept from it).
PLATFORM_SECRET = frozenset({"airtable"})
#: Where the operator finds the secret a platform signs with, when it is not ours to choose.
APP_SECRET = {"shopify": "the app's API secret key", "lightspeed": "the OAuth app's client secret"}


#: Why a platform's webhooks are not registered here, when it is for a reason of its own.
WHY_NOT: dict[str, str] = {
    "magento": "Magento has no webhook registration API out of the box: have the store's observer module post "
               "to this address, signed as docs/connectors.md (Magento) shows",
}


class SubscriptionsUnsupported(PermanentError):
    """The platform's webhooks are registered in its admin, not through this command."""


@dataclass(frozen=True)
class Subscription:
    """One topic delivered to one address, and what this run did about it."""

    external_id: str
    topic: str
    address: str
    outcome: str  # "found", "created", "updated", "renewed"
    #: When the platform drops it unless renewed (Business Central: three days); None: never.
    expires_at: datetime | None = None
    #: A signing secret the platform made for it and shows once (Airtable's ``macSecretBase64``):
    #: ``stores connect`` keeps it as the store's webhook secret.
    secret: str | None = None


class Validated(Protocol):
    """A connector whose subscriptions take a validation handshake and expire
    (``connectors.notification_subscriptions``): it creates, renews or finds them itself."""

    def ensure_subscriptions(self, address: str, secret: str | None, secret_is_new: bool) -> list[Subscription]:
        ...


SHOPIFY_WEBHOOKS = Stream(path="webhooks.json", records="webhooks", paginator=shopify_link_paginator(),
                          page_size_param="limit")
WOO_WEBHOOKS = Stream(path="webhooks", records="$", paginator=PageNumberPaginator(), page_size_param="per_page")
BIGCOMMERCE_HOOKS = Stream(path="v3/hooks", records="data", paginator=MetaPaginationPaginator(), page_size_param="limit")


def _shopify(connector: RestConnector, address: str, secret: str | None, secret_is_new: bool) -> list[Subscription]:
    existing = {(hook["topic"], hook["address"]): hook for hook in connector.records(SHOPIFY_WEBHOOKS)}
    out = []
    for topic in TOPICS["shopify"]:
        found = existing.get((topic, address))
        if found is not None:
            out.append(Subscription(str(found["id"]), topic, address, "found"))
            continue
        hook, _ = connector.send("POST", "webhooks.json", {"webhook": {"topic": topic, "address": address,
                                                                        "format": "json"}}, "webhook")
        out.append(Subscription(str(hook["id"]), topic, address, "created"))
    return out


def _woocommerce(connector: RestConnector, address: str, secret: str | None, secret_is_new: bool
                 ) -> list[Subscription]:
    if not secret:
        raise ValueError("a WooCommerce webhook needs a secret")
    existing = {(hook["topic"], hook["delivery_url"]): hook for hook in connector.records(WOO_WEBHOOKS)}
    out = []
    for topic in TOPICS["woocommerce"]:
        found = existing.get((topic, address))
        if found is None:
            body = {"name": f"Backorder Automator {topic}", "topic": topic, "delivery_url": address,
                    "secret": secret, "status": "active"}
            hook, _ = connector.send("POST", "webhooks", body)
            out.append(Subscription(str(hook["id"]), topic, address, "created"))
            continue
        changes: dict[str, Any] = {}
        if secret_is_new:
            changes["secret"] = secret  # write-only there: ours is the one it must sign with
        if found.get("status") != "active":
            changes["status"] = "active"
        if changes:
            connector.send("PUT", f"webhooks/{found['id']}", changes)
        out.append(Subscription(str(found["id"]), topic, address, "updated" if changes else "found"))
    return out


def _lightspeed(connector: RestConnector, address: str, secret: str | None, secret_is_new: bool
                ) -> list[Subscription]:
    existing = {(hook["type"], hook["url"]): hook for hook in (connector.get_json("webhooks") or {}).get("data", [])}
    out = []
    for topic in TOPICS["lightspeed"]:
        body, found = {"url": address, "type": topic, "active": True}, existing.get((topic, address))
        if found is None:
            hook, _ = connector.send("POST", "webhooks", body, "data")
            out.append(Subscription(str(hook["id"]), topic, address, "created"))
        elif not found.get("active", True):
            connector.send("PUT", f"webhooks/{found['id']}", body)  # every field is required on update
            out.append(Subscription(str(found["id"]), topic, address, "updated"))
        else:
            out.append(Subscription(str(found["id"]), topic, address, "found"))
    return out


def _validated(connector: RestConnector, address: str, secret: str | None, secret_is_new: bool
               ) -> list[Subscription]:
    return cast(Validated, connector).ensure_subscriptions(address, secret, secret_is_new)


def _bigcommerce(connector: RestConnector, address: str, secret: str | None, secret_is_new: bool
                 ) -> list[Subscription]:
    if not secret:
        raise ValueError("a BigCommerce webhook needs a secret for its header")
    existing = {(hook["scope"], hook["destination"]): hook for hook in connector.records(BIGCOMMERCE_HOOKS)}
    headers = {BIGCOMMERCE_SECRET_HEADER: secret}
    out = []
    for topic in TOPICS["bigcommerce"]:
        found = existing.get((topic, address))
        if found is None:
            hook, _ = connector.send("POST", "v3/hooks", {"scope": topic, "destination": address, "is_active": True,
                                                          "headers": headers}, "data")
            out.append(Subscription(str(hook["id"]), topic, address, "created"))
            continue
        changes: dict[str, Any] = {}
        if (found.get("headers") or {}).get(BIGCOMMERCE_SECRET_HEADER) != secret:
            changes["headers"] = {**(found.get("headers") or {}), **headers}
        if not found.get("is_active"):
            changes["is_active"] = True
        if changes:
            connector.send("PUT", f"v3/hooks/{found['id']}", changes, "data")
        out.append(Subscription(str(found["id"]), topic, address, "updated" if changes else "found"))
    return out


def _zoho_inventory(connector: RestConnector, address: str, secret: str | None, secret_is_new: bool
                    ) -> list[Subscription]:
    """Nothing to call: Zoho's workflow webhooks are set up in Zoho by the operator (its API has no
    endpoint for them), with the secret we generate in the ``X-Backorders-Secret`` header
    (docs/connect-a-store.md, "Zoho Inventory")."""
    if not secret:
        raise ValueError("a Zoho Inventory webhook needs a secret for its header")
    return [Subscription("", "items (a workflow rule's webhook, set up in Zoho)", address, "to set up in Zoho")]


def _cin7_core(connector: RestConnector, address: str, secret: str | None, secret_is_new: bool
               ) -> list[Subscription]:
    if not secret:
        raise ValueError("a Cin7 Core webhook needs a secret for its header")
    existing = {(hook["Type"], hook["ExternalURL"]): hook for hook in (connector.get_json("webhooks") or {}).get(
        "Webhooks", [])}
    out = []
    for topic in TOPICS["cin7_core"]:
        headers = [{"Key": CIN7_SECRET_HEADER, "Value": secret}, {"Key": CIN7_TOPIC_HEADER, "Value": topic}]
        found = existing.get((topic, address))
        if found is None:
            hook, _ = connector.send("POST", "webhooks", {"Type": topic, "IsActive": True, "ExternalURL": address,
                                                          "ExternalAuthorizationType": "noauth",
                                                          "ExternalHeaders": headers})
            out.append(Subscription(str(hook["ID"]), topic, address, "created"))
        elif not found.get("IsActive") or found.get("ExternalHeaders") != headers:
            connector.send("PUT", "webhooks", {**found, "IsActive": True, "ExternalHeaders": headers})
            out.append(Subscription(str(found["ID"]), topic, address, "updated"))
        else:
            out.append(Subscription(str(found["ID"]), topic, address, "found"))
    return out


REGISTRARS = {"shopify": _shopify, "woocommerce": _woocommerce, "lightspeed": _lightspeed,
              "bigcommerce": _bigcommerce, "business_central": _validated, "zoho_inventory": _zoho_inventory,
              "cin7_core": _cin7_core, "airtable": _validated}
#: Platforms whose notifications come to their own path (a validation handshake, one row per
#: notification: ``workers.notifications``) rather than ``/webhooks/{store}``.
NOTIFICATION_PATHS = {"business_central": "/webhooks/{store}/notifications"}


def address(platform: str, public_base_url: str, store_key: str) -> str:
    """Where the platform is asked to deliver a store's webhooks."""
    path = NOTIFICATION_PATHS.get(platform, "/webhooks/{store}").format(store=store_key)
    return f"{public_base_url.rstrip('/')}{path}"


def ensure(connector: Any, address: str, secret: str | None, secret_is_new: bool) -> list[Subscription]:
    """Every topic of the platform delivered to ``address``; created or mended only where missing.
    ``secret_is_new``: the secret was generated by this run, so any subscription found was signing
    with another one."""
    platform = getattr(connector, "platform", "")
    if platform not in REGISTRARS or not isinstance(connector, RestConnector):
        why = WHY_NOT.get(platform, "register its webhooks in its admin (docs/connect-a-store.md)")
        raise SubscriptionsUnsupported(f"{platform or 'this platform'}: {why}; the address is {address}")
    return REGISTRARS[platform](connector, address, secret, secret_is_new)
