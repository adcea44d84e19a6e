"""Money rules the commerce stand-ins share, so a platform's money module is declarations and thin
endpoints: what an order can still give back, how a request's fields are read, which codes may be
issued, and how each broken rule is answered.

* :class:`Ledger`: what was paid (or bought) per key — a payment, an order line, the whole order —
  less what already went back. :meth:`Ledger.take` refuses more than is left, counting every
  earlier take of the same request, so two lines (or two transactions) cannot together pass the
  cap that each passes alone. This is the rule every platform states: a refund never exceeds what
  was paid, nor a line's refunded quantity what was bought.
* :class:`Field`, :func:`read`, :func:`read_each`: a request's fields as a platform reads them —
  parsed, defaulted when absent, limited to choices or a least value; each failure is a
  :class:`Refusal` naming the field (``refund_line_items.quantity``). Strictness is declared
  per field, never coded per platform.
* :class:`Codes`: codes a platform issues (gift cards, coupons): normalised, checked for format,
  unique in the store. Uniqueness is what makes issuing idempotent: a client that derives the code
  from its idempotency key sees its retry refused as taken, and looks the first one up.
  :class:`Issued` is the resource of such records: read as declared, claimed, built, kept, shown
  without what reads never show (a gift card's full code).
* :class:`Refusals`: the platform's documented error body for each kind of refusal, as a table;
  :mod:`sandbox.kit.ledger_endpoints` answers a :class:`Refusal` raised anywhere inside an endpoint
  with it.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Container, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Refusal(Exception):
    """A request broke a money rule: the ``kind`` of rule, on ``field`` (dotted for a field of a
    listed item, e.g. ``transactions.amount``). The kit raises ``missing``, ``unknown``, ``invalid``,
    ``choices``, ``least``, ``match``, ``taken``, ``cap``, ``short`` and ``long``; a platform may
    raise its own (``gateway:offline``)."""

    def __init__(self, field: str, kind: str, **details: Any) -> None:
        super().__init__(f"{field}:{kind}")
        self.field = field
        self.kind = kind
        #: What the platform's wording may name besides the field (the limit that was passed).
        self.details = details

    @property
    def top(self) -> str:
        """The request's own field the refusal is under (``line_items`` for ``line_items.id``)."""
        return self.field.split(".")[0]

    def keys(self) -> Iterator[str]:
        """Where a :class:`Refusals` table may declare the answer, most specific first:
        ``a.b:kind``, ``a.b``, ``a:kind``, ``a``, then ``kind`` alone."""
        parts = self.field.split(".")
        for n in range(len(parts), 0, -1):
            name = ".".join(parts[:n])
            yield f"{name}:{self.kind}"
            yield name
        yield self.kind


#: A platform's answer to one refusal: (HTTP status, body).
Reply = Callable[[Refusal], tuple[int, Any]]


class Refusals:
    """How a platform answers each broken rule, as data: the first of :meth:`Refusal.keys` present
    in the table answers. An entry is a :data:`Reply`, or data (a message, a code) that ``render``
    turns into one answer. A refusal nothing answers is a gap in the stand-in's declarations, so it
    fails loudly (KeyError) rather than inventing a body the platform never sends."""

    def __init__(self, replies: Mapping[str, Any], render: Callable[[Refusal, Any], tuple[int, Any]] | None = None,
                 ) -> None:
        self.replies = dict(replies)
        self.render = render

    def answer(self, refusal: Refusal) -> tuple[int, Any]:
        """(status, body) for ``refusal``."""
        for key in refusal.keys():
            if key in self.replies:
                reply = self.replies[key]
                if callable(reply):
                    return reply(refusal)
                assert self.render is not None, f"{key}: a data entry needs a render"
                return self.render(refusal, reply)
        raise KeyError(f"no answer declared for the refusal {refusal}")


# --- what can be given back ----------------------------------------------------------------------


