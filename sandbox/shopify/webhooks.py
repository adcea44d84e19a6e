"""Shopify's webhook subscription endpoints: ``webhooks.json`` list, create, count, read, delete.

As the Admin REST webhook resource documents it
(https://shopify.dev/docs/api/admin-rest/latest/resources/webhook): ``POST webhooks.json`` with
``{"webhook": {"topic", "address", "format"}}`` answers 201 with the subscription; the same topic
to the same address again is refused 422 ``{"errors": {"address": ["for this topic has already
been taken"]}}``; ``GET webhooks.json`` takes ``address``, ``topic`` and ``limit`` and lists only
the subscriptions made through the API (those made in the Shopify admin — here
``_admin/webhooks`` — are not returned). Shopify takes no per-subscription secret: deliveries are
signed with the app's API secret key (client secret)
(https://shopify.dev/docs/apps/build/webhooks/verify-deliveries), set per instance with
``POST _admin/app {"client_secret"}``. The resource itself is ``sandbox.kit.subscriptions``'s.
"""
from __future__ import annotations

from typing import Any

from fastapi import Body

from sandbox.kit.subscriptions_rails import Check, Subscriptions
from sandbox.shopify.shop import DEFAULT_CLIENT_SECRET, MISSING_PARAM, ShopState, errors, fixtures, kit, pages, ts

#: Topics a subscription may name (those the stand-in delivers, and a few more of the documented list).
TOPICS = frozenset({"inventory_levels/update", "inventory_levels/connect", "inventory_levels/disconnect",
                    "orders/create", "orders/updated", "orders/cancelled", "products/create", "products/update",
                    "products/delete", "app/uninstalled"})
subscriptions = Subscriptions(
    pages, render=lambda hook: fixtures.fill("webhook", hook, topic=hook["topics"][0]),
    checks=(Check("topic", lambda spec: bool(spec.get("topic")), "can't be blank"),
            Check("topic", lambda spec: spec["topic"] in TOPICS,
                  f"Invalid topic specified. Topics allowed: {', '.join(sorted(TOPICS))}"),
            Check("address", lambda spec: bool(spec.get("address")), "can't be blank"),
            Check("format", lambda spec: spec.get("format", "json") in ("json", "xml"), "is not included in the list")),
    taken=Check("address", bool, "for this topic has already been taken"),
    refuse=lambda problems: (422, errors(problems)), missing=(400, errors({"webhook": MISSING_PARAM})),
    not_found=lambda: errors("Not Found"), secret=lambda state: state.client_secret,
    made=lambda call, spec: {"format": spec.get("format", "json"), "api_version": call.path_param("version"),
                             "created_at": ts(call.state.now())})
subscriptions.serve(kit, "/webhooks", ".json")


@kit.admin.post("/app")
def app_settings(state: ShopState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """The app's API secret key (client secret), which signs the deliveries of API subscriptions."""
    with state.lock:
        state.client_secret = str(payload.get("client_secret", state.client_secret))
        return {"client_secret_set": state.client_secret != DEFAULT_CLIENT_SECRET}
