"""At-most-once writes on platforms without an idempotency header: the key travels in the record.

Shopify REST (https://shopify.dev/docs/api/admin-rest/2025-01/resources/refund) and WooCommerce
(https://woocommerce.github.io/woocommerce-rest-api-docs/#refunds) take no idempotency header. A
connector writes the domain's key into the record's free text (a note, a reason, a description)
with :func:`marked`, looks for it with :func:`find_marked` before creating, and so a retried task
— or a create whose answer was lost to a timeout — finds the first record instead of making a
second. Codes the customer redeems are derived from the key (:func:`keyed_code`), so a platform's
uniqueness rule (:func:`field_error`) refuses a second create with the same code and
:func:`created_or_found` reads the first one back; a connector declares how its codes look as
:class:`KeyedCodes`. :func:`outcome` words what the write did for the result's ``detail``.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TypeVar

from connectors.errors import PermanentError, error_json
from connectors.values import money_cents

T = TypeVar("T", bound=Mapping[str, Any])


def idempotency_marker(key: str) -> str:
    """The tag written into a refund's or a credit's free text (note, reason, description) on
    platforms without an idempotency header, found again by a retried task."""
    return f"[idempotency:{key}]"


def marked(text: str, key: str) -> str:
    """``text`` followed by the key's marker (the marker alone when ``text`` is empty)."""
    return f"{text} {idempotency_marker(key)}".strip()


def find_marked(records: Iterable[T], key: str, field: str = "note") -> T | None:
    """The first record whose ``field`` carries the key's marker, or None."""
    marker = idempotency_marker(key)
    for record in records:
        if marker in str(record.get(field) or ""):
            return record
    return None


def at_most_once(key: str, candidates: Iterable[T], create: Callable[[], tuple[T, int]],
                 field: str = "note") -> tuple[T, int]:
    """The candidate carrying the key's marker with status 200, else ``create()`` (record, status).

    ``candidates`` may be lazy (a stream's records): the look-up stops at the first match."""
    found = find_marked(candidates, key, field)
    return (found, 200) if found is not None else create()


def found_or_created(candidates: Iterable[T], create: Callable[[], T]) -> tuple[T, bool]:
    """The first of ``candidates`` (what the platform lists under our own reference: a return
    label's RMA) with True, else ``create()`` with False: for platforms with no idempotency key and
    no free text to mark, a retry after a lost answer finds the first record and makes none."""
    found = next(iter(candidates), None)
    return (found, True) if found is not None else (create(), False)


def created_or_found(key: str, create: Callable[[], tuple[T, int]], taken: Callable[[PermanentError], bool],
                     candidates: Callable[[], Iterable[T]], field: str = "note",
                     what: str = "a record with this code") -> tuple[T, int]:
    """``create()``, or — when the platform refuses it as a duplicate (``taken``: a keyed code's
    uniqueness rule) — the candidate carrying the key's marker, with status 200.

    A duplicate whose record does not carry the key is someone else's: :class:`PermanentError`
    naming ``what`` ("coupon credit-…")."""
    try:
        return create()
    except PermanentError as exc:
        if not taken(exc):
            raise
        found = find_marked(candidates(), key, field)
        if found is None:
            raise PermanentError(f"{exc.platform}: {what} exists but does not carry idempotency key {key}",
                                 platform=exc.platform, status_code=exc.status_code, body=exc.body) from exc
        return found, 200


def keyed_code(secret: str, key: str, length: int = 16) -> str:
    """``length`` hex characters of HMAC-SHA256(secret, key): stable across retries of one key,
    unguessable without the secret."""
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()[:length]


@dataclass(frozen=True)
class KeyedCodes:
    """How a platform's redeemable codes (gift cards, coupons) are derived from the idempotency key.

    The secret is the store's ``credit_code_secret`` option, else the credential named here;
    rotating it between two attempts of one credit would mint a second code, so production sets
    the option. A code is ``prefix`` + ``length`` hex characters of :func:`keyed_code`.
    """

    credential: str
    prefix: str = ""
    length: int = 16

    def code(self, options: Mapping[str, Any], credentials: Mapping[str, str], key: str) -> str:
        secret = options.get("credit_code_secret") or credentials.get(self.credential, "")
        return self.prefix + keyed_code(str(secret), key, self.length)


def outcome(status: int, what: str) -> str:
    """A write's ``detail``: ``"<what> created"``, or (status 200: :func:`at_most_once` /
    :func:`created_or_found` found it) ``"found the <what> an earlier attempt created"``."""
    return f"found the {what} an earlier attempt created" if status == 200 else f"{what} created"


def field_error(exc: PermanentError, field: str, phrase: str, status: int = 422) -> bool:
    """True when ``exc`` is a ``status`` answer whose JSON ``{"errors": {field: [...]}}`` names
    ``phrase`` for ``field`` (Rails-style validation errors, e.g. "has already been taken")."""
    if exc.status_code != status:
        return False
    errors = error_json(exc).get("errors")
    return isinstance(errors, dict) and any(phrase in str(m) for m in errors.get(field) or [])


def spread_cents(cents: int, parents: list[T],
                 maximum: Callable[[T], int] = lambda p: money_cents(p.get("maximum_refundable", p.get("amount")))
                 ) -> list[tuple[T, int]]:
    """Share ``cents`` over ``parents`` (e.g. payment transactions), each up to its ``maximum``.

    Whatever exceeds every maximum stays on the last parent, so the platform itself refuses an
    over-refund with its own message instead of us silently refunding less.
    """
    shares: list[tuple[T, int]] = []
    left = int(cents)
    for parent in parents:
        share = min(left, maximum(parent))
        shares.append((parent, share))
        left -= share
    if left > 0 and shares:
        last, share = shares[-1]
        shares[-1] = (last, share + left)
    return shares
