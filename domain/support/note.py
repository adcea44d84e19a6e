"""The internal note a helpdesk ticket gets after triage: what we decided and why, for the agent.

One function builds the body, so every note reads the same: intent and confidence, sentiment,
priority with each part's reason, the queue (and owner), and — when the ticket goes to people
because the intent was not trusted, or to legal — that it is not to be answered automatically.
``draft`` is the reply a macro composer drafted for the agent (none yet: the note then has no
draft section); it comes last, under its own heading, never sent to the customer by us.
"""
from __future__ import annotations

from typing import Any

from domain.core.models import SupportTicket

HEADING = "Backorders triage"
DRAFT_HEADING = "Suggested reply (draft, not sent)"


def _priority_lines(figures: dict[str, Any]) -> list[str]:
    priority = figures.get("priority") or {}
    return [f"  - {part.get('why', part.get('part', ''))} +{part.get('points', 0)}"
            for part in priority.get("parts") or []]


def triage_note(ticket: SupportTicket, figures: dict[str, Any] | None = None, routing_rule: str = "",
                draft: str | None = None) -> str:
    """The note body for a triaged ticket (``figures``: its triage decision's; ``draft``: optional)."""
    figures = figures or {}
    sentiment = figures.get("sentiment") or {}
    points = (figures.get("priority") or {}).get("points")
    lines = [HEADING, "",
             f"Intent: {ticket.intent} (confidence {ticket.confidence or 0.0:.2f})",
             f"Sentiment: {sentiment.get('label', '')} ({ticket.sentiment or 0.0:+.2f})".replace(" ()", ""),
             f"Priority: {ticket.priority}" + (f" ({points} points)" if points is not None else "")]
    lines += _priority_lines(figures)
    if ticket.legal_threat:
        lines.append("Legal threat: " + ", ".join(str(match[0]) for match in figures.get("legal_threat") or [])
                     if figures.get("legal_threat") else "Legal threat: yes")
    lines.append(f"Queue: {ticket.queue}" + (f" (owner {ticket.owner})" if ticket.owner else "")
                 + (f" by {routing_rule}" if routing_rule else ""))
    if ticket.legal_threat or ticket.needs_human or not ticket.auto_answer:
        lines.append("Not to be answered automatically.")
    if draft:
        lines += ["", DRAFT_HEADING, "", draft.strip()]
    return "\n".join(lines)
