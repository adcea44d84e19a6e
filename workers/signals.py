"""Process signals: each forked worker process gets its own database connections."""
from __future__ import annotations

import logging

from celery.signals import worker_process_init

from domain.db import reset_engine


@worker_process_init.connect
def _fresh_engine_per_process(**_: object) -> None:
    """Connections inherited across fork are shared sockets: drop them, open new ones lazily."""
    reset_engine()
    logging.getLogger(__name__).debug("database engine reset in worker process")
