"""Legal-threat detection: explicit rules, not the classifier, so every threat is found the same way.

A ticket that mentions a lawyer or attorney, suing or a lawsuit, small claims, the attorney general,
a BBB or consumer-protection complaint is a legal threat: the ladder sends it to the legal queue
and it is never answered automatically. A chargeback or a bank dispute is a billing matter (the
chargeback desk handles it, ``docs/chargebacks.md``), not a legal one, and matches nothing here.
A mention counts even when negated ("I don't want to involve my lawyer"): people decide.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: (rule name, pattern); each is searched case-insensitively in the subject and body.
RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in (
    ("attorney_general", r"\battorney[- ]general\b|\bAG'?s office\b"),
    ("lawyer", r"\b(?:lawyer|attorney|solicitor|legal counsel|legal department|paralegal)s?\b"),
    ("lawsuit", r"\blaw ?suits?\b|\blegal action\b|\bclass[- ]action\b|\blitigation\b|\bcease and desist\b"),
    ("sue", r"\bsu(?:e|ing)\s+(?:you|your|y'all|u|the company|them|this company)\b"
            r"|\b(?:i|we)(?:'ll| will| am going to|'m going to| are going to|'re going to| plan to| intend to)"
            r"\s+(?:\w+\s+)?sue\b|\bgoing to sue\b|\bgonna sue\b|\bsee you in court\b"
            r"|\btak(?:e|ing) (?:you|this|it|the matter|your company) to court\b"),
    ("small_claims", r"\bsmall[- ]claims?\b"),
    ("bbb_complaint", r"\bBBB\b|\bbetter business bureau\b"),
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
