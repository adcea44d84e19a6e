"""The ``[csat]`` table: the satisfaction survey after a resolved backorder or case, what a negative
answer does, and when the weekly report goes out.

```toml
[csat]
negative_at_most = 2            # a score at or below this is negative (1-5)
link_lifetime = "30d"           # a survey link works this long after it is sent
report_schedule = "weekly mon 08:00"   # like [notifications] scorecard_schedule, or "off"
kinds = ["backorder", "case"]   # what is surveyed; also "ticket", "return" (registered by returns)

[[csat.rules]]                  # first match decides what a negative answer does
kinds = ["case"]                # optional: subject kinds
queues = ["vip"]                # optional: the queue that resolved it
intents = ["refund_request"]    # optional: the case kind / ticket intent / backorder outcome
action = "reopen"               # reopen | follow_up | alert
queue = "cx"                    # follow_up only: the queue of the follow-up case
```

Without rules a negative answer reopens a case and opens a follow-up case (queue ``cx``) for
anything else; ``reopen`` on a subject that is not a case opens a follow-up case instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domain.core.business_config import ScorecardSchedule, _Reader

ACTIONS = ("reopen", "follow_up", "alert")
DEFAULT_FOLLOW_UP_QUEUE = "cx"


@dataclass(frozen=True)
class CsatRule:
    action: str
    kinds: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    queue: str = DEFAULT_FOLLOW_UP_QUEUE

    def matches(self, kind: str, queue: str | None, intent: str | None) -> bool:
        return ((not self.kinds or kind in self.kinds) and (not self.queues or queue in self.queues)
                and (not self.intents or intent in self.intents))

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "kinds": list(self.kinds), "queues": list(self.queues),
                "intents": list(self.intents), "queue": self.queue}


DEFAULT_RULES = (CsatRule("reopen", kinds=("case",)), CsatRule("follow_up"))


@dataclass(frozen=True)
class CsatConfig:
    negative_at_most: int = 2
    link_lifetime_s: int = 30 * 86400
    report_schedule: ScorecardSchedule | None = None
    kinds: tuple[str, ...] = ("backorder", "case")
    rules: tuple[CsatRule, ...] = DEFAULT_RULES
    #: Whether ``rules`` came from the file (False: the defaults above).
    rules_from_file: bool = False

    def schedule(self) -> ScorecardSchedule:
        from domain.core.business_config import ScorecardSchedule

        return self.report_schedule or ScorecardSchedule()


def _strings(reader: _Reader, item: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        reader.problem(f"{path}.{key}", "expected a list of strings")
        return ()
    return tuple(value)


def read_csat(reader: _Reader, data: dict[str, Any]) -> CsatConfig:
    from domain.core.business_config import _read_scorecard_schedule

    table = reader.table(data, "csat", "csat")
    reader.unknown_keys(table, {"negative_at_most", "link_lifetime", "report_schedule", "kinds", "rules"}, "csat")
    negative = table.get("negative_at_most", 2)
    if not isinstance(negative, int) or isinstance(negative, bool) or not 1 <= negative <= 4:
        reader.problem("csat.negative_at_most", f"expected a score from 1 to 4, got {negative!r}")
        negative = 2
    lifetime = reader.duration(table, "link_lifetime", "csat", 30 * 86400)
    schedule = _read_scorecard_schedule(reader, table.get("report_schedule", "weekly mon 08:00"),
                                        "csat.report_schedule")
    kinds = _strings(reader, table, "kinds", "csat") if "kinds" in table else CsatConfig.kinds
    rules = []
    for path, item in reader.tables(table, "rules"):
        path = "csat." + path
        reader.unknown_keys(item, {"kinds", "queues", "intents", "action", "queue"}, path)
        action = item.get("action")
        if action not in ACTIONS:
            reader.problem(f"{path}.action", f"expected one of {', '.join(ACTIONS)}, got {action!r}")
            continue
        queue = item.get("queue", DEFAULT_FOLLOW_UP_QUEUE)
        if not isinstance(queue, str) or not queue:
            reader.problem(f"{path}.queue", "expected a queue name")
            queue = DEFAULT_FOLLOW_UP_QUEUE
        rules.append(CsatRule(action, _strings(reader, item, "kinds", path), _strings(reader, item, "queues", path),
                              _strings(reader, item, "intents", path), queue))
    return CsatConfig(negative_at_most=negative, link_lifetime_s=lifetime, report_schedule=schedule, kinds=kinds,
                      rules=tuple(rules) if rules else DEFAULT_RULES, rules_from_file=bool(rules))
