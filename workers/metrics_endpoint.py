"""``GET /metrics``: Prometheus' text format, behind the same credentials as Flower.

Two sources in one answer:

* what the processes counted as they worked (``flows.metrics``): webhooks accepted and refused,
  drain lag, polls (duration, records), channel pushes, sends by provider and outcome, dead
  letters recorded — merged from every process tree of this host (``workers.metrics_dir``), or
  this process's own figures when multiprocess mode is off;
* what the rows say now, read from PostgreSQL at scrape time (the record of truth, true across
  hosts): inbox depth and the age of its oldest pending event per store, quarantined events,
  timers due and late, dead letters not yet re-driven per task, outbox rows by state.

Credentials: ``FLOWER_BASIC_AUTH`` (``user:password[,user:password]``), or the embedded set-up's
generated ones (``workers.embedded.flower_credentials``) — one secret for both monitoring views.
Without credentials configured, or with wrong ones, the answer is 401: the figures name stores,
providers and volumes.
"""
from __future__ import annotations

import glob
import logging
import os
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import text

from domain.core.db import get_engine
from domain.core.liveness import Thresholds
from workers import basic_auth, metrics_dir

log = logging.getLogger("workers.metrics")
router = APIRouter()
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def authorised(header: str | None) -> bool:
    """A ``Basic`` authorization header naming one of Flower's pairs (``workers.basic_auth``)."""
    return basic_auth.authorised(header, basic_auth.configured_credentials())


class AllTrees(Collector):
    """The counters and histograms of every process tree under the root, summed."""

    def collect(self) -> Any:
        root = os.environ.get(metrics_dir.ROOT_ENV)
        files = glob.glob(os.path.join(root, "*", "*.db")) if root else []
        return MultiProcessCollector.merge(files, accumulate=True)


class Rows(Collector):
    """Gauges read from PostgreSQL at scrape time, by the database's own clock."""

    QUERIES = {
        "inbox": "SELECT source, count(*), coalesce(extract(epoch FROM now() - min(received_at)), 0) "
                 "FROM inbox WHERE state = 'pending' GROUP BY source",
        "quarantined": "SELECT source, count(*) FROM inbox WHERE state = 'quarantined' GROUP BY source",
        "timers": "SELECT count(*) FILTER (WHERE due_at <= now()), "
                  "count(*) FILTER (WHERE due_at <= now() - make_interval(secs => :late_s)) "
                  "FROM timers WHERE state = 'pending'",
        "dead_letters": "SELECT task_name, count(*) FROM dead_letters WHERE redriven_at IS NULL GROUP BY task_name",
        "outbox": "SELECT state, count(*) FROM outbox GROUP BY state",
    }

    def collect(self) -> Any:
        late_s = Thresholds.from_env().sweep_slack_s
        depth = GaugeMetricFamily("backorders_inbox_pending", "Webhooks stored and not yet applied", labels=["store"])
        oldest = GaugeMetricFamily("backorders_inbox_oldest_pending_seconds",
                                   "Age of the oldest webhook not yet applied (the drain's lag now)", labels=["store"])
        quarantined = GaugeMetricFamily("backorders_inbox_quarantined", "Webhooks set aside for a human",
                                        labels=["store"])
        due = GaugeMetricFamily("backorders_timers_due", "Timers due and not yet fired")
        late = GaugeMetricFamily("backorders_timers_late",
                                 f"Timers due more than SWEEP_LATE_SLACK_S ({late_s:g}s) ago and not yet fired")
        dead = GaugeMetricFamily("backorders_dead_letters", "Dead letters not yet re-driven", labels=["task"])
        outbox = GaugeMetricFamily("backorders_outbox", "Outbox rows by state", labels=["state"])
        up = GaugeMetricFamily("backorders_rows_up", "1 when the figures below were read from PostgreSQL")
        try:
            with get_engine().connect() as connection:
                connection.execute(text("SET statement_timeout = '5s'"))
                for source, count, age in connection.execute(text(self.QUERIES["inbox"])):
                    depth.add_metric([source], count)
                    oldest.add_metric([source], float(age))
                for source, count in connection.execute(text(self.QUERIES["quarantined"])):
                    quarantined.add_metric([source], count)
                due_now, late_now = connection.execute(text(self.QUERIES["timers"]), {"late_s": late_s}).one()
                due.add_metric([], due_now)
                late.add_metric([], late_now)
                for task, count in connection.execute(text(self.QUERIES["dead_letters"])):
                    dead.add_metric([task], count)
                for state, count in connection.execute(text(self.QUERIES["outbox"])):
                    outbox.add_metric([state], count)
                connection.rollback()
        except Exception as exc:  # the process figures are still worth answering with
            log.warning("metrics: rows not read: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, depth, oldest, quarantined, due, late, dead, outbox]


def exposition() -> bytes:
    """The whole answer: every tree's figures (or this process's) and the rows'."""
    registry = CollectorRegistry(auto_describe=False)
    if metrics_dir.active() and os.environ.get(metrics_dir.ROOT_ENV):
        registry.register(AllTrees())
        own = b""
    else:
        own = generate_latest(REGISTRY)
    registry.register(Rows())
    return own + generate_latest(registry)


@router.get("/metrics", summary="Prometheus figures (basic auth: Flower's credentials)", include_in_schema=True)
def metrics(request: Request) -> Response:
    if not authorised(request.headers.get("authorization")):
        return PlainTextResponse("authentication required\n", status_code=401,
                                 headers={"WWW-Authenticate": 'Basic realm="backorders metrics"'})
    return Response(exposition(), media_type=CONTENT_TYPE)
