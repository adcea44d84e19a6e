"""The escalation ladder and the routing rules: which queue a triaged ticket goes to, and why.

In order, and every step evaluated is written into the reasons:

1. a legal threat → ``legal_queue``, never answered automatically (no rule can change this);
2. the first ``[[support.routes]]`` rule whose criteria all hold (intent, priority, channel, CLV
   tier, language) chooses the tier-1 queue (first match wins); under ``confidence_floor`` the
   intent is not trusted: only rules that name no intent may match (a language desk), and when
   none does the ticket goes to ``human_queue`` — people read it instead of a guess;
3. unless that rule says ``escalate = false``: a lifetime value at or over ``vip_clv`` → the VIP
   pod (``vip_queue``), else a sentiment at or under ``negative_sentiment`` → ``tier2_queue``;
4. otherwise the rule's queue, or ``tier1_queue`` when none matched: the tier-1 macro attempt.

Only step 4 may be answered automatically (the macro composer drafts; an agent sends), and never
a ticket under the floor.
Pure: the triaged facts come in, the decision and its reasons go out.
"""
from __future__ import annotations

from dataclasses import dataclass

from domain.core.support_config import SupportConfig, SupportRoute


@dataclass(frozen=True)
class Facts:
    intent: str
    confidence: float
    priority: str
    channel: str
    clv_tier: str
    clv_cents: int
    language: str
    compound: float
    legal: bool
    legal_text: str = ""


@dataclass(frozen=True)
class Routing:
    queue: str
    owner: str | None
    #: ``legal``, ``human``, ``vip``, ``tier2``, ``route`` or ``tier1``.
    step: str
    rule_index: int | None
    rule_name: str
    auto_answer: bool
    reasons: tuple[str, ...]


def matches(rule: SupportRoute, facts: Facts) -> bool:
    return ((not rule.intents or facts.intent in rule.intents)
            and (not rule.priorities or facts.priority in rule.priorities)
            and (not rule.channels or facts.channel in rule.channels)
            and (not rule.clv_tiers or facts.clv_tier in rule.clv_tiers)
            and (not rule.languages or facts.language in rule.languages))


def _name(rule: SupportRoute, index: int) -> str:
    return rule.name or f"support.routes[{index}]"


def route(config: SupportConfig, facts: Facts) -> Routing:
    reasons: list[str] = []
    if facts.legal:
        reasons.append(f"legal threat ({facts.legal_text}) → {config.legal_queue}; never answered automatically")
        return Routing(config.legal_queue, None, "legal", None, "ladder: legal threat", False, tuple(reasons))
    reasons.append("no legal threat")
    sure = facts.confidence >= config.confidence_floor
    if sure:
        reasons.append(f"intent {facts.intent} at confidence {facts.confidence:.2f} ≥ floor "
                       f"{config.confidence_floor:.2f}")
        found = next(((i, r) for i, r in enumerate(config.routes) if matches(r, facts)), None)
    else:
        reasons.append(f"intent {facts.intent} at confidence {facts.confidence:.2f} < floor "
                       f"{config.confidence_floor:.2f}: the intent is not used (only rules naming no intent may match)")
        found = next(((i, r) for i, r in enumerate(config.routes) if not r.intents and matches(r, facts)), None)
        if found is None:
            reasons.append(f"no rule without an intent matched → {config.human_queue} (people decide, no guess)")
            return Routing(config.human_queue, None, "human", None, "ladder: under the confidence floor", False,
                           tuple(reasons))
    if found is None:
        reasons.append(f"no [[support.routes]] rule matched (intent {facts.intent}, priority {facts.priority}, "
                       f"channel {facts.channel}, CLV tier {facts.clv_tier}, language {facts.language})")
    else:
        index, rule = found
        reasons.append(f"rule {index} {_name(rule, index)!r} matched → {rule.queue}")
    if found is None or found[1].escalate:
        vip = config.vip_clv_cents
        if vip is not None and facts.clv_cents >= vip:
            reasons.append(f"lifetime value {facts.clv_cents / 100:,.2f} ≥ vip_clv {vip / 100:,.2f} → "
                           f"VIP pod {config.vip_queue}")
            return Routing(config.vip_queue, None, "vip", None, "ladder: VIP pod", False, tuple(reasons))
        if vip is not None:
            reasons.append(f"lifetime value {facts.clv_cents / 100:,.2f} < vip_clv {vip / 100:,.2f}")
        if facts.compound <= config.negative_sentiment:
            reasons.append(f"sentiment {facts.compound:+.2f} ≤ {config.negative_sentiment:+.2f} → tier 2 "
                           f"{config.tier2_queue}")
            return Routing(config.tier2_queue, None, "tier2", None, "ladder: negative sentiment", False,
                           tuple(reasons))
        reasons.append(f"sentiment {facts.compound:+.2f} > {config.negative_sentiment:+.2f}")
    else:
        reasons.append("the rule says escalate = false: no VIP or tier-2 escalation")
    if found is not None:
        index, rule = found
        return Routing(rule.queue, rule.owner, "route", index, _name(rule, index), rule.auto_answer and sure,
                       tuple(reasons))
    reasons.append(f"tier-1 macro attempt → {config.tier1_queue}")
    return Routing(config.tier1_queue, None, "tier1", None, "ladder: tier 1", True, tuple(reasons))
