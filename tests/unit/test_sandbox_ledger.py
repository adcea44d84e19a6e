"""The stand-in kit's money rules (``sandbox.kit.ledger``): caps summed over a request, fields read
as declared, issued codes, and refusals answered from a platform's table."""
from __future__ import annotations

from typing import Any

import pytest

from sandbox.kit.ledger import (FALSY, Codes, Context, Field, Ledger, Refusal, Refusals, an_object, found, read,
                                read_each, shown)
from sandbox.kit.endpoints import answering


def refused(action: Any) -> tuple[str, str]:
    """(field, kind) of the refusal ``action()`` raises."""
    with pytest.raises(Refusal) as caught:
        action()
    return caught.value.field, caught.value.kind


# --- Ledger ---------------------------------------------------------------------------------------


def test_a_ledger_is_what_was_paid_less_what_went_back_per_key() -> None:
    book = Ledger([("sale", 423_00), ("capture", 10_00), ("sale", 1_00)], [("sale", 100_00), ("sale", 24_00)])

    assert (book.room("sale"), book.room("capture"), book.room("nothing")) == (300_00, 10_00, 0)
    assert book.given_back == 124_00


def test_takes_within_one_request_add_up_against_the_cap() -> None:
    book = Ledger([(7, 2)])

    assert book.take(7, 1, "quantity") == 1
    assert refused(lambda: book.take(7, 2, "quantity")) == ("quantity", "cap"), "1 + 2 is more than the 2 bought"
    assert book.take(7, 1, "quantity") == 1 and book.room(7) == 0 and book.given_back == 2
    assert refused(lambda: book.take(8, 1, "quantity")) == ("quantity", "cap"), "nothing was paid under key 8"


def test_spread_fills_each_payment_in_order_up_to_its_room_and_takes_nothing() -> None:
    book = Ledger([("a", 50_00), ("b", 100_00)], [("a", 20_00)])

    assert book.spread(60_00) == [("a", 30_00, 30_00), ("b", 30_00, 100_00)]
    assert book.spread(500_00) == [("a", 30_00, 30_00), ("b", 100_00, 100_00)]
    assert book.room("a") == 30_00


# --- reading a request ------------------------------------------------------------------------------


LINES = {10: {"id": 10, "gateway": "manual"}, 11: {"id": 11, "gateway": "stripe"}}
SPEC = {"id": Field(int, within="lines"), "restock": Field(default="no", choices=("no", "cancel")),
        "gateway": Field(default=None, agrees="id.gateway"), "quantity": Field(int, 0, least=1, cap="id")}


@pytest.mark.parametrize(("item", "refusal"), [
    ({"quantity": 1}, ("lines.id", "invalid")),
    ({"id": "x", "quantity": 1}, ("lines.id", "invalid")),
    ({"id": 99, "quantity": 1}, ("lines.id", "invalid")),
    ({"id": 10, "restock": "bogus", "quantity": 1}, ("lines.restock", "choices")),
    ({"id": 10, "restock": None, "quantity": 1}, ("lines.restock", "choices")),
    ({"id": 10, "restock": ["cancel"], "quantity": 1}, ("lines.restock", "choices")),
    ({"id": 10, "gateway": "stripe", "quantity": 1}, ("lines.gateway", "match")),
    ({"id": 10}, ("lines.quantity", "least")),
    ({"id": 10, "quantity": "two"}, ("lines.quantity", "invalid")),
    ({"id": 10, "quantity": 4}, ("lines.quantity", "cap")),
])
def test_each_declared_rule_refuses_with_the_field_named(item: dict[str, Any], refusal: tuple[str, str]) -> None:
    context = Context({"lines": LINES}, Ledger([(10, 3), (11, 1)]))
    assert refused(lambda: read_each([item], SPEC, "lines", context)) == refusal


def test_read_each_reads_defaults_and_caps_across_items() -> None:
    ledger = Ledger([(10, 3), (11, 1)])
    context = Context({"lines": LINES}, ledger)

    asked = read_each([{"id": "10", "quantity": 2, "gateway": "manual"}, {"id": 11, "quantity": "1"}], SPEC, "lines",
                      context)

    assert asked == [{"id": 10, "restock": "no", "gateway": "manual", "quantity": 2},
                     {"id": 11, "restock": "no", "gateway": None, "quantity": 1}]
    assert ledger.room(10) == 1 and ledger.room(11) == 0
    assert refused(lambda: read_each([{"id": 10, "quantity": 1}, {"id": 10, "quantity": 1}], SPEC, "lines",
                                     context)) == ("lines.quantity", "cap"), "the second item finds the first taken"
    assert read_each(None, SPEC, "lines", context) == [] and read_each([], SPEC, "lines", context) == []
    assert refused(lambda: read_each("x", SPEC, "lines")) == ("lines", "invalid")
    assert refused(lambda: read_each([1], SPEC, "lines")) == ("lines", "invalid")


