"""Signed Shopify webhooks for the chaos scenarios, and a paced, retrying, concurrent sender.

Each event is what Shopify would send (``inventory_levels/update`` keyed on the inventory item,
``orders/create``), signed with the shop's webhook secret and carrying a unique
``X-Shopify-Event-Id``. The sender behaves like a platform: it retries a delivery until it gets
a 2xx (Shopify retries on 429, 5xx and connection errors), and counts every answer it saw.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests

from tests.chaos.harness import LOCATIONS, SHOP, SHOP_SECRET, ChaosStack, wait_until


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Event:
    """One webhook: its id, its signed body, and what it should change once applied."""

    event_id: str
    topic: str
    body: bytes
    sku_id: int | None = None
    location: str | None = None
    available: int | None = None
    updated_at: datetime | None = None
    order_id: str | None = None

    @property
    def dedupe_key(self) -> str:
        return f"shopify:{self.event_id}"

    def headers(self) -> dict[str, str]:
        signature = base64.b64encode(hmac.new(SHOP_SECRET.encode(), self.body, hashlib.sha256).digest()).decode()
        return {"Content-Type": "application/json", "X-Shopify-Topic": self.topic,
                "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Shop-Domain": "futon-loft.myshopify.com",
                "X-Shopify-API-Version": "2025-01", "X-Shopify-Event-Id": self.event_id,
                "X-Shopify-Webhook-Id": self.event_id}


def stock_events(listings: dict[str, tuple[int, str]], codes: list[str], count: int,
                 start: datetime | None = None) -> list[Event]:
    """``count`` stock updates cycling over ``codes`` × both locations, each newer than the last.

    Figures stay between 20 and 42, above every threshold, so the run measures the pipeline,
    not a storm of alerts.
    """
    start = start or datetime.now(UTC)
    return [level_event(listings[codes[n % len(codes)]], LOCATIONS[(n // len(codes)) % len(LOCATIONS)],
                        20 + (n * 7) % 23, start + timedelta(milliseconds=n)) for n in range(count)]


def level_event(listing: tuple[int, str], location: str, available: int, updated: datetime) -> Event:
    """One ``inventory_levels/update``: ``listing`` is (SKU id, Shopify inventory item id)."""
    sku_id, item = listing
    body = json.dumps({"inventory_item_id": int(item), "location_id": int(location), "available": available,
                       "updated_at": _stamp(updated)}).encode()
    return Event(str(uuid.uuid4()), "inventory_levels/update", body, sku_id, location, available, updated)


def order_events(code: str, count: int, first_number: int = 70_000, phone: str | None = None) -> list[Event]:
    """``count`` one-line orders for ``code`` (held at zero stock: each line becomes a backorder)."""
    now = datetime.now(UTC)
    events = []
    for n in range(count):
        number = first_number + n
        order = {"id": 9_000_000 + number, "name": f"#{number}", "order_number": number,
                 "created_at": _stamp(now), "updated_at": _stamp(now), "email": f"chaos{number}@example.com",
                 "phone": phone, "currency": "USD", "total_price": "649.00",
                 "customer": {"first_name": "Chaos", "last_name": str(number)},
                 "line_items": [{"id": 8_000_000 + number, "sku": code, "quantity": 1, "title": "Oak futon frame",
                                 "price": "649.00"}]}
        events.append(Event(str(uuid.uuid4()), "orders/create", json.dumps(order).encode(),
                            order_id=str(order["id"])))
    return events


def interleave(stock: list[Event], orders: list[Event]) -> list[Event]:
    """Orders spread evenly through the stock updates."""
    if not orders:
        return list(stock)
    step = max(1, len(stock) // len(orders))
    out: list[Event] = []
    pending = list(orders)
    for n, event in enumerate(stock):
        out.append(event)
        if n % step == step - 1 and pending:
            out.append(pending.pop(0))
    return out + pending


@dataclass
class Delivery:
    """What the sender saw: every answer by status (0 = no answer), and events it gave up on."""

    statuses: Counter[int] = field(default_factory=Counter)
    accepted: set[str] = field(default_factory=set)
    given_up: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    seconds: float = 0.0


def deliver(url: str, events: list[Event], *, copies: int = 1, threads: int = 8, duration_s: float | None = None,
            shuffle: bool = False, give_up_after_s: float = 300.0, seed: int = 7) -> Delivery:
    """Post every event ``copies`` times from ``threads`` threads, paced over ``duration_s``.

    A delivery answered 5xx, 429 (the receiver's per-source rate limit) or not at all is retried
    (0.2 s, doubling to 2 s) like a platform would, until it is answered 2xx or ``give_up_after_s`` has passed.
    """
    jobs = [event for event in events for _ in range(copies)]
    if shuffle:
        random.Random(seed).shuffle(jobs)
    result = Delivery()
    index = iter(range(len(jobs)))
    index_lock = threading.Lock()
    started = time.monotonic()
    rate = len(jobs) / duration_s if duration_s else None

    def work() -> None:
        session = requests.Session()
        while True:
            with index_lock:
                n = next(index, None)
            if n is None:
                return
            if rate:
                wait = started + n / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            _post_until_answered(session, url, jobs[n], result, give_up_after_s)

    workers = [threading.Thread(target=work, name=f"webhooks-{i}", daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    result.seconds = time.monotonic() - started
    return result


def _post_until_answered(session: requests.Session, url: str, event: Event, result: Delivery,
                         give_up_after_s: float) -> None:
    deadline = time.monotonic() + give_up_after_s
    pause = 0.2
    while True:
        try:
            status = session.post(url, data=event.body, headers=event.headers(), timeout=10).status_code
        except requests.RequestException:
            status = 0
        with result.lock:
            result.statuses[status] += 1
            if 200 <= status < 300:
                result.accepted.add(event.event_id)
                return
        if (400 <= status < 500 and status != 429) or time.monotonic() > deadline:
            with result.lock:
                result.given_up.append(event.event_id)
            return
        time.sleep(pause)
        pause = min(pause * 2, 2.0)


ORDER_SKU = "FUT-FRM-OAK-FULL"
"""Held at zero stock by ``prime``: every order for it becomes a backorder and a delay notice."""


@dataclass(frozen=True)
class Workload:
    url: str
    listings: dict[str, tuple[int, str]]
    codes: list[str]
    primed: list[Event]


def prime(stack: ChaosStack, timeout_s: float = 90) -> Workload:
    """After the shop's first poll: the order SKU at zero in both locations, applied."""
    stack.wait_first_poll(timeout_s)
    listings = stack.listings()
    assert ORDER_SKU in listings, f"the first poll learned no listing for {ORDER_SKU}: {sorted(listings)}"
    url = f"{stack.web_url}/webhooks/{SHOP}"
    now = datetime.now(UTC)
    zero = [level_event(listings[ORDER_SKU], location, 0, now) for location in LOCATIONS]
    sent = deliver(url, zero, threads=2)
    assert sent.accepted == {e.event_id for e in zero}, sent.statuses
    keys = [e.dedupe_key for e in zero]
    wait_until(lambda: stack.scalar("SELECT count(*) FROM inbox WHERE state = 'done' AND dedupe_key = ANY(:keys)",
                                    keys=keys) == len(zero), timeout_s, "the zero-stock events applied", stack)
    return Workload(url, listings, sorted(code for code in listings if code != ORDER_SKU), zero)


class Background:
    """``deliver`` in a thread, so a scenario can break things while the webhooks arrive."""

    def __init__(self, url: str, events: list[Event], **options: object) -> None:
        self._result: list[Delivery] = []
        self._thread = threading.Thread(target=lambda: self._result.append(deliver(url, events, **options)),  # type: ignore[arg-type]
                                        name="webhooks", daemon=True)
        self._thread.start()

    def join(self) -> Delivery:
        self._thread.join()
        assert self._result, "the webhook sender died (see the traceback above)"
        return self._result[0]
