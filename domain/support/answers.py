"""A customer's answer to a backorder offer that arrives as a ticket ("I'll wait", "send the queen
instead", "cancel it"): which choice it makes, and for which backorder — or why it cannot be told.

Reading the choice is rules, not the classifier: each choice has its words (wait / keep my order;
substitute / instead / swap / the alternative or a named substitute; cancel / refund; store
credit), and a mention is not counted when a negation comes just before it in the same clause
("don't cancel, I'll wait", "instead of waiting", "no substitute please"). One choice left is the
answer; none or several is ambiguous. The backorder is the one waiting backorder of the orders the
ticket names, else of every order linked to the customer; a substitute is the one offered
substitute the text names (by code, or by a word of its title no other option shares), or the only
one offered. Anything else is not guessed: the draft asks the customer and the ticket stays with
an agent. Pure: the caller reads the rows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

WAITING = ("open", "notified", "accepted_wait")
#: The state each choice moves a backorder to (``customer_journey.choose``).
CHOICE_TARGETS = {"wait": "accepted_wait", "cancel": "cancelled_by_customer", "credit": "cancelled_by_customer",
                  "substitute": "substituted"}

MARKERS: dict[str, re.Pattern[str]] = {
    "wait": re.compile(r"\bwait(?:ing)?\b|\bkeep (?:my|the|our|it on) ?(?:order|it)?\b|\bhold (?:my|the) order\b|"
                       r"\baccept the (?:new )?(?:delivery )?(?:date|delay)\b|\blater date\b", re.I),
    "substitute": re.compile(r"\bsubstitut\w*|\binstead\b|\bswap\w*|\bswitch\w*|\breplacement\b|\balternative\b|"
                             r"\bsimilar (?:one|model|frame|item|product)\b|\bthe other one\b|\bupgrade\b", re.I),
    "cancel": re.compile(r"\bcancel\w*|\brefund\w*|\bmoney back\b", re.I),
    "credit": re.compile(r"\b(?:store )?credit\b", re.I),
}
NEGATORS = frozenset({"don't", "dont", "do not", "not", "never", "won't", "wont", "can't", "cant", "cannot", "than",
                      "without", "instead", "doesn't", "didn't", "rather than"})
WORD = re.compile(r"[a-z0-9']+")
CLAUSE_END = re.compile(r"[.,;!?\n]")


def _negated(text: str, start: int) -> bool:
    """A negation among the three words before ``start`` in its clause ("no" only right before it)."""
    clause = CLAUSE_END.split(text[:start])[-1].lower().replace("\u2019", "'")
    words = WORD.findall(clause)[-3:]
    if words and words[-1] == "no":
        return True
    joined = " ".join(words)
    return "no need to" in joined or any(w in NEGATORS for w in words)


def choices_in(text: str, substitute_named: bool = False) -> list[str]:
    """The choices the text makes, negated mentions left out; naming an offered substitute is one."""
    found = {choice for choice, pattern in MARKERS.items()
             if any(not _negated(text, m.start()) for m in pattern.finditer(text))}
    if substitute_named:
        found.add("substitute")
    if "credit" in found:
        found.discard("cancel")  # "cancel it for store credit" is the credit choice
    return sorted(found)


def distinctive_words(title: str, others: list[str]) -> set[str]:
    """The words of a title that the other titles (the backordered item, the other options) lack."""
    mine = set(WORD.findall(title.lower()))
    theirs = {w for other in others for w in WORD.findall(other.lower())}
    return {w for w in mine - theirs if len(w) > 2}


def named_substitutes(text: str, item: str, offered: list[dict[str, Any]]) -> list[str]:
    """The offered substitutes the text names, by SKU code or by a word only that option has."""
    lower = text.lower()
    words = set(WORD.findall(lower))
    named = []
    for option in offered:
        others = [item] + [o["title"] for o in offered if o is not option]
        if option["sku"].lower() in lower or distinctive_words(option["title"], others) & words:
            named.append(option["sku"])
    return named


@dataclass(frozen=True)
class Answer:
    """What the ticket asks for: apply ``choice`` to ``backorder_id`` (with ``substitute``), or not
    (``question`` says what the draft must ask, ``reasons`` why)."""

    choice: str | None
    backorder_id: int | None
    substitute: str | None = None
    question: str | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def decided(self) -> bool:
        return self.choice is not None and self.backorder_id is not None and self.question is None

    def figures(self) -> dict[str, Any]:
        return {"choice": self.choice, "backorder_id": self.backorder_id, "substitute": self.substitute,
                "question": self.question}


def read(text: str, named: list[dict[str, Any]], linked: list[dict[str, Any]], *, intent: str) -> Answer:
    """Decide from the text and the backorders (the facts' dicts: ``orders[].backorders[]``) of the
    orders the ticket names (``named``) and of every linked order (``linked``)."""
    waiting_named = [b for b in named if b["state"] in WAITING]
    candidates = waiting_named or ([] if intent == "cancel" else [b for b in linked if b["state"] in WAITING])
    reasons: list[str] = []
    if intent == "cancel" and not waiting_named:
        return Answer(None, None, reasons=["a cancel request applies to a backorder only when it names a "
                                           "backordered order; this one does not: an agent handles it"])
    if not candidates:
        return Answer(None, None, reasons=["no waiting backorder among the customer's orders"])
    if len(candidates) > 1:
        listed = ", ".join(f"{b['item']} (backorder {b['id']})" for b in candidates)
        return Answer(None, None, question="which item do you mean",
                      reasons=[f"{len(candidates)} waiting backorders ({listed}): not guessed"])
    backorder = candidates[0]
    offered = backorder.get("substitutes") or []
    picked = named_substitutes(text, backorder["item"], offered)
    choices = choices_in(text, substitute_named=bool(picked))
    if intent == "cancel" and not choices:
        choices = ["cancel"]
    if len(choices) != 1:
        what = " and ".join(choices) if choices else "no choice"
        return Answer(None, backorder["id"], question="which option do you want",
                      reasons=[f"the text reads as {what}: not guessed"])
    choice = choices[0]
    reasons.append(f"the text reads as {choice} for backorder {backorder['id']} ({backorder['item']})")
    if choice not in backorder["options"] and backorder["state"] == CHOICE_TARGETS[choice] and choice != "substitute":
        return Answer(choice, backorder["id"], reasons=reasons + [f"the backorder is {backorder['state']} already"])
    if choice not in backorder["options"]:
        return Answer(choice, backorder["id"], question="no longer possible",
                      reasons=reasons + [f"{choice} is no longer open for a backorder {backorder['state']}"])
    if choice != "substitute":
        return Answer(choice, backorder["id"], reasons=reasons)
    if len(picked) == 1 or (not picked and len(offered) == 1):
        code = picked[0] if picked else offered[0]["sku"]
        return Answer(choice, backorder["id"], code, reasons=reasons + [
            f"substitute {code}: {'named in the text' if picked else 'the only one offered'}"])
    which = ", ".join(o["sku"] for o in offered) or "none in stock"
    return Answer(choice, backorder["id"], question="which substitute",
                  reasons=reasons + [f"substitutes offered: {which}; the text names "
                                     f"{', '.join(picked) if picked else 'none of them'}: not guessed"])
