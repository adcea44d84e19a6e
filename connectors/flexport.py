"""Flexport connector: freight shipments and their milestones, read from the event list and webhooks.

Public docs this follows:

* Auth: a legacy API key sent as a bearer token (no expiry), or API credentials exchanged at
  ``POST /oauth/token`` ``{client_id, client_secret, audience: "https://api.flexport.com",
  grant_type: "client_credentials"}`` for a JWT valid 24 hours, at most 10 tokens a day (kept per
  process: ``connectors.oauth2``): https://developers.flexport.com/tutorials/using-api-credentials/
* Every request names the API version in the ``Flexport-Version`` header (``2`` by default,
  option ``api_version``): https://flexport-docs.netlify.app/tutorials/shipment-api-tutorial
* Lists answer ``{"_object": "/api/response", "data": {"_object": "/api/collections/paginated",
  "prev", "next", "data": [...]}}`` with ``page`` / ``per`` (1–100) and an absolute ``next`` URL:
  https://apidocs.flexport.com/v2/tag/Shipment
* Events: ``GET /events`` lists every event sent to the client's webhooks, filterable by
  ``f.occurred_at.gte``; an event is ``{_object: "/event", id, type: "/shipment_leg#departed",
  occurred_at, data: {_object: "/shipment_event_data", resource, …}}``:
  https://apidocs.flexport.com/v3/tag/Event/ ; milestone types (``/shipment#schedule_confirmed``,
  ``/shipment_leg#departed``, ``#arrived``, ``#out_for_delivery`` …):
  https://apidocs.flexport.com/v2/tag/Milestones/
* Webhooks (endpoints and their secret token are set in the account's Settings, so there is no
  subscription call): the body is an Event, signed ``X-Hub-Signature-256`` = HMAC-SHA256 of the
  UTF-8 payload with the secret (``X-Hub-Signature`` SHA-1 is being retired and is not accepted
  here); answer 200 or Flexport retries: https://apidocs.flexport.com/v2/tag/Webhook-Endpoints/
  The header's value is read as ``sha256=<hex>`` (the GitHub-style form) or bare hex.

Polling reads ``/events`` from the cursor (the newest ``occurred_at`` seen): each event is one
milestone of one shipment, so shipments, legs and their scans come in one walk. A shipment is
matched to our order by its ``metadata`` (option ``order_metadata_key``, default
``order_number``: Flexport keeps metadata as lists of strings), and its ``metadata.sku`` values
name the order lines it carries (freight carries whole lines). Event data's ``shipment`` (or a
``resource`` that is a shipment) describes it; the milestone's suffix after ``#`` maps to our
status in :data:`MILESTONES` (``#exception``/``#held`` and ``#returned`` are our names for the
events this product acts on; the published list has no exception milestone).
Credentials: ``api_key``, or ``client_id`` and ``client_secret``. Options: ``api_version``,
``order_metadata_key``, ``page_size``.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Any, ClassVar, Iterator, Mapping

from requests.auth import AuthBase

from connectors.auth import BearerToken
from connectors.carriers import (
    ScanRecord, ShipmentLineRecord, ShipmentPage, ShipmentRecord, ShipmentStatus, ShippingNotice, TrackRequest,
)
from connectors.errors import MalformedPayloadError, SignatureError
from connectors.http import RestConnector
from connectors.oauth2 import ClientCredentials
from connectors.paging import NestedNextLinkPaginator
from connectors.signing import constant_time_equals, header_value
from connectors.streams import HighWater, Stream
from connectors.values import json_object, parse_timestamp

MILESTONES: dict[str, ShipmentStatus] = {
    "booked": "label_created", "schedule_confirmed": "label_created", "cargo_ready": "manifested",
    "picked_up": "in_transit", "departed": "in_transit", "arrived": "in_transit",
    "out_for_delivery": "out_for_delivery", "delivered": "delivered", "delivered_in_full": "delivered",
    "exception": "exception", "held": "exception", "returned": "returned", "returned_to_sender": "returned"}


def collection(body: Any) -> list[Mapping[str, Any]]:
    inner = body.get("data") if isinstance(body, Mapping) else None
    return list(inner.get("data") or []) if isinstance(inner, Mapping) else []


def milestone(kind: Any) -> ShipmentStatus | None:
    return MILESTONES.get(str(kind or "").rpartition("#")[2])


def first(value: Any) -> str | None:
    """Metadata values are lists of strings; a plain string is taken as one."""
    if isinstance(value, list):
        return str(value[0]) if value else None
    return str(value) if value else None


class FlexportConnector(RestConnector):
    """One Flexport client account over the v2 REST API."""

    platform: ClassVar[str] = "flexport"
    provider: ClassVar[str] = "flexport"
    max_page_size: ClassVar[int | None] = 100
    option_defaults: ClassVar[Mapping[str, Any]] = {"api_version": "2", "order_metadata_key": "order_number",
                                                    "audience": "https://api.flexport.com"}
    events = Stream(path="events", records=collection, paginator=NestedNextLinkPaginator(), page_size_param="per",
                    params={"page": 1}, since_param="f.occurred_at.gte", cursor=HighWater("updated_at"),
                    page=ShipmentPage)

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.session.headers["Flexport-Version"] = str(self.options["api_version"])

    def build_auth(self) -> AuthBase | None:
        creds = self.config.credentials
        if creds.get("api_key"):
            return BearerToken(creds["api_key"])
        return ClientCredentials(f"{self.base_url}/oauth/token", creds.get("client_id", ""),
                                 creds.get("client_secret", ""), audience=self.options["audience"],
                                 per_process=True, platform=self.platform, timeout_s=self.config.timeout_s)

    def event_record(self, event: Mapping[str, Any]) -> ShipmentRecord | None:
        data = event.get("data") or {}
        resource = data.get("resource") or {}
        shipment = data.get("shipment") or (resource if resource.get("_object") in ("/shipments", "/shipment")
                                            else resource.get("shipment") or {})
        occurred = parse_timestamp(event.get("occurred_at"))
        if not shipment.get("id") or occurred is None or event.get("id") is None:
            return None
        metadata = shipment.get("metadata") or {}
        place = (data.get("location") or resource.get("destination") or {}) if isinstance(data, Mapping) else {}
        scan = ScanRecord(event_id=f"event:{event['id']}", status=milestone(event.get("type")), occurred_at=occurred,
                          description=str(event.get("type") or ""), code=str(event.get("type") or ""),
                          location=str(place.get("name") or "") if isinstance(place, Mapping) else "")
        skus = metadata.get("sku") or []
        return ShipmentRecord(
            external_id=str(shipment["id"]), order_number=first(metadata.get(self.options["order_metadata_key"])),
            carrier="flexport", service=str(shipment.get("transportation_mode") or ""),
            tracking_number=str(shipment.get("name") or shipment["id"]),
            label_created_at=parse_timestamp(shipment.get("created_date")),
            lines=tuple(ShipmentLineRecord(sku=str(sku), quantity=None) for sku in skus), scans=(scan,),
            updated_at=occurred)

    def fetch_shipments(self, since: str | None) -> Iterator[ShipmentPage]:
        return self.read(self.events, since, map=self.event_record)

    def fetch_resource(self, url: str) -> list[ShipmentRecord]:
        """Flexport webhooks carry the event itself: there is nothing to fetch."""
        return []

    def track(self, shipment: TrackRequest) -> list[ScanRecord] | None:
        return None  # the event walk brings every milestone

    def verify_delivery(self, headers: Mapping[str, str], body: bytes, token: str | None = None) -> None:
        """``X-Hub-Signature-256`` must be the HMAC-SHA256 of the raw body with the endpoint's secret."""
        secret = self.config.webhook_secret
        if not secret:
            raise SignatureError("no webhook secret configured for this Flexport account")
        offered = (header_value(headers, "X-Hub-Signature-256") or "").strip()
        if not offered:
            raise SignatureError("X-Hub-Signature-256 header missing")
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not constant_time_equals(expected, offered.removeprefix("sha256=").lower()):
            raise SignatureError("signature does not match the body")

    def parse_delivery(self, headers: Mapping[str, str], body: bytes) -> ShippingNotice:
        event = json_object(body)
        if event.get("_object") != "/event" or event.get("id") is None or not event.get("type"):
            raise MalformedPayloadError("body is not a Flexport event (_object, id, type)")
        record = self.event_record(event)
        return ShippingNotice(f"flexport:event:{event['id']}", str(event["type"]),
                              records=(record,) if record is not None else (),
                              occurred_at=parse_timestamp(event.get("occurred_at")))

    def subscribe(self, target_url: str) -> list[str]:
        return [f"set {target_url} and its secret in Flexport's Settings > Webhook Endpoints: "
                "Flexport has no subscription call"]
