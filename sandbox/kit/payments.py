"""What the payment-provider stand-ins (Stripe, Adyen, PayPal) share: answers saved per idempotency
key, ids, webhook endpoints, and a count of the refunds the creating code really made.

* :class:`Replays`: the first answer to a key is saved with a fingerprint of what was asked; the
  same key asks again → that answer, the refund-creating code never runs a second time. Stripe
  compares the parameters and refuses a different request under a used key
  (https://docs.stripe.com/idempotency); Adyen echoes the key and answers the first result
  (https://docs.adyen.com/development-resources/api-idempotency/); PayPal returns the refund the
  first ``PayPal-Request-Id`` made (https://developer.paypal.com/api/rest/reference/idempotency).
  Each stand-in says which by what it does with :meth:`Replays.lookup`'s answer.
* :class:`PaymentState`: a provider instance's ids, endpoints, saved answers and
  ``refunds_created`` — incremented only inside the code that creates a refund, so a test can tell
  "the provider was asked three times" (the request log) from "the provider refunded once".
* :func:`add_endpoints` / :func:`add_state_counts`: ``POST _admin/webhook_endpoints`` and
  ``GET _admin/state/counts``, the same on each.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Body

from sandbox.kit.standin import KitState, StandIn


def fingerprint(method: str, path: str, params: Any) -> str:
    """What a saved answer was for: method, path and the parameters, order-independent."""
    return hashlib.sha256(json.dumps([method, path, params], sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Saved:
    fingerprint: str
    status: int
    body: Any


@dataclass
class Replays:
    """Answers saved per idempotency key, for as long as the instance lives."""

    saved: dict[str, Saved] = field(default_factory=dict)

    def lookup(self, key: str | None, print_: str) -> tuple[Saved | None, bool]:
        """(the saved answer or None, whether it was for the same request)."""
        if not key or key not in self.saved:
            return None, True
        saved = self.saved[key]
        return saved, saved.fingerprint == print_

    def save(self, key: str | None, print_: str, status: int, body: Any) -> None:
        if key:
            self.saved[key] = Saved(print_, status, body)


@dataclass
class PaymentState(KitState):
    """A provider instance's shared bookkeeping, beside the provider's own records."""

    replays: Replays = field(default_factory=Replays)
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    refunds_created: int = 0
    sequence: int = 0

    def new_id(self, prefix: str, length: int = 24) -> str:
        """A fresh id in the provider's style (``re_…``, ``PP-D-…``), unique in the instance."""
        self.sequence += 1
        return f"{prefix}{self.sequence:04d}{secrets.token_hex(length)[:max(0, length - 4)]}"


def parse_form(raw: bytes) -> dict[str, Any]:
    """A form body with bracket keys as Stripe's clients send it (``metadata[a]=1``,
    ``expand[]=x``, ``evidence[receipt]=file_1``) as nested values."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(raw.decode("utf-8"), keep_blank_values=True):
        name, _, rest = key.partition("[")
        if not rest:
            out[name] = value
        elif rest == "]":
            out.setdefault(name, []).append(value)
        else:
            out.setdefault(name, {})[rest.rstrip("]")] = value
    return out


def add_endpoints(kit: StandIn[Any], extra: tuple[str, ...] = ()) -> None:
    """``POST _admin/webhook_endpoints`` ``{"url", "secret"?, ...extra}``: where events go (all of them)."""

    @kit.admin.post("/webhook_endpoints")
    def add_endpoint(state: Any = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
        with state.lock:
            endpoint = {"id": state.new_id("we_", 12), "url": payload["url"], "secret": payload.get("secret", ""),
                        **{key: payload[key] for key in extra if key in payload}}
            state.endpoints.append(endpoint)
            return endpoint


def add_state_counts(kit: StandIn[Any], **counts: Any) -> None:
    """``GET _admin/state/counts``: ``refunds_created`` and whatever ``counts`` name (state → value)."""

    @kit.admin.get("/state/counts")
    def state_counts(state: Any = kit.state) -> dict[str, Any]:
        with state.lock:
            return {"refunds_created": state.refunds_created, **{name: fn(state) for name, fn in counts.items()}}
