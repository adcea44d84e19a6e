"""What must hold after any failure, read from the database and the sandbox's own records.

* every accepted webhook is an inbox row in state ``done`` (none pending, failed or quarantined),
  and each SKU × location shows the figure of the newest event sent for it;
* every order became one order with one backorder per short line;
* at most one accepted provider request per outbox idempotency key, and none without a row;
  a row ``sent`` was really received; rows ``sending``/``unknown`` are never sent again;
* no timer fired twice and no customer got the same notice twice (one row per backorder,
  template and channel; one decision per backorder state change);
* with ``storefronts``: every channel shows the sellable figure the database holds
  (``domain.stock.propagation.plan_store``), read from the sandbox's Shopify and WooCommerce state —
  for the SKUs named, or else for every SKU × store we wrote to or owe a push to.

``check`` returns the counts for the chaos table and the list of broken promises; a scenario
asserts that list is empty.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.chaos.harness import SHOP, ChaosStack
from tests.chaos.webhooks import Event


@dataclass
class Verdict:
    events_in: int = 0
    effects: int = 0
    lost: int = 0
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)
    unresolved_sends: int = 0

    def add(self, problem: str, *, lost: int = 0, duplicates: int = 0) -> None:
        self.problems.append(problem)
        self.lost += lost
        self.duplicates += duplicates


def idempotency_key(request: dict[str, Any]) -> str | None:
    """The outbox key a provider request carries (Mailgun variable, SendGrid arg, Twilio callback)."""
    body = request.get("body")
    if not isinstance(body, dict):
        return None
    if request["provider"] == "mailgun":
        value = body.get("v:idempotency_key")
        return value[0] if isinstance(value, list) else value
    if request["provider"] == "sendgrid":
        return (body.get("custom_args") or {}).get("idempotency_key")
    if request["provider"] == "twilio":
        callback = body.get("StatusCallback") or ""
        return (parse_qs(urlsplit(callback).query).get("idempotency_key") or [None])[0]
    return None


def provider_requests(sandbox_url: str) -> list[dict[str, Any]]:
    response = requests.get(f"{sandbox_url}/_sandbox/messaging/requests", timeout=30)
    response.raise_for_status()
    return list(response.json()["requests"])


def check(stack: ChaosStack, events: list[Event], *, dead_letters_allowed: int = 0,
          storefronts: bool | Sequence[str] = False) -> Verdict:
    """``storefronts``: also count channel figures (True: every SKU × store we wrote to or owe a
    push to; a list of SKU codes: every selling store of each)."""
    verdict = Verdict(events_in=len({e.event_id for e in events}))
    _inbox(stack, events, verdict)
    _stock(stack, events, verdict)
    _orders(stack, events, verdict)
    _messages(stack, verdict)
    _decisions(stack, verdict)
    if storefronts:
        wrong = storefront_mismatches(stack, None if storefronts is True else list(storefronts))  # type: ignore[arg-type]
        if wrong:
            verdict.add(f"{len(wrong)} storefront figures differ from the sellable figure the database holds "
                        f"(store, SKU, shows, sellable): {wrong[:5]}", lost=len(wrong))
    dead = stack.scalar("SELECT count(*) FROM dead_letters WHERE redriven_at IS NULL") or 0
    if dead > dead_letters_allowed:
        verdict.add(f"{dead} dead letters: {stack.rows('SELECT task_name, error FROM dead_letters')[:5]}")
    return verdict


def _inbox(stack: ChaosStack, events: list[Event], verdict: Verdict) -> None:
    states = dict(stack.rows("SELECT dedupe_key, state FROM inbox WHERE source = :shop", shop=SHOP))
    wanted = {e.dedupe_key for e in events}
    missing = [key for key in wanted if key not in states]
    not_done = Counter(states[key] for key in wanted if key in states and states[key] != "done")
    verdict.effects = sum(1 for key in wanted if states.get(key) == "done")
    if missing:
        verdict.add(f"{len(missing)} accepted webhooks have no inbox row (e.g. {missing[:3]})", lost=len(missing))
    if not_done:
        verdict.add(f"inbox events not applied after recovery: {dict(not_done)}", lost=sum(not_done.values()))


def _stock(stack: ChaosStack, events: list[Event], verdict: Verdict) -> None:
    newest: dict[tuple[int, str], Event] = {}
    for event in events:
        if event.sku_id is None or event.location is None or event.updated_at is None:
            continue
        key = (event.sku_id, event.location)
        if key not in newest or event.updated_at > newest[key].updated_at:  # type: ignore[operator]
            newest[key] = event
    levels = {(sku_id, external): (available, updated) for sku_id, external, available, updated in stack.rows(
        "SELECT sl.sku_id, loc.external_id, sl.available, sl.source_updated_at FROM stock_levels sl "
        "JOIN stores st ON st.id = sl.store_id "
        "JOIN store_locations loc ON loc.store_id = sl.store_id AND loc.location_id = sl.location_id "
        "WHERE st.key = :shop", shop=SHOP)}
    # Channel pushes write every change, so the harness's random figures meet our writes. By the
    # product's rule (domain/stock/levels.py) a reading from a store we wrote to counts down from what we
    # wrote, short of the truth by what we withheld (buffer, units promised to waiting customers):
    # the row holds the reading plus that. A newest event equal to the figure we last wrote there is
    # our own write coming back (an echo, never news), so the row keeps the truth it held.
    written = {(sku_id, external): (available, withheld) for sku_id, external, available, withheld in stack.rows(
        "SELECT p.sku_id, loc.external_id, p.available, p.withheld FROM pushed_levels p "
        "JOIN stores st ON st.id = p.store_id "
        "JOIN store_locations loc ON loc.store_id = p.store_id AND loc.location_id = p.location_id "
        "WHERE st.key = :shop", shop=SHOP)}

    def holds(key: tuple[int, str], event: Event) -> bool:
        figure, withheld = written.get(key, (None, 0))
        if key not in levels:
            return False
        if event.available == figure:
            return True
        # An unchanged figure keeps its older timestamp, so the level may be dated earlier, never later.
        return levels[key][0] - withheld == event.available and levels[key][1] <= event.updated_at  # type: ignore[operator]

    wrong = [(key, (event.available, event.updated_at), levels.get(key), written.get(key))
             for key, event in newest.items() if not holds(key, event)]
    if wrong:
        verdict.add(f"{len(wrong)} SKU × location figures are not the newest event's: {wrong[:3]}", lost=len(wrong))
    repeats = stack.scalar(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM stock_history h JOIN stores st "
        "ON st.id = h.store_id WHERE st.key = :shop AND h.source_updated_at IS NOT NULL "
        "GROUP BY h.sku_id, h.location_id, h.source_updated_at, h.available HAVING count(*) > 1) d", shop=SHOP)
    if repeats:
        verdict.add(f"{repeats} stock figures were recorded twice", duplicates=int(repeats))


def _orders(stack: ChaosStack, events: list[Event], verdict: Verdict) -> None:
    order_ids = {e.order_id for e in events if e.order_id}
    if not order_ids:
        return
    rows = stack.rows(
        "SELECT o.external_id, count(DISTINCT o.id), count(b.id) FROM orders o JOIN order_lines l ON l.order_id = o.id "
        "LEFT JOIN backorders b ON b.order_line_id = l.id WHERE o.external_id = ANY(:ids) GROUP BY o.external_id",
        ids=list(order_ids))
    seen = {external: (orders, backorders) for external, orders, backorders in rows}
    missing = order_ids - set(seen)
    if missing:
        verdict.add(f"{len(missing)} orders never recorded", lost=len(missing))
    doubled = [k for k, (orders, backorders) in seen.items() if orders > 1 or backorders > 1]
    if doubled:
        verdict.add(f"{len(doubled)} orders recorded or backordered twice", duplicates=len(doubled))
    unoffered = stack.scalar(
        "SELECT count(*) FROM backorders b JOIN order_lines l ON l.id = b.order_line_id JOIN orders o "
        "ON o.id = l.order_id WHERE o.external_id = ANY(:ids) AND b.state = 'open'", ids=list(order_ids))
    if unoffered:
        verdict.add(f"{unoffered} backorders never got their delay notice", lost=int(unoffered))


def _messages(stack: ChaosStack, verdict: Verdict) -> None:
    outbox = {key: (state, channel) for key, state, channel in stack.rows(
        "SELECT idempotency_key, state, channel FROM outbox")}
    accepted: Counter[str] = Counter()
    slack_accepted = 0
    for request in provider_requests(stack.sandbox_url):
        ok = request.get("status") is not None and 200 <= int(request["status"]) < 300
        if request["provider"] == "slack":
            slack_accepted += ok
            continue
        key = idempotency_key(request)
        if key is None or key not in outbox:
            verdict.add(f"a {request['provider']} request matches no outbox row (key {key!r})", duplicates=1)
        elif ok:
            accepted[key] += 1
    for key, count in accepted.items():
        if count > 1:
            verdict.add(f"outbox {key} was accepted by the provider {count} times", duplicates=count - 1)
    for key, (state, channel) in outbox.items():
        if channel != "slack" and state in ("sent", "delivered") and not accepted.get(key):
            verdict.add(f"outbox {key} is {state} but the provider never accepted it", lost=1)
        if state in ("pending", "sending", "unknown"):
            verdict.unresolved_sends += 1
    slack_rows = sum(1 for state, channel in outbox.values() if channel == "slack"
                     and state in ("sent", "delivered", "sending", "unknown"))
    if slack_accepted > slack_rows:
        verdict.add(f"Slack accepted {slack_accepted} posts for {slack_rows} outbox rows",
                    duplicates=slack_accepted - slack_rows)
    pending = stack.scalar("SELECT count(*) FROM outbox WHERE state = 'pending' AND "
                           "(not_before IS NULL OR not_before < now())") or 0
    if pending:
        verdict.add(f"{pending} outbox rows still pending after recovery", lost=int(pending))


def _decisions(stack: ChaosStack, verdict: Verdict) -> None:
    """A timer that fired twice or a notice sent twice shows as a repeated transition or message."""
    repeated = stack.scalar(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM audit_log WHERE action = 'backorder.transition' "
        "GROUP BY subject_id, data->>'from_state', data->>'to_state', data->>'cause' HAVING count(*) > 1) d") or 0
    if repeated:
        verdict.add(f"{repeated} backorder state changes happened twice", duplicates=int(repeated))
    notices = stack.scalar(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM outbox WHERE template LIKE 'backorder_%' "
        "GROUP BY recipient, template, context->>'order_number', context->>'sku', context->>'eta' "
        "HAVING count(*) > 1) d") or 0
    if notices:
        verdict.add(f"{notices} customer notices were written twice", duplicates=int(notices))


# --- storefronts ------------------------------------------------------------------------------

#: Platforms whose sandbox state the checker can read (``/_admin/state/items``).
READABLE_PLATFORMS = ("shopify", "woocommerce")


@dataclass(frozen=True)
class Figure:
    store: str
    sku: str
    shows: int | None
    sellable: int


def _pairs(stack: ChaosStack, codes: list[str] | None) -> list[tuple[int, str, int, str, str]]:
    """(SKU id, code, store id, store key, platform) to check: every selling store listing the SKUs
    named, or every SKU × store with a push written or owed."""
    if codes is not None:
        where, params = "k.code = ANY(:codes)", {"codes": codes}
    else:
        where, params = ("(EXISTS (SELECT 1 FROM pushed_levels p WHERE p.sku_id = l.sku_id AND p.store_id = l.store_id)"
                         " OR EXISTS (SELECT 1 FROM channel_pushes c WHERE c.sku_id = l.sku_id "
                         "AND c.store_id = l.store_id))"), {}
    return [tuple(row) for row in stack.rows(  # type: ignore[misc]
        "SELECT k.id, k.code, st.id, st.key, st.platform FROM channel_listings l JOIN skus k ON k.id = l.sku_id "
        f"JOIN stores st ON st.id = l.store_id WHERE st.sells AND st.enabled AND {where} "
        "AND st.platform = ANY(:platforms) ORDER BY st.key, k.code", platforms=list(READABLE_PLATFORMS), **params)]


def _shown(stack: ChaosStack, platform: str, store_key: str, codes: list[str]) -> dict[str, dict[str, Any]]:
    """SKU code → the sandbox's admin view of the item in that store."""
    items: dict[str, dict[str, Any]] = {}
    for start in range(0, len(codes), 50):
        response = requests.get(f"{stack.sandbox_url}/{platform}/{store_key}/_admin/state/items",
                                params={"skus": ",".join(codes[start:start + 50])}, timeout=30)
        response.raise_for_status()
        items.update({item["sku"]: item for item in response.json()["items"]})
    return items


