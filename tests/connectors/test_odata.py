"""The shared OData pieces on their own: query paths encoded as OData expects, literals and keys,
the next link followed verbatim in both versions, option rules; and the kit's ``$filter`` reader
the stand-ins answer with."""
from __future__ import annotations

import json

import pytest
import requests

from connectors.odata import NEXT_LINK, any_of, entity_key, literal, max_page_size, odata_path
from connectors.options import Choice, Matching, TimeZone, option_problems
from connectors.paging import PageRequest
from sandbox.kit.odata import ODataError, Query, page_size, parse_filter


def page(url: str, body: dict[str, object]) -> requests.Response:
    resp = requests.Response()
    resp.status_code, resp.url, resp._content = 200, url, json.dumps(body).encode()
    return resp


def test_query_paths_use_percent_twenty_and_keep_odata_punctuation() -> None:
    path = odata_path("Items", {"$select": "ItemCode,ItemName", "$filter": "ItemCode eq 'A&B'", "$top": None})
    assert path == "Items?$select=ItemCode,ItemName&$filter=ItemCode%20eq%20'A%26B'"
    assert odata_path("Warehouses", {}) == "Warehouses"
    assert literal("O'Brien") == "'O''Brien'" and entity_key("Items", "A 1'x") == "Items('A%201''x')"
    assert any_of("NumAtCard", ["PO-1", "PO-2"]) == "(NumAtCard eq 'PO-1' or NumAtCard eq 'PO-2')"
    assert any_of("DocEntry", [7]) == "(DocEntry eq 7)" and max_page_size(50) == {"Prefer": "odata.maxpagesize=50"}


def test_the_next_link_is_followed_verbatim_whichever_version_names_it() -> None:
    here = "https://b1.example:50000/b1s/v1/Items?$select=ItemCode"
    v1 = NEXT_LINK.next_page(page(here, {}), {"value": [1], "odata.nextLink": "Items?$select=ItemCode&$skip=20"},
                             1, PageRequest("Items"))
    assert v1 == PageRequest("https://b1.example:50000/b1s/v1/Items?$select=ItemCode&$skip=20", {})
    absolute = "https://b1.example:50000/b1s/v2/Items?$skip=20&$filter=a%20eq%20'x'"
    v2 = NEXT_LINK.next_page(page(here, {}), {"@odata.nextLink": absolute}, 1, PageRequest("Items"))
    assert v2 == PageRequest(absolute, {})
    assert NEXT_LINK.next_page(page(here, {}), {"value": []}, 0, PageRequest("Items")) is None


def test_option_rules_name_each_broken_option_given_and_ignore_those_left_out() -> None:
    rules = (Choice("mode", ("a", "b")), Matching("field", r"U_\w+", "a user field"), TimeZone("zone"))
    assert option_problems({}, rules) == []
    assert option_problems({"mode": "c", "field": "U_ok", "zone": "Nowhere/Town"}, rules) == [
        ("options.mode", "expected one of a, b, got 'c'"), ("options.zone", "unknown time zone 'Nowhere/Town'")]


LINES = {"DocEntry": 3, "CancelStatus": "csNo", "DocumentLines": [{"BaseType": 22, "BaseEntry": 7},
                                                                 {"BaseType": -1, "BaseEntry": None}]}


@pytest.mark.parametrize(("text", "expected"), [
    ("DocEntry eq 3", True),
    ("DocEntry gt 3 or CancelStatus eq 'csNo'", True),
    ("not (DocEntry eq 3)", False),
    ("CancelStatus eq 'csNo' and DocumentLines/any(d: d/BaseType eq 22 and (d/BaseEntry eq 1 or d/BaseEntry eq 7))",
     True),
    ("DocumentLines/any(d: d/BaseType eq 22 and d/BaseEntry eq 8)", False),
    ("Missing eq null and DocEntry le 3", True),
])
def test_the_kits_filter_reader(text: str, expected: bool) -> None:
    assert parse_filter(text)(LINES) is expected


def test_quotes_dates_and_bad_filters() -> None:
    assert parse_filter("Name eq 'O''Brien'")({"Name": "O'Brien"})
    late = parse_filter("UpdateDate gt '2025-01-01' or (UpdateDate eq '2025-01-01' and UpdateTime ge '23:59:50')")
    assert late({"UpdateDate": "2025-01-02", "UpdateTime": "00:00:05"}) and not late(
        {"UpdateDate": "2025-01-01", "UpdateTime": "23:59:49"})
    for broken in ("DocEntry eq", "DocEntry is 3", "(DocEntry eq 3", "DocEntry eq 3 )"):
        with pytest.raises(ODataError):
            parse_filter(broken)


def test_a_page_names_the_next_one_with_the_options_kept() -> None:
    rows = [{"ItemCode": f"A{n}", "Other": n} for n in range(5)]
    first = Query({"$select": "ItemCode", "$orderby": "ItemCode desc"}).page("Items", rows, page_size(
        "odata.maxpagesize=2", 20))
    assert first["value"] == [{"ItemCode": "A4"}, {"ItemCode": "A3"}]
    assert first["odata.nextLink"] == "Items?$select=ItemCode&$orderby=ItemCode%20desc&$skip=2"
    last = Query({"$skip": "4"}).page("Items", rows, 2)
    assert "odata.nextLink" not in last and [r["ItemCode"] for r in last["value"]] == ["A4"]
    assert page_size("odata.maxpagesize=0", 20) is None and page_size(None, 20) == 20
