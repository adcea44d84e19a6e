"""What one deployment calls its queues and exchanges on the broker, so two never share them.

One setting names a deployment: ``CELERY_KEY_PREFIX`` (e.g. ``shop-eu:``). On Redis it is kombu's
``global_keyprefix``: every key the broker uses — queues, bindings, unacked messages, the pub/sub
channels of events and remote control — starts with it, so nothing else needs a prefix there and
the names stay what they always were. RabbitMQ has no such switch: two deployments sharing a
vhost and calling their queues ``sync`` and ``notify`` take each other's tasks. On an AMQP broker
the prefix is therefore written into every name Celery declares: the task queues
(``shop-eu:sync``), the exchange they are bound to, the event exchange and its receivers' queues
(Flower) and the remote-control (pidbox) exchange, whose reply exchange and per-worker queues
Celery derives from it.

Each prefixed queue keeps its plain name as kombu's ``alias``, and Celery's queue table resolves
aliases: ``-Q sync,detect`` in the Procfile, ``task_routes`` and ``send_task(queue="notify")``
all keep the plain names and land on the deployment's own queues, whatever the broker.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kombu import Exchange, Queue

#: The logical queues, as the Procfile's ``-Q`` lists and ``task_routes`` name them.
QUEUES = ("sync", "detect", "default", "notify", "timers")
DEFAULT_QUEUE = "default"
AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp", "librabbitmq"})
#: Celery's own names for the exchanges it declares besides the task exchange.
EVENT_EXCHANGE = "celeryev"
CONTROL_EXCHANGE = "celery"
TASK_EXCHANGE = "tasks"


def is_amqp(broker_url: str | None) -> bool:
    """True for RabbitMQ (and any AMQP 0-9-1 broker) URLs."""
    return bool(broker_url) and urlsplit(str(broker_url)).scheme in AMQP_SCHEMES


@dataclass(frozen=True)
class BrokerNames:
    """The names one deployment uses: ``prefix`` is written into them only on AMQP brokers."""

    prefix: str = ""

    @classmethod
    def for_broker(cls, broker_url: str | None, deployment_prefix: str) -> BrokerNames:
        return cls(deployment_prefix if is_amqp(broker_url) else "")

    def name(self, plain: str) -> str:
        return f"{self.prefix}{plain}"

    @property
    def task_exchange(self) -> Exchange:
        # Without a prefix: Celery's default, an exchange named after the default queue.
        return Exchange(self.name(TASK_EXCHANGE) if self.prefix else DEFAULT_QUEUE, "direct")

    @property
    def queues(self) -> tuple[Queue, ...]:
        exchange = self.task_exchange
        return tuple(Queue(self.name(plain), exchange, routing_key=self.name(plain),
                           alias=plain if self.prefix else None)
                     for plain in QUEUES)

    def celery_settings(self) -> dict[str, Any]:
        """The Celery settings these names decide (``celeryconfig`` reads them from here)."""
        return {
            "task_queues": self.queues,
            "task_default_queue": self.name(DEFAULT_QUEUE),
            "task_default_exchange": self.task_exchange.name,
            "task_default_exchange_type": "direct",
            "task_default_routing_key": self.name(DEFAULT_QUEUE),
            "event_exchange": self.name(EVENT_EXCHANGE),
            "event_queue_prefix": self.name(EVENT_EXCHANGE),
            "control_exchange": self.name(CONTROL_EXCHANGE),
        }
