"""Two deployments on one RabbitMQ vhost never take each other's tasks (``workers.broker_names``).

Runs against a real RabbitMQ: ``RABBITMQ_URL`` (default the local ``guest`` account on
``127.0.0.1:5672``); skipped when none answers. Each deployment is the product's Celery
configuration with its own ``CELERY_KEY_PREFIX``; every queue and exchange the test declares
carries a prefix unique to the run and is deleted afterwards.
"""
from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from kombu import Connection

from workers.broker_names import CONTROL_EXCHANGE, EVENT_EXCHANGE, QUEUES, TASK_EXCHANGE, BrokerNames

RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
PROBE = "tasks.notify.deployment_probe"  # routed by the product's ``tasks.notify.*`` rule


def _rabbitmq_answers() -> bool:
    try:
        with Connection(RABBITMQ_URL, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:  # noqa: BLE001  (no broker here: the test is skipped, not failed)
        return False


pytestmark = pytest.mark.skipif(not _rabbitmq_answers(), reason=f"no RabbitMQ at {RABBITMQ_URL}")


class Deployment:
    """The product's Celery settings under one prefix, plus a task recording who ran it."""

    def __init__(self, prefix: str, ran: list[tuple[str, str]], lock: threading.Lock) -> None:
        self.prefix = prefix
        self.app = Celery(f"deployment-{prefix}", set_as_current=False)
        self.app.config_from_object("celeryconfig")
        self.app.conf.update(broker_url=RABBITMQ_URL, broker_connection_max_retries=3,
                             **BrokerNames(prefix).celery_settings())
        self.app.loader.import_module("celery.contrib.testing.tasks")  # the ping task start_worker wants

        @self.app.task(name=PROBE, bind=True, shared=False)
        def probe(task: Any, sender: str) -> None:
            with lock:
                ran.append((prefix, sender))

        self.probe = probe

    def waiting(self, queue: str) -> int:
        """Messages ready in this deployment's ``queue`` (a passive declare: it must exist)."""
        with Connection(RABBITMQ_URL) as connection:
            return int(connection.default_channel.queue_declare(
                queue=f"{self.prefix}{queue}", passive=True).message_count)


@pytest.fixture
def deployments() -> Iterator[tuple[Deployment, Deployment, list[tuple[str, str]]]]:
    run = secrets.token_hex(4)
    ran: list[tuple[str, str]] = []
    lock = threading.Lock()
    first, second = Deployment(f"a-{run}:", ran, lock), Deployment(f"b-{run}:", ran, lock)
    yield first, second, ran
    with Connection(RABBITMQ_URL) as connection:
        channel = connection.default_channel
        for deployment in (first, second):
            for queue in QUEUES:
                channel.queue_delete(queue=f"{deployment.prefix}{queue}")
            for exchange in (TASK_EXCHANGE, EVENT_EXCHANGE, f"{CONTROL_EXCHANGE}.pidbox"):
                channel.exchange_delete(exchange=f"{deployment.prefix}{exchange}")
            channel.exchange_delete(exchange=f"reply.{deployment.prefix}{CONTROL_EXCHANGE}.pidbox")


def _wait(predicate: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_task_sent_by_one_deployment_is_never_consumed_by_another(
        deployments: tuple[Deployment, Deployment, list[tuple[str, str]]]) -> None:
    first, second, ran = deployments
    # One worker at a time: in-process workers share kombu's event loop (separate processes in
    # production don't), so B's worker runs first and stops before A's starts.
    with start_worker(second.app, pool="threads", concurrency=2, perform_ping_check=False, loglevel="WARNING",
                      queues=list(QUEUES), shutdown_timeout=20) as worker_b:
        for number in range(10):
            first.probe.delay(f"a{number}")
        # B's worker consumes every queue it knows: its own probe, sent after A's ten, runs...
        second.probe.delay("b0")
        _wait(lambda: (second.prefix, "b0") in ran)
        time.sleep(1.0)
        # ...while A's ten wait in A's own queue, untouched,
        assert [entry for entry in ran if entry[0] != second.prefix] == []
        assert first.waiting("notify") == 10
        assert second.waiting("notify") == 0
        # and remote control stays inside a deployment: A's ping reaches no worker, B's reaches B's.
        assert first.app.control.ping(timeout=1.5) == []
        assert [name for reply in second.app.control.ping(timeout=1.5) for name in reply] == [worker_b.hostname]
    with start_worker(first.app, pool="threads", concurrency=2, perform_ping_check=False, loglevel="WARNING",
                      queues=list(QUEUES), shutdown_timeout=20) as worker_a:
        _wait(lambda: len([entry for entry in ran if entry[0] == first.prefix]) == 10)
        assert [name for reply in first.app.control.ping(timeout=1.5) for name in reply] == [worker_a.hostname]
    assert sorted(ran) == sorted([(first.prefix, f"a{n}") for n in range(10)] + [(second.prefix, "b0")])
