"""ShipStation connector: labels (V1 "shipments", V2 "labels"), their order lines, and tracking.

Public docs this follows:

* V1 base ``https://ssapi.shipstation.com``, HTTP Basic with the API key as user and the API secret
  as password, rate limit headers ``X-Rate-Limit-Limit`` / ``-Remaining`` / ``-Reset`` (seconds to
  the next window) and 429 past them (40 requests a minute per key):
  https://docs.shipstation.com/apis/shipstation-v1/docs/start-here/requirements
* V1 ``GET /shipments`` (``createDateStart``, ``includeShipmentItems``, ``sortBy``/``sortDir``,
  ``page``/``pageSize`` ≤ 500; answer ``{shipments, total, page, pages}``; only labels made in
  ShipStation are listed): https://docs.shipstation.com/apis/shipstation-v1/docs/shipments/list .
  V1 date-times are Pacific time without an offset (``2016-02-29T09:59:17.7670000``), so the
  cursor is kept as Pacific wall-clock text.
* V1 webhooks: ``POST /webhooks/subscribe {target_url, event, store_id, friendly_name}``,
  ``GET /webhooks``; a delivery's body is only ``{resource_url, resource_type}`` and the
  resource is read with the same Basic credentials:
  https://docs.shipstation.com/apis/shipstation-v1/docs/models/webhook and
  https://help.shipstation.com/hc/en-us/articles/360025856252-ShipStation-Webhooks
* V2 base ``https://api.shipstation.com``, header ``API-Key``, ``GET /v2/labels`` (paged like V1
  with ``page``, ``pages``, ``links``), ``GET /v2/shipments/{id}`` (a V2 shipment is a V1 order:
  ``shipment_number``, ``items``), tracking events (``status_code`` UN/NY/AC/IT/EX/AT/DE/SP and
  ``status_detail_code``), 429 with ``Retry-After``: https://docs.shipstation.com/rate-limits ,
  https://docs.shipstation.com/tracking , https://docs.shipstation.com/apis/shipengine/docs/tracking/tracking

Webhook authentication: ShipStation signs nothing. We subscribe
``{PUBLIC_BASE_URL}/webhooks/shipping/{account}?token={secret}`` where the secret is 32 random
bytes named by the account's ``webhook_secret_env``; a delivery without that token (or the
``X-Shipping-Token`` header) is refused before anything is stored, and the ``resource_url`` we
then GET with our credentials must be on the account's own API host, so a forged body cannot make
us send the credentials elsewhere. ``includeShipmentItems`` is forced on when we read it (SHIP_NOTIFY
URLs carry ``False``): the lines are what split shipments are told from.

Modes (``options.api``): ``v1`` (default) lists V1 shipments and, when a ``v2_api_key`` credential
is set, reads each open label's scans from V2 ``GET /v2/tracking?carrier_code=&tracking_number=``;
``v2`` lists V2 labels (their orders through ``/v2/shipments/{id}``) and tracks them the same way.
Credentials: ``api_key``, ``api_secret`` (V1), ``v2_api_key``. Options: ``v2_base_url``,
``page_size``.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar, Iterator, Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from connectors.auth import basic_auth, header_auth
from connectors.carriers import (
    ScanRecord, ShipmentLineRecord, ShipmentPage, ShipmentRecord, ShipmentStatus, ShippingNotice, TrackRequest,
    verify_token,
)
from connectors.errors import MalformedPayloadError, PermanentError
from connectors.http import LeakyBucketPacer, RateLimitHeaders, RestConnector
from connectors.paging import BodyPagesPaginator
from connectors.rate_windows import WindowPacer
from connectors.streams import HighWater, Stream
from connectors.values import id_str, json_object, parse_timestamp

PACIFIC = ZoneInfo("America/Los_Angeles")
PAGES = BodyPagesPaginator()
EVENTS = ("SHIP_NOTIFY", "ITEM_SHIP_NOTIFY")
#: V2 tracking ``status_code`` → our status (AT, a failed delivery attempt, is an exception to act on).
TRACK_STATUS: dict[str, ShipmentStatus | None] = {
    "UN": None, "NY": "label_created", "AC": "manifested", "IT": "in_transit", "AT": "exception",
    "EX": "exception", "DE": "delivered", "SP": "delivered"}


def pacific(text: Any) -> datetime | None:
    """``2016-02-29T09:59:17.7670000`` (Pacific, 7-digit fraction) → an aware datetime."""
    if not isinstance(text, str) or len(text) < 19:
        return parse_timestamp(text) if isinstance(text, str) else None
    try:
        return datetime.fromisoformat(text[:19]).replace(tzinfo=PACIFIC)
    except ValueError:
        return None


def v1_record(raw: Mapping[str, Any]) -> ShipmentRecord:
    created = pacific(raw.get("createDate"))
    lines = tuple(ShipmentLineRecord(sku=item.get("sku") or None, quantity=int(item.get("quantity") or 0),
                                     line_external_id=item.get("lineItemKey") or None)
                  for item in raw.get("shipmentItems") or [] if not item.get("adjustment"))
    return ShipmentRecord(
        external_id=str(raw["shipmentId"]), order_number=raw.get("orderNumber") or None,
        carrier=raw.get("carrierCode") or "", service=raw.get("serviceCode") or "",
        tracking_number=raw.get("trackingNumber") or "", status="voided" if raw.get("voided") else None,
        label_created_at=created, shipped_at=parse_timestamp(raw.get("shipDate")), lines=lines, updated_at=created)


def scan_status(event: Mapping[str, Any]) -> ShipmentStatus | None:
    detail, words = str(event.get("status_detail_code") or ""), str(event.get("description") or "").lower()
    if "RETURN" in detail or "return to sender" in words or "returned to sender" in words:
        return "returned"
    if detail == "OUT_FOR_DELIVERY":
        return "out_for_delivery"
    return TRACK_STATUS.get(str(event.get("status_code") or "").upper())


def scan_record(event: Mapping[str, Any]) -> ScanRecord | None:
    occurred = parse_timestamp(event.get("occurred_at"))
    if occurred is None:
        return None
    code, words = str(event.get("event_code") or ""), str(event.get("description") or "")
    digest = hashlib.sha256(f"{occurred.isoformat()}|{code}|{event.get('status_code')}|{words}".encode()).hexdigest()
    place = ", ".join(str(event[k]) for k in ("city_locality", "state_province", "country_code") if event.get(k))
    return ScanRecord(event_id=digest[:24], status=scan_status(event), occurred_at=occurred, description=words,
                      location=place, code=code)


class ShipStationV2(RestConnector):
    """The V2 API of the same account: its own host, ``API-Key`` header and ``Retry-After`` 429s."""

    platform: ClassVar[str] = "shipstation"
    auth = header_auth("API-Key", "v2_api_key")
    max_page_size: ClassVar[int | None] = 500
    default_page_size: ClassVar[int | None] = 100
    labels = Stream(path="v2/labels", records="labels", paginator=PAGES, page_size_param="page_size",
                    params={"sort_by": "created_at", "sort_dir": "asc"}, since_param="created_at_start",
                    cursor=HighWater("updated_at"), page=ShipmentPage)

    def track(self, shipment: TrackRequest) -> list[ScanRecord]:
        body = self.get_json("v2/tracking", {"carrier_code": shipment.carrier,
                                             "tracking_number": shipment.tracking_number})
        return [scan for scan in map(scan_record, (body or {}).get("events") or []) if scan is not None]

    def label_record(self, raw: Mapping[str, Any], orders: dict[str, Mapping[str, Any]]) -> ShipmentRecord:
        shipment_id = str(raw.get("shipment_id") or "")
        if shipment_id and shipment_id not in orders:
            orders[shipment_id] = self.get_json(f"v2/shipments/{shipment_id}") or {}
        order, created = orders.get(shipment_id, {}), parse_timestamp(raw.get("created_at"))
        lines = tuple(ShipmentLineRecord(sku=i.get("sku") or None, quantity=int(i.get("quantity") or 0),
                                         line_external_id=i.get("external_order_item_id") or None)
                      for i in order.get("items") or [])
        return ShipmentRecord(
            external_id=str(raw["label_id"]), order_number=order.get("shipment_number") or None,
            carrier=raw.get("carrier_code") or "", service=raw.get("service_code") or "",
            tracking_number=raw.get("tracking_number") or "",
            status="voided" if raw.get("voided") or raw.get("status") == "voided" else None,
            label_created_at=created, shipped_at=parse_timestamp(raw.get("ship_date")), lines=lines,
            updated_at=created, label_ref=str(raw["label_id"]))


class ShipStationConnector(RestConnector):
    """One ShipStation account: V1 for labels and webhooks, V2 for tracking (or everything, ``api = v2``)."""

    platform: ClassVar[str] = "shipstation"
    provider: ClassVar[str] = "shipstation"
    auth = basic_auth("api_key", "api_secret")
    rate_limits: ClassVar[RateLimitHeaders] = RateLimitHeaders(reset_header="X-Rate-Limit-Reset")
    max_page_size: ClassVar[int | None] = 500
    default_page_size: ClassVar[int | None] = 100
    shipments = Stream(path="shipments", records="shipments", paginator=PAGES, page_size_param="pageSize",
                       params={"includeShipmentItems": "true", "sortBy": "CreateDate", "sortDir": "ASC"},
                       since_param="createDateStart", map=v1_record, page=ShipmentPage,
                       cursor=HighWater.wall_clock(PACIFIC, "%Y-%m-%dT%H:%M:%S"))

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        v2_base = str(self.options.get("v2_base_url") or "https://api.shipstation.com")
        self.v2 = ShipStationV2(replace(config, base_url=v2_base), **{k: v for k, v in kwargs.items()
                                                                        if k != "session"}) \
            if config.credentials.get("v2_api_key") else None

    def build_pacer(self) -> LeakyBucketPacer | None:
        return WindowPacer("X-Rate-Limit-Remaining", "X-Rate-Limit-Reset", clock=self.clock, sleep=self.sleep)

    def error_message(self, body: Any, fallback: str) -> str:
        """V1 errors are ASP.NET-style ``{"Message": …, "ExceptionMessage": …}``."""
        if isinstance(body, Mapping) and (body.get("Message") or body.get("ExceptionMessage")):
            return str(body.get("ExceptionMessage") or body["Message"])
        return super().error_message(body, fallback)

    def fetch_shipments(self, since: str | None) -> Iterator[ShipmentPage]:
        if self.options.get("api") != "v2":
            yield from self.read(self.shipments, since)
            return
        if self.v2 is None:
            raise PermanentError("shipstation: api = \"v2\" needs the v2_api_key credential", platform=self.platform)
        orders: dict[str, Mapping[str, Any]] = {}
        v2 = self.v2
        yield from v2.read(v2.labels, since, map=lambda raw: v2.label_record(raw, orders))

    def fetch_resource(self, url: str) -> list[ShipmentRecord]:
        """GET a webhook's ``resource_url`` (on our API host only), with the shipment items."""
        parts, ours = urlsplit(url), urlsplit(self.base_url)
        if (parts.scheme, parts.netloc) != (ours.scheme, ours.netloc) or not parts.path.startswith(ours.path):
            raise PermanentError(f"shipstation: resource_url {url!r} is not on {self.base_url}", platform=self.platform)
        query = {**dict(parse_qsl(parts.query)), "includeShipmentItems": "true"}
        target = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        pages = self.paginate(target, query, PAGES, lambda body: list((body or {}).get("shipments") or []))
        return [v1_record(raw) for page in pages for raw in page]

    def track(self, shipment: TrackRequest) -> list[ScanRecord] | None:
        return self.v2.track(shipment) if self.v2 is not None and shipment.tracking_number else None

    def verify_delivery(self, headers: Mapping[str, str], body: bytes, token: str | None = None) -> None:
        verify_token(self.config.webhook_secret, headers, token)

    def parse_delivery(self, headers: Mapping[str, str], body: bytes) -> ShippingNotice:
        payload = json_object(body)
        url, kind = payload.get("resource_url"), payload.get("resource_type")
        if not isinstance(url, str) or not url or not isinstance(kind, str):
            raise MalformedPayloadError("body needs resource_url and resource_type")
        dedupe = hashlib.sha256(url.encode()).hexdigest()
        return ShippingNotice(f"shipstation:{kind}:{dedupe}", kind, fetch=(url,) if kind in EVENTS else ())

    def subscribe(self, target_url: str) -> list[str]:
        """SHIP_NOTIFY and ITEM_SHIP_NOTIFY to ``target_url``, once: a hook already there is kept."""
        listed = (self.get_json("webhooks") or {}).get("webhooks") or []
        have = {(h.get("HookType"), h.get("Url")) for h in listed if isinstance(h, Mapping)}
        done = []
        for event in EVENTS:
            if (event, target_url) in have:
                done.append(f"{event}: already subscribed")
                continue
            answer, _ = self.send("POST", "webhooks/subscribe", {"target_url": target_url, "event": event,
                                                                 "store_id": None,
                                                                 "friendly_name": f"backorders {event}"})
            done.append(f"{event}: subscribed (id {id_str(answer.get('id'))})")
        return done