def test_empty_values_and_falsy_values_take_the_default() -> None:
    fields = {"amount": Field(int, None, (None, "")), "quantity": Field(int, 0, FALSY), "note": Field(default="")}

    assert read({"amount": "", "quantity": None}, fields) == {"amount": None, "quantity": 0, "note": ""}
    assert read({"amount": "0", "quantity": 0, "note": None}, fields) == {"amount": 0, "quantity": 0, "note": None}
    assert refused(lambda: read({"amount": "x"}, fields)) == ("amount", "invalid")
    assert refused(lambda: read({"id": 3}, {"id": Field(int, unique="ids")}, context=Context({"ids": {3}}))) == \
        ("id", "taken")


def test_an_object_and_found() -> None:
    assert an_object({"refund": {"a": 1}}, "refund", "refund") == {"a": 1}
    assert refused(lambda: an_object({"refund": []}, "refund", "refund")) == ("refund", "missing")
    assert refused(lambda: an_object(None, "body")) == ("body", "missing")
    assert found(0, "order") == 0
    assert refused(lambda: found(None, "order")) == ("order", "unknown")


# --- codes ----------------------------------------------------------------------------------------------


def test_codes_are_normalised_checked_and_unique() -> None:
    codes = Codes(min_length=8, max_length=20, alphabet="abcdefghijklmnopqrstuvwxyz0123456789",
                  normalize=lambda code: "".join(code.split()).lower(), generate=lambda: "generated1234567")

    assert codes.read("Abcd Efgh 1234") == "abcdefgh1234"
    assert codes.read(None) == "generated1234567" and codes.read("") == "generated1234567"
    assert refused(lambda: codes.read("   ")) == ("code", "short")
    assert refused(lambda: codes.read("a" * 21)) == ("code", "long")
    assert refused(lambda: codes.read("abcd-efgh")) == ("code", "invalid")
    assert codes.claim("abcdefgh1234", ["other123"]) == "abcdefgh1234"
    assert refused(lambda: codes.claim("abcdefgh1234", iter(["abcdefgh1234"]))) == ("code", "taken")
    assert refused(lambda: Codes().read(None)) == ("code", "missing"), "no generator: a code is required"


def test_shown_hides_bookkeeping_and_secret_keys() -> None:
    assert shown({"id": 1, "_order_id": 2, "code": "secret", "last_characters": "cret"}, {"code"}) == \
        {"id": 1, "last_characters": "cret"}


# --- refusals -------------------------------------------------------------------------------------------


def test_the_most_specific_entry_answers() -> None:
    table = Refusals({
        "invalid": ("invalid", 400), "lines:invalid": ("lines", 400), "lines.quantity:cap": lambda r: (422, r.field),
        "amount": ("any amount", 500),
    }, lambda refusal, entry: (entry[1], f"{entry[0]} {refusal.top}"))

    assert table.answer(Refusal("lines.quantity", "cap")) == (422, "lines.quantity")
    assert table.answer(Refusal("lines.id", "invalid")) == (400, "lines lines")
    assert table.answer(Refusal("other", "invalid")) == (400, "invalid other")
    assert table.answer(Refusal("amount", "least")) == (500, "any amount amount")
    assert list(Refusal("a.b", "cap").keys()) == ["a.b:cap", "a.b", "a:cap", "a", "cap"]
    with pytest.raises(KeyError, match="no answer declared for the refusal other:least"):
        table.answer(Refusal("other", "least"))


def test_answering_turns_a_refusal_into_the_platforms_answer() -> None:
    class Answered(Exception):
        pass

    table = Refusals({"cap": lambda refusal: (422, {"errors": {refusal.field: ["too much"]}})})
    with pytest.raises(Answered) as caught:
        with answering(table, lambda body, status: Answered(status, body)):
            Ledger([(1, 5)]).take(1, 6, "amount")
    assert caught.value.args == (422, {"errors": {"amount": ["too much"]}})
    with answering(table, lambda body, status: Answered(status, body)):
        pass
