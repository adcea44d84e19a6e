"""The ``[support]`` table: how tickets are triaged and routed (``domain.support``, ``docs/support.md``).

The escalation ladder's queues and thresholds (legal queue, the human queue under the confidence
floor, the VIP pod over a lifetime value, tier 2 for negative sentiment, tier 1 otherwise), the
share of resolved tickets sampled for QA, customer-value tiers, the priority weights and
``[[support.routes]]``: rules matched in order by intent, priority, channel, CLV tier and language.
Queues are the case queues' names (``docs/cases.md``). Problems are reported with their key path,
like the rest of the file (``domain.core.business_config``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from domain.core.models import CASE_PRIORITIES

if TYPE_CHECKING:
    from domain.core.business_config import _Reader

#: What a ticket is classified into (``domain.support.intents`` ships their labelled examples).
INTENTS = ("where_is_my_order", "backorder_eta", "cancel", "refund", "return_exchange", "damaged_defective",
           "wrong_item", "address_change", "billing_payment", "product_question", "backorder_offer_answer", "other")
#: Where a ticket came in, as the helpdesk says (Gorgias' channels, Zendesk's via channel).
CHANNELS = ("email", "chat", "sms", "phone", "web", "social", "api")
#: Points an intent adds to a ticket's priority (the rest comes from sentiment, money and lateness).
DEFAULT_INTENT_WEIGHTS: dict[str, int] = {
    "where_is_my_order": 20, "backorder_eta": 15, "cancel": 25, "refund": 20, "return_exchange": 10,
    "damaged_defective": 30, "wrong_item": 30, "address_change": 30, "billing_payment": 25,
    "product_question": 5, "backorder_offer_answer": 20, "other": 0}
#: A ticket's priority from its points: the first threshold reached, most urgent first.
DEFAULT_PRIORITY_AT: dict[str, int] = {"urgent": 70, "high": 45, "normal": 20}
STANDARD_TIER = "standard"
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2}$")


@dataclass(frozen=True)
class SupportRoute:
    """One ``[[support.routes]]`` rule: criteria (empty = any) → queue. ``escalate`` false keeps the
    ticket in this queue whatever its sentiment or value (legal threats and low confidence still
    go up); ``auto_answer`` false keeps its drafts from being marked a tier-1 macro
    (an agent reviews each one)."""

    queue: str
    name: str = ""
    owner: str | None = None
    intents: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    clv_tiers: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    escalate: bool = True
    auto_answer: bool = True


@dataclass(frozen=True)
class SupportConfig:
    confidence_floor: float = 0.35
    tier1_queue: str = "support"
    tier2_queue: str = "support-tier2"
    vip_queue: str = "vip-care"
    legal_queue: str = "legal"
    human_queue: str = "support-triage"
    #: Lifetime value at or over which a customer goes to the VIP pod (None: no VIP step).
    vip_clv_cents: int | None = 150_000
    negative_sentiment: float = -0.5
    qa_sample_percent: int = 10
    #: Queues whose resolved tickets are always sampled for QA.
    qa_always: tuple[str, ...] = ("legal",)
    default_language: str = "en"
    #: (tier, lifetime value at least), highest first; ``standard`` below all of them.
    clv_tiers: tuple[tuple[str, int], ...] = (("vip", 150_000),)
    intent_weights: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_INTENT_WEIGHTS))
    priority_at: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PRIORITY_AT))
    routes: tuple[SupportRoute, ...] = ()

    def tier_names(self) -> set[str]:
        return {name for name, _ in self.clv_tiers} | {STANDARD_TIER}


KEYS = {"confidence_floor", "tier1_queue", "tier2_queue", "vip_queue", "legal_queue", "human_queue", "vip_clv",
        "negative_sentiment", "qa_sample_percent", "qa_always", "default_language", "clv_tiers", "intent_weights",
        "priority", "routes"}
ROUTE_KEYS = {"name", "queue", "owner", "intent", "priority", "channel", "clv_tier", "language", "escalate",
              "auto_answer"}


def _number(reader: _Reader, table: dict[str, Any], key: str, path: str, default: float, low: float,
            high: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        reader.problem(f"{path}.{key}", f"expected a number from {low} to {high}, got {value!r}")
        return default
    return float(value)


def _names(reader: _Reader, item: dict[str, Any], key: str, path: str, allowed: set[str] | None,
           what: str) -> tuple[str, ...]:
    """One name or a list of names; each must be one of ``allowed`` (None: any non-empty)."""
    raw = item.get(key, [])
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        reader.problem(f"{path}.{key}", f"expected a name or a list of names, got {raw!r}")
        return ()
    for value in values:
        if allowed is not None and value not in allowed:
            reader.problem(f"{path}.{key}", f"unknown {what} {value!r} (one of {', '.join(sorted(allowed))})")
    return tuple(values)


def _money(reader: _Reader, raw: Any, path: str) -> int | None:
    try:
        if isinstance(raw, bool):
            raise InvalidOperation
        amount = Decimal(str(raw))
        if amount < 0:
            raise InvalidOperation
    except InvalidOperation:
        reader.problem(path, f"expected an amount like \"1500.00\", got {raw!r}")
        return None
    return int(amount * 100)


def _tiers(reader: _Reader, table: dict[str, Any], vip_clv: int | None) -> tuple[tuple[str, int], ...]:
    raw = reader.table(table, "clv_tiers", "support.clv_tiers")
    tiers: dict[str, int] = {"vip": vip_clv} if vip_clv is not None else {}
    for name, amount in raw.items():
        if name == STANDARD_TIER:
            reader.problem(f"support.clv_tiers.{name}", "\"standard\" is the tier below every other")
            continue
        cents = _money(reader, amount, f"support.clv_tiers.{name}")
        if cents is not None:
            tiers[name] = cents
    return tuple(sorted(tiers.items(), key=lambda pair: -pair[1]))


def _weights(reader: _Reader, table: dict[str, Any]) -> dict[str, int]:
    weights = dict(DEFAULT_INTENT_WEIGHTS)
    raw = reader.table(table, "intent_weights", "support.intent_weights")
    for name in raw:
        if name not in INTENTS:
            reader.problem(f"support.intent_weights.{name}", f"unknown intent (one of {', '.join(INTENTS)})")
        else:
            weights[name] = reader.integer(raw, name, "support.intent_weights", default=weights[name]) or 0
    return weights


def _priority_at(reader: _Reader, table: dict[str, Any]) -> dict[str, int]:
    raw = reader.table(table, "priority", "support.priority")
    reader.unknown_keys(raw, {f"{name}_at" for name in DEFAULT_PRIORITY_AT}, "support.priority")
    at = {name: reader.integer(raw, f"{name}_at", "support.priority", default=points) or points
          for name, points in DEFAULT_PRIORITY_AT.items()}
    if not at["urgent"] >= at["high"] >= at["normal"]:
        reader.problem("support.priority", f"expected urgent_at ≥ high_at ≥ normal_at, got {at}")
    return at


def _routes(reader: _Reader, table: dict[str, Any], store_tiers: set[str]) -> tuple[SupportRoute, ...]:
    routes = []
    for path, item in reader.tables(table, "routes"):
        path = "support." + path
        reader.unknown_keys(item, ROUTE_KEYS, path)
        languages = _names(reader, item, "language", path, None, "language")
        for language in languages:
            if not LANGUAGE_PATTERN.match(language):
                reader.problem(f"{path}.language", f"expected a two-letter language code, got {language!r}")
        route = SupportRoute(
            queue=reader.string(item, "queue", path) or "", name=reader.string(item, "name", path, required=False) or "",
            owner=reader.string(item, "owner", path, required=False),
            intents=_names(reader, item, "intent", path, set(INTENTS), "intent"),
            priorities=_names(reader, item, "priority", path, set(CASE_PRIORITIES), "priority"),
            channels=_names(reader, item, "channel", path, set(CHANNELS), "channel"),
            clv_tiers=_names(reader, item, "clv_tier", path, store_tiers, "CLV tier"), languages=languages,
            escalate=reader.boolean(item, "escalate", path, True),
            auto_answer=reader.boolean(item, "auto_answer", path, True))
        if route.queue:
            routes.append(route)
    return tuple(routes)


def read_support(reader: _Reader, data: dict[str, Any]) -> SupportConfig:
    """``[support]`` with ``[support.clv_tiers]``, ``[support.intent_weights]``, ``[support.priority]``
    and ``[[support.routes]]``; absent, the ladder's defaults."""
    if "support" not in data:
        return SupportConfig()
    table = reader.table(data, "support", "support")
    reader.unknown_keys(table, KEYS, "support")
    defaults = SupportConfig()
    queues = {key: reader.string(table, key, "support", required=False, default=getattr(defaults, key)) or
              getattr(defaults, key) for key in ("tier1_queue", "tier2_queue", "vip_queue", "legal_queue", "human_queue")}
    vip_clv = _money(reader, table["vip_clv"], "support.vip_clv") if "vip_clv" in table else defaults.vip_clv_cents
    language = reader.string(table, "default_language", "support", required=False, default="en") or "en"
    if not LANGUAGE_PATTERN.match(language):
        reader.problem("support.default_language", f"expected a two-letter language code, got {language!r}")
    tiers = _tiers(reader, table, vip_clv)
    return SupportConfig(
        confidence_floor=_number(reader, table, "confidence_floor", "support", defaults.confidence_floor, 0.0, 1.0),
        vip_clv_cents=vip_clv,
        negative_sentiment=_number(reader, table, "negative_sentiment", "support", defaults.negative_sentiment, -1.0, 0.0),
        qa_sample_percent=int(_number(reader, table, "qa_sample_percent", "support", defaults.qa_sample_percent, 0, 100)),
        qa_always=_names(reader, table, "qa_always", "support", None, "queue") if "qa_always" in table
        else defaults.qa_always,
        default_language=language, clv_tiers=tiers, intent_weights=_weights(reader, table),
        priority_at=_priority_at(reader, table),
        routes=_routes(reader, table, {name for name, _ in tiers} | {STANDARD_TIER}), **queues)
