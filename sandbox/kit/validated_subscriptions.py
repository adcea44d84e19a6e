"""Webhook subscriptions with a validation handshake, served as an API resource, and the
notifications they deliver — the Microsoft REST API Guidelines' push notifications
(https://github.com/microsoft/api-guidelines/blob/vNext/Guidelines.md), as Business Central serves
them (https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/dynamics-subscriptions,
with ``api/dynamics_subscriptions_create`` / ``…_update`` / ``…_delete``):

* ``POST`` ``{notificationUrl, resource, clientState}`` is answered only after the handshake: the
  stand-in POSTs ``notificationUrl?validationToken=…`` and needs 200 with the token as the body
  within 5 seconds (the time is what integrators report, not in Microsoft's docs), else 400; then
  201 with the subscription (``subscriptionId``, ``expirationDateTime`` ``days`` ahead, ``@odata.etag``).
* ``PATCH {path}('{id}')`` needs ``If-Match`` (missing: 400 ``BadRequest_InvalidToken``; stale: 412
  ``Request_EntityChanged``), runs the handshake again and moves the expiry ``days`` from now;
  ``DELETE`` removes it. An expired subscription is gone (not listed, 404).
* :meth:`ValidatedSubscriptions.notify` POSTs ``{"value": [{subscriptionId, clientState,
  expirationDateTime, resource, changeType, lastModifiedDateTime}]}`` to each live subscription of
  a resource; one answered with anything but 2xx, 408, 429 or 5xx is deleted (the platform retries
  only those).

A state mixes in :class:`Subscribers`; error bodies come from the stand-in's ``error(code, message)``.
"""
from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import requests
from fastapi.responses import Response

from sandbox.kit.odata import ODataPages
from sandbox.kit.standin import Call, StandIn
from sandbox.kit.webhooks import DELIVERY_TIMEOUT_S, post

FIELDS = ("subscriptionId", "notificationUrl", "resource", "clientState", "expirationDateTime", "lastModifiedDateTime")


@dataclass
class Subscribers:
    """The subscriptions an instance holds and every handshake it made (url, token, outcome)."""

    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    handshakes: list[dict[str, Any]] = field(default_factory=list)


def stamp(when: Any) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def same(resource: str, other: str) -> bool:
    return resource.lstrip("/").lower() == other.lstrip("/").lower()


