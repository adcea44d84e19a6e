"""The Celery app, built from ``celeryconfig`` after the environment is settled."""
from __future__ import annotations

from celery import Celery

from workers.embedded import ensure_env

ensure_env()

TASK_MODULES = (
    "tasks.timers",
)

app = Celery("backorders")
app.config_from_object("celeryconfig")
app.autodiscover_tasks(lambda: [], force=True)
app.conf.imports = TASK_MODULES

import workers.signals  # noqa: E402,F401  (connects process and task signals)