def storefront_figures(stack: ChaosStack, codes: list[str] | None = None) -> list[Figure]:
    """What each channel shows beside the sellable figure the database holds, per SKU × store. A
    store with no reported figure for the SKU (nothing to show it at) is left out."""
    from domain.stock.propagation import plan_store

    pairs = _pairs(stack, codes)
    by_store: dict[tuple[str, str], list[str]] = {}
    for _sku_id, code, _store_id, store_key, platform in pairs:
        by_store.setdefault((platform, store_key), []).append(code)
    shown = {key: _shown(stack, key[0], key[1], sorted(set(names))) for key, names in by_store.items()}
    figures = []
    with stack.session() as session:
        for sku_id, code, store_id, store_key, platform in pairs:
            planned = plan_store(session, sku_id, store_id)
            if planned is None or not planned.pushes:
                continue
            item = shown[(platform, store_key)].get(code)
            if platform == "woocommerce":  # one figure per product: the store's locations summed
                sellable = sum(p.available for p in planned.pushes)
                shows = None if item is None else item.get("stock_quantity")
            else:  # the sandbox shop tracks stock at one location
                at = [p.available for p in planned.pushes
                      if item is not None and p.listing.location_external_id == item.get("location_id")]
                if not at:
                    continue
                sellable, shows = at[0], item.get("available")  # type: ignore[union-attr]
            figures.append(Figure(store_key, code, None if shows is None else int(shows), sellable))
    return figures


