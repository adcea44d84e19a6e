"""Legal-threat detection: explicit rules, not the classifier, so every threat is found the same way.

A ticket that mentions a lawyer or attorney, suing or a lawsuit, legal proceedings, a class action,
a cease and desist, small claims, the attorney general or a consumer-protection complaint is a
legal threat: the ladder sends it to the legal queue and it is never answered automatically.

Not legal, and matched by nothing here: a chargeback or a bank dispute is a billing matter (the
chargeback desk handles it, ``docs/chargebacks.md``); a Better Business Bureau complaint is
forwarded by a private non-profit to the business to answer, and is not taken where litigation
is (https://www.bbb.org/process-of-complaints-and-reviews/complaints): an unhappy customer for
the ladder's other steps (tier 2 when angry), not a matter for counsel.

A mention counts even when negated ("I don't want to involve my lawyer"): people decide. "Sue" is
a name as often as a verb ("thanks to Sue for sorting it"), so only its verb shapes count: a
pronoun or "to" before it with a threat's verb ("prepared to sue", "no choice but to sue", "we'll
sue"), an object after it ("sue you"), or "suing" / "sued".
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: (rule name, pattern); each is searched case-insensitively in the subject and body.
RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in (
    ("attorney_general", r"\battorney[- ]general\b|\bAG'?s office\b"),
    ("lawyer", r"\b(?:lawyer|attorney|solicitor|legal counsel|legal department|legal team|paralegal)s?\b"),
    ("lawsuit", r"\blaw ?suits?\b|\blegal (?:action|proceedings|steps|recourse)\b|\bclass[- ]action\b"
                r"|\blitigation\b|\bcease[- ]and[- ]desist\b"),
    ("sue", r"\bsu(?:e|ing)\s+(?:you|your|y'all|u|the company|them|this company)\b|\bsu(?:ing|ed)\b"
            r"|\b(?:i|we)(?:'ll| will| shall| would| am going to|'m going to| are going to|'re going to| plan to"
            r"| intend to)\s+(?:\w+\s+)?sue\b|\bgonna sue\b|\bsee you in court\b"
            r"|\b(?:going|prepared|ready|decided|plan|planning|intend|intending|threatening|choice but|have|need)"
            r" to sue\b|\btak(?:e|ing) (?:you|this|it|the matter|your company) to court\b"),
    ("small_claims", r"\bsmall[- ]claims?\b"),
    ("consumer_protection", r"\bconsumer (?:protection|affairs)\b|\bFTC\b|\bfederal trade commission\b"),
))


@dataclass(frozen=True)
class LegalThreat:
    #: (rule, the words that matched), in rule order; empty: no legal threat.
    matches: tuple[tuple[str, str], ...]

    @property
    def found(self) -> bool:
        return bool(self.matches)

    def describe(self) -> str:
        return "; ".join(f"{rule}: {phrase!r}" for rule, phrase in self.matches)


def detect(subject: str, body: str) -> LegalThreat:
    text = f"{subject}\n{body}"
    found = []
    for name, pattern in RULES:
        match = pattern.search(text)
        if match:
            found.append((name, match.group(0)))
    return LegalThreat(tuple(found))
