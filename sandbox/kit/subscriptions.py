"""Webhook subscriptions as an API resource: list, count, create, read, update and delete, declared as data.

Commerce platforms let an app manage its own webhook subscriptions over REST (Shopify's
``webhooks.json``, WooCommerce's ``/webhooks``, BigCommerce's ``/v3/hooks``, Magento's webhooks
module) with the same operations; what differs is the field names, the envelope, the validation
and its error style, the rendering and the refusals, so a stand-in declares those and this module
serves the endpoints. Validation is any object with ``problem(payload, state)``: a
:class:`~sandbox.kit.validation.Schema` (the first broken rule, WordPress's style) or
:class:`~sandbox.kit.validation.FieldErrors` (every field at once, Rails' style, Shopify's).

Subscriptions made here are the kit's own (``state.webhooks``, delivered by
``sandbox.kit.webhooks``) marked ``via="api"``: only they are listed, as a platform's API does not
show subscriptions made in its admin screens (here ``_admin/webhooks``). Refusals are answered as
they are (never spoiled by an ``after_apply`` fault), like a controller's validation that runs
before anything is applied.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fastapi.responses import Response

from sandbox.kit.resources import Collection, Filter, PageStyle
from sandbox.kit.standin import Call, KitState, StandIn
from sandbox.kit.validation import MISSING, Check

Hook = dict[str, Any]
#: A refusal as (body, status), the arguments of ``Call.refuse_as_is``.
Refusal = tuple[Any, int]


class Validation(Protocol):
    """``Schema`` or ``FieldErrors``: (status, body) of what is wrong with a payload, or None."""

    def problem(self, payload: Any, state: Any = None) -> tuple[int, Any] | None: ...


def optional(accept: Callable[[Any], bool]) -> Check:
    """A rule check that lets an absent or empty value through and tests any other."""
    return lambda value, holder, state: value is MISSING or not value or accept(value)


def web_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def matching(key: str) -> Callable[[Hook, Any], bool]:
    """A list filter on a subscription key; ``all`` matches every subscription."""
    return lambda hook, value: value in ("all", hook.get(key))


def api_hooks(state: Any) -> list[Hook]:
    return [hook for hook in state.webhooks if hook.get("via") == "api"]


def find_hook(state: Any, hook_id: Any) -> Hook | None:
    return next((hook for hook in api_hooks(state) if hook["id"] == hook_id), None)


@dataclass(frozen=True)
class Subscriptions:
    """One platform's subscription resource.

    ``render(hook)`` shows one (``created`` / ``modified`` are instants; the single topic is
    ``topic``); ``pages`` is the platform's page style; ``filters`` are query parameters matched
    against subscription keys (``all`` matches every one). ``fields`` maps request fields to
    subscription keys (``{"delivery_url": "address"}``; the key ``topic`` sets the subscription's
    single topic). ``envelope`` is the request's and the answer's object key (Shopify's
    ``webhook``): without that object the request is refused ``missing``. ``create`` validates a
    new subscription, then ``unique`` (when declared) refuses a second one of a topic to an
    address; ``new(state, body, now)`` gives what it holds beyond ``fields`` (its ``secret``,
    ``status``…) and ``request(call)`` what it takes from the request itself (the API version in
    its path); ``created(state, hook)`` runs after a create, outside the lock (a ping). ``update``
    (when declared) serves ``PUT``; ``unknown(deleting)`` refuses an id that is not there,
    ``delete_guard(query)`` may refuse a delete (one without ``force``), ``deleted(hook)`` is the
    answer to one (by default the subscription); ``count`` serves ``GET …/count``. An answer
    without an ``envelope`` may still come under a root key: ``wrapper`` alone (X-Series
    ``{"data": …}``) or ``single`` with an empty ``meta`` beside it (BigCommerce
    ``{"data": …, "meta": {}}``); ``created_status`` is a create's status (BigCommerce answers 200)."""

    render: Callable[[Hook], Any]
    pages: PageStyle
    fields: dict[str, str]
    create: Validation
    new: Callable[[Any, dict[str, Any], datetime], dict[str, Any]]
    unknown: Callable[[bool], Refusal]
    filters: tuple[str, ...] = ()
    request: Callable[[Call[Any]], dict[str, Any]] = lambda call: {}
    envelope: str | None = None
    missing: Refusal | None = None
    unique: Refusal | None = None
    update: Validation | None = None
    delete_guard: Callable[[dict[str, str]], Refusal | None] = lambda query: None
    deleted: Callable[[Hook], Any] | None = None
    created: Callable[[Any, Hook], Any] = lambda state, hook: None
    count: bool = False
    key: str = "webhooks"
    wrapper: str | None = None
    single: str | None = None
    created_status: int = 201

    @property
    def collection(self) -> Collection:
        filters = tuple(Filter(name, test=matching(name)) for name in self.filters)
        return Collection(self.key, self.pages, keys=lambda call: sorted(hook["id"] for hook in api_hooks(call.state)),
                          get=find_hook, render=self.render, filters=filters)

    def _apply(self, hook: Hook, body: dict[str, Any]) -> None:
        for name, key in self.fields.items():
            if name in body:
                hook[key] = body[name]
        if "topic" in hook:
            hook["topics"] = [hook["topic"]]

    def _find(self, call: Call[Any], hook_id: str, deleting: bool = False) -> Hook:
        hook = find_hook(call.state, int(hook_id)) if hook_id.isdigit() else None
        if hook is None:
            raise call.refuse_as_is(*self.unknown(deleting))
        return hook

    def _checked(self, call: Call[Any], validation: Validation) -> dict[str, Any]:
        """The request's object (inside the envelope), once it passes ``validation``."""
        body = call.body
        if self.envelope is not None:
            body = body.get(self.envelope) if isinstance(body, dict) else None
            if not isinstance(body, dict):
                raise call.refuse_as_is(*(self.missing or ({}, 400)))
        problem = validation.problem(body, call.state)
        if problem is not None:
            raise call.refuse_as_is(problem[1], problem[0])
        return body if isinstance(body, dict) else {}

    def _shown(self, hook: Hook) -> Any:
        shown = self.render(hook)
        if self.single:
            return {self.single: shown, "meta": {}}
        root = self.envelope or self.wrapper
        return {root: shown} if root else shown

    def serve(self, kit: StandIn[Any], path: str, suffix: str = "") -> None:
        """Register the endpoints at ``path`` and ``path/{id}`` (each ending in ``suffix``,
        Shopify's ``.json``): list, create, read and delete; count and update when declared."""
        collection, one = self.collection, f"{path}/{{webhook_id}}{suffix}"
        collection.listing(kit, path + suffix)
        if self.count:
            @kit.api.get(f"{path}/count{suffix}", name=f"count_{self.key}")
            def count_subscriptions(call: Call[KitState] = kit.call) -> Response:
                with call.state.lock:
                    return call.reply({"count": len(collection.select(call, call.query)[0])})

        @kit.api.post(path + suffix, name=f"create_{self.key}")
        def create_subscription(call: Call[KitState] = kit.call) -> Response:
            state = call.state
            with state.lock:
                body, hook = self._checked(call, self.create), {"id": len(state.webhooks) + 1, "via": "api"}
                self._apply(hook, body)
                if self.unique is not None and any(
                        (other["address"], other["topic"]) == (hook.get("address"), hook.get("topic"))
                        for other in api_hooks(state)):
                    raise call.refuse_as_is(*self.unique)
                now = state.now()
                hook.update(self.new(state, body, now), **self.request(call), created=now, modified=now)
                state.webhooks.append(hook)
                answer = self._shown(hook)
            self.created(state, hook)
            return call.reply(answer, self.created_status)

        @kit.api.get(one, name=f"read_{self.key}")
        def read_subscription(webhook_id: str, call: Call[KitState] = kit.call) -> Response:
            with call.state.lock:
                return call.reply(self._shown(self._find(call, webhook_id)))

        if self.update is not None:
            update = self.update

            @kit.api.put(one, name=f"update_{self.key}")
            def update_subscription(webhook_id: str, call: Call[KitState] = kit.call) -> Response:
                with call.state.lock:
                    body = self._checked(call, update)
                    hook = self._find(call, webhook_id)
                    self._apply(hook, body)
                    hook["modified"] = call.state.now()
                    return call.reply(self._shown(hook))

        @kit.api.delete(one, name=f"delete_{self.key}")
        def delete_subscription(webhook_id: str, call: Call[KitState] = kit.call) -> Response:
            refusal = self.delete_guard(call.query)
            if refusal is not None:
                raise call.refuse_as_is(*refusal)
            with call.state.lock:
                hook = self._find(call, webhook_id, deleting=True)
                call.state.webhooks.remove(hook)
                return call.reply(self.deleted(hook) if self.deleted else self._shown(hook))
