"""Reading a customer's answer to a backorder offer from a ticket: the choice (negations left out),
the backorder and the substitute, or why it cannot be told (never guessed)."""
from __future__ import annotations

from typing import Any

import pytest

from domain.support import answers


@pytest.mark.parametrize(("text", "expected"), [
    ("I got your email about the backorder. I'll wait for the frame, no problem.", ["wait"]),
    ("Please send the queen instead of the full since the full is out of stock.", ["substitute"]),
    ("Don't cancel, I'm fine waiting for the backordered pillow.", ["wait"]),
    ("No need to cancel, we'll wait until March.", ["wait"]),
    ("I'd rather wait for the exact item than get a substitute.", ["wait"]),
    ("substitute please, don't want to wait", ["substitute"]),
    ("I prefer the substitute instead of waiting.", ["substitute"]),
    ("I'll keep waiting, no substitute please.", ["wait"]),
    ("I want to keep waiting for my backorder, please don't auto cancel.", ["wait"]),
    ("Please keep my order.", ["wait"]),
    ("cancel it", ["cancel"]),
    ("Cancel it and refund me.", ["cancel"]),
    ("Cancel it for store credit please", ["credit"]),
    ("I choose option 2", []),
    ("Wait, actually, cancel it.", ["cancel", "wait"]),
])
def test_choices_in(text: str, expected: list[str]) -> None:
    assert answers.choices_in(text) == expected


def _backorder(backorder_id: int, item: str = "Oak Mission futon frame, full", state: str = "notified",
               substitutes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    options = ["wait", "cancel", "credit", "substitute"] if state == "notified" else ["cancel", "credit"]
    return {"id": backorder_id, "item": item, "state": state, "options": options, "substitutes": substitutes or []}


QUEEN = {"sku": "FUT-FRM-OAK-QUEEN", "title": "Oak Mission futon frame, queen", "price_cents": 72900, "link": "q"}
WALNUT = {"sku": "FUT-FRM-WAL-FULL", "title": "Walnut Lounger futon frame, full", "price_cents": 79900, "link": "w"}


def test_one_backorder_and_a_clear_answer_is_decided() -> None:
    only = _backorder(1)
    answer = answers.read("I'll wait", [], [only], intent="backorder_offer_answer")
    assert answer.decided and (answer.choice, answer.backorder_id) == ("wait", 1)


def test_two_waiting_backorders_are_not_guessed() -> None:
    answer = answers.read("I'll wait", [], [_backorder(1), _backorder(2, "Walnut")], intent="backorder_offer_answer")
    assert not answer.decided and answer.question == "which item do you mean"
    named = answers.read("I'll wait for order #5", [_backorder(2, "Walnut")], [_backorder(1), _backorder(2, "Walnut")],
                         intent="backorder_offer_answer")
    assert named.decided and named.backorder_id == 2


def test_the_substitute_is_the_one_named_or_the_only_one_offered() -> None:
    both = _backorder(1, substitutes=[QUEEN, WALNUT])
    queen = answers.read("Please send the queen instead", [], [both], intent="backorder_offer_answer")
    assert queen.decided and queen.substitute == "FUT-FRM-OAK-QUEEN"
    unclear = answers.read("Send the alternative you offered", [], [both], intent="backorder_offer_answer")
    assert not unclear.decided and unclear.question == "which substitute"
    single = answers.read("Send the alternative you offered", [], [_backorder(1, substitutes=[WALNUT])],
                          intent="backorder_offer_answer")
    assert single.decided and single.substitute == "FUT-FRM-WAL-FULL"


def test_a_cancel_request_applies_only_to_a_named_backordered_order() -> None:
    waiting = _backorder(1)
    assert not answers.read("Please cancel my order", [], [waiting], intent="cancel").decided
    named = answers.read("Please cancel order #1001", [waiting], [waiting], intent="cancel")
    assert named.decided and named.choice == "cancel"


def test_an_option_no_longer_open_is_asked_not_applied_and_a_repeat_is_already() -> None:
    waiting = _backorder(1, state="accepted_wait")
    again = answers.read("I'll wait", [], [waiting], intent="backorder_offer_answer")
    assert again.decided and again.choice == "wait"  # choose() answers "already"
    swap = answers.read("send the queen instead", [], [waiting], intent="backorder_offer_answer")
    assert not swap.decided and swap.question == "no longer possible"
