"""Shared connector pieces the back-office connectors read through: body-links paging, wall-clock
cursors, declared refusals, ids from ``Location``, code look-ups and Oracle error bodies.

Pure pieces are tested with fake responses; the wall-clock cursor also end to end through the
NetSuite connector against its stand-in, over real HTTP.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
import requests

from connectors.base import (
    BodyLinksPaginator,
    Capability,
    HighWater,
    PageRequest,
    RestConnector,
    UnsupportedCapability,
    all_found,
    classify_response,
    last_path_id,
    platform_error_message,
    supports,
)
from connectors.capabilities import mismatches
from connectors.errors import MalformedPayloadError, PermanentError, SignatureError
from connectors.netsuite import NetSuiteConnector
from connectors.types import ConnectorConfig, ListingRef
from sandbox.netsuite import DEFAULTS

Admin = Any  # tests/connectors/conftest.py::Admin

SUITEQL = "https://1234567.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql"


def response(status: int = 200, body: Any = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = b"" if body is None else json.dumps(body).encode()
    resp.url = SUITEQL
    resp.request = requests.Request("POST", SUITEQL).prepare()
    return resp


# --- body links paging --------------------------------------------------------------------------


def test_body_links_paginator_follows_next_while_has_more() -> None:
    pager = BodyLinksPaginator()
    first = PageRequest("query/v1/suiteql", pager.first_params({"limit": 3}))
    body = {"hasMore": True, "offset": 0, "count": 3, "items": [{}, {}, {}], "links": [
        {"rel": "self", "href": f"{SUITEQL}?limit=3&offset=0"}, {"rel": "next", "href": f"{SUITEQL}?limit=3&offset=3"}]}

    assert first.params == {"limit": 3, "offset": 0}
    assert pager.next_page(response(body=body), body, 3, first) == PageRequest(SUITEQL, {"limit": "3", "offset": "3"})
    assert pager.next_page(response(body={**body, "hasMore": False}), {**body, "hasMore": False}, 3, first) is None
    assert pager.next_page(response(body=body), body, 0, first) is None, "an empty page ends the walk"


def test_body_links_paginator_counts_on_from_the_offset_when_the_link_is_missing() -> None:
    body = {"hasMore": True, "offset": 6, "items": [{}, {}], "links": [{"rel": "self", "href": SUITEQL}]}
    current = PageRequest("query/v1/suiteql", {"limit": 2, "offset": 6})
    assert BodyLinksPaginator().next_page(response(body=body), body, 2, current) == PageRequest(
        "query/v1/suiteql", {"limit": 2, "offset": 8})


# --- wall-clock cursors -------------------------------------------------------------------------


def test_wall_clock_cursor_reads_and_writes_the_platforms_local_text() -> None:
    cursor = HighWater.wall_clock(ZoneInfo("America/New_York"))
    assert cursor.parse("2025-01-15 09:30:00") == datetime(2025, 1, 15, 14, 30, tzinfo=timezone.utc)
    assert cursor.format(datetime(2025, 7, 1, 12, 0, 5, tzinfo=timezone.utc)) == "2025-07-01 08:00:05"

    later = datetime(2025, 1, 15, 15, 0, tzinfo=timezone.utc)
    pages = list(cursor.over([[{"updated_at": later}], [{"updated_at": None}]], "2025-01-15 09:30:00"))
    assert [moved for _, moved in pages] == ["2025-01-15 09:30:00", "2025-01-15 10:00:00"]


def test_netsuite_cursor_stays_the_accounts_text_while_records_carry_utc(
        admin_for: Callable[[str, str], Admin]) -> None:
    account = admin_for("netsuite", f"{uuid.uuid4().int % 10**7}_SB1")
    seeded = account.post("seed", {"locations": 1, "items": [{"sku": "FUTON-FULL", "on_hand": 1},
                                                             {"sku": "FUTON-QUEEN", "on_hand": 2}]})
    config = ConnectorConfig(store_key="erp", base_url=account.root,
                             credentials={"account_id": account.instance, **DEFAULTS},
                             options={"page_size": 1, "account_timezone": "America/Los_Angeles"}, timeout_s=5.0)

    pages = list(NetSuiteConnector(config, sleep=lambda _s: None).fetch_stock(None))

    newest = max(item["lastmodifieddate"] for item in seeded["items"])
    assert [p.cursor for p in pages] == [None, newest]
    local = datetime.strptime(newest, "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo("America/Los_Angeles"))
    assert max(r.updated_at for p in pages for r in p.records if r.updated_at) == local.astimezone(timezone.utc)
    assert all(r.updated_at is None or r.updated_at.tzinfo == timezone.utc for p in pages for r in p.records)


# --- declared refusals --------------------------------------------------------------------------


class BackOffice(RestConnector):
    platform: ClassVar[str] = "backoffice"
    refusals: ClassVar[dict[Capability, str]] = {Capability.STOCK_WRITE: "the books are kept elsewhere",
                                                 Capability.WEBHOOKS: "it sends none"}


def test_undeclared_abilities_are_refused_by_name_with_the_declared_reason() -> None:
    office = BackOffice(ConnectorConfig(store_key="erp", base_url="http://127.0.0.1:9"))

    with pytest.raises(UnsupportedCapability) as caught:
        office.push_availability(ListingRef(sku="FUTON-QUEEN", external_id="1"), 3, False)
    assert str(caught.value) == ("backoffice: writing stock is not supported by this connector: "
                                 "the books are kept elsewhere; refusing to write FUTON-QUEEN")
    assert isinstance(caught.value, PermanentError) and caught.value.capability is Capability.STOCK_WRITE
    with pytest.raises(UnsupportedCapability, match="^backoffice: reading stock is not supported by this connector$"):
        next(iter(office.fetch_stock(None)))
    with pytest.raises(SignatureError, match="receiving webhooks is not supported by this connector: it sends none"):
        office.verify_webhook({}, b"{}")
    with pytest.raises(MalformedPayloadError, match="it sends none"):
        office.parse_webhook({}, b"{}")
    with pytest.raises(UnsupportedCapability, match="refunds are not supported by this connector$"):
        office.refund_line(None)  # type: ignore[arg-type]


def test_the_base_refusals_neither_implement_nor_declare_anything() -> None:
    assert mismatches(BackOffice) == []
    assert not any(supports(BackOffice, capability) for capability in Capability)


# --- values and error bodies --------------------------------------------------------------------


def test_last_path_id_reads_a_numeric_tail_only() -> None:
    assert last_path_id("https://x.example/services/rest/record/v1/purchaseOrder/647") == "647"
    assert last_path_id("https://x.example/record/v1/purchaseOrder/647/") == "647"
    assert last_path_id("https://x.example/record/v1/purchaseOrder/eid:PO-1") is None
    assert last_path_id(None) is None and last_path_id("") is None


def test_all_found_keeps_the_first_id_per_code_and_names_every_missing_one() -> None:
    assert all_found(["A", "B"], [("A", 1), ("B", 2), ("A", 3)], KeyError) == {"A": 1, "B": 2}
    with pytest.raises(PermanentError, match=r"^missing C, D$"):
        all_found(["A", "C", "D"], iter([("A", 1)]), lambda codes: PermanentError(f"missing {', '.join(codes)}"))


def test_oracle_error_details_are_read_with_their_codes() -> None:
    body = {"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1", "title": "Bad Request",
            "status": 400, "o:errorDetails": [
                {"detail": "Invalid search query.", "o:errorCode": "INVALID_PARAMETER"},
                {"detail": "Detailed reason."}, {"o:errorCode": "NO_DETAIL"}]}
    assert platform_error_message(body) == "INVALID_PARAMETER: Invalid search query.; Detailed reason."
    assert platform_error_message({"title": "Bad Request", "o:errorDetails": []}) == "Bad Request"
    error = classify_response(response(400, body), platform="netsuite")
    assert isinstance(error, PermanentError) and "→ 400: INVALID_PARAMETER: Invalid search query." in str(error)
