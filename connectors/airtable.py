"""Airtable connector: an inventory table read per SKU and location, its backorder status written
back, and the base's webhooks (a ping, then the payloads read by cursor).

Public docs this follows (all under https://airtable.com/developers/web/api/):

* auth ``Authorization: Bearer <personal access token>`` (``authentication``); scopes
  ``data.records:read``, ``data.records:write`` (the status) and ``webhook:manage`` (``scopes``);
* list records ``GET /v0/{baseId}/{tableIdOrName}`` with ``pageSize`` (≤ 100), ``offset`` (the
  token the last page answered), ``fields[]`` and ``filterByFormula``, answered ``{"records":
  [{"id", "createdTime", "fields"}], "offset"}`` (``list-records``); formulas
  ``LAST_MODIFIED_TIME({field}, …)``, ``IS_AFTER``, ``DATETIME_PARSE``, ``RECORD_ID()``, ``OR``
  (https://support.airtable.com/docs/formula-field-reference);
* update ``PATCH /v0/{baseId}/{tableIdOrName}`` ``{"records": [{"id", "fields"}]}``, at most 10
  records a request, only the named fields changed (``update-multiple-records``);
* limits: 5 requests per second per base; past it 429, and every request fails for 30 seconds
  (``rate-limits``): paced here at 5/s (:class:`~connectors.http.Bucket`, one per base in a worker
  process), a 429 waits the 30 s
  (``RateLimitHeaders.penalty_s``; the shared ``max_retry_after_s`` option caps it) before a retry;
* errors ``{"error": {"type", "message"}}`` (``errors``);
* webhooks: ``POST /v0/bases/{baseId}/webhooks {"notificationUrl", "specification": {"options":
  {"filters": {"dataTypes": ["tableData"], "recordChangeScope"}}}}`` answers ``{"id",
  "macSecretBase64", "expirationTime"}`` (``create-a-webhook``; the secret is shown once); a
  webhook expires 7 days after its creation or last refresh, ``POST …/webhooks/{id}/refresh``
  (``refresh-a-webhook``), listed by ``GET …/webhooks`` (``list-webhooks``); a notification is
  ``{"base": {"id"}, "webhook": {"id"}, "timestamp"}`` with ``X-Airtable-Content-MAC: hmac-sha256=``
  + the hex HMAC-SHA256 of the body keyed with the base64-decoded ``macSecretBase64``
  (``webhooks-overview``); what changed is read from ``GET …/webhooks/{id}/payloads?cursor=``,
  answered ``{"payloads", "cursor", "mightHaveMore"}`` (``list-webhook-payloads``).

**The table** is mapped by field names in the store's options: ``base_id``, ``table`` (name or
id), ``fields`` with ``sku`` and ``quantity`` (required), ``location``, ``committed`` and
``backorder_status``. One row is one SKU at one location (its ``location`` text; none: the
store's default location); available = quantity − committed. **Increments** ask the rows whose
mapped fields changed since the cursor, ``IS_AFTER(LAST_MODIFIED_TIME({sku}, {quantity}, …),
'…')``: our own status write touches another field, so it does not come back as a change. The
cursor is the ``Date`` of the walk's first answer (Airtable's clock) less ``lookback_s`` (2 s).
**Backorder status** is written to the ``backorder_status`` field of every row of the SKU (found
by ``{sku} = '…'``, ten rows a ``PATCH``): ``backorder_on`` /
``backorder_off`` (default true / false, a checkbox; ``"Backordered"`` / ``"In stock"`` for a
single select). **Webhooks**: a ping names the webhook; the drain reads its payloads from the
cursor this worker process last reached (:data:`CURSORS`; a new process starts at 1 and re-reads
up to a week of payloads: the rows named are read as they are now, so that costs requests, not
correctness), then the rows they name (``RECORD_ID()``). The MAC secret is the store's webhook
secret.
"""
from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any, ClassVar, Iterator, Mapping

from connectors.base import Capability, RestConnector, bearer_auth, constant_time_equals, header_value, whole_units
from connectors.errors import MalformedPayloadError, SignatureError
from connectors.http import Bucket, LeakyBucketPacer, QuotaPacer, RateLimitHeaders
from connectors.options import Matching, Names, OptionRule, Required
from connectors.subscriptions import Subscription
from connectors.types import ListingRef, PushResult, StockPage, StockRecord, WebhookEvent
from connectors.values import parse_timestamp, utc_iso

