"""Value helpers every connector shares: money, ids, counts, timestamps and cursor strings."""
from __future__ import annotations

import email.utils
import json
from datetime import datetime, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Iterator, TypeVar

from connectors.errors import MalformedPayloadError

T = TypeVar("T")
SleepFn = Callable[[float], None]
ClockFn = Callable[[], float]


def money_cents(value: Any) -> int:
    """Platform money as decimal strings (``"199.00"``) or numbers to integer cents, never via
    float, so amounts add up exactly; 0 when the value is not an amount."""
    try:
        return int((Decimal(str(value)) * 100).quantize(Decimal(1)))
    except (InvalidOperation, ValueError):
        return 0


def cents_to_money(cents: int) -> str:
    """Integer cents to the decimal string platforms take (``1999`` → ``"19.99"``)."""
    return f"{Decimal(int(cents)) / 100:.2f}"


def paid_by(record: Any, method: str, reference: str) -> dict[str, str | None]:
    """An order's ``payment_method`` / ``payment_ref`` from the record's two keys (blank: None),
    where the platform says how it was paid (WooCommerce ``payment_method`` / ``transaction_id``)."""
    return {"payment_method": record.get(method) or None, "payment_ref": record.get(reference) or None}


def id_str(value: Any) -> str | None:
    """A platform id as the string we keep: ids may exceed 2**53, and ``json`` parses them as
    exact ints, so they become text with ``str()`` at the edge, never via float. None stays None."""
    return None if value is None else str(value)


def full_name(person: Any) -> str:
    """``first_name`` and ``last_name`` of a customer or billing address, joined by a space
    (either may be missing or empty; ``""`` when both are)."""
    return " ".join(p for p in (person.get("first_name"), person.get("last_name")) if p) if person else ""


def nonblank_id_str(value: Any) -> str | None:
    """:func:`id_str` for platforms that send ``""`` for a missing reference: that is None too."""
    return None if value == "" else id_str(value)


def all_found(wanted: Iterable[str], pairs: Iterable[tuple[str, T]],
              missing: Callable[[list[str]], Exception]) -> dict[str, T]:
    """Our codes resolved to a platform's ids (SKU → item id): the first pair per code wins, and
    ``missing(codes)`` is raised naming every wanted code that found none, before anything is written."""
    found: dict[str, T] = {}
    for key, value in pairs:
        found.setdefault(key, value)
    absent = [key for key in wanted if key not in found]
    if absent:
        raise missing(absent)
    return found


def whole_units(value: Any) -> int | None:
    """A stock count as ints, floats (``21.0``) or decimal strings (``"12.0"``) to whole units;
    None when absent or unreadable, so a missing count is never mistaken for zero."""
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# Time and cursor helpers
# --------------------------------------------------------------------------------------------


def parse_timestamp(value: str | int | float | None, *, assume_utc: bool = True) -> datetime | None:
    """ISO-8601 to an aware datetime; naive values (WooCommerce ``*_gmt``) are taken as UTC.

    Two other shapes platforms use are read too: Unix epoch seconds as a number (BigCommerce
    webhooks' ``created_at``) and RFC 2822 dates (BigCommerce v2 orders' ``date_modified``,
    ``Wed, 05 Dec 2018 20:16:55 +0000``: https://developer.bigcommerce.com/docs/rest-management/orders ,
    https://www.rfc-editor.org/rfc/rfc2822#section-3.3 ). Anything else is None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None and assume_utc:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def wall_clock_time(value: Any, zone: tzinfo) -> datetime | None:
    """Local wall-clock text without an offset, ``2016-02-29T09:59:17.7670000`` (ShipStation V1's
    Pacific times, seven-digit fraction: https://docs.shipstation.com/apis/shipstation-v1/docs/shipments/list ),
    read to the second in ``zone``; text too short for that goes through :func:`parse_timestamp`."""
    if not isinstance(value, str) or len(value) < 19:
        return parse_timestamp(value) if isinstance(value, str) else None
    try:
        return datetime.fromisoformat(value[:19]).replace(tzinfo=zone)
    except ValueError:
        return None


def newest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def utc_iso(value: datetime) -> str:
    """A cursor string: UTC, second precision, explicit offset."""
    return value.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def with_last_flag(items: Iterator[Any]) -> Iterator[tuple[Any, bool]]:
    """Yield ``(item, is_last)`` by looking one item ahead, so only the last page moves a cursor."""
    try:
        current = next(items)
    except StopIteration:
        return
    for following in items:
        yield current, False
        current = following
    yield current, True


def last_path_id(location: str | None) -> str | None:
    """The numeric id ending a created record's URL (a ``Location`` header, RFC 9110 §10.2.2,
    https://www.rfc-editor.org/rfc/rfc9110#section-10.2.2): ``…/purchaseOrder/647`` → ``"647"``;
    None when absent or not a number."""
    tail = (location or "").rstrip("/").rsplit("/", 1)[-1]
    return tail if tail.isdigit() else None


def unwrap(body: Any, key: str | None) -> dict[str, Any]:
    """The object under a root key (``{"refund": {...}}`` → ``{...}``); {} when absent or null.
    With ``key`` None the body itself is the object (WordPress answers without a root key)."""
    inner = (body if key is None else body.get(key)) if isinstance(body, dict) else None
    return inner if isinstance(inner, dict) else {}


def json_object(body: bytes | str, what: str = "body") -> dict[str, Any]:
    """A webhook body (or one of its fields) as a JSON object, or :class:`MalformedPayloadError`
    (answered 400) naming ``what`` was not."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise MalformedPayloadError(f"{what} is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise MalformedPayloadError(f"{what} is not a JSON object")
    return payload
