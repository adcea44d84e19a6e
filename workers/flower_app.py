"""Flower, with every page behind its basic auth and the password off the command line.

Two gaps in Flower 2.2 (``flower/views/monitor.py``, ``flower/command.py``):

* ``/metrics`` (Prometheus: task names, worker host names, queue figures) is a handler without
  ``@tornado.web.authenticated``, so it answered anyone while every other page asked for the
  password. :func:`protect_metrics` wraps it like the others, before Flower builds its routes:
  no credentials or wrong ones → 401 (Flower's ``get_current_user`` raises it for basic auth).
  ``/healthcheck`` stays open: it answers ``OK`` and nothing else.
* ``--basic-auth=user:password`` puts the password in the process's argv, which ``ps`` shows to
  every user of the machine. Flower reads any option from a ``FLOWER_<OPTION>`` environment
  variable as well (``apply_env_options``), so ``backorders flower`` leaves the credentials in
  ``FLOWER_BASIC_AUTH`` (``/proc/<pid>/environ`` is readable by the owner only) and starts this
  module with the port and address alone.
"""
from __future__ import annotations

import os
import sys


def protect_metrics() -> None:
    """``/metrics`` asks for the same credentials as every other Flower page (idempotent)."""
    from flower.views import monitor
    from tornado.web import authenticated

    if not getattr(monitor.Metrics.get, "requires_login", False):
        wrapped = authenticated(monitor.Metrics.get)
        wrapped.requires_login = True  # type: ignore[attr-defined]
        monitor.Metrics.get = wrapped  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    if not os.environ.get("FLOWER_BASIC_AUTH", "").strip():
        sys.exit("FLOWER_BASIC_AUTH: not set; Flower never runs without credentials")
    protect_metrics()
    os.environ["BACKORDERS_METRICS"] = "off"  # Flower serves its own figures, from memory (workers.metrics_dir)
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", "-A", "workers.app", "flower", *argv]
    celery_main()


if __name__ == "__main__":
    main(sys.argv[1:])