MAC_HEADER = "X-Airtable-Content-MAC"
#: What ``options.fields`` may name: the columns a row is read from and the status is written to.
ROLES = ("sku", "quantity", "location", "committed", "backorder_status")
#: Where each webhook's payloads were last read up to, in this process (``resolve_webhook``).
CURSORS: dict[str, int] = {}
#: The pacing of each base in this process (``build_pacer``).
PACERS: dict[str, LeakyBucketPacer | QuotaPacer | None] = {}


def quoted(text: str) -> str:
    """A formula string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class AirtableConnector(RestConnector):
    """One inventory table of one Airtable base."""

    platform: ClassVar[str] = "airtable"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.STOCK_READ, Capability.BACKORDER_STATUS, Capability.WEBHOOKS})
    refusals: ClassVar[Mapping[Capability, str]] = {
        Capability.STOCK_WRITE: "read-only in this product (the back office, not a channel)"}
    api_prefix: ClassVar[str] = "/v0"
    auth = bearer_auth("token")
    bucket: ClassVar[Bucket] = Bucket(capacity=5, leak_per_s=5)
    rate_limits: ClassVar[RateLimitHeaders] = RateLimitHeaders(penalty_s=30.0)
    max_page_size: ClassVar[int | None] = 100
    option_defaults: ClassVar[Mapping[str, Any]] = {"backorder_on": True, "backorder_off": False, "lookback_s": 2}
    option_rules: ClassVar[tuple[OptionRule, ...]] = (
        Required(Matching("base_id", r"app\w{14}", "a base id such as appXXXXXXXXXXXXXX")),
        Required(Matching("table", r".*\S.*", "the table's name or id")), Required(Names("fields", ROLES, ROLES[:2])))
    thin_webhooks: ClassVar[bool] = True

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)  # the rules refuse a store without base_id, table or fields
        self.fields: dict[str, str] = dict(self.options["fields"])
        self.table = f"{self.options['base_id']}/{self.options['table']}"
        self.hooks = f"bases/{self.options['base_id']}/webhooks"

    def build_pacer(self) -> LeakyBucketPacer | QuotaPacer | None:
        """One bucket per base in a worker process, shared by its tasks' connectors (the limit is the base's)."""
        key = f"{self.base_url}|{self.options['base_id']}"
        if key not in PACERS:
            PACERS[key] = super().build_pacer()
        return PACERS[key]

    # --- the inventory table -----------------------------------------------------------------

    def pages(self, formula: str | None) -> Iterator[tuple[list[dict[str, Any]], str]]:
        """The table's rows (only the mapped fields), a page at a time, with the first answer's ``Date``."""
        params: dict[str, Any] = {"pageSize": self.page_size, "fields[]": sorted(set(self.fields.values()))}
        if formula:
            params["filterByFormula"] = formula
        started = ""
        while True:
            response = self.request("GET", self.table, params=params)
            started = started or response.headers.get("Date", "")
            body = self.decode(response) or {}
            yield list(body.get("records") or []), started
            if not body.get("offset"):
                return
            params["offset"] = body["offset"]

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Every row (``since`` None), else the rows whose mapped fields changed since the cursor."""
        watched = ", ".join("{" + name + "}" for key, name in sorted(self.fields.items()) if key != "backorder_status")
        formula = f"IS_AFTER(LAST_MODIFIED_TIME({watched}), DATETIME_PARSE({quoted(since)}))" if since else None
        rows: list[dict[str, Any]] = []
        started = ""
        for rows_, started in self.pages(formula):
            if rows:
                yield StockPage([r for row in rows if (r := self.record(row))], since)
            rows = rows_
        when = email.utils.parsedate_to_datetime(started) if started else None
        cursor = utc_iso(when - timedelta(seconds=float(self.options["lookback_s"]))) if when else since
        yield StockPage([r for row in rows if (r := self.record(row))], cursor)

    def record(self, row: Mapping[str, Any]) -> StockRecord | None:
        """A row's figures; a row without a SKU is skipped. A linked-record location is its first id."""
        values, names = row.get("fields") or {}, self.fields
        sku, place = values.get(names["sku"]), values.get(names.get("location", ""))
        if not sku:
            return None
        on_hand = whole_units(values.get(names["quantity"])) or 0
        committed = whole_units(values.get(names.get("committed", ""))) or 0
        place = place[0] if isinstance(place, list) and place else place
        return StockRecord(external_id=str(row["id"]), sku=str(sku).strip(), on_hand=on_hand, committed=committed,
                           available=on_hand - committed, location_external_id=str(place) if place else None)

    def write_backorder_status(self, listing: ListingRef, backorder: bool) -> PushResult:
        """PATCH the status field of every row of the SKU (one per location), ten rows a request;
        writing the same status twice is harmless."""
        if "backorder_status" not in self.fields:
            raise self.refusal(Capability.BACKORDER_STATUS, "options.fields has no backorder_status field")
        value = self.options["backorder_on" if backorder else "backorder_off"]
        same_sku = f"{{{self.fields['sku']}}} = {quoted(listing.sku)}"
        found = [row["id"] for rows, _ in self.pages(same_sku) for row in rows]
        ids, result = found or [listing.external_id], None
        for start in range(0, len(ids), 10):
            body = {"records": [{"id": row_id, "fields": {self.fields["backorder_status"]: value}}
                                for row_id in ids[start:start + 10]]}
            result = self.push_result(self.request("PATCH", self.table, json_body=body, retry=True), body)
        assert result is not None
        return result

    # --- webhooks ---------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        secret, given = self.config.webhook_secret, (header_value(headers, MAC_HEADER) or "").strip()
        if not secret or not given.startswith("hmac-sha256="):
            raise SignatureError(f"no webhook secret configured or {MAC_HEADER} missing")
        try:
            key = base64.b64decode(secret, validate=True)
        except ValueError as exc:
            raise SignatureError("the webhook secret is not Airtable's macSecretBase64 (not base64)") from exc
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        if not constant_time_equals(expected, given.removeprefix("hmac-sha256=").lower()):
            raise SignatureError("signature does not match the body")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """A ping names its webhook; what changed is read by :meth:`resolve_webhook`."""
        try:
            ping = json.loads(body)
            hook, at = str(ping["webhook"]["id"]), str(ping["timestamp"])
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedPayloadError(f"not an Airtable notification: {exc}") from exc
        return WebhookEvent("inventory_update", "tableData", f"{self.platform}:{hook}:{at}", parse_timestamp(at),
                            resource_ids=[f"webhook:{hook}"])

    def resolve_webhook(self, event: WebhookEvent) -> WebhookEvent:
        """The rows the webhook's new payloads name, read as they are now."""
        hook, named = event.resource_ids[0].removeprefix("webhook:"), set()
        key = f"{self.base_url}|{hook}"
        while True:
            page = self.get_json(f"{self.hooks}/{hook}/payloads", {"cursor": CURSORS.get(key, 1)}) or {}
            for payload in page.get("payloads") or []:
                for table in (payload.get("changedTablesById") or {}).values():
                    named |= set(table.get("changedRecordsById") or {}) | set(table.get("createdRecordsById") or {})
            CURSORS[key] = int(page.get("cursor") or CURSORS.get(key, 1))
            if not page.get("mightHaveMore"):
                break
        ids, stock = sorted(named), []
        for start in range(0, len(ids), 50):
            formula = "OR(" + ", ".join(f"RECORD_ID() = {quoted(i)}" for i in ids[start:start + 50]) + ")"
            stock += [r for rows, _ in self.pages(formula) for row in rows if (r := self.record(row))]
        return WebhookEvent(event.kind, event.topic, event.dedupe_key, event.occurred_at, stock=stock,
                            resource_ids=event.resource_ids)

    def ensure_subscriptions(self, address: str, secret: str | None, secret_is_new: bool) -> list[Subscription]:
        """The base's webhook to ``address``: refreshed when listed (7 more days), else created (its
        MAC secret, shown once, comes back on the subscription to be kept as the store's secret)."""
        listed = (self.get_json(self.hooks) or {}).get("webhooks") or []
        found = [hook for hook in listed if hook.get("notificationUrl") == address]
        if found:
            made = self.send("POST", f"{self.hooks}/{found[0]['id']}/refresh", {}, retry=True)[0]
            return [Subscription(str(found[0]["id"]), "tableData", address, "renewed",
                                 parse_timestamp(made.get("expirationTime")))]
        scope = {"recordChangeScope": self.options["table_id"]} if self.options.get("table_id") else {}
        spec = {"options": {"filters": {"dataTypes": ["tableData"], **scope}}}
        made = self.send("POST", self.hooks, {"notificationUrl": address, "specification": spec})[0]
        return [Subscription(str(made["id"]), "tableData", address, "created",
                             parse_timestamp(made.get("expirationTime")), secret=str(made["macSecretBase64"]))]
