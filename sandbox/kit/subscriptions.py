"""Webhook subscriptions as an API resource: list, create, read, update and delete, declared as data.

Commerce platforms let an app manage its own webhook subscriptions over REST (WooCommerce's
``/webhooks``, BigCommerce's ``/v3/hooks``, Magento's webhooks module) with the same five
operations; what differs is the field names, the validation, the rendering and the refusals, so
a stand-in declares those and this module serves the endpoints. Subscriptions made here are the
kit's own (``state.webhooks``, delivered by ``sandbox.kit.webhooks``) marked ``via="api"``: only
they are listed, as a platform's API does not show subscriptions made in its admin screens.
Refusals are answered as they are (never spoiled by an ``after_apply`` fault), like a
controller's validation that runs before anything is applied.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse, Response

from sandbox.kit.standin import Answer, Call, KitState, StandIn
from sandbox.kit.validation import MISSING, Check, Schema

Hook = dict[str, Any]
#: A refusal as (body, status), the arguments of ``Call.refuse``.
Refusal = tuple[int, Any]


def optional(accept: Callable[[Any], bool]) -> Check:
    """A rule check that lets an absent or empty value through and tests any other."""
    return lambda value, holder, state: value is MISSING or not value or accept(value)


def web_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def refuse(call: Call[Any], refusal: Refusal) -> Answer:
    call.entry["status"] = refusal[1]
    return Answer(JSONResponse(refusal[0], status_code=refusal[1]))


@dataclass(frozen=True)
class Subscriptions:
    """One platform's subscription resource.

    ``fields`` maps request fields to subscription keys (``{"delivery_url": "address"}``; the key
    ``topic`` sets the subscription's single topic); ``create`` / ``update`` validate the body;
    ``new(state, body, now)`` gives what a new subscription holds beyond those, read from the
    body with its defaults (``secret``, ``status``, ``name``…); ``unknown(deleting)`` refuses an id that is not there;
    ``delete_guard(query)`` may refuse a delete (e.g. one without ``force``); ``created(state,
    hook)`` runs after a create, outside the lock (a ping); ``filters`` are query parameters
    matched against subscription keys (``all`` matches every one); ``wrapper`` names the key one
    subscription is answered under (X-Series' ``{"data": {...}}``), none for the bare object."""

    render: Callable[[Hook], dict[str, Any]]
    pages: Any
    fields: dict[str, str]
    create: Schema
    update: Schema
    new: Callable[[Any, dict[str, Any], datetime], dict[str, Any]]
    unknown: Callable[[bool], Refusal]
    delete_guard: Callable[[dict[str, str]], Refusal | None] = lambda query: None
    created: Callable[[Any, Hook], Any] = lambda state, hook: None
    filters: tuple[str, ...] = ()
    #: The root key one subscription is answered under: ``wrapper`` alone (X-Series ``{"data": …}``),
    #: or ``single`` with an empty ``meta`` beside it (BigCommerce ``{"data": …, "meta": {}}``); and
    #: the status of a create (BigCommerce answers 200).
    wrapper: str | None = None
    single: str | None = None
    created_status: int = 201

    def one(self, hook: Hook) -> Any:
        body = self.render(hook)
        if self.single:
            return {self.single: body, "meta": {}}
        return {self.wrapper: body} if self.wrapper else body

    def _apply(self, hook: Hook, body: dict[str, Any]) -> None:
        for name, key in self.fields.items():
            if name in body:
                hook[key] = body[name]
        if "topic" in hook:
            hook["topics"] = [hook.pop("topic")]

    def _find(self, call: Call[Any], hook_id: int, deleting: bool = False) -> Hook:
        hook = next((h for h in call.state.webhooks if h.get("via") == "api" and h["id"] == hook_id), None)
        if hook is None:
            raise refuse(call, self.unknown(deleting))
        return hook

    def _check(self, call: Call[Any], schema: Schema) -> dict[str, Any]:
        problem = schema.problem(call.body, call.state)
        if problem is not None:
            raise refuse(call, (problem[1], problem[0]))
        return call.body if isinstance(call.body, dict) else {}

    def serve(self, kit: StandIn[Any], path: str) -> None:
        """Register the five endpoints at ``path`` and ``path/{webhook_id}``."""
        one = path + "/{webhook_id}"

        @kit.api.get(path)
        def list_subscriptions(call: Call[KitState] = kit.call) -> Response:
            wanted = {name: call.query.get(name, "all") for name in self.filters}
            with call.state.lock:
                hooks = {h["id"]: h for h in call.state.webhooks if h.get("via") == "api" and all(
                    value == "all" or h.get(name) == value for name, value in wanted.items())}
                return self.pages.answer(call, sorted(hooks), lambda key: self.render(hooks[key]))

        @kit.api.post(path)
        def create_subscription(call: Call[KitState] = kit.call) -> Response:
            body, state = self._check(call, self.create), call.state
            with state.lock:
                now = state.now()
                hook = {"id": len(state.webhooks) + 1, "via": "api"}
                self._apply(hook, body)
                hook.update(self.new(state, body, now), created=now, modified=now)
                state.webhooks.append(hook)
                answer = self.one(hook)
            self.created(state, hook)
            return call.reply(answer, self.created_status)

        @kit.api.get(one)
        def read_subscription(webhook_id: int, call: Call[KitState] = kit.call) -> Response:
            with call.state.lock:
                return call.reply(self.one(self._find(call, webhook_id)))

        @kit.api.put(one)
        def update_subscription(webhook_id: int, call: Call[KitState] = kit.call) -> Response:
            body = self._check(call, self.update)
            with call.state.lock:
                hook = self._find(call, webhook_id)
                self._apply(hook, body)
                hook["modified"] = call.state.now()
                return call.reply(self.one(hook))

        @kit.api.delete(one)
        def delete_subscription(webhook_id: int, call: Call[KitState] = kit.call) -> Response:
            refusal = self.delete_guard(call.query)
            if refusal is not None:
                raise refuse(call, refusal)
            with call.state.lock:
                hook = self._find(call, webhook_id, deleting=True)
                call.state.webhooks.remove(hook)
                return call.reply(self.one(hook))
