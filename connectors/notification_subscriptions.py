"""Webhook subscriptions with a validation handshake, after the Microsoft REST API Guidelines'
"push notifications via webhooks" (https://github.com/microsoft/api-guidelines/blob/vNext/Guidelines.md),
as Business Central serves them (Microsoft Graph follows the same shape):

* ``POST {subscriptions} {"notificationUrl", "resource", "clientState"}`` creates one; before it
  answers, the platform calls ``notificationUrl?validationToken=…`` and the subscriber must answer
  200 with the token as the body (the same handshake runs on every renewal);
* a subscription expires (Business Central: after three days) unless renewed with ``PATCH
  {subscriptions}('{id}')`` carrying the record's ETag in ``If-Match``;
* a delivery is ``{"value": [{"subscriptionId", "clientState", "expirationDateTime", "resource",
  "changeType", "lastModifiedDateTime"}]}``, possibly several notifications of several
  subscriptions at once; ``clientState`` is the shared secret that authenticates it (nothing is
  signed), and a notification names what changed without carrying it (``resource`` is the path to
  read; ``changeType`` ``created`` / ``updated`` / ``deleted``, or ``collection`` with a filter when
  too many changed at once).

Business Central's page: https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/dynamics-subscriptions
and its resource, create and update pages (``api/dynamics_subscriptions_create``,
``api/dynamics_subscriptions_update``, ``resources/dynamics_subscriptions``) under
https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/ .

A connector declares a :class:`ValidatedSubscriptions` and gets :meth:`ValidatedSubscriptions.ensure`
(create what is missing, renew what expires soon, find the rest), used alike by ``backorders stores
connect`` and by the renewal timer (``flows.subscription_renewal``); and the delivery functions
:func:`verify_client_state`, :func:`split` and :func:`event`, used by the receiver
(``workers.notifications``), which stores each notification of a delivery once.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from connectors.errors import MalformedPayloadError, SignatureError
from connectors.http import RestConnector
from connectors.odata import COLLECTION, if_match, literal
from connectors.signing import constant_time_equals
from connectors.subscriptions import Subscription
from connectors.types import WebhookEvent, WebhookKind
from connectors.values import parse_timestamp


def resource_key(resource: str) -> str:
    """A resource path as the platform may echo it back: without a leading ``/``, any case."""
    return str(resource or "").lstrip("/").lower()


@dataclass(frozen=True)
class ValidatedSubscriptions:
    """Where the subscriptions live (``v2.0/subscriptions``, under the connector's API prefix) and
    how early one is renewed: ``renew_within`` before it expires (Business Central keeps one for
    three days; renewing inside the last 36 hours leaves a day and a half of retries)."""

    path: str
    renew_within: timedelta = timedelta(hours=36)

    def one(self, subscription_id: str) -> str:
        return f"{self.path}({literal(subscription_id)})"

    def ensure(self, connector: RestConnector, address: str, secret: str | None, resources: list[str],
               secret_is_new: bool, now: datetime | None = None) -> list[Subscription]:
        """Every resource notified to ``address`` with ``secret`` as its client state: created when
        missing, renewed (``PATCH`` + ``If-Match``) when it expires within ``renew_within`` or was
        made with another secret, found otherwise. The platform calls ``address`` for the
        handshake before it answers a create or a renewal."""
        if not secret:
            raise ValueError("a validated subscription needs a client state (the store's webhook secret)")
        now = now or datetime.now(timezone.utc)
        listed = {(str(s.get("notificationUrl")), resource_key(str(s.get("resource")))): s
                  for s in connector.records(COLLECTION(self.path))}
        out = []
        for resource in resources:
            body = {"notificationUrl": address, "resource": resource, "clientState": secret}
            found = listed.get((address, resource_key(resource)))
            if found is None:
                made, _ = connector.send("POST", self.path, body)
                out.append(self.subscription(made, resource, address, "created"))
                continue
            expires = parse_timestamp(str(found.get("expirationDateTime") or "")) or now
            stale = secret_is_new or found.get("clientState") not in (None, secret)
            if not stale and expires - now > self.renew_within:
                out.append(self.subscription(found, resource, address, "found"))
                continue
            renewed = connector.decode(connector.request("PATCH", self.one(str(found["subscriptionId"])),
                                                         json_body=body, headers=if_match(found)))
            out.append(self.subscription(renewed, resource, address, "updated" if stale else "renewed"))
        return out

    @staticmethod
    def subscription(record: Mapping[str, Any], resource: str, address: str, outcome: str) -> Subscription:
        return Subscription(str(record.get("subscriptionId")), resource, address, outcome,
                            parse_timestamp(str(record.get("expirationDateTime") or "")))


def notifications(body: bytes) -> list[Mapping[str, Any]]:
    """The delivery's notifications; a body that is not ``{"value": [objects…]}`` is malformed."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise MalformedPayloadError(f"notification body is not JSON: {exc}") from exc
    found = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(found, list) or not found or not all(isinstance(n, dict) for n in found):
        raise MalformedPayloadError('notification body is not {"value": [notification, …]}')
    return found


def verify_client_state(secret: str | None, body: bytes) -> None:
    """Every notification must carry our client state; one that does not is refused, whole."""
    if not secret:
        raise SignatureError("no client state is configured for this store")
    try:
        found = notifications(body)
    except MalformedPayloadError as exc:
        raise SignatureError(str(exc)) from exc
    if not all(constant_time_equals(str(n.get("clientState") or ""), secret) for n in found):
        raise SignatureError("clientState does not match the store's webhook secret")


def split(body: bytes) -> list[bytes]:
    """One ``{"value": [n]}`` body per notification, so each is stored (and deduplicated) alone."""
    return [json.dumps({"value": [one]}).encode() for one in notifications(body)]


def collection(resource: str) -> str:
    """``items`` of ``api/v2.0/companies(…)/items(…)`` or ``…/salesInvoices?$filter=…``."""
    last = resource.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return last.split("(", 1)[0]


def event(platform: str, body: bytes, kinds: Mapping[str, WebhookKind]) -> WebhookEvent:
    """The stored event of a delivery: no records (the notification carries none), the resources
    it names, and a dedupe key from what identifies each notification (its subscription, change,
    resource and time), so a redelivery is a duplicate and another change is not."""
    found = notifications(body)
    names = sorted("|".join(str(n.get(k, "")) for k in ("subscriptionId", "changeType", "resource",
                                                       "lastModifiedDateTime")) for n in found)
    first = found[0]
    resource, change = str(first.get("resource") or ""), str(first.get("changeType") or "")
    if not resource:
        raise MalformedPayloadError("notification names no resource")
    times = [t for t in (parse_timestamp(str(n.get("lastModifiedDateTime") or "")) for n in found) if t]
    return WebhookEvent(kinds.get(collection(resource), "other"), f"{collection(resource)}.{change}"[:100],
                        f"{platform}:{hashlib.sha256(chr(10).join(names).encode()).hexdigest()}",
                        max(times) if times else None,
                        resource_ids=[str(n.get("resource")) for n in found if n.get("resource")])
