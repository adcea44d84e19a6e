"""What every helpdesk connector offers, as plain records, so the support part of the domain
treats Zendesk, Gorgias and Intercom alike.

The helpdesk stays the agents' home base: we read new and updated tickets (conversations, on
Intercom) by webhook and by polling as reconciliation, and write back tags, priority, the
assignee or group, custom fields and an **internal note** — never a reply the customer sees.

* Reads: :meth:`HelpdeskConnector.poll` answers :class:`TicketPage` s in the platform's own
  incremental order, each with the cursor that is safe to save once its tickets are stored
  (Zendesk incremental export, Gorgias tickets by ``updated_datetime``, Intercom search on
  ``updated_at``).
* Webhooks: :meth:`HelpdeskConnector.verify_delivery` checks the platform's signature (Zendesk's
  base64 HMAC-SHA256 of timestamp + body, Intercom's ``X-Hub-Signature`` HMAC-SHA1; Gorgias
  signs nothing, so a secret of ours travels in a header of the HTTP integration) and answers a
  :class:`HelpdeskDelivery` whose ``dedupe_key`` is the same for every redelivery of one event.
* Status: ``status`` is the platform's own word, lower case; :func:`is_done` says whether it means
  the agents are done with the ticket (Zendesk ``solved`` / ``closed``, Gorgias ``closed``,
  Intercom ``closed``), and ``status_by`` names who set it when the platform tells (Zendesk's
  event ``actor_id``, the Intercom admin of the closing part).
* Writes: :meth:`HelpdeskConnector.write_back` applies a :class:`TicketUpdate`. The internal note
  carries :func:`note_marker` of the update's ``idempotency_key``; before posting, the connector
  looks for a note already carrying it, so a write-back retried after a lost answer posts one
  note (none of the three platforms documents an idempotency header for these writes).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Iterator, Literal, Mapping, Protocol

Platform = Literal["zendesk", "gorgias", "intercom"]
PLATFORMS: tuple[Platform, ...] = ("zendesk", "gorgias", "intercom")
#: Our neutral priority words; each connector maps them to the platform's own.
Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")


@dataclass(frozen=True)
class TicketRecord:
    """One ticket or conversation as the helpdesk holds it. Ids stay strings."""

    source: str                    # the platform: zendesk, gorgias, intercom
    external_id: str
    subject: str = ""
    body: str = ""                 # the customer's first message (plain text as the platform gives it)
    requester_email: str = ""
    requester_name: str = ""
    requester_id: str = ""
    channel: str = ""              # email, chat, web, api, sms … as the platform names it
    tags: tuple[str, ...] = ()
    priority: str = ""             # the platform's own word (Intercom: priority / not_priority)
    status: str = ""               # the platform's word, lower case
    assignee_id: str = ""
    group_id: str = ""             # Zendesk group, Gorgias team, Intercom team
    language: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    status_by: str = ""            # the agent who set ``status``, when the platform says; else ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", (self.status or "").strip().lower())  # Zendesk events say SOLVED

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        for name in ("created_at", "updated_at"):
            data[name] = data[name].isoformat() if data[name] else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TicketRecord:
        values = dict(data)
        values["tags"] = tuple(values.get("tags") or ())
        for name in ("created_at", "updated_at"):
            values[name] = datetime.fromisoformat(values[name]) if values.get(name) else None
        return cls(**values)


#: Each platform's statuses meaning its agents are done with the ticket (solved or closed there):
#: Zendesk https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ (``status``),
#: Gorgias https://developers.gorgias.com/reference/the-ticket-object (``status`` open | closed),
#: Intercom https://developers.intercom.com/docs/references/2.11/rest-api/api.intercom.io/conversations/conversation
#: (``state`` open | closed | snoozed).
DONE_STATUSES: dict[str, frozenset[str]] = {"zendesk": frozenset({"solved", "closed"}),
                                            "gorgias": frozenset({"closed"}), "intercom": frozenset({"closed"})}


def is_done(record: TicketRecord) -> bool | None:
    """True when the helpdesk reports the ticket solved or closed, False for any other status,
    None when the copy names no status (nothing to follow)."""
    status = (record.status or "").strip().lower()
    return None if not status else status in DONE_STATUSES.get(record.source, frozenset())


@dataclass(frozen=True)
class TicketPage:
    """A page of tickets and the cursor safe to save once they are stored (None: keep the last)."""

    records: list[TicketRecord]
    cursor: str | None


@dataclass(frozen=True)
class HelpdeskDelivery:
    """One verified webhook delivery: its event, the ticket it is about (as far as the payload
    tells), and the key it is stored once under."""

    platform: str
    dedupe_key: str
    topic: str
    ticket: TicketRecord | None
    raw: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"platform": self.platform, "dedupe_key": self.dedupe_key, "topic": self.topic,
                "ticket": self.ticket.as_json() if self.ticket else None, "raw": self.raw}


@dataclass(frozen=True)
class TicketUpdate:
    """What to write back to one ticket; empty fields are left as they are.

    ``tags`` are added to the ticket's own (never removed); ``priority`` is one of
    :data:`PRIORITIES`; ``custom_fields`` maps the platform's field id to its value; ``note`` is
    posted as an internal note, marked with ``idempotency_key`` so it is posted once."""

    ticket_id: str
    idempotency_key: str
    tags: tuple[str, ...] = ()
    priority: str = ""
    assignee_id: str = ""
    group_id: str = ""
    custom_fields: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class WriteOutcome:
    """What a write-back did: ``note_id`` of the note (ours, found or posted), ``note_existed``
    when a retried write found its note already there."""

    ticket_id: str
    fields_written: tuple[str, ...]
    note_id: str = ""
    note_existed: bool = False


def note_marker(idempotency_key: str) -> str:
    """The line an internal note ends with, naming the write-back that posted it."""
    return f"[backorders-ref:{idempotency_key}]"


def with_marker(note: str, idempotency_key: str) -> str:
    return f"{note.rstrip()}\n\n{note_marker(idempotency_key)}"


class HelpdeskConnector(Protocol):
    """A helpdesk's connector (one per configured ``[[helpdesks]]`` entry)."""

    platform: str

    def poll(self, cursor: str | None) -> Iterator[TicketPage]:
        """Tickets created or updated since ``cursor`` (None: the ``since`` option, else the last day)."""
        ...

    def fetch_ticket(self, ticket_id: str) -> TicketRecord: ...

    def verify_delivery(self, headers: Mapping[str, str], body: bytes) -> HelpdeskDelivery:
        """``SignatureError`` unless the delivery is genuine; ``MalformedPayloadError`` for a bad body."""
        ...

    def write_back(self, update: TicketUpdate) -> WriteOutcome: ...
