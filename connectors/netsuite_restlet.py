"""NetSuite with the store's own scripts deployed: stock changes and backorder status through a
RESTlet, inventory events from a User Event script, purchase orders as for ``netsuite``.

The scripts ship in ``integrations/netsuite/`` (contract version 1, documented in
``backorders_restlet.js``); ``docs/connect-a-store.md`` says how to deploy them. Public docs:

* RESTlet URL ``https://{account}.restlets.api.netsuite.com/app/site/hosting/restlet.nl?script=&deploy=``,
  called with the same token-based authentication as REST web services (``script`` and ``deploy``
  are signed as query parameters):
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1534941088.html
* RESTlet errors: a thrown error is ``400 {"error": {"code", "message"}}``; 404 is a script or
  deployment that is not at that URL:
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_4634920277.html
* One concurrency limit for SOAP, REST and RESTlets; a RESTlet over it answers 400
  ``SSS_REQUEST_LIMIT_EXCEEDED``, which is no refusal of the request: it is retried as a 429 is
  (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156436922186.html).
* The User Event script signs with N/crypto's HMAC-SHA256 (hex) keyed with an API secret:
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_4358549582.html

Why a RESTlet and not only SuiteQL: an inventory adjustment, receipt or fulfilment changes an
item's quantities without touching the item's ``lastmodifieddate``, so the ``netsuite`` connector's
incremental read can miss it (it keeps a periodic full read for that). The RESTlet's changes read
also takes the items whose inventory-affecting transactions changed since the cursor, and the
script posts each change as it is saved; both carry the rows of the SuiteQL read, mapped alike.
The backorder status is a checkbox on the item (``custitem_ba_backorder`` by default, the
script's ``custscript_ba_status_field``), written through the RESTlet (REST web services cannot
write a custom field the role's form hides).

Options: ``restlet_url`` (the deployment's External URL, required), ``page_size`` (≤ 1000),
``account_timezone``, ``webhooks`` (overrides of the declared scheme below), and the ``netsuite``
options for purchase orders.
"""
from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from typing import Any, ClassVar, Iterator, Mapping
from urllib.parse import parse_qs, urlsplit

import requests

from connectors.base import BodyLinksPaginator, Capability, PushResult, Stream
from connectors.declarative import DeclaredWebhooks
from connectors.declarative_spec import WebhookSpec, webhook_spec
from connectors.errors import PermanentError, TransientError, error_json
from connectors.netsuite import NetSuiteConnector
from connectors.types import ListingRef, StockPage, StockRecord

#: The User Event script's signature scheme (integrations/netsuite/backorders_events.js).
WEBHOOKS = {"signature_header": "X-Backorders-Signature", "encoding": "hex", "prefix": "sha256=",
            "topic_header": "X-Backorders-Topic", "id_header": "X-Backorders-Event-Id", "records": "items",
            "topics": {"inventory.changed": "inventory_update", "item.modified": "sku_modified"}}
BUSY = "SSS_REQUEST_LIMIT_EXCEEDED"


class NetSuiteRestletConnector(DeclaredWebhooks, NetSuiteConnector):
    """A NetSuite account with the product's RESTlet and User Event script deployed."""

    platform: ClassVar[str] = "netsuite_restlet"
    capabilities: ClassVar[frozenset[Capability]] = NetSuiteConnector.capabilities | {
        Capability.BACKORDER_STATUS, Capability.WEBHOOKS}
    refusals: ClassVar[Mapping[Capability, str]] = {
        Capability.STOCK_WRITE: NetSuiteConnector.refusals[Capability.STOCK_WRITE]}

    def __init__(self, config: Any, **kwargs: Any) -> None:
        url = str(config.options.get("restlet_url") or "")
        query = parse_qs(urlsplit(url).query)
        if not url.startswith(("https://", "http://")) or not {"script", "deploy"} <= set(query):
            raise ValueError("netsuite_restlet needs options.restlet_url: the deployment's External URL "
                             "(…/app/site/hosting/restlet.nl?script=…&deploy=…)")
        super().__init__(config, **kwargs)
        self.restlet_url = url
        self.stock = replace(self.stock, path=url, method="GET", headers={}, params={"action": "stock"},
                             since_param="since", paginator=BodyLinksPaginator(), page_size_param="limit")

    @cached_property
    def hooks(self) -> WebhookSpec:
        """``WEBHOOKS`` with the store's ``options.webhooks`` on top."""
        hooks, problems = webhook_spec(self.options, WEBHOOKS)
        if hooks is None:
            raise PermanentError(f"netsuite_restlet store {self.config.store_key}: options.webhooks: {problems}")
        return hooks

    def _send_once(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """The account's concurrency limit, answered as a 400 by a RESTlet, is retried like a 429."""
        try:
            return super()._send_once(method, url, **kwargs)
        except PermanentError as exc:
            error = error_json(exc).get("error")
            if exc.status_code == 400 and isinstance(error, Mapping) and error.get("code") == BUSY:
                raise TransientError(str(exc), status_code=429, platform=self.platform, body=exc.body) from exc
            raise

    def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
        """Every row, or the rows of items changed (record or inventory transaction) since the cursor."""
        yield from self.read(self.stock, since)

    def webhook_stock(self, row: Mapping[str, Any]) -> StockRecord:
        return self.stock_record(row)

    def write_backorder_status(self, listing: ListingRef, backorder: bool) -> PushResult:
        """The item's checkbox through the RESTlet; a value already set is reported, not rewritten."""
        item_id = listing.external_id or listing.inventory_item_id
        if not item_id:
            raise PermanentError(f"netsuite_restlet: no item id known for {listing.sku}", platform=self.platform)
        body = {"action": "backorder_status", "items": [{"item_id": str(item_id), "sku": listing.sku,
                                                          "backorder": backorder}]}
        return self.push_result(self.request("POST", self.restlet_url, json_body=body, retry=True), body)