@dataclass(frozen=True)
class ValidatedSubscriptions:
    """The resource at ``path``; ``accepts(state, resource)`` says which resources may be subscribed."""

    path: str
    error: Callable[[str, str], Any]
    accepts: Callable[[Any, str], bool]
    days: int = 3

    def live(self, state: Any) -> dict[str, dict[str, Any]]:
        now = stamp(state.now())
        for key in [k for k, s in state.subscriptions.items() if s["expirationDateTime"] < now]:
            del state.subscriptions[key]
        return state.subscriptions  # type: ignore[no-any-return]

    def handshake(self, state: Any, url: str) -> str | None:
        """``url?validationToken=…``: None when it echoed the token with 200 in time, else why not."""
        token = secrets.token_urlsafe(24)
        try:
            answer = requests.post(f"{url}{'&' if '?' in url else '?'}{urlencode({'validationToken': token})}",
                                   timeout=DELIVERY_TIMEOUT_S)
            outcome = None if answer.status_code == 200 and answer.text == token else \
                f"answered {answer.status_code} {answer.text[:80]!r}"
        except requests.RequestException as exc:
            outcome = f"did not answer: {exc.__class__.__name__}"
        state.handshakes.append({"url": url, "token": token, "outcome": outcome or "validated"})
        return outcome

    def fields(self, call: Call[Any], body: Any) -> dict[str, str]:
        """The subscription fields of a create or update, handshake done; else the platform's 400."""
        if not isinstance(body, dict) or not body.get("notificationUrl") or not body.get("resource"):
            raise call.refuse(self.error("BadRequest_RequiredParamNotProvided",
                                         "notificationUrl and resource must be provided."), 400)
        if not self.accepts(call.state, str(body["resource"])):
            raise call.refuse(self.error("BadRequest_InvalidRequestUrl",
                                         f"The resource '{body['resource']}' does not support webhooks."), 400)
        if len(str(body.get("clientState") or "")) > 2048:
            raise call.refuse(self.error("Application_StringExceededLength",
                                         "clientState must be at most 2048 characters."), 400)
        reason = self.handshake(call.state, str(body["notificationUrl"]))
        if reason is not None:
            raise call.refuse(self.error("BadRequest", f"The subscription was not validated: the notification "
                                         f"URL {reason}."), 400)
        return {k: str(body[k]) for k in ("notificationUrl", "resource", "clientState") if body.get(k) is not None}

    def found(self, call: Call[Any], sub_id: str) -> dict[str, Any]:
        with call.state.lock:
            sub = self.live(call.state).get(sub_id.strip("'"))
        if sub is None:
            raise call.refuse(self.error("BadRequest_NotFound", f"The subscription {sub_id} does not exist."), 404)
        return sub

    def serve(self, kit: StandIn[Any], pages: ODataPages) -> None:
        """List, create, read, renew and delete on ``kit.api``."""
        def listed(call: Call[Any] = kit.call) -> Response:
            with call.state.lock:
                rows = [dict(s) for s in self.live(call.state).values()]
            return pages.answer(call, rows, FIELDS)

        def create(call: Call[Any] = kit.call) -> Response:
            fields, state = self.fields(call, call.body), call.state
            with state.lock:
                sub = {"@odata.etag": state.etag(), "subscriptionId": uuid.uuid4().hex, **fields,
                       "userId": str(uuid.uuid5(uuid.NAMESPACE_URL, state.client_id)),
                       "lastModifiedDateTime": stamp(state.now()),
                       "expirationDateTime": stamp(state.now() + timedelta(days=self.days))}
                state.subscriptions[sub["subscriptionId"]] = sub
            return call.reply(sub, 201)

        def read(sub_id: str, call: Call[Any] = kit.call) -> Response:
            return call.reply(self.found(call, sub_id))

        def renew(sub_id: str, call: Call[Any] = kit.call) -> Response:
            sub, tag = self.found(call, sub_id), call.request.headers.get("If-Match")
            if not tag:
                raise call.refuse(self.error("BadRequest_InvalidToken", "Could not validate the client concurrency "
                                             "token required by the service. Please provide a valid token in the "
                                             "client request."), 400)
            if tag not in ("*", sub["@odata.etag"]):
                raise call.refuse(self.error("Request_EntityChanged", "Another user has already changed the record."),
                                  412)
            fields, state = self.fields(call, {**sub, **(call.body if isinstance(call.body, dict) else {})}), call.state
            with state.lock:
                sub.update({**fields, "@odata.etag": state.etag(), "lastModifiedDateTime": stamp(state.now()),
                            "expirationDateTime": stamp(state.now() + timedelta(days=self.days))})
            return call.reply(sub)

        def delete(sub_id: str, call: Call[Any] = kit.call) -> Response:
            sub = self.found(call, sub_id)
            with call.state.lock:
                call.state.subscriptions.pop(sub["subscriptionId"], None)
            return call.answer(Response(status_code=204))

        one = f"{self.path}({{sub_id}})"
        kit.api.get(self.path)(listed)
        kit.api.post(self.path)(create)
        kit.api.get(one)(read)
        kit.api.patch(one)(renew)
        kit.api.delete(one)(delete)

    def notify(self, state: Any, resource: str, record_id: str, change: str) -> list[dict[str, Any]]:
        """Notify every live subscription of ``resource`` that ``resource(record_id)`` changed."""
        sent = []
        for sub in list(self.live(state).values()):
            if not same(sub["resource"], resource):
                continue
            body = json.dumps({"value": [{
                "subscriptionId": sub["subscriptionId"], "clientState": sub.get("clientState", ""),
                "expirationDateTime": sub["expirationDateTime"], "resource": f"{resource.lstrip('/')}({record_id})",
                "changeType": change, "lastModifiedDateTime": stamp(state.now())}]})
            status = post(sub["notificationUrl"], body.encode(), {"Content-Type": "application/json"})
            sent.append({"topic": f"{resource.rsplit('/', 1)[-1]}.{change}", "address": sub["notificationUrl"],
                         "status": status, "body": body, "headers": {"Content-Type": "application/json"}})
            if isinstance(status, int) and 300 <= status < 500 and status not in (408, 429):
                state.subscriptions.pop(sub["subscriptionId"], None)
        state.deliveries.extend(sent)
        return sent
