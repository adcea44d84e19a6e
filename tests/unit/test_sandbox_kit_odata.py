"""The kit's OData ``$filter``: what a stand-in answers and refuses, as the OData v4 URL conventions say."""
from __future__ import annotations

import re

import pytest

from sandbox.kit.odata import ODataError as QueryError, parse_filter

FIELDS = ("itemNo", "entryNo", "open", "lastModifiedDateTime")


def test_comparisons_with_and_or_not_and_parentheses() -> None:
    test = parse_filter("open eq true and (itemNo eq 'O''Brien' or itemNo eq 'A B') and not entryNo le 3", FIELDS)
    assert test({"open": True, "itemNo": "O'Brien", "entryNo": 4})
    assert test({"open": True, "itemNo": "A B", "entryNo": 9})
    assert not test({"open": True, "itemNo": "A B", "entryNo": 3})
    assert not test({"open": False, "itemNo": "A B", "entryNo": 9})


def test_date_times_compare_as_instants() -> None:
    test = parse_filter("lastModifiedDateTime gt 2024-01-01T00:00:00Z", FIELDS)
    assert test({"lastModifiedDateTime": "2024-01-01T00:00:00.001Z"})
    assert not test({"lastModifiedDateTime": "2023-12-31T23:00:00-00:30"})


@pytest.mark.parametrize("text, message", [
    ("colour eq 'red'", "Could not find a property named 'colour'"),
    ("itemNo eq", "Error in query syntax"),
    ("itemNo like 'x'", "unknown operator"),
    ("(itemNo eq 'x'", "Error in query syntax"),
    ("(itemNo eq 'x' 'y')", "')' or operator expected"),
    ("itemNo eq 'x' itemNo", "Error in query syntax"),
    ("itemNo eq \"x\"", "Syntax error"),
])
def test_what_the_service_refuses(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        parse_filter(text, FIELDS)
