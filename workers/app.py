"""The Celery app, built from ``celeryconfig`` after the environment is settled."""
from __future__ import annotations

from celery import Celery

from workers import metrics_dir
from workers.embedded import ensure_env
from workers.log_redaction import install as redact_links_in_logs

ensure_env()
metrics_dir.configure()  # before prometheus_client is imported: every process of the host adds up at /metrics
metrics_dir.connect_child_exit()
redact_links_in_logs()  # signed link tokens never reach a log line (workers.log_redaction)

TASK_MODULES = (
    "tasks.polling",
    "tasks.inbound",
    "tasks.stock",
    "tasks.channels",
    "tasks.followups",
    "tasks.notify",
    "tasks.timers",
    "tasks.po_send",
    "tasks.purchasing",
    "tasks.csat",
    "tasks.receipts",
    "tasks.returns",
    "tasks.subscriptions",
    "tasks.effects",
    "tasks.disputes",
    "tasks.fraud",
    "tasks.shipping",
    "tasks.payments",
    "tasks.deadletters",
    "tasks.support",
    "tasks.helpdesks",
)

app = Celery("backorders")
app.config_from_object("celeryconfig")
app.conf.imports = TASK_MODULES

import workers.signals  # noqa: E402,F401  (connects process and task signals)
import workers.startup_checks  # noqa: E402,F401  (a broken configuration stops the worker)
import workers.heartbeats  # noqa: E402,F401  (worker heartbeats and sweeper runs, for /healthz)
import workers.correlation  # noqa: E402,F401  (correlation ids across the broker, bound as log fields)
import workers.logs  # noqa: E402,F401  (Celery's log handlers render JSON or console lines, LOG_FORMAT)
import workers.quiet_sweeps  # noqa: E402,F401  (Flower lists sweeps that found work, not every tick)
import workers.task_labels  # noqa: E402,F401  (readable task arguments in Flower: ids with their names)
