"""A ticket's priority from its intent × sentiment × money at stake × lateness, with the points
each part added, so the reasons can be read back (``why ticket N``).

Points: the intent's weight (``[support.intent_weights]``), sentiment (+25 at or under -0.6, +15 at
or under ``negative_sentiment``), the money at stake on the ticket's orders (+4 from 50.00, +10 from
200.00, +18 from 500.00, +25 from 1,000.00) and lateness (+6 a day past the date promised, at most
+30). The first ``[support.priority]`` threshold reached names the priority; a legal threat is
always ``urgent``. Pure: the figures come in, the priority and its reasons go out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.core.support_config import SupportConfig

MONEY_STEPS = ((100_000, 25), (50_000, 18), (20_000, 10), (5_000, 4))
VERY_NEGATIVE = -0.6
LATE_POINTS_PER_DAY = 6
LATE_POINTS_MAX = 30


@dataclass(frozen=True)
class Inputs:
    intent: str
    compound: float
    money_at_stake_cents: int
    days_late: int
    legal: bool


@dataclass(frozen=True)
class Priority:
    level: str
    points: int
    parts: tuple[tuple[str, int, str], ...]  # (part, points, why)

    def figures(self) -> dict[str, Any]:
        return {"level": self.level, "points": self.points,
                "parts": [{"part": part, "points": points, "why": why} for part, points, why in self.parts]}


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def decide(config: SupportConfig, inputs: Inputs) -> Priority:
    parts: list[tuple[str, int, str]] = [
        ("intent", config.intent_weights.get(inputs.intent, 0), f"intent {inputs.intent}")]
    if inputs.compound <= VERY_NEGATIVE:
        parts.append(("sentiment", 25, f"sentiment {inputs.compound:+.2f} ≤ {VERY_NEGATIVE}"))
    elif inputs.compound <= config.negative_sentiment:
        parts.append(("sentiment", 15, f"sentiment {inputs.compound:+.2f} ≤ {config.negative_sentiment}"))
    else:
        parts.append(("sentiment", 0, f"sentiment {inputs.compound:+.2f}"))
    money = next((points for floor, points in MONEY_STEPS if inputs.money_at_stake_cents >= floor), 0)
    parts.append(("money", money, f"{_money(inputs.money_at_stake_cents)} at stake"))
    late = min(LATE_POINTS_MAX, LATE_POINTS_PER_DAY * max(0, inputs.days_late))
    parts.append(("lateness", late, f"{inputs.days_late} day(s) late" if inputs.days_late > 0 else "not late"))
    points = sum(p for _, p, _ in parts)
    if inputs.legal:
        parts.append(("legal", 0, "legal threat: always urgent"))
        return Priority("urgent", points, tuple(parts))
    level = next((name for name in ("urgent", "high", "normal") if points >= config.priority_at[name]), "low")
    return Priority(level, points, tuple(parts))
