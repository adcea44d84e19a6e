"""The poll downloads ahead in a thread: pages keep their order, errors surface where the page
would have been, and a consumer that stops early stops the download."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from flows.poll import prefetched


def test_pages_arrive_in_order_and_downloading_overlaps_storing() -> None:
    fetched: list[int] = []

    def pages() -> Iterator[int]:
        for n in range(6):
            time.sleep(0.05)  # the platform's answer time
            fetched.append(n)
            yield n

    started = time.perf_counter()
    seen = []
    for page in prefetched(pages(), depth=2):
        time.sleep(0.05)  # storing the page
        seen.append(page)
        assert len(fetched) - len(seen) <= 3, "never more than `depth` pages ahead (+1 in hand)"
    assert seen == list(range(6))
    assert time.perf_counter() - started < 0.5, "fetching and storing overlap (in series: 0.6 s)"


def test_a_download_error_is_raised_to_the_consumer() -> None:
    def pages() -> Iterator[int]:
        yield 1
        raise ConnectionError("platform went away")

    seen: list[int] = []
    with pytest.raises(ConnectionError, match="went away"):
        seen.extend(prefetched(pages()))
    assert seen == [1]


def test_stopping_early_stops_the_download_thread() -> None:
    fetched: list[int] = []

    def pages() -> Iterator[int]:
        for n in range(1000):
            fetched.append(n)
            yield n

    before = {t.ident for t in threading.enumerate()}
    for page in prefetched(pages(), depth=2):
        if page == 3:
            break
    time.sleep(0.3)
    assert len(fetched) <= 8, "the thread stopped soon after the consumer did"
    assert not [t for t in threading.enumerate() if t.ident not in before and t.name == "poll-prefetch"]


def test_pages_are_grouped_until_they_hold_enough_records() -> None:
    from dataclasses import dataclass

    from flows.poll import grouped

    @dataclass
    class Page:
        records: list[int]

    pages = [Page([1] * 250), Page([1] * 250), Page([1] * 100), Page([1] * 700), Page([1] * 10)]
    groups = list(grouped(pages, 500))
    assert [[len(p.records) for p in g] for g in groups] == [[250, 250], [100, 700], [10]]
    assert list(grouped([], 500)) == []
