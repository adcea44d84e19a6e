"""Webhook subscriptions made through a platform's own API, with Rails-style checks: list, count, read, create, delete.

Shopify (``webhooks.json``), BigCommerce (``/v3/hooks``) and Magento's webhook modules all serve
the same resource: a subscription is a topic and an address, created with a few fields checked
Rails-style (every field's first failing check is reported at once), unique per (topic, address),
listed with the platform's page style and filters, read and deleted by id. Only subscriptions made
through the API are its records (``via="api"``); those of ``_admin/webhooks`` stand for ones made
in the platform's own admin, which the API does not return. Deliveries go through
``sandbox.kit.webhooks`` like every other subscription.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.responses import Response

from sandbox.kit.resources import Collection, Filter, PageStyle
from sandbox.kit.standin import Call, StandIn
from sandbox.kit.webhooks import subscribe

Hook = dict[str, Any]
Spec = dict[str, Any]


@dataclass(frozen=True)
class Check:
    """``field`` is refused with ``message`` unless ``test(spec)``; a field's later checks are
    skipped once one failed (``can't be blank`` before ``is not included in the list``)."""

    field: str
    test: Callable[[Spec], bool]
    message: str


def api_hooks(state: Any) -> list[Hook]:
    return [hook for hook in state.webhooks if hook.get("via") == "api"]


def find_hook(state: Any, hook_id: Any) -> Hook | None:
    return next((hook for hook in api_hooks(state) if hook["id"] == hook_id), None)


@dataclass(frozen=True)
class Subscriptions:
    """The declared resource. ``wrapper`` is the request's and the answer's object key
    (``webhook``); ``render(hook)`` shows one; ``checks`` run on the request's object, then
    ``taken`` refuses a second subscription of a topic to an address; ``refuse(problems)`` is the
    platform's (status, body) for ``{field: [messages]}``, ``missing`` for an absent object, and
    ``made(call, spec)`` the fields a new subscription keeps beside ``address``, ``topic`` and
    ``secret``."""

    pages: PageStyle
    render: Callable[[Hook], Any]
    checks: tuple[Check, ...]
    taken: Check
    refuse: Callable[[dict[str, list[str]]], tuple[int, Any]]
    missing: tuple[int, Any]
    not_found: Callable[[], Any]
    secret: Callable[[Any], str]
    made: Callable[[Call[Any], Spec], dict[str, Any]]
    key: str = "webhooks"
    wrapper: str = "webhook"

    @property
    def collection(self) -> Collection:
        return Collection(
            self.key, self.pages, keys=lambda call: sorted(hook["id"] for hook in api_hooks(call.state)),
            get=find_hook, render=self.render, single=self.wrapper, missing=self.not_found,
            filters=(Filter("address", test=lambda hook, value: hook["address"] == value),
                     Filter("topic", test=lambda hook, value: hook["topics"][0] == value)))

    def problems(self, state: Any, spec: Spec) -> dict[str, list[str]]:
        """Every field's first failed check; the uniqueness check only when all others passed."""
        problems: dict[str, list[str]] = {}
        for check in self.checks:
            if check.field not in problems and not check.test(spec):
                problems[check.field] = [check.message]
        if not problems and any(hook["address"] == spec.get("address") and hook["topics"][0] == spec.get("topic")
                                for hook in api_hooks(state)):
            problems[self.taken.field] = [self.taken.message]
        return problems

    def create(self, call: Call[Any]) -> Response:
        spec = call.body.get(self.wrapper) if isinstance(call.body, dict) else None
        if not isinstance(spec, dict):
            raise call.refuse(self.missing[1], self.missing[0])
        with call.state.lock:
            problems = self.problems(call.state, spec)
            if problems:
                status, body = self.refuse(problems)
                raise call.refuse(body, status)
            hook = subscribe(call.state, {"address": spec["address"], "topic": spec["topic"],
                                          "secret": self.secret(call.state)}, via="api", **self.made(call, spec))
            return call.reply({self.wrapper: self.render(hook)}, 201)

    def delete(self, call: Call[Any], hook_id: Any) -> Response:
        with call.state.lock:
            call.state.webhooks.remove(self.collection.find(call, hook_id))
            return call.reply({})

    def serve(self, kit: StandIn[Any], base: str, suffix: str = "") -> None:
        """``GET base``, ``GET base/count``, ``POST base``, ``GET`` / ``DELETE base/{id}`` (each
        path ending in ``suffix``, Shopify's ``.json``)."""
        collection = self.collection
        collection.listing(kit, f"{base}{suffix}")

        @kit.api.get(f"{base}/count{suffix}", name=f"count_{self.key}")
        def count(call: Call[Any] = kit.call) -> Response:
            with call.state.lock:
                return call.reply({"count": len(collection.select(call, call.query)[0])})

        @kit.api.post(f"{base}{suffix}", name=f"create_{self.key}")
        def create(call: Call[Any] = kit.call) -> Response:
            return self.create(call)

        collection.reading(kit, f"{base}/{{hook_id}}{suffix}", "hook_id")

        @kit.api.delete(f"{base}/{{hook_id}}{suffix}", name=f"delete_{self.key}")
        def delete(hook_id: int, call: Call[Any] = kit.call) -> Response:
            return self.delete(call, hook_id)
