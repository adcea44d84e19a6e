"""What the pipeline counts as it works, for Prometheus (``/metrics`` on the web app).

Counters and histograms live in the process that does the work — the web receiver counts
webhooks, a worker counts polls, pushes and sends — and ``prometheus_client``'s multiprocess mode
(``workers.metrics_dir``) lets the web app's ``/metrics`` add up every process of the host.
Figures that are rows (inbox depth, timers due and late, dead letters, outbox by state) are not
counted here: ``/metrics`` reads them from PostgreSQL when scraped (``workers.metrics_endpoint``),
so they are true across hosts and restarts.

Labels stay bounded: a store label is a configured store's key (a webhook for an unknown store is
counted under ``-``), a provider is one of the configured providers, outcomes are fixed words.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Histogram

#: Webhook answers that are not refusals (``workers.webhooks.Answer.reason``).
ACCEPTED = frozenset({"accepted", "duplicate", "pong"})
#: Refusals for which the store key in the URL was not found: it is not used as a label.
UNKNOWN_KEY = frozenset({"unknown_store", "too_large"})

WEBHOOKS_ACCEPTED = Counter("backorders_webhooks_accepted", "Webhooks answered 200, by store and outcome "
                            "(accepted, duplicate, pong)", ["store", "outcome"])
WEBHOOKS_REFUSED = Counter("backorders_webhooks_refused", "Webhooks refused, by store and reason "
                           "(malformed, signature, unknown_store, too_large, unavailable)", ["store", "reason"])
DRAIN_LAG = Histogram("backorders_inbox_drain_lag_seconds", "From a webhook's storing to its application by a drain",
                      ["store"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900))
DRAINED = Counter("backorders_inbox_drained", "Inbox events applied by drains", ["store"])
POLL_DURATION = Histogram("backorders_poll_duration_seconds", "Time a poll held its store's lease",
                          ["store", "kind"], buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600))
POLL_RECORDS = Counter("backorders_poll_records", "Stock records read by polls", ["store", "kind"])
POLLS = Counter("backorders_polls", "Polls run, by store and outcome (done, skipped, failed)", ["store", "outcome"])
PUSHES = Counter("backorders_channel_pushes", "Channel writes, by store and outcome (ok, refused, failed)",
                 ["store", "outcome"])
SENDS = Counter("backorders_sends", "Outbox sends, by provider and outcome (sent, failed, unknown, retry, "
                "deferred)", ["provider", "outcome"])
DEAD_LETTERS = Counter("backorders_dead_letters_recorded", "Tasks that failed for good, by task", ["task"])


#: ``(store label, reason)`` → the counter child a webhook answer increments. ``labels()``
#: validates and looks up its labels under a lock on every call (about 2 of the 3 µs an answer
#: cost the receiver, measured); the child it returns is the same object every time, so it is kept
#: here. Bounded like the labels themselves: configured stores (or ``-``) × fixed words.
_answer_children: dict[tuple[str, str], Any] = {}


def webhook_answered(store: str, reason: str) -> None:
    """One webhook answered: accepted (or a duplicate, or a ping) or refused and why."""
    if reason in UNKNOWN_KEY:
        store = "-"
    child = _answer_children.get((store, reason))
    if child is None:
        counter = WEBHOOKS_ACCEPTED if reason in ACCEPTED else WEBHOOKS_REFUSED
        child = _answer_children[(store, reason)] = counter.labels(store, reason)
    child.inc()


def drained(store: str, lags_s: Iterable[float]) -> None:
    """Events of ``store`` applied, each ``lag`` seconds after it was stored."""
    count = 0
    histogram = DRAIN_LAG.labels(store)
    for lag in lags_s:
        histogram.observe(max(0.0, lag))
        count += 1
    if count:
        DRAINED.labels(store).inc(count)


def polled(store: str, full: bool, seconds: float, records: int, outcome: str = "done") -> None:
    kind = "full" if full else "incremental"
    POLLS.labels(store, outcome).inc()
    if outcome == "done":
        POLL_DURATION.labels(store, kind).observe(seconds)
        POLL_RECORDS.labels(store, kind).inc(records)


def pushed(store: str, outcome: str, count: int = 1) -> None:
    PUSHES.labels(store, outcome).inc(count)


def sent(provider: str | None, outcome: str) -> None:
    SENDS.labels(provider or "-", outcome).inc()


def dead_letter(task: str) -> None:
    DEAD_LETTERS.labels(task).inc()
