"""Refuse to start on a broken business configuration, saying which key is wrong.

Without this, a typo in the TOML file surfaces much later, inside the first task or request that
reads the configuration, as a failed task or a 503. The web app checks when it is built; Celery
workers and beat check on ``worker_init`` / ``beat_init``, before they consume anything. The same
places check that every Redis in use keeps ``maxmemory-policy noeviction`` (``workers.redis_policy``).
"""
from __future__ import annotations

import logging
import sys
from typing import NoReturn

from celery.signals import beat_init, worker_init

from workers.redis_policy import noeviction_refusal
from workers.supervise import EX_CONFIG

log = logging.getLogger("workers.startup")


def require_valid_config(process: str) -> None:
    """Exit the process with every problem and its key path if the configuration is invalid."""
    from domain.core.business_config import ConfigError, current_config
    from domain.core.env_settings import get_settings

    try:
        current_config()
    except ConfigError as exc:
        path = get_settings().config_file
        refuse(f"{process} not started: {path} is invalid:\n  " + "\n  ".join(exc.problems))


def refuse(message: str) -> NoReturn:
    """Log and print why, and exit with ``EX_CONFIG`` (78): ``backorders supervise`` does not
    restart a process that refused to start, so a misconfiguration stops ``make up`` loudly."""
    log.critical(message)
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(EX_CONFIG)


def require_startable(process: str) -> None:
    """Every start-up check: the business configuration, then Redis' memory policy
    (``workers.redis_policy``: a Redis that may evict keys is refused unless switched to warn)."""
    require_valid_config(process)
    refusal = noeviction_refusal(process)
    if refusal is not None:
        refuse(f"{process} not started:\n{refusal}")


@worker_init.connect
def _check_worker(**_: object) -> None:
    require_startable("worker")


@beat_init.connect
def _check_beat(**_: object) -> None:
    require_startable("beat")
