"""Scenario 12: pushes whose messages are lost — the worker killed just after the change, Redis
restarted empty.

Shopify and WooCommerce (both on the sandbox) sell the same SKUs from the warehouse. Each SKU
sells out on Shopify: the sandbox sets its stock to 0 and sends its signed
``inventory_levels/update`` webhook to our receiver, as the shop does. About 0.1 s after the
database holds every 0 — before the 1 s push debounce is over, so every WooCommerce push is
still a message in the broker — the workers are killed with SIGKILL, Redis is killed and
restarted without persistence (every queued message gone), and the workers come back. The
pushes are ``channel_pushes`` rows written by the transaction that applied the webhook, so
``tasks.channels.sweep`` finds them. The row reports the time from Redis' return until every
storefront shows the sellable figure the database holds (read from the sandbox's own state); a
figure still wrong after ``BOUND_S`` counts as lost.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests

from demo import scenario
from tests.chaos import invariants, report
from tests.chaos.conftest import size
from tests.chaos.harness import SHOP, chaos_stack, wait_settled, wait_until

SKUS = size(full=20, smoke=20)
BOUND_S = 180.0
WOO = "woo-outlet"
WORKERS = ("worker", "notify")
PLATFORMS = frozenset({"shopify", "woocommerce"})


@pytest.mark.chaos_full
@pytest.mark.timeout(900)
def test_pushes_whose_messages_were_lost_reach_every_storefront(chaos_dir: Path) -> None:
    with chaos_stack(chaos_dir, platforms=PLATFORMS) as stack:
        wait_until(lambda: (stack.scalar("SELECT count(DISTINCT subject_id) FROM audit_log WHERE action = 'poll'")
                            or 0) >= 2, 120, "the first poll of both stores", stack)
        codes = [code for (code,) in stack.rows(
            "SELECT k.code FROM skus k WHERE (SELECT count(*) FROM channel_listings l JOIN stores st ON st.id = "
            "l.store_id WHERE l.sku_id = k.id AND st.key IN (:shop, :woo)) = 2 ORDER BY k.code LIMIT :n",
            shop=SHOP, woo=WOO, n=SKUS)]
        assert len(codes) == SKUS, codes
        assert invariants.storefront_mismatches(stack, codes) == [], "the storefronts agree before the sales"
        shop = next(store for store in stack.config.stores if store.key == SHOP)  # type: ignore[union-attr]
        scenario.register_webhooks(stack.sandbox_url, shop, stack.web_url, stack.env[shop.webhook_secret_env or ""])

        answers: list[object] = []

        def sell_out(code: str) -> None:  # the shop's own stock goes to 0 and it tells us by webhook
            response = requests.post(f"{stack.sandbox_url}/shopify/{SHOP}/_admin/set_stock",
                                     json={"sku": code, "available": 0}, timeout=30)
            answers.extend(hook["status"] for hook in response.json()["webhooks"])

        threads = [threading.Thread(target=sell_out, args=(code,)) for code in codes]
        for thread in threads:
            thread.start()
        wait_until(lambda: stack.scalar(
            "SELECT count(*) FROM stock_levels sl JOIN skus k ON k.id = sl.sku_id JOIN stores st ON st.id = sl.store_id "
            "WHERE st.key = :shop AND k.code = ANY(:codes) AND sl.available = 0", shop=SHOP, codes=codes) == len(codes),
            60, "every sale recorded", stack, interval_s=0.01)
        changed = time.monotonic()
        time.sleep(0.1)
        for label in WORKERS:
            stack.kill(label)
        for thread in threads:
            thread.join()
        owed = stack.scalar("SELECT count(*) FROM channel_pushes WHERE due_at IS NOT NULL OR lease_until IS NOT NULL")
        queued = stack.redis_queued()
        stack.redis.kill()
        stack.redis.start()
        back = time.monotonic()
        for label in WORKERS:
            stack.start(label)
        stack.wait_ready(WORKERS)
        recovery, wrong = invariants.wait_storefronts(stack, BOUND_S, codes, since=back)
        wait_settled(stack, timeout_s=300)  # the staff alerts of the sales go out too (outbox re-drive)
        verdict = invariants.check(stack, [], storefronts=codes)
        figures = 2 * len(codes)
        report.record("12 lost pushes (Shopify + WooCommerce)", runs=1, events_in=figures,
                      effects=figures - len(wrong), lost=len(wrong), duplicates=verdict.duplicates,
                      recovery_s=recovery,
                      detail=f"{len(codes)} SKUs sold out by webhook (answers {sorted(set(map(str, answers)))}); "
                             f"workers killed 0.1 s after; {queued} broker messages dropped, {owed} pushes owed; "
                             f"storefronts right {'never' if recovery is None else '%.1f s' % (back - changed + recovery)} "
                             f"after the change; still wrong at {BOUND_S:.0f} s: {wrong[:5]}")
        assert not stack.dead(), stack.logs_tail()
        assert wrong == [], f"storefronts still wrong after {BOUND_S} s: {wrong}"
        assert verdict.problems == [], verdict.problems
