"""Webhook subscriptions, signing and delivery over real HTTP, recorded on the instance.

Shopify and WooCommerce both sign a delivery with the base64 HMAC-SHA256 of the raw body keyed
with the subscription's secret (``X-Shopify-Hmac-Sha256``:
https://shopify.dev/docs/apps/build/webhooks/verify-deliveries;
``X-WC-Webhook-Signature``: https://developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/).
Each delivery is kept (body and headers verbatim) so ``_admin/redeliver`` can resend it.
BigCommerce signs nothing: each delivery carries the custom ``headers`` its subscription was made
with (https://developer.bigcommerce.com/docs/integrations/webhooks#security): :func:`echoing`.

:class:`FormSigned` is the form-encoded kind: Lightspeed X-Series POSTs
``application/x-www-form-urlencoded`` with the JSON object in a ``payload`` field beside fixed
fields (``type``, ``domain_prefix``, ``environment``) and signs the raw form body in one header of
``key=value`` pairs, ``X-Signature: signature=…,algorithm=HMAC-SHA256``
(https://x-series-api.lightspeedhq.com/docs/webhooks).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

from sandbox.kit.standin import KitState

#: How long a delivery may take before it counts as failed (the receiver is local).
DELIVERY_TIMEOUT_S = 5


def hmac_sha256_b64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    """The hex digest, for platforms that sign that way (or whose docs leave it open)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(address: str, body: bytes, headers: dict[str, str]) -> int | str:
    """POST the delivery; the receiver's status, or ``error: <exception>`` when it did not answer."""
    try:
        return requests.post(address, data=body, headers=headers, timeout=DELIVERY_TIMEOUT_S).status_code
    except requests.RequestException as exc:
        return f"error: {exc.__class__.__name__}"


def subscribe(state: KitState, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Add a subscription from ``{address, secret, topics | topic}``; ids count from 1."""
    hook = {"id": len(state.webhooks) + 1, "address": payload["address"], "secret": payload["secret"],
            "topics": list(payload.get("topics") or [payload.get("topic")]), **extra}
    state.webhooks.append(hook)
    return hook


def subscribers(state: KitState, topic: str) -> list[dict[str, Any]]:
    return [hook for hook in list(state.webhooks) if topic in hook["topics"]]


def echoing(state: KitState, topic: str, body: bytes, **extra: Any) -> list[dict[str, Any]]:
    """Deliver ``body`` to every active subscription of ``topic`` with the subscription's own
    ``headers`` and nothing signed; the delivery records."""
    return [send(state, hook, topic, body, {"Content-Type": "application/json", **(hook.get("headers") or {})}, **extra)
            for hook in subscribers(state, topic) if hook.get("is_active", True)]


def send(state: KitState, hook: dict[str, Any], topic: str, body: bytes, headers: dict[str, str],
         **extra: Any) -> dict[str, Any]:
    """Deliver ``body`` to the subscription and keep the record (``extra`` adds platform ids)."""
    record = {"topic": topic, "address": hook["address"], "status": post(hook["address"], body, headers),
              **extra, "body": body.decode(), "headers": headers}
    state.deliveries.append(record)
    return record


@dataclass(frozen=True)
class Signed:
    """A platform's delivery headers as data. Each value is a template over ``{topic}``,
    ``{resource}`` / ``{event}`` (the topic split at its dot), ``{signature}`` (the base64
    HMAC-SHA256 of the body; ``{signature_hex}`` the same in hex, as PHP's ``hash_hmac`` gives
    it), ``{instance}``, ``{hook_id}``, ``{now_z}`` (the instance's time, ``Z`` for UTC),
    ``{uuid}`` (fresh for each header), whatever ``values(state, hook)`` adds and the keyword
    values of :meth:`deliver`. ``record`` copies headers onto the delivery record."""

    headers: dict[str, str]
    record: dict[str, str] = field(default_factory=dict)
    values: Callable[[Any, dict[str, Any]], dict[str, str]] = lambda state, hook: {}

    def deliver(self, state: KitState, topic: str, payload: Any, **values: str) -> list[dict[str, Any]]:
        """POST the JSON payload, signed, to every subscription of ``topic``; the records."""
        body = json.dumps(payload).encode()
        resource, _, event = topic.partition(".")
        results = []
        for hook in subscribers(state, topic):
            known = {"topic": topic, "resource": resource, "event": event, "instance": state.name,
                     "signature": hmac_sha256_b64(hook["secret"], body), "hook_id": str(hook["id"]),
                     "signature_hex": hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest(),
                     "now_z": state.now().isoformat().replace("+00:00", "Z"),
                     **self.values(state, hook), **values}
            headers = {name: template.format(**known, uuid=uuid.uuid4()) for name, template in self.headers.items()}
            results.append(send(state, hook, topic, body, headers,
                                **{key: headers[name] for key, name in self.record.items()}))
        return results

    def deliver_all(self, state: KitState, events: list[tuple[str, Any]], **values: str) -> list[dict[str, Any]]:
        """:meth:`deliver` each ``(topic, payload)`` in order (with the same ``values``); every record."""
        return [record for topic, payload in events for record in self.deliver(state, topic, payload, **values)]


@dataclass(frozen=True)
class FormSigned:
    """Form-encoded deliveries as data: ``fields(state, topic)`` are the form's fixed fields, the
    JSON payload goes in ``payload_field``, ``signature`` is the signature header's template over
    ``{hex}`` (the hex HMAC-SHA256 of the form body) keyed with ``secret(state, hook)``;
    ``record(payload)`` adds ids to each delivery record. Inactive subscriptions get nothing."""

    fields: Callable[[Any, str], dict[str, str]]
    secret: Callable[[Any, dict[str, Any]], str] = lambda state, hook: hook["secret"]
    record: Callable[[Any], dict[str, Any]] = lambda payload: {}
    payload_field: str = "payload"
    signature_header: str = "X-Signature"
    signature: str = "signature={hex},algorithm=HMAC-SHA256"

    def deliver(self, state: KitState, topic: str, payload: Any) -> list[dict[str, Any]]:
        """POST ``payload`` to every active subscription of ``topic``, signed; the records."""
        body = urlencode({self.payload_field: json.dumps(payload), **self.fields(state, topic)}).encode()
        return [send(state, hook, topic, body, {
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
            self.signature_header: self.signature.format(hex=hmac_sha256_hex(self.secret(state, hook), body))},
            **self.record(payload)) for hook in subscribers(state, topic) if hook.get("active", True)]

    def deliver_all(self, state: KitState, events: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        """:meth:`deliver` each ``(topic, payload)`` in order; every record."""
        return [record for topic, payload in events for record in self.deliver(state, topic, payload)]
