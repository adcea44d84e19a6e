"""Writes declared once for every platform: stock levels, and the money and order writes a
platform takes no idempotency header for, as request shapes.

:class:`LevelWrites` is for a platform whose stock write is :meth:`push_levels` (several locations
in one product update, or a per-SKU flag written before each location's figure): one level of it
is ``push_availability``.

A refund, a store credit and a substitute order run the same sequence on every storefront here:
find what an earlier attempt wrote (the key travels in the record, ``connectors.idempotency``),
else — after a preview where the platform has one — create, then finish what the create left
open. What differs is data: where an order's refunds are listed, which field carries the key,
the root key bodies and answers are wrapped in, the preview and completion paths, how the platform
refuses a code it already has. A connector declares that shape and mixes in the class that runs
it; it writes only the body of each request and what its answer means:

* :class:`RefundShape` + :class:`DeclaredRefunds` — ``refund_line``: list the order's refunds
  for the key, else ``quote`` (Shopify ``refunds/calculate.json``,
  https://shopify.dev/docs/api/admin-rest/2025-01/resources/refund ; none for WooCommerce,
  https://woocommerce.github.io/woocommerce-rest-api-docs/#create-a-refund ), then create;
* :class:`CreditShape` + :class:`DeclaredCredit` — ``credit_line``: create a record whose code is
  derived from the key (``KeyedCodes``), and when the platform refuses the code as taken
  (:class:`Refusal`) read it back by ``lookup`` (Shopify gift cards by their last four
  characters, https://shopify.dev/docs/api/admin-rest/2025-01/resources/gift-card ; WooCommerce
  coupons by code, https://woocommerce.github.io/woocommerce-rest-api-docs/#coupons );
* :class:`OrderShape` + :class:`DeclaredSubstitutes` — ``place_substitute``: find the order (or
  draft) an earlier attempt created, by the id the caller kept or by the key among the records
  changed since that attempt began, else create it, then ``complete`` it unless ``done``
  (Shopify draft orders, https://shopify.dev/docs/api/admin-rest/latest/resources/draftorder ;
  WooCommerce orders, https://woocommerce.github.io/woocommerce-rest-api-docs/#create-an-order ).

Each mixin is a :class:`~connectors.http.RestConnector` whose one capability method is real, so a class
declares the capability exactly when it mixes the writer in (``connectors.capabilities``); the
bodies are abstract, so a connector that forgets one cannot be built.
"""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, Callable, ClassVar, Iterable, Mapping

from connectors.errors import PermanentError, error_json
from connectors.http import RestConnector
from connectors.idempotency import created_or_found, field_error, idempotency_marker, marked, outcome
from connectors.streams import Stream
from connectors.types import (
    ListingRef,
    PushResult,
    RefundRequest,
    RefundResult,
    SubstituteOrderRequest,
    SubstituteOrderResult,
)
from connectors.values import money_cents, unwrap, utc_iso

Record = Mapping[str, Any]


