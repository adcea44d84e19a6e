"""The escalation ladder and ``[[support.routes]]``: each step, in order, with its reasons."""
from __future__ import annotations

import dataclasses

from domain.core.support_config import SupportConfig, SupportRoute
from domain.support.ladder import Facts, route

BASE = Facts(intent="where_is_my_order", confidence=0.9, priority="normal", channel="email", clv_tier="standard",
             clv_cents=10_000, language="en", compound=0.1, legal=False)
ROUTES = (
    SupportRoute(queue="fulfilment", name="damage", intents=("damaged_defective", "wrong_item")),
    SupportRoute(queue="order-desk", name="urgent cancels", intents=("cancel",), priorities=("urgent", "high"),
                 auto_answer=False),
    SupportRoute(queue="soporte", name="spanish", languages=("es",), escalate=False),
    SupportRoute(queue="chat-desk", channels=("chat",), clv_tiers=("loyal",)),
    SupportRoute(queue="catch-all-damage", intents=("damaged_defective",)),
)
CONFIG = SupportConfig(routes=ROUTES, clv_tiers=(("vip", 150_000), ("loyal", 40_000)))


def facts(**changes: object) -> Facts:
    return dataclasses.replace(BASE, **changes)  # type: ignore[arg-type]


def test_tier_one_when_nothing_escalates() -> None:
    decided = route(CONFIG, BASE)
    assert (decided.queue, decided.step, decided.auto_answer, decided.rule_index) == ("support", "tier1", True, None)
    assert decided.reasons[-1] == "tier-1 macro attempt → support"


def test_negative_sentiment_goes_to_tier_two() -> None:
    decided = route(CONFIG, facts(compound=-0.7))
    assert (decided.queue, decided.step, decided.auto_answer) == ("support-tier2", "tier2", False)
    assert "sentiment -0.70 ≤ -0.50 → tier 2 support-tier2" in decided.reasons
    assert route(CONFIG, facts(compound=-0.5)).queue == "support-tier2"  # at the threshold
    assert route(CONFIG, facts(compound=-0.49)).queue == "support"
    assert route(dataclasses.replace(CONFIG, negative_sentiment=-0.3), facts(compound=-0.35)).step == "tier2"


def test_clv_over_the_threshold_goes_to_the_vip_pod_even_when_angry() -> None:
    decided = route(CONFIG, facts(clv_cents=150_000, compound=-0.8))
    assert (decided.queue, decided.step) == ("vip-care", "vip")
    assert route(CONFIG, facts(clv_cents=149_999)).queue == "support"
    assert route(dataclasses.replace(CONFIG, vip_clv_cents=None), facts(clv_cents=10**9)).queue == "support"


def test_legal_beats_everything_and_is_never_auto_answered() -> None:
    decided = route(CONFIG, facts(legal=True, legal_text="lawyer: 'lawyer'", clv_cents=10**7, confidence=0.1,
                                  language="es"))
    assert (decided.queue, decided.step, decided.auto_answer) == ("legal", "legal", False)


def test_under_the_confidence_floor_people_decide() -> None:
    decided = route(CONFIG, facts(confidence=0.34, intent="damaged_defective"))
    assert (decided.queue, decided.step, decided.auto_answer) == ("support-triage", "human", False)
    assert "< floor 0.35" in decided.reasons[-2] and "support-triage" in decided.reasons[-1]
    assert route(CONFIG, facts(confidence=0.35, intent="damaged_defective")).queue == "fulfilment"
    assert route(dataclasses.replace(CONFIG, confidence_floor=0.95), facts(confidence=0.9)).step == "human"


def test_routes_first_match_wins_and_every_criterion_must_hold() -> None:
    assert route(CONFIG, facts(intent="damaged_defective")).rule_index == 0  # not the catch-all below it
    assert route(CONFIG, facts(intent="cancel", priority="normal")).queue == "support"
    urgent = route(CONFIG, facts(intent="cancel", priority="urgent"))
    assert (urgent.queue, urgent.rule_name, urgent.auto_answer) == ("order-desk", "urgent cancels", False)
    assert route(CONFIG, facts(channel="chat", clv_tier="loyal")).queue == "chat-desk"
    assert route(CONFIG, facts(channel="chat")).queue == "support"
    unnamed = route(CONFIG, facts(channel="chat", clv_tier="loyal"))
    assert unnamed.rule_name == "support.routes[3]"


def test_a_route_escalates_unless_it_says_not_to() -> None:
    angry_damage = route(CONFIG, facts(intent="damaged_defective", compound=-0.7))
    assert angry_damage.queue == "support-tier2"
    assert any("rule 0 'damage' matched → fulfilment" in r for r in angry_damage.reasons)
    angry_spanish = route(CONFIG, facts(language="es", compound=-0.9, clv_cents=10**7))
    assert (angry_spanish.queue, angry_spanish.step) == ("soporte", "route")
    assert "escalate = false" in " ".join(angry_spanish.reasons)


def test_under_the_floor_only_rules_without_an_intent_may_match() -> None:
    spanish = route(CONFIG, facts(confidence=0.1, language="es", compound=-0.9))
    assert (spanish.queue, spanish.step, spanish.auto_answer) == ("soporte", "route", False)
    chat = route(CONFIG, facts(confidence=0.1, channel="chat", clv_tier="loyal"))
    assert (chat.queue, chat.auto_answer) == ("chat-desk", False)  # the rule answers by macro only when sure
    assert route(CONFIG, facts(confidence=0.9, channel="chat", clv_tier="loyal")).auto_answer is True
