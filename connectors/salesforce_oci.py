"""Omnichannel Inventory (OCI) for a Salesforce B2C Commerce store whose ``options.oci`` is set.

A B2C Commerce instance on OCI keeps its inventory lists as a cache that only the OCI integration
writes ("Only the integration can write to this cache"; full then delta imports per inventory
list: https://documentation.b2c.commercecloud.salesforce.com/DOC1/topic/com.demandware.dochelp/content/b2c_commerce/topics/inventory/b2c_omnichannel_inventory_data_synchronization.html ).
So with OCI on, stock is read from OCI and written to OCI: a ``PATCH`` of an OCAPI inventory record
would be overwritten by the next import. The public reference
(https://developer.salesforce.com/docs/commerce/commerce-api/references/inventory-availability ;
its RAML, version 1.1.14, is public in
https://github.com/SalesforceCommerceCloud/commerce-sdk/tree/7c3c43dc/testIntegration/stagingApis/inventory/inventory-availability ):

* Host ``https://{shortCode}.api.commercecloud.salesforce.com/inventory/availability/v1/organizations/{tenantGroupId}``
  (OCI takes the tenant group id where other APIs take the organization id).
* Token: Account Manager client credentials, as for OCAPI, but for a client of the B2C Commerce API
  (such a client cannot call OCAPI, nor an OCAPI client this API:
  https://developer.salesforce.com/docs/commerce/commerce-api/guide/client-permissions-for-api-endpoints.html ),
  asked with ``scope=SALESFORCE_COMMERCE_API:{tenantId} sfcc.inventory.availability.rw``
  (https://developer.salesforce.com/docs/commerce/commerce-api/guide/authorization-for-admin-apis.html );
  kept per process and renewed a minute before its ``expires_in`` (``connectors.oauth2``).
* ``POST …/availability-records/actions/get-availability`` ``{"skus", "locations" | "groups"}``: SKUs
  times places at most 100 per call; answered ``{"locations" | "groups": [{id, records: [{sku, onHand,
  reserved, atf, ato, safetyStockCount, effectiveDate, futures: [{quantity, expectedDate}]}]}]}``.
  ATO (available to order) counts the futures, OCI's backorders; ATF (to fulfil) does not.
* ``POST …/availability-records/actions/get-deltas`` ``{"deltaToken"}`` → ``{nextDeltaToken,
  shouldQueryAgain, records: [{sku, deltaType: Change | Delete, id (the place), onHand, atf, ato,
  reserved, safetyStockCount, effectiveDate, futures}]}``; called again at once while
  ``shouldQueryAgain``. An expired token: 410 (or 400) ``ExpiredDeltaLink``; an unreadable one: 400
  ``InvalidRequestParameter``; a token lives 23.5 hours (Impex API reference). The first token:
  ``POST …/availability-records/delta-token {"placeType": "group" | "location", "places"}`` →
  ``{"deltaToken"}`` (**second-hand**: the 1.1.14 RAML has the first token from an Impex export).
* ``POST …/availability-records/actions/batch-update`` ``{"records": [{id (idempotence), sku,
  location, onHand, effectiveDate, futureStock}]}`` (≤ 100, scope ``.rw``): 204, or 200 with the
  records it could not apply.
* Errors: RFC 7807 ``{type, title, detail}`` or OCI's ``{type, errorCode, message}``; 429 with
  ``Retry-After`` in seconds (OCI rate limits, no load shedding:
  https://developer.salesforce.com/docs/commerce/commerce-api/guide/throttle-rates.html ).

The cursor is ``oci:`` and the delta token, so it survives restarts; a full read takes a token
*before* reading, so a change during the read comes again as a delta. Which SKUs a full read asks
for: the product ids of the instance's inventory lists (OCI's cache in B2C Commerce). ``ato`` is
the figure read as available; the nearest future's ``expectedDate`` is the SKU's restock ETA.
A write sets ``onHand`` at one location to the sellable figure plus what OCI holds back there
(reserved, safety stock, read first), with a future of ``backorder_allocation`` units at today +
``in_stock_days`` while on backorder (none after a restock), as the OCAPI write does.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, ClassVar, Iterable, Iterator, Mapping

from connectors.base import (
    Capability, ListingRef, PushResult, RestConnector, StockPage, StockRecord, parse_timestamp, whole_units,
)
from connectors.errors import ConnectorError, PermanentError
from connectors.oauth2 import ClientCredentials

log = logging.getLogger(__name__)
TOKEN_URL = "https://account.demandware.com/dwsso/oauth2/access_token"
HOST = "https://{short_code}.api.commercecloud.salesforce.com"
#: SKUs × places one get-availability call may ask for.
MOST = 100
PREFIX = "oci:"
STALE = ("ExpiredDeltaLink", "InvalidRequestParameter")


@dataclass(frozen=True)
class OciOption:
    """``options.oci``: ``tenant_group_id``, ``tenant_id``, ``short_code`` (or ``base_url``) and
    ``groups`` or ``locations`` (not both), checked by ``config check``."""

    key: str = "oci"

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, Mapping):
            return "expected a table {short_code, tenant_group_id, tenant_id, groups or locations}"
        missing = [k for k in ("tenant_group_id", "tenant_id") if not value.get(k)]
        missing += [] if value.get("short_code") or value.get("base_url") else ["short_code"]
        if missing:
            return f"missing {', '.join(missing)}"
        if bool(value.get("groups")) == bool(value.get("locations")):
            return "name the OCI groups or the locations to read (one of them)"
        return None


def nearest(futures: Any) -> date | None:
    dates = [when.date() for when in (parse_timestamp(f.get("expectedDate")) for f in futures or []) if when]
    return min(dates) if dates else None


def oci_record(row: Mapping[str, Any], place: str) -> StockRecord:
    """One SKU at one place; a ``Delete`` delta is a SKU no longer stocked there."""
    gone = row.get("deltaType") == "Delete"
    futures = [] if gone else row.get("futures") or []
    return StockRecord(
        external_id=str(row["sku"]), sku=str(row["sku"]), location_external_id=place,
        on_hand=0 if gone else whole_units(row.get("onHand")), available=0 if gone else whole_units(row.get("ato")),
        committed=None if gone else whole_units(row.get("reserved")),
        updated_at=parse_timestamp(row.get("effectiveDate")), backorders_allowed=bool(futures),
        restock_eta=nearest(futures))


class OmnichannelInventory(RestConnector):
    """One OCI tenant group, read and written beside a B2C Commerce connector (``beside``)."""

    platform: ClassVar[str] = "salesforce_b2c"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.STOCK_READ, Capability.STOCK_WRITE})

    @classmethod
    def beside(cls, b2c: RestConnector) -> OmnichannelInventory:
        oci = b2c.options["oci"]
        root = oci.get("base_url") or HOST.format(short_code=oci["short_code"])
        base = f"{root.rstrip('/')}/inventory/availability/v1/organizations/{oci['tenant_group_id']}"
        return cls(replace(b2c.config, base_url=base), sleep=b2c.sleep, clock=b2c.clock, retry=b2c.retry, rng=b2c.rng)

    @property
    def oci(self) -> Mapping[str, Any]:
        return self.options["oci"]

    def build_auth(self) -> ClientCredentials:
        creds, oci = self.config.credentials, self.options["oci"]
        if not creds.get("oci_client_id"):
            raise PermanentError("salesforce_b2c: credentials.oci_client_id and oci_client_secret name a B2C Commerce "
                                 "API client (an OCAPI client cannot call OCI)", platform=self.platform)
        return ClientCredentials.over_basic_auth(
            oci.get("token_url") or TOKEN_URL, creds["oci_client_id"], creds.get("oci_client_secret", ""),
            per_process=True, platform=self.platform, clock=lambda: time.time(),
            scope=f"SALESFORCE_COMMERCE_API:{oci['tenant_id']} sfcc.inventory.availability.rw")

    def error_message(self, body: Any, fallback: str) -> str:
        """OCI's ``errorCode: message`` or RFC 7807's ``title: detail``."""
        if isinstance(body, Mapping) and (body.get("errorCode") or body.get("title")):
            return f"{body.get('errorCode') or body.get('title')}: {body.get('message') or body.get('detail')}"
        return super().error_message(body, fallback)

    @property
    def places(self) -> tuple[str, list[str]]:
        kind = "groups" if self.oci.get("groups") else "locations"
        return kind, [str(place) for place in self.oci[kind]]

    def post(self, path: str, body: Any) -> Any:
        return self.decode(self.request("POST", f"availability-records/{path}", json_body=body, retry=True)) or {}

    def availability(self, skus: list[str], places: tuple[str, list[str]]) -> list[StockRecord]:
        answer = self.post("actions/get-availability", {"skus": skus, places[0]: places[1]})
        return [oci_record(row, str(place["id"])) for place in answer.get(places[0]) or []
                for row in place.get("records") or []]

    def full(self, skus: Iterable[str]) -> Iterator[StockPage]:
        """A token first, then every SKU at every place, ``MOST`` pairs a call; the token at the end."""
        kind, ids = self.places
        token = self.post("delta-token", {"placeType": kind[:-1], "places": ids})["deltaToken"]
        batch, wanted = max(1, MOST // len(ids)), sorted(set(skus))
        for start in range(0, len(wanted), batch):
            yield StockPage(self.availability(wanted[start:start + batch], (kind, ids)), cursor=None)
        yield StockPage([], cursor=PREFIX + token)

    def deltas(self, token: str) -> Iterator[StockPage]:
        while True:
            answer = self.post("actions/get-deltas", {"deltaToken": token})
            token = answer.get("nextDeltaToken") or token
            records = [oci_record(row, str(row.get("id"))) for row in answer.get("records") or []]
            yield StockPage(records, cursor=PREFIX + token)
            if not answer.get("shouldQueryAgain"):
                return

    def fetch_stock_of(self, since: str | None, skus: Iterable[str]) -> Iterator[StockPage]:
        """The changes since the cursor's delta token; a full read without one, or once OCI no longer
        takes it (expired after 23.5 hours, or unreadable): logged, then read in full."""
        if since and since.startswith(PREFIX):
            pages = self.deltas(since[len(PREFIX):])
            try:
                first = next(pages)
            except ConnectorError as exc:
                if exc.status_code not in (400, 410) or not any(code in str(exc) for code in STALE):
                    raise
                log.warning("salesforce_b2c %s: OCI refused the delta token (%s); reading in full",
                            self.config.store_key, exc)
            else:
                yield first
                yield from pages
                return
        yield from self.full(skus)

    def write_location(self, listing: ListingRef) -> str:
        if self.oci.get("locations"):
            return listing.location_external_id or str(self.oci["locations"][0])
        if not self.oci.get("write_location"):
            raise PermanentError("salesforce_b2c: options.oci.write_location names the OCI location a write sets "
                                 "(a group is not written)", platform=self.platform)
        return str(self.oci["write_location"])

    def push(self, listing: ListingRef, available: int, backorder: bool, in_stock_days: int,
             backorder_allocation: int) -> PushResult:
        """``onHand`` so that what is sellable there is ``available``; the backorder as a future."""
        location = self.write_location(listing)
        answer = self.post("actions/get-availability", {"skus": [listing.external_id], "locations": [location]})
        rows = [r for place in answer.get("locations") or [] for r in place.get("records") or []]
        kept = sum(float(row.get(key) or 0) for row in rows[:1] for key in ("reserved", "safetyStockCount"))
        now, ready = datetime.now(timezone.utc), date.today() + timedelta(days=in_stock_days)
        record: dict[str, Any] = {
            "id": str(uuid.uuid4()), "sku": listing.external_id, "location": location,
            "onHand": max(0, int(available)) + kept, "effectiveDate": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "futureStock": [{"quantity": backorder_allocation, "expectedDate": f"{ready.isoformat()}T00:00:00Z"}]
            if backorder else []}
        response = self.request("POST", "availability-records/actions/batch-update", json_body={"records": [record]},
                                retry=True)
        result = self.push_result(response, {"path": "availability-records/actions/batch-update", "body": record},
                                  {location: max(0, int(available))})
        return replace(result, ok=response.status_code == 204)
