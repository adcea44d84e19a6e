"""Process signals: each forked worker process gets its own database connections."""
from __future__ import annotations

import logging

from celery.signals import worker_process_init, worker_ready

from domain.core import spool
from domain.core.db import reset_engine


@worker_process_init.connect
def _fresh_engine_per_process(**_: object) -> None:
    """Connections inherited across fork are shared sockets: drop them, open new ones lazily."""
    reset_engine()
    logging.getLogger(__name__).debug("database engine reset in worker process")


@worker_ready.connect
def _import_spooled_dead_letters(**_: object) -> None:
    """Dead letters this host spooled while the database refused them go into the table at start."""
    spool.try_import()
