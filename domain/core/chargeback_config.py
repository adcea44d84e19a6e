"""The ``[chargebacks]`` table: the reminder ladder before a processor's evidence deadline, the
refund policy text the evidence packet quotes, and whether a complete packet submits itself.

Read like the rest of the business file (``domain.core.business_config``): every problem is
reported with its key path, all at once.

* ``remind_before`` — how long before the processor's deadline each reminder alerts the case's
  queue (``["72h", "24h", "4h"]``): one timer row per rung, at most :data:`MAX_REMINDERS`.
* ``refund_policy_text`` — the refund and return policy as the checkout showed it; quoted in the
  packet for "not as described" and "credit not processed" disputes.
* ``refund_policy_disclosure`` — how and where the customer saw it (e.g. "a required checkbox
  next to the Pay button, linking the policy"); Stripe's ``refund_policy_disclosure`` field.
* ``auto_submit`` — a complete packet, once staged, is submitted without a person approving it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domain.core.business_config import _Reader

DEFAULT_REMIND_BEFORE_S: tuple[int, ...] = (72 * 3600, 24 * 3600, 4 * 3600)
#: Each rung is its own timer kind (``dispute.reminder.N``), so the ladder has a fixed ceiling.
MAX_REMINDERS = 8
KEYS = {"remind_before", "refund_policy_text", "refund_policy_disclosure", "auto_submit"}


@dataclass(frozen=True)
class ChargebacksConfig:
    #: Seconds before the deadline, longest first.
    remind_before_s: tuple[int, ...] = DEFAULT_REMIND_BEFORE_S
    refund_policy_text: str = ""
    refund_policy_disclosure: str = ""
    auto_submit: bool = False


def read_chargebacks(reader: _Reader, data: dict[str, Any]) -> ChargebacksConfig:
    table = reader.table(data, "chargebacks", "chargebacks")
    reader.unknown_keys(table, KEYS, "chargebacks")
    ladder: tuple[int, ...] = DEFAULT_REMIND_BEFORE_S
    if "remind_before" in table:
        raw = table["remind_before"]
        if not isinstance(raw, list):
            reader.problem("chargebacks.remind_before", 'expected a list of durations like ["72h", "24h", "4h"]')
        elif len(raw) > MAX_REMINDERS:
            reader.problem("chargebacks.remind_before", f"at most {MAX_REMINDERS} reminders, got {len(raw)}")
        else:
            rungs = [reader.duration({f"remind_before[{index}]": value}, f"remind_before[{index}]", "chargebacks", 0)
                     for index, value in enumerate(raw)]
            if len(set(rungs)) != len(rungs):
                reader.problem("chargebacks.remind_before", "the same duration twice")
            ladder = tuple(sorted((r for r in rungs if r > 0), reverse=True))
    texts = {}
    for key in ("refund_policy_text", "refund_policy_disclosure"):
        value = table.get(key, "")
        if not isinstance(value, str):
            reader.problem(f"chargebacks.{key}", f"expected text, got {value!r}")
            value = ""
        texts[key] = value.strip()
    return ChargebacksConfig(remind_before_s=ladder, auto_submit=reader.boolean(table, "auto_submit", "chargebacks",
                                                                                 False), **texts)