def wrapped(root: str | None, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` under the platform's root key (``{"refund": {...}}``), or as it is without one."""
    return {root: body} if root else body


class LevelWrites(RestConnector):
    """``push_availability`` as one level of the platform's own :meth:`push_levels` (which a class
    mixing this in must write: the base's ``push_levels`` calls ``push_availability``)."""

    def push_availability(self, listing: ListingRef, available: int, backorder: bool) -> PushResult:
        """One level at the listing's location, else the store's first (``location_ids``), else none."""
        location = listing.location_external_id or next(iter(self.location_ids()), None)
        [result] = self.push_levels(listing, {location: available}, backorder)
        return result


@dataclass(frozen=True)
class Refusal:
    """A platform's refusal recognised by data, not by code: the HTTP ``status``, the body's
    ``code`` (WordPress ``{"code", "message"}``), and a Rails-style ``{"errors": {field: [...]}}``
    entry naming ``phrase``; what is left None is not checked."""

    status: int | None = None
    code: str | None = None
    field: str | None = None
    phrase: str = ""

    def matches(self, exc: PermanentError) -> bool:
        if self.status is not None and exc.status_code != self.status:
            return False
        if self.code is not None and error_json(exc).get("code") != self.code:
            return False
        return self.field is None or field_error(exc, self.field, self.phrase, exc.status_code or 0)


def texts_at(record: Any, path: str) -> list[str]:
    """The text values at a dotted ``path`` (``comments[].comment``: each element of a list)."""
    nodes = [record]
    for step in path.split("."):
        name, each = step.removesuffix("[]"), step.endswith("[]")
        found = [node.get(name) for node in nodes if isinstance(node, Mapping)]
        nodes = [item for value in found for item in (value if each and isinstance(value, list) else [value])]
    return [str(node) for node in nodes if node is not None]


@dataclass(frozen=True)
class Marker:
    """Where a record carries the idempotency key: :func:`~connectors.idempotency.marked` free text
    in ``field`` (a note, a reason; dotted for a nested one, Magento's ``comment.comment``), or with
    ``meta_key`` a ``{"key", "value"}`` entry put first in the ``field`` list (WooCommerce
    ``meta_data``). ``shown_at`` is where the created record shows that text when it is not
    ``field`` (Magento lists a credit memo's comments as ``comments[].comment``). With ``inside``
    the free text is each entry's of that list (BigCommerce takes a refund's ``reason`` per item and
    shows it on the refund too:
    https://developer.bigcommerce.com/docs/rest-management/transactions/payment-actions ), and a
    record carries the key when its own ``field`` or any entry's does."""

    field: str = "note"
    meta_key: str | None = None
    shown_at: str | None = None
    inside: str | None = None

    def stamp(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        """``body`` with the key added to its ``field``."""
        if self.inside is not None:
            return {**body, self.inside: [{**entry, self.field: marked(str(entry.get(self.field) or ""), key)}
                                          for entry in body.get(self.inside) or []]}
        if self.meta_key is not None:
            return {**body, self.field: [{"key": self.meta_key, "value": key}, *body.get(self.field, [])]}
        head, _, rest = self.field.partition(".")
        if rest:
            return {**body, head: Marker(rest).stamp(dict(body.get(head) or {}), key)}
        return {**body, head: marked(str(body.get(head) or ""), key)}

    def carries(self, record: Record, key: str) -> bool:
        if self.inside is not None:
            texts = [record.get(self.field), *(entry.get(self.field) for entry in record.get(self.inside) or []
                                               if isinstance(entry, Mapping))]
            return any(idempotency_marker(key) in str(text or "") for text in texts)
        if self.meta_key is None:
            return any(idempotency_marker(key) in text for text in texts_at(record, self.shown_at or self.field))
        return any(entry.get("key") == self.meta_key and entry.get("value") == key
                   for entry in record.get(self.field) or [] if isinstance(entry, Mapping))

    def find(self, records: Iterable[Record], key: str) -> Record | None:
        """The first record carrying ``key`` (``records`` may be lazy: the look-up stops there)."""
        return next((record for record in records if self.carries(record, key)), None)


@dataclass(frozen=True)
class RefundShape:
    """``existing`` lists an order's refunds and ``create`` makes one (paths with ``{order}``);
    ``quote``, when set, is a preview whose answer the create body is built from (``quote_method``
    GET: a read, Magento's order, whose lines price the refund). ``created`` (``{id}``) reads the
    new refund back where the create answers only its id (Magento's credit memo id). ``amount`` is
    what a refund record paid back, in cents; ``detail`` adds the platform's word on it."""

    existing: Stream
    create: str
    amount: Callable[[Record], int]
    root: str | None = None
    marker: Marker = Marker()
    quote: str | None = None
    quote_method: str = "POST"
    created: str | None = None
    detail: Callable[[Record], str] = lambda refund: ""
    #: The root key answers come under when requests take none (BigCommerce v3 ``{"data": …}``).
    answers_in: str | None = None

    @property
    def answers(self) -> str | None:
        return self.answers_in or self.root
    #: The refund record's id (Magento's credit memo: ``entity_id``).
    id_key: str = "id"


class DeclaredRefunds(RestConnector, metaclass=ABCMeta):
    """``refund_line`` from a :class:`RefundShape`; the platform writes :meth:`refund_body` (and
    :meth:`quote_body` when it declares a preview)."""

    refunds: ClassVar[RefundShape]

    def quote_body(self, request: RefundRequest) -> dict[str, Any]:
        """The preview's body, for a shape that declares ``quote``; a platform without one never asks."""
        raise TypeError(f"{self.platform} declares a refund quote but writes no quote_body")

    @abstractmethod
    def refund_body(self, request: RefundRequest, quote: Record) -> dict[str, Any]:
        """The refund's fields (the key is added to the marker field); ``quote`` is the preview's answer."""

    def refund_line(self, request: RefundRequest) -> RefundResult:
        """Refund one line at most once per key: a retried task, or a create whose answer was lost,
        finds the first refund by the key among the order's refunds before anything is written."""
        shape, at, key = self.refunds, {"order": request.order_external_id}, request.idempotency_key
        found = shape.marker.find(self.records(shape.existing.at(**at)), key)
        if found is not None:
            return self.refund_result(found, 200, {})
        quote = {} if not shape.quote else self.send(
            shape.quote_method, shape.quote.format(**at),
            wrapped(shape.root, self.quote_body(request)) if shape.quote_method == "POST" else None,
            shape.answers, retry=True)[0]
        body = wrapped(shape.root, shape.marker.stamp(self.refund_body(request, quote), key))
        response = self.request("POST", shape.create.format(**at), json_body=body)
        answer = self.decode(response)
        if shape.created and not isinstance(answer, dict):  # made by this call, whatever 2xx it answered
            return self.refund_result(unwrap(self.get_json(shape.created.format(id=answer)), shape.root), 201, body)
        return self.refund_result(unwrap(answer, shape.answers), response.status_code, body)

    def refund_result(self, refund: Record, status: int, request: dict[str, Any]) -> RefundResult:
        return RefundResult(ok=True, external_id=str(refund.get(self.refunds.id_key, "")),
                            amount_cents=self.refunds.amount(refund),
                            kind="refund", status_code=status, request=request,
                            detail=outcome(status, "refund") + self.refunds.detail(refund))


@dataclass(frozen=True)
class CreditShape:
    """A store credit created at ``create`` with a keyed code, the key in its ``marker`` field (free
    text); when ``taken`` recognises the platform refusing the code, the record is read back from
    ``lookup``, whose ``params`` may name ``{code}`` and ``{last4}``. ``what`` words the outcome,
    ``named`` the record in an error (a gift card is named by its last characters only: its full
    code is redeemable)."""

    create: str
    taken: Refusal
    lookup: Stream
    what: str
    amount_field: str = "amount"
    root: str | None = None
    marker: Marker = Marker()
    named: str = "{what} {code}"


class DeclaredCredit(RestConnector, metaclass=ABCMeta):
    """``credit_line`` from a :class:`CreditShape`; the platform writes :meth:`credit_body`."""

    credit: ClassVar[CreditShape]

    @abstractmethod
    def credit_body(self, request: RefundRequest, code: str) -> dict[str, Any]:
        """The credit's fields for ``code`` (the key is added to the marker field)."""

    def credit_line(self, request: RefundRequest) -> RefundResult:
        """Store credit at most once per key: the code is derived from the key, so a second create
        is refused as a duplicate and the first record is read back instead."""
        shape, key = self.credit, request.idempotency_key
        code = self.credit_code(key)
        names = {"code": code, "last4": code[-4:]}
        body = wrapped(shape.root, shape.marker.stamp(self.credit_body(request, code), key))
        lookup = replace(shape.lookup, params={k: str(v).format(**names) for k, v in shape.lookup.params.items()})
        record, status = created_or_found(
            key, lambda: self.send("POST", shape.create, body, shape.root), shape.taken.matches,
            lambda: self.records(lookup), field=shape.marker.field, what=shape.named.format(what=shape.what, **names))
        return RefundResult(ok=True, external_id=str(record.get("id", "")), kind="store_credit",
                            amount_cents=money_cents(record.get(shape.amount_field)), status_code=status,
                            detail=outcome(status, shape.what), request=body, credit_code=code)


@dataclass(frozen=True)
class OrderShape:
    """A substitute order created at ``create``; ``existing`` are the streams an earlier attempt's
    record is looked for in (read from ``search_since``), ``by_id`` reads it by the id the caller
    kept (``{id}``). ``complete`` (``{id}``) finishes a record not ``done`` yet, telling the
    platform in ``pending_param`` whether the customer still owes a difference; the finished
    record must name what it ``becomes`` (a draft's ``order_id``), else the write is refused as
    permanent. ``what`` names the record in that refusal."""

    create: str
    existing: tuple[Stream, ...]
    root: str | None = None
    marker: Marker = Marker()
    by_id: str | None = None
    complete: str | None = None
    done: Callable[[Record], bool] = lambda record: True
    pending_param: str | None = None
    becomes: str | None = None
    what: str = "order"


class DeclaredSubstitutes(RestConnector, metaclass=ABCMeta):
    """``place_substitute`` from an :class:`OrderShape`; the platform writes :meth:`substitute_body`
    and :meth:`substitute_result`."""

    substitutes: ClassVar[OrderShape]

    @abstractmethod
    def substitute_body(self, request: SubstituteOrderRequest) -> dict[str, Any]:
        """The order's fields (the key is added by the shape's marker)."""

    @abstractmethod
    def substitute_result(self, record: dict[str, Any], status: int, request: dict[str, Any]) -> SubstituteOrderResult:
        """What the created (or found, status 200) and finished record means; ``request`` is what was sent."""

    def earlier_substitute(self, request: SubstituteOrderRequest) -> Record | None:
        """The record an earlier attempt created: by the kept id, else by the key since the attempt began."""
        shape = self.substitutes
        if shape.by_id and request.draft_external_id:
            return unwrap(self.get_json(shape.by_id.format(id=request.draft_external_id)), shape.root)
        if request.search_since is None:
            return None
        since = utc_iso(request.search_since)
        return shape.marker.find((record for stream in shape.existing
                                  for record in self.records(stream, since, map=dict)), request.idempotency_key)

    def place_substitute(self, request: SubstituteOrderRequest) -> SubstituteOrderResult:
        """Order the substitute at most once per key, finishing what an earlier attempt began."""
        shape, status, body = self.substitutes, 200, {}
        record = dict(self.earlier_substitute(request) or {})
        if not record:
            body = wrapped(shape.root, shape.marker.stamp(self.substitute_body(request), request.idempotency_key))
            record, status = self.send("POST", shape.create, body, shape.root)
        if shape.complete and not shape.done(record):
            params = {shape.pending_param: str(request.due_cents > 0).lower()} if shape.pending_param else None
            record, _ = self.send("PUT", shape.complete.format(id=record["id"]), None, shape.root, params=params)
        if shape.becomes and not record.get(shape.becomes):
            raise PermanentError(f"{self.platform} {shape.what} {record.get('id')} completed without "
                                 f"{shape.becomes}", platform=self.platform)
        return self.substitute_result(record, status, body)
