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

from functools import partial
from typing import Any, ClassVar, Iterator, Mapping
from zoneinfo import ZoneInfo

from connectors.auth import basic_auth, header_auth
from connectors.carriers import (
    ScanRecord, ShipmentFields, ShipmentPage, ShipmentRecord, ShipmentStatus, ShippingNotice, TrackingEvents,
    TrackRequest, resource_notice, verify_token,
)
from connectors.errors import PermanentError
from connectors.hooks import subscribe_once
from connectors.http import LeakyBucketPacer, RateLimitHeaders, RestConnector
from connectors.paging import BodyPagesPaginator
from connectors.rate_windows import WindowPacer
from connectors.streams import HighWater, Stream
from connectors.values import wall_clock_time

PACIFIC = ZoneInfo("America/Los_Angeles")
PAGES = BodyPagesPaginator()
EVENTS = ("SHIP_NOTIFY", "ITEM_SHIP_NOTIFY")
#: V2 tracking ``status_code`` → our status (AT, a failed delivery attempt, is an exception to act on).
TRACK_STATUS: dict[str, ShipmentStatus | None] = {
    "UN": None, "NY": "label_created", "AC": "manifested", "IT": "in_transit", "AT": "exception",
    "EX": "exception", "DE": "delivered", "SP": "delivered"}
TRACKING = TrackingEvents(TRACK_STATUS)
V1 = ShipmentFields(id="shipmentId", order_number="orderNumber", carrier="carrierCode", service="serviceCode",
                    tracking_number="trackingNumber", created="createDate", shipped="shipDate", items="shipmentItems",
                    line_id="lineItemKey", skip_line="adjustment", created_time=partial(wall_clock_time, zone=PACIFIC))
#: A V2 label with its shipment (a V1 order) under ``order``.
V2 = ShipmentFields(id="label_id", order_number="order.shipment_number", carrier="carrier_code",
                    service="service_code", tracking_number="tracking_number", created="created_at",
                    shipped="ship_date", items="order.items", line_id="external_order_item_id", void_status="status", id_is_label_ref=True)
#: A webhook's ``resource_url``, read with the shipment items (SHIP_NOTIFY URLs carry ``False``).
RESOURCE = Stream(path="", records="shipments", paginator=PAGES, params={"includeShipmentItems": "true"},
                  map=V1.record)


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
        return TRACKING.scans(self.get_json("v2/tracking", {"carrier_code": shipment.carrier,
                                                            "tracking_number": shipment.tracking_number}))

    def label_record(self, raw: Mapping[str, Any], orders: dict[str, Mapping[str, Any]]) -> ShipmentRecord:
        """A label with its order's number and lines, each order read once per walk."""
        shipment_id = str(raw.get("shipment_id") or "")
        if shipment_id and shipment_id not in orders:
            orders[shipment_id] = self.get_json(f"v2/shipments/{shipment_id}") or {}
        return V2.record({**raw, "order": orders.get(shipment_id, {})})


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
                       since_param="createDateStart", map=V1.record, page=ShipmentPage,
                       cursor=HighWater.wall_clock(PACIFIC, "%Y-%m-%dT%H:%M:%S"))

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.v2 = self.companion(ShipStationV2, str(self.options.get("v2_base_url") or "https://api.shipstation.com"),
                                 "v2_api_key")

    def build_pacer(self) -> LeakyBucketPacer | None:
        return WindowPacer("X-Rate-Limit-Remaining", "X-Rate-Limit-Reset", clock=self.clock, sleep=self.sleep)

    def fetch_shipments(self, since: str | None) -> Iterator[ShipmentPage]:
        if self.options.get("api") != "v2":
            yield from self.read(self.shipments, since)
        elif self.v2 is None:
            raise PermanentError("shipstation: api = \"v2\" needs the v2_api_key credential", platform=self.platform)
        else:
            yield from self.v2.read(self.v2.labels, since, map=partial(self.v2.label_record, orders={}))

    def fetch_resource(self, url: str) -> list[ShipmentRecord]:
        """GET a webhook's ``resource_url`` (on our API host only), with the shipment items."""
        return list(self.records(RESOURCE.from_url(*self.own_url(url))))

    def track(self, shipment: TrackRequest) -> list[ScanRecord] | None:
        return self.v2.track(shipment) if self.v2 is not None and shipment.tracking_number else None

    def verify_delivery(self, headers: Mapping[str, str], body: bytes, token: str | None = None) -> None:
        verify_token(self.config.webhook_secret, headers, token)

    def parse_delivery(self, headers: Mapping[str, str], body: bytes) -> ShippingNotice:
        return resource_notice("shipstation", body, EVENTS)

    def subscribe(self, target_url: str) -> list[str]:
        """SHIP_NOTIFY and ITEM_SHIP_NOTIFY to ``target_url``, once: a hook already there is kept."""
        listed = (self.get_json("webhooks") or {}).get("webhooks") or []
        return subscribe_once(EVENTS, [h.get("HookType") for h in listed if isinstance(h, Mapping)
                                       and h.get("Url") == target_url],
                              lambda event: self.send("POST", "webhooks/subscribe", {
                                  "target_url": target_url, "event": event, "store_id": None,
                                  "friendly_name": f"backorders {event}"})[0].get("id"))
