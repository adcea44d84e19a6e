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
generated (``wp_generate_password``):
https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/rest-api/Controllers/Version1/class-wc-rest-webhooks-v1-controller.php
"""
from __future__ import annotations

import secrets
from typing import Any

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.kit.webhooks import subscribe
from sandbox.woocommerce.site import SiteState, deliver_ping, gmt, kit, local, pages, refused, wp_error

#: ``resource.event`` topics the core knows (custom ``action.*`` topics are not modelled).
RESOURCES = ("coupon", "customer", "order", "product")
EVENTS = ("created", "updated", "deleted", "restored")
STATUSES = ("active", "paused", "disabled")


def _hooks(state: SiteState) -> list[dict[str, Any]]:
    return [hook for hook in state.webhooks if hook.get("via") == "api"]


def webhook_json(hook: dict[str, Any]) -> dict[str, Any]:
    topic = hook["topics"][0]
    resource, _, event = topic.partition(".")
    return {"id": hook["id"], "name": hook["name"], "status": hook["status"], "topic": topic, "resource": resource,
            "event": event, "hooks": [f"woocommerce_{resource}_{event}"], "delivery_url": hook["address"],
            "date_created": local(hook["created"]), "date_created_gmt": gmt(hook["created"]),
            "date_modified": local(hook["modified"]), "date_modified_gmt": gmt(hook["modified"])}


def _topic_ok(topic: Any) -> bool:
    resource, _, event = str(topic or "").partition(".")
    return resource in RESOURCES and event in EVENTS


def _find(call: Call[SiteState], webhook_id: int, deleting: bool = False) -> dict[str, Any]:
    hook = next((h for h in _hooks(call.state) if h["id"] == webhook_id), None)
    if hook is None:
        raise refused(call, wp_error("woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.", 404) if deleting
                      else wp_error("woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.", 400))
    return hook


def _url_ok(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(("http://", "https://"))


def _bad_url(call: Call[SiteState]) -> Exception:
    return refused(call, wp_error("woocommerce_rest_shop_webhook_invalid_delivery_url",
                                  "Webhook delivery URL must be a valid URL starting with http:// or https://.", 400))


@kit.api.get("/webhooks")
def list_webhooks(call: Call[SiteState] = kit.call) -> Response:
    status = call.query.get("status", "all")
    with call.state.lock:
        hooks = {h["id"]: h for h in _hooks(call.state) if status == "all" or h["status"] == status}
        return pages.answer(call, sorted(hooks), lambda key: webhook_json(hooks[key]))


@kit.api.post("/webhooks")
def create_webhook(call: Call[SiteState] = kit.call) -> Response:
    body: dict[str, Any] = call.body if isinstance(call.body, dict) else {}
    missing = [name for name in ("topic", "delivery_url") if not body.get(name)]
    if missing:
        raise refused(call, wp_error("rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}",
                                     400, params=missing))
    if not _topic_ok(body["topic"]):
        raise refused(call, wp_error("woocommerce_rest_shop_webhook_invalid_topic",
                                     "Webhook topic is required and must be valid.", 400))
    if not _url_ok(body["delivery_url"]):
        raise _bad_url(call)
    status = body.get("status", "active")
    if status not in STATUSES:
        raise refused(call, wp_error("rest_invalid_param", "Invalid parameter(s): status", 400))
    state = call.state
    with state.lock:
        now = state.now()
        hook = subscribe(state, {"address": body["delivery_url"], "topic": body["topic"],
                                 "secret": str(body.get("secret") or secrets.token_urlsafe(38))},
                         via="api", status=status, name=str(body.get("name") or f"Webhook created on {now:%b %d, %Y @ %I:%M %p}"),
                         created=now, modified=now)
        answer = webhook_json(hook)
    deliver_ping(state, hook)
    return call.reply(answer, 201)


@kit.api.get("/webhooks/{webhook_id}")
def get_webhook(webhook_id: int, call: Call[SiteState] = kit.call) -> Response:
    with call.state.lock:
        return call.reply(webhook_json(_find(call, webhook_id)))


@kit.api.put("/webhooks/{webhook_id}")
def update_webhook(webhook_id: int, call: Call[SiteState] = kit.call) -> Response:
    body: dict[str, Any] = call.body if isinstance(call.body, dict) else {}
    if body.get("topic") and not _topic_ok(body["topic"]):
        raise refused(call, wp_error("woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic must be valid.",
                                     400))
    if body.get("delivery_url") and not _url_ok(body["delivery_url"]):
        raise _bad_url(call)
    if "status" in body and body["status"] not in STATUSES:
        raise refused(call, wp_error("rest_invalid_param", "Invalid parameter(s): status", 400))
    state = call.state
    with state.lock:
        hook = _find(call, webhook_id)
        for field, key in (("name", "name"), ("status", "status"), ("secret", "secret"), ("delivery_url", "address")):
            if field in body:
                hook[key] = body[field]
        if "topic" in body:
            hook["topics"] = [body["topic"]]
        hook["modified"] = state.now()
        return call.reply(webhook_json(hook))


@kit.api.delete("/webhooks/{webhook_id}")
def delete_webhook(webhook_id: int, call: Call[SiteState] = kit.call) -> Response:
    if call.query.get("force") not in ("true", "1"):
        raise refused(call, wp_error("woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501))
    with call.state.lock:
        hook = _find(call, webhook_id, deleting=True)
        call.state.webhooks.remove(hook)
        return call.reply(webhook_json(hook))
