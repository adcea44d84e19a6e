"""One ticket through triage with the example file's ladder: language, priority inputs, reasons."""
from __future__ import annotations

import pytest

from domain.core.business_config import BusinessConfig
from domain.support import customer, language, triage


def test_a_spanish_ticket_goes_to_the_spanish_desk_whatever_the_english_model_thinks(
        futon_config: BusinessConfig) -> None:
    result = triage.assess(futon_config.support, "Pedido", "Hola, ¿dónde está mi pedido? Es la tercera vez que "
                           "pregunto, gracias.", customer.CustomerFacts(email=None))
    assert (result.language, result.language_source) == ("es", "guessed")
    assert (result.routing.queue, result.routing.auto_answer) == ("soporte", False)
    assert any("classifier reads en" in r for r in result.triage_reasons())


def test_the_source_language_wins_over_the_guess(futon_config: BusinessConfig) -> None:
    result = triage.assess(futon_config.support, "Where is my order", "Where is my futon? It's been two weeks.",
                           customer.CustomerFacts(email=None), language="EN")
    assert (result.language, result.language_source) == ("en", "ticket")
    assert result.prediction.intent == "where_is_my_order" and result.routing.queue == "support"
    assert result.routing.auto_answer


def test_money_and_lateness_raise_priority_and_are_explained(futon_config: BusinessConfig) -> None:
    text = ("Where is my order?", "My frame still hasn't shipped and nobody answers.")
    plain = triage.assess(futon_config.support, *text, customer.CustomerFacts(email=None))
    urgent = triage.assess(futon_config.support, *text, customer.CustomerFacts(
        email="a@example.com", money_at_stake_cents=129_900, days_late=4, late_because="backorder 3 promised 2026-11-21"))
    assert plain.prediction == urgent.prediction
    assert urgent.priority.points == plain.priority.points + 25 + 24
    assert urgent.priority.level in ("high", "urgent") and plain.priority.level in ("low", "normal")
    assert "4 day(s) late: backorder 3 promised 2026-11-21" in urgent.triage_reasons()


@pytest.mark.parametrize(("text", "expected"), [
    ("Where is order #1001?", ["1001"]), ("order number: W-20931 please", ["W-20931"]),
    ("my order 55102 and order no. 55103", ["55102", "55103"]), ("zip 60614, call 5551234567", []),
])
def test_order_numbers_in_text(text: str, expected: list[str]) -> None:
    assert customer.order_numbers(text) == expected


def test_language_guess_gives_up_on_short_text() -> None:
    assert language.guess("ok thanks") is None
    assert language.guess("Bonjour, où est ma commande? Merci") == "fr"