class Ledger(Generic[K]):
    """What can still be given back per key: what was paid (or bought) less what went back.

    Built from the platform's own records each time (``paid`` and ``returned`` as (key, amount)
    pairs), so there is no second copy of the money to drift from what the API shows. Amounts
    are integers: cents, or item quantities.
    """

    def __init__(self, paid: Iterable[tuple[K, int]], returned: Iterable[tuple[K, int]] = ()) -> None:
        self.paid: dict[K, int] = {}
        for key, amount in paid:
            self.paid[key] = self.paid.get(key, 0) + amount
        self.left = dict(self.paid)
        for key, amount in returned:
            self.left[key] = self.left.get(key, 0) - amount

    def room(self, key: K) -> int:
        """What ``key`` can still give back (Shopify's ``maximum_refundable``)."""
        return self.left.get(key, 0)

    @property
    def given_back(self) -> int:
        """Everything that went back so far, this request's takes included."""
        return sum(self.paid.values()) - sum(self.left.values())

    def take(self, key: K, amount: int, field: str) -> int:
        """Give ``amount`` back against ``key``; more than is left is a ``cap`` refusal of ``field``."""
        if amount > self.room(key):
            raise Refusal(field, "cap")
        self.left[key] = self.room(key) - amount
        return amount

    def spread(self, amount: int) -> list[tuple[K, int, int]]:
        """``amount`` over the keys in the order they were paid, each up to what it has left, as
        (key, share, left before); takes nothing. How a platform suggests which payments refund."""
        shares = []
        for key in self.paid:
            room = self.room(key)
            share = min(amount, room)
            amount -= share
            shares.append((key, share, room))
        return shares


# --- reading a request ---------------------------------------------------------------------------


class _Falsy:
    """``value in FALSY`` for every falsy value: PHP's ``?:`` (and Python's ``or``) read those as absent."""

    def __contains__(self, value: object) -> bool:
        return not value


#: For :attr:`Field.empty`: any falsy value means "use the default".
FALSY: Container[Any] = _Falsy()
#: For :attr:`Field.default`: the field has no default; an absent one is parsed as ``None``.
REQUIRED: Any = object()


def _same(value: Any) -> Any:
    return value


def _among(value: Any, choices: Collection[Any]) -> bool:
    try:
        return value in choices
    except TypeError:  # an unhashable value against a set of choices
        return False


@dataclass(frozen=True)
class Field:
    """How a platform reads one field of a request, checked in this order:

    * absent (or a value in ``empty``) is ``default`` when there is one; else ``parse`` reads the
      value, and raising (TypeError, ValueError, LookupError) is ``invalid``;
    * ``within``: the value must be a key of that named collection of the request's context (the
      order's lines, its payments), else ``invalid``;
    * outside ``choices`` is ``choices``; below ``least`` is ``least``;
    * ``agrees`` (``"parent_id.gateway"``): a value given must equal that attribute of the record
      the other field names, else ``match``;
    * ``unique``: the value must not be in that named collection of the context (codes already
      issued), else ``taken``;
    * ``cap``: the value is taken from the context's :class:`Ledger` under the key the named field
      holds (:meth:`Ledger.take`, ``cap`` when more than is left).
    """

    parse: Callable[[Any], Any] = _same
    default: Any = REQUIRED
    empty: Container[Any] = ()
    within: str | None = None
    choices: Collection[Any] | None = None
    least: int | None = None
    agrees: str | None = None
    unique: str | None = None
    cap: str | None = None


@dataclass(frozen=True)
class Context:
    """What a request is read against: named collections of what is known (records by id, codes
    issued), and the ledger its capped amounts are taken from (by default an empty one: where
    nothing was paid, nothing can be given back)."""

    known: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    ledger: Ledger[Any] = dataclasses.field(default_factory=lambda: Ledger([]))


def read(spec: Mapping[str, Any], fields: Mapping[str, Field], prefix: str = "",
         context: Context = Context()) -> dict[str, Any]:
    """``spec``'s fields as declared, in the declared order (the first broken rule is the answer)."""
    item: dict[str, Any] = {}
    for key, field in fields.items():
        item[key] = read_field(spec, key, field, prefix + key, item, fields, context)
    return item


def read_field(spec: Mapping[str, Any], key: str, field: Field, name: str, item: Mapping[str, Any],
               fields: Mapping[str, Field], context: Context) -> Any:
    raw = spec.get(key)
    if field.default is not REQUIRED and (key not in spec or raw in field.empty):
        value = field.default
    else:
        try:
            value = field.parse(raw)
        except (TypeError, ValueError, LookupError, ArithmeticError):
            raise Refusal(name, "invalid") from None
    if field.within is not None and not _among(value, context.known[field.within]):
        raise Refusal(name, "invalid")
    if field.choices is not None and not _among(value, field.choices):
        raise Refusal(name, "choices")
    if field.least is not None and value < field.least:
        raise Refusal(name, "least")
    if field.agrees is not None and value:
        other, attribute = field.agrees.split(".")
        if value != context.known[str(fields[other].within)][item[other]][attribute]:
            raise Refusal(name, "match")
    if field.unique is not None and _among(value, context.known[field.unique]):
        raise Refusal(name, "taken")
    if field.cap is not None:
        context.ledger.take(item[field.cap], value, name)
    return value


