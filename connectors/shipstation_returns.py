"""ShipStation return labels (V2): bought once per RMA, addressed back to our warehouse.

Public docs this follows:

* https://docs.shipstation.com/return-labels — ``POST /v2/labels`` with ``is_return_label: true``
  creates a return label; a return label needs ``charge_event`` (``carrier_default``,
  ``on_creation`` or ``on_carrier_acceptance``); returns are domestic only.
* https://docs.shipstation.com/create-labels — the label's ``shipment`` carries ``carrier_id``,
  ``service_code``, ``ship_to``, ``ship_from`` and ``packages[].weight``; the answer has
  ``label_id``, ``tracking_number`` and ``label_download``.
* ``rma_number`` is printed on the label and filters ``GET /v2/labels`` (ShipEngine's label model,
  which ShipStation API V2 is).

Once: ShipStation documents no idempotency key for labels, so before buying we list the labels
already bought under the RMA (``connectors.idempotency.found_or_created``); a retry after a lost
answer finds the first label and buys none.
For a return label ``ship_from`` is the customer and ``ship_to`` our warehouse (``options.return_to``).
Options: ``return_carrier_id``, ``return_service_code``, ``return_to`` (an address table),
``return_charge_event`` (default ``carrier_default``), ``return_weight_oz`` (default 16).
"""
from __future__ import annotations

from typing import Any, Mapping

from connectors.carriers import ReturnLabel, carrier_address
from connectors.errors import PermanentError
from connectors.idempotency import found_or_created
from connectors.shipstation import ShipStationConnector

def buy_return_label(connector: ShipStationConnector, rma: str, customer: Mapping[str, Any] | None,
                     customer_name: str) -> ReturnLabel:
    """The RMA's return label: the one already bought under it, else a new one."""
    v2, options = connector.v2, connector.options
    if v2 is None:
        raise PermanentError("shipstation: return labels need the v2_api_key credential", platform="shipstation")
    if not options.get("return_carrier_id") or not options.get("return_to"):
        raise PermanentError("shipstation: set options.return_carrier_id and options.return_to for return labels",
                             platform="shipstation")
    listed = (v2.get_json("v2/labels", {"rma_number": rma}) or {}).get("labels") or []

    def buy() -> dict[str, Any]:
        body = {"is_return_label": True, "rma_number": rma,
                "charge_event": options.get("return_charge_event") or "carrier_default",
                "shipment": {"carrier_id": options["return_carrier_id"],
                             "service_code": options.get("return_service_code") or "usps_ground_advantage",
                             "ship_from": carrier_address(customer, customer_name),
                             "ship_to": carrier_address(options["return_to"], "Returns"),
                             "packages": [{"weight": {"value": float(options.get("return_weight_oz") or 16),
                                                      "unit": "ounce"}}]}}
        return v2.send("POST", "v2/labels", body)[0]
    kept = (one for one in listed if one.get("is_return_label") and one.get("status") != "voided")
    return ReturnLabel.of(*found_or_created(kept, buy))