def storefront_mismatches(stack: ChaosStack, codes: list[str] | None = None) -> list[tuple[str, str, int | None, int]]:
    """(store, SKU, shows, sellable) of every channel figure that is not the database's."""
    return [(f.store, f.sku, f.shows, f.sellable) for f in storefront_figures(stack, codes) if f.shows != f.sellable]


def wait_storefronts(stack: ChaosStack, timeout_s: float, codes: list[str] | None = None,
                     since: float | None = None, interval_s: float = 0.5
                     ) -> tuple[float | None, list[tuple[str, str, int | None, int]]]:
    """Seconds from ``since`` (a ``time.monotonic()`` reading, default now) until every channel shows
    the database's sellable figure, or None and what was still wrong when ``timeout_s`` ran out."""
    since = time.monotonic() if since is None else since
    deadline = time.monotonic() + timeout_s
    wrong: list[tuple[str, str, int | None, int]] = []
    while True:
        try:
            wrong = storefront_mismatches(stack, codes)
        except Exception as exc:  # noqa: BLE001  (a server may be coming back: look again)
            wrong = [("?", f"unreadable: {exc!r}", None, 0)]
        if not wrong:
            return time.monotonic() - since, []
        if time.monotonic() > deadline:
            return None, wrong
        time.sleep(interval_s)
