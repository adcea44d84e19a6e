"""Which queue, owner, priority and SLA a new case gets: the first ``[[cases.routes]]`` rule whose
criteria all hold (kind, SKU or category, channel, customer tier), else the ``[cases]`` defaults.

Pure: the facts come in, the decision (with the rule's index, stored on the case) goes out, so
the routing table can be tested and explained without a database.
"""
from __future__ import annotations

from dataclasses import dataclass

from domain.core.case_config import CaseRoute, CasesConfig


@dataclass(frozen=True)
class Facts:
    """What a rule can match on. A case about several SKUs matches a rule naming any one of them."""

    kind: str
    sku_codes: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    channel: str | None = None
    tier: str | None = None


@dataclass(frozen=True)
class Decision:
    queue: str
    owner: str | None
    priority: str
    sla_s: int
    #: Index into ``[[cases.routes]]``; None when no rule matched and the defaults decided.
    rule_index: int | None


def matches(rule: CaseRoute, facts: Facts) -> bool:
    """Every criterion the rule sets holds for the case; unset criteria match anything."""
    return ((rule.kind is None or rule.kind == facts.kind)
            and (rule.sku is None or rule.sku in facts.sku_codes)
            and (rule.category is None or rule.category in facts.categories)
            and (rule.channel is None or rule.channel == facts.channel)
            and (rule.tier is None or rule.tier == facts.tier))


def route(config: CasesConfig, facts: Facts) -> Decision:
    """The first matching rule decides; first match wins, so specific rules go above broad ones."""
    for index, rule in enumerate(config.routes):
        if matches(rule, facts):
            return Decision(rule.queue, rule.owner, rule.priority, rule.sla_s, index)
    return Decision(config.default_queue, None, config.default_priority, config.default_sla_s, None)
