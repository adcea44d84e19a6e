"""Scenario 5: two beat processes at once: polls of a store never overlap, nothing fires twice.

A deployment that starts beat twice (a rolling restart, a second host) must not poll a store
twice at the same time: each poll holds the store's lease and leaves an audit row with its
start, end and owner. The shop is polled every second, fully every five.
"""
from __future__ import annotations

import itertools
import os
import re
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from tests.chaos import invariants, report
from tests.chaos.conftest import size
from tests.chaos.harness import chaos_stack

RUN_SECONDS = float(os.environ.get("CHAOS_BEAT_SECONDS") or size(full=300, smoke=30))


def _fast_polls(text: str) -> str:
    text = re.sub(r'(?m)^poll_interval = "[^"]*"', 'poll_interval = "1s"', text)
    return re.sub(r'(?m)^full_sync_interval = "[^"]*"', 'full_sync_interval = "5s"', text)


@pytest.mark.chaos_full
@pytest.mark.timeout(int(RUN_SECONDS) + 600)
def test_two_beats_never_overlap_a_stores_polls(chaos_dir: Path) -> None:
    with chaos_stack(chaos_dir, edit=_fast_polls) as stack:
        stack.start("beat", "beat-2")
        deadline = time.monotonic() + RUN_SECONDS
        while time.monotonic() < deadline:
            assert not stack.dead(), stack.logs_tail()
            time.sleep(2)
        stack.kill("beat")
        stack.kill("beat-2")
        time.sleep(3)  # let the last dispatched polls finish
        polls: dict[str, list[tuple[datetime, datetime, str]]] = defaultdict(list)
        for subject, data in stack.rows("SELECT subject_id, data FROM audit_log WHERE action = 'poll'"):
            polls[subject].append((datetime.fromisoformat(data["started_at"]),
                                   datetime.fromisoformat(data["finished_at"]), data["owner"]))
        overlaps = []
        for store, runs in polls.items():
            runs.sort()
            overlaps += [(store, owner, next_owner) for (_, end, owner), (start, _, next_owner)
                         in itertools.pairwise(runs) if start < end]
        total = sum(len(runs) for runs in polls.values())
        verdict = invariants.check(stack, [])
        report.record("5 two beats", runs=total, events_in=total, effects=total - len(overlaps),
                      lost=verdict.lost, duplicates=len(overlaps) + verdict.duplicates,
                      detail=f"{RUN_SECONDS}s, polls per store {({k: len(v) for k, v in polls.items()})}")
        assert total >= RUN_SECONDS / 10, f"only {total} polls in {RUN_SECONDS}s"
        assert overlaps == [], overlaps[:5]
        assert verdict.problems == [], verdict.problems
