"""Scenario 11: a poison task stops after finite attempts, is shown, and is re-driven.

Shopify refuses every stock write for the shop (422, as it does for an item whose tracking was
switched off). A SKU selling out must push its new figure; that push fails for good, leaves a
``dead_letters`` row that ``backorders status`` lists, and is not tried again on its own. Once
the platform accepts writes again, ``backorders redrive`` (run as an operator would) sends it
once more and the shop shows the figure.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from tests.chaos import invariants, report
from tests.chaos.harness import LOCATIONS, SHOP, ChaosStack, wait_settled, wait_until
from tests.chaos.webhooks import deliver, level_event, prime

PUSH_PATH = "inventory_levels/set"


def _pushes(stack: ChaosStack, item: str) -> list[int]:
    """Statuses of the shop's stock writes for one inventory item, oldest first."""
    rows = requests.get(f"{stack.sandbox_url}/shopify/{SHOP}/_admin/requests",
                        params={"path_contains": PUSH_PATH}, timeout=10).json()["requests"]
    return [row.get("status") for row in rows if str((row.get("body") or {}).get("inventory_item_id")) == item]


def _pushes_idle(stack: ChaosStack) -> bool:
    """No push due or in flight, and no detection or fill still owed (which would schedule one)."""
    return not stack.scalar(
        "SELECT (SELECT count(*) FROM channel_pushes WHERE due_at IS NOT NULL OR lease_until > now())"
        " + (SELECT count(*) FROM pending_effects)")


@pytest.mark.timeout(900)
def test_a_poison_push_is_dead_lettered_shown_and_redriven(stack: ChaosStack) -> None:
    load = prime(stack)
    code = load.codes[0]
    sku_id, item = load.listings[code]
    admin = f"{stack.sandbox_url}/shopify/{SHOP}/_admin"
    # The first poll's figures are still being pushed (2 writes/s to Shopify): had the fault been
    # set now, those pushes would be refused too and dead-letter beside the one this scenario makes.
    wait_until(lambda: _pushes_idle(stack), 120, "the first poll's pushes done", stack)
    requests.post(f"{admin}/faults", json={"status": 422, "count": 1000, "path_contains": PUSH_PATH,
                                           "body": {"errors": "Inventory item is not tracked"}},
                  timeout=10).raise_for_status()
    sold_out = [level_event((sku_id, item), LOCATIONS[0], 0, datetime.now(UTC))]
    try:
        assert deliver(load.url, sold_out).accepted
        dead = wait_until(lambda: stack.rows("SELECT id, task_name, args FROM dead_letters "
                                             "WHERE redriven_at IS NULL AND task_name = 'tasks.channels.push'"),
                          90, "the push dead-lettered", stack)
        [(dead_id, _, args)] = dead
        assert args[0] == sku_id
        time.sleep(5)  # long enough for a retry loop to show itself
        attempts = _pushes(stack, item)
        assert attempts == [422], f"one attempt for a permanent refusal, then nothing: {attempts}"
        status = stack.cli("status")
        assert f"#{dead_id} tasks.channels.push" in status.stdout, status.stdout
    finally:
        requests.delete(f"{admin}/faults", timeout=10).raise_for_status()

    redriven = stack.cli("redrive", str(dead_id))
    assert f"re-sent #{dead_id} tasks.channels.push" in redriven.stdout, redriven.stdout
    wait_until(lambda: _pushes(stack, item)[-1:] == [200], 60, "the re-driven push accepted", stack)
    shop = requests.get(f"{admin}/state/items", params={"skus": code}, timeout=10).json()["items"]
    assert shop[0]["available"] == 0
    assert f"#{dead_id} " not in stack.cli("status").stdout
    recovery = wait_settled(stack, timeout_s=120)
    verdict = invariants.check(stack, load.primed + sold_out)
    report.record("11 poison task", runs=1, events_in=verdict.events_in, effects=verdict.effects,
                  lost=verdict.lost, duplicates=verdict.duplicates, recovery_s=recovery,
                  detail=f"push attempts before dead letter: {len(attempts)}; re-driven by CLI: 1")
    assert verdict.problems == [], verdict.problems