def read_each(specs: Any, fields: Mapping[str, Field], name: str, context: Context = Context(),
              ) -> list[dict[str, Any]]:
    """A listed request field (``refund_line_items``): absent is none; anything but a list of objects
    is ``invalid`` under ``name``; each item's fields are read under ``name.field``, in turn, so a
    capped amount counts every item before it."""
    if specs is None:
        return []
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        raise Refusal(name, "invalid")
    return [read(spec, fields, f"{name}.", context) for spec in specs]


def asked_lines(request: Mapping[str, Any], name: str, fields: Mapping[str, Field], context: Context, line: str,
                build: Callable[[dict[str, Any], Any], V]) -> list[V]:
    """The lines a refund (or return) asks for: ``request[name]`` read as ``fields`` against
    ``context`` (its ``lines`` are the order's lines by id, its ledger what each has left), each
    built by ``build(ask, line)`` from what was asked and the order line its ``line`` field names.
    How every platform turns a refund's line list into refund lines."""
    asked = read_each(request.get(name), fields, name, context)
    return [build(ask, context.known["lines"][ask[line]]) for ask in asked]


def found(value: V | None, name: str) -> V:
    """``value`` when the lookup found it; else ``name`` is ``unknown`` (the platform's 404)."""
    if value is None:
        raise Refusal(name, "unknown")
    return value


def an_object(value: Any, name: str, key: str | None = None) -> dict[str, Any]:
    """``value`` (or ``value[key]``, the platform's envelope such as ``{"refund": {...}}``) when it
    is a JSON object; else ``name`` is ``missing``."""
    if key is not None:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, dict):
        raise Refusal(name, "missing")
    return value


# --- issued codes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Codes:
    """The codes a platform issues (gift card codes, coupon codes) under the request field ``field``:
    ``normalize`` makes the stored form (case, spaces); ``generate`` makes one when the request
    brings none (else it is ``missing``); then length and ``alphabet`` are checked."""

    field: str = "code"
    min_length: int = 1
    max_length: int | None = None
    alphabet: str | None = None
    normalize: Callable[[str], str] = str.strip
    generate: Callable[[], str] | None = None

    def read(self, requested: Any) -> str:
        if not requested:
            if self.generate is None:
                raise Refusal(self.field, "missing")
            requested = self.generate()
        code = self.normalize(str(requested))
        if len(code) < self.min_length:
            raise Refusal(self.field, "short")
        if self.max_length is not None and len(code) > self.max_length:
            raise Refusal(self.field, "long")
        if self.alphabet is not None and not set(code) <= set(self.alphabet):
            raise Refusal(self.field, "invalid")
        return code

    def claim(self, code: str, taken: Iterable[str]) -> str:
        """``code`` unless the store already issued it: a second issue under one code is ``taken``."""
        if code in set(taken):
            raise Refusal(self.field, "taken")
        return code


def shown(record: Mapping[str, Any], hidden: Collection[str] = ()) -> dict[str, Any]:
    """A stored record as the API shows it: without its ``_``-prefixed bookkeeping keys nor
    ``hidden`` ones (a gift card's full ``code`` is shown only when it is issued)."""
    return {k: v for k, v in record.items() if not k.startswith("_") and k not in hidden}


@dataclass(frozen=True)
class Issued:
    """Records issued under a unique code (Shopify's gift cards, WooCommerce's coupons), kept in
    ``state.<attr>``. A request (``body``, or ``body[envelope]``: its absence is ``missing``) is
    read as ``fields`` declare it, the code among them (read by ``codes``, in its declared place),
    then the code must not be issued yet (``taken``, checked last, once every field is valid), and
    ``make(state, asked, now)`` builds the record. Reads show it without ``hidden`` fields."""

    attr: str
    fields: Mapping[str, Field]
    codes: Codes
    make: Callable[[Any, dict[str, Any], datetime], dict[str, Any]]
    hidden: tuple[str, ...] = ()
    envelope: str | None = None

    def issue(self, state: Any, body: Any) -> dict[str, Any]:
        """Read, claim, build and keep a record; the record with every field (the answer to its issue)."""
        records = getattr(state, self.attr)
        asked = read(an_object(body, self.envelope or "body", self.envelope), self.fields)
        self.codes.claim(asked[self.codes.field], (record[self.codes.field] for record in records))
        record = self.make(state, asked, state.now())
        records.append(record)
        return record

    def shown(self, state: Any) -> list[dict[str, Any]]:
        """Every record as reads show it, in the order issued."""
        return [shown(record, self.hidden) for record in getattr(state, self.attr)]

    def find(self, state: Any, record_id: Any) -> dict[str, Any] | None:
        """One record as reads show it, by ``id``; None when there is none."""
        return next((record for record in self.shown(state) if record["id"] == record_id), None)
