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
``POST _admin/app {"client_secret"}``.
"""
from __future__ import annotations

from typing import Any

from fastapi import Body
from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.kit.webhooks import subscribe
from sandbox.shopify.shop import ShopState, errors, kit, not_found, pages, ts

DEFAULT_CLIENT_SECRET = "shpss_sandbox"
#: Topics a subscription may name (those the stand-in delivers, and a few more of the documented list).
TOPICS = frozenset({"inventory_levels/update", "inventory_levels/connect", "inventory_levels/disconnect",
                    "orders/create", "orders/updated", "orders/cancelled", "products/create", "products/update",
                    "products/delete", "app/uninstalled"})


def client_secret(state: ShopState) -> str:
    return str(getattr(state, "app_client_secret", DEFAULT_CLIENT_SECRET))


def _api_hooks(state: ShopState) -> list[dict[str, Any]]:
    return [hook for hook in state.webhooks if hook.get("via") == "api"]


def webhook_json(hook: dict[str, Any]) -> dict[str, Any]:
    return {"id": hook["id"], "address": hook["address"], "topic": hook["topics"][0], "format": hook["format"],
            "fields": [], "metafield_namespaces": [], "private_metafield_namespaces": [],
            "api_version": hook["api_version"], "created_at": hook["created_at"], "updated_at": hook["created_at"],
            "admin_graphql_api_id": f"gid://shopify/WebhookSubscription/{hook['id']}"}


def _matching(call: Call[ShopState], filters: dict[str, str]) -> list[dict[str, Any]]:
    return [hook for hook in _api_hooks(call.state)
            if (not filters.get("address") or hook["address"] == filters["address"])
            and (not filters.get("topic") or hook["topics"][0] == filters["topic"])]


@kit.api.get("/webhooks.json")
def list_webhooks(call: Call[ShopState] = kit.call) -> Response:
    cursor = pages.open(call, "webhooks")
    with call.state.lock:
        hooks = {hook["id"]: hook for hook in _matching(call, cursor.filters)}
        return pages.answer(call, "webhooks", sorted(hooks), lambda key: webhook_json(hooks[key]), cursor)


@kit.api.get("/webhooks/count.json")
def count_webhooks(call: Call[ShopState] = kit.call) -> Response:
    with call.state.lock:
        return call.reply({"count": len(_matching(call, call.query))})


@kit.api.post("/webhooks.json")
def create_webhook(call: Call[ShopState] = kit.call) -> Response:
    spec = call.body.get("webhook") if isinstance(call.body, dict) else None
    if not isinstance(spec, dict):
        raise call.refuse(errors({"webhook": "Required parameter missing or invalid"}), 400)
    topic, address, form = spec.get("topic"), spec.get("address"), spec.get("format", "json")
    problems: dict[str, list[str]] = {}
    if not topic:
        problems["topic"] = ["can't be blank"]
    elif topic not in TOPICS:
        problems["topic"] = [f"Invalid topic specified. Topics allowed: {', '.join(sorted(TOPICS))}"]
    if not address:
        problems["address"] = ["can't be blank"]
    if form not in ("json", "xml"):
        problems["format"] = ["is not included in the list"]
    state = call.state
    with state.lock:
        if not problems and any(hook["address"] == address and hook["topics"][0] == topic
                                for hook in _api_hooks(state)):
            problems["address"] = ["for this topic has already been taken"]
        if problems:
            raise call.refuse(errors(problems), 422)
        hook = subscribe(state, {"address": address, "topic": topic, "secret": client_secret(state)}, via="api",
                         format=form, api_version=call.path_param("version"), created_at=ts(state.now()))
        return call.reply({"webhook": webhook_json(hook)}, 201)


def _find(call: Call[ShopState], webhook_id: int) -> dict[str, Any]:
    hook = next((h for h in _api_hooks(call.state) if h["id"] == webhook_id), None)
    if hook is None:
        raise not_found(call)
    return hook


@kit.api.get("/webhooks/{webhook_id}.json")
def get_webhook(webhook_id: int, call: Call[ShopState] = kit.call) -> Response:
    with call.state.lock:
        return call.reply({"webhook": webhook_json(_find(call, webhook_id))})


@kit.api.delete("/webhooks/{webhook_id}.json")
def delete_webhook(webhook_id: int, call: Call[ShopState] = kit.call) -> Response:
    with call.state.lock:
        call.state.webhooks.remove(_find(call, webhook_id))
        return call.reply({})


@kit.admin.post("/app")
def app_settings(state: ShopState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """The app's API secret key (client secret), which signs the deliveries of API subscriptions."""
    with state.lock:
        if "client_secret" in payload:
            setattr(state, "app_client_secret", str(payload["client_secret"]))
        return {"client_secret_set": client_secret(state) != DEFAULT_CLIENT_SECRET}
