"""Celery settings only: broker, queues, routes, reliability flags and the beat schedule.

Read from the environment (``workers.app`` fills the URLs from the embedded servers first when
they are unset). The broker carries IDs only; PostgreSQL holds the work, so every beat entry
below is a sweeper that finds rows that are due and not done.
"""
from __future__ import annotations

import os

from domain.core.stages import Stage
from flows import spine
from workers.broker_names import QUEUES, BrokerNames  # noqa: F401  (QUEUES: the plain names, for callers)

VISIBILITY_TIMEOUT_S = int(os.environ.get("VISIBILITY_TIMEOUT_S", "3600"))

broker_url = os.environ.get("BROKER_URL") or os.environ.get("REDIS_URL")
#: The deployment's namespace on the broker (and in Redis): Redis keys start with it, and on
#: RabbitMQ every queue and exchange name does (``workers.broker_names``).
DEPLOYMENT_PREFIX = os.environ.get("CELERY_KEY_PREFIX", "")
broker_connection_retry_on_startup = True
# Workers outlive the broker (docs/reliability.md, "Broker trouble"): a lost connection is retried
# for ever (Celery's default gives up after 100 attempts, about 50 minutes, and exits), and a
# Redis *reply* error — `OOM command not allowed`, `READONLY`, `MISCONF` — restarts the consumer
# like a lost connection instead of ending the worker with "Unrecoverable error" (measured: one OOM
# reply to the unacked-index write ended the notify worker; with this it reconnects and goes on).
broker_connection_retry = True
broker_connection_max_retries = int(os.environ.get("BROKER_CONNECTION_MAX_RETRIES", "0")) or None
broker_channel_error_retry = True
broker_transport_options = {
    "visibility_timeout": VISIBILITY_TIMEOUT_S,
    "global_keyprefix": DEPLOYMENT_PREFIX,
}
if (broker_url or "").startswith(("redis://", "rediss://", "redis+socket://")):
    # A Redis that went away without closing the socket is noticed by the keepalive and the
    # health check (a PING before a command on a connection idle this long), not by a hang.
    broker_transport_options.update(socket_connect_timeout=5, socket_keepalive=True, health_check_interval=10)
broker_pool_limit = 10

result_backend = None
task_ignore_result = True

# Queues and exchanges named for the deployment on RabbitMQ; routes, ``-Q`` lists and
# ``send_task(queue=...)`` keep the plain names (each prefixed queue carries it as its alias).
_names = BrokerNames.for_broker(broker_url, DEPLOYMENT_PREFIX).celery_settings()
task_queues = _names["task_queues"]
task_default_queue = _names["task_default_queue"]
task_default_exchange = _names["task_default_exchange"]
task_default_exchange_type = _names["task_default_exchange_type"]
task_default_routing_key = _names["task_default_routing_key"]
event_exchange = _names["event_exchange"]
event_queue_prefix = _names["event_queue_prefix"]
control_exchange = _names["control_exchange"]
# Each task to its stage's queue, from the pipeline's table (``flows.spine``); a task missing
# there goes to the default queue (a test fails on it first).
task_routes = spine.task_routes()

task_serializer = "json"
accept_content = ["json"]
timezone = "UTC"
enable_utc = True

# Reliability: ack after the work is done, give the message back when a worker dies, reserve one
# message per process so a dead worker strands as little as possible.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
# On a lost broker connection a running task finishes its work instead of being terminated: cut
# off mid-send, a delivery stays `sending` for 20 minutes and then needs reconciling; finished, it is
# recorded `sent`, and the copy of its message the broker gives back finds it done (tasks re-check
# state first). Seen on a Redis restart under load: two deliveries "terminated instead" of acked.
worker_cancel_long_running_tasks_on_connection_loss = False
task_time_limit = 15 * 60
task_soft_time_limit = 14 * 60

# Flower shows the pipeline only when workers send events.
worker_send_task_events = True
task_send_sent_event = True

SWEEP_INTERVAL_S = float(os.environ.get("SWEEP_INTERVAL_S", "15"))
#: How often each vendor ERP is asked what it has received against our open purchase orders.
ERP_RECEIPTS_INTERVAL_S = float(os.environ.get("ERP_RECEIPTS_INTERVAL_S", "300"))
#: How often beat looks for shipping accounts due a poll (each account has its own poll_interval).
SHIPPING_SWEEP_INTERVAL_S = float(os.environ.get("SHIPPING_SWEEP_INTERVAL_S", "60"))

_task = spine.task_name
beat_schedule = {
    "dispatch-due-polls": {"task": _task(Stage.DISPATCH_POLLS), "schedule": SWEEP_INTERVAL_S},
    "fire-due-timers": {"task": _task(Stage.FIRE_TIMERS), "schedule": SWEEP_INTERVAL_S},
    "redrive-inbox": {"task": _task(Stage.SWEEP_INBOX), "schedule": 60.0},
    "offer-stranded-backorders": {"task": _task(Stage.SWEEP_OFFERS), "schedule": 60.0},
    "place-stranded-substitutes": {"task": _task(Stage.SWEEP_SUBSTITUTES), "schedule": 60.0},
    "sweep-disputes": {"task": _task(Stage.SWEEP_DISPUTES), "schedule": 60.0},
    "redrive-outbox": {"task": _task(Stage.SWEEP_OUTBOX), "schedule": 60.0},
    "reconcile-outbox": {"task": _task(Stage.RECONCILE_OUTBOX), "schedule": 300.0},
    "daily-stock-digest": {"task": _task(Stage.DIGEST), "schedule": 300.0},
    "close-po-windows": {"task": _task(Stage.CLOSE_PO_WINDOWS), "schedule": SWEEP_INTERVAL_S},
    "read-erp-receipts": {"task": _task(Stage.READ_ERP_RECEIPTS), "schedule": ERP_RECEIPTS_INTERVAL_S},
    "vendor-scorecard": {"task": _task(Stage.SCORECARD), "schedule": 300.0},
    "csat-surveys": {"task": _task(Stage.CSAT_SWEEP), "schedule": 300.0},
    "csat-report": {"task": _task(Stage.CSAT_REPORT), "schedule": 300.0},
    "sweep-channel-pushes": {"task": _task(Stage.SWEEP_PUSHES), "schedule": SWEEP_INTERVAL_S},
    "sweep-pending-effects": {"task": _task(Stage.SWEEP_EFFECTS), "schedule": SWEEP_INTERVAL_S},
    "score-unscored-orders": {"task": _task(Stage.SWEEP_FRAUD), "schedule": 60.0},
    "import-spooled-dead-letters": {"task": _task(Stage.IMPORT_DEAD_LETTERS), "schedule": 60.0},
    "purge-replay-tokens": {"task": _task(Stage.PURGE_REPLAY_TOKENS), "schedule": 3600.0},
    "dispatch-shipping-polls": {"task": _task(Stage.SHIPPING_DISPATCH), "schedule": SHIPPING_SWEEP_INTERVAL_S},
    "redrive-shipping-webhooks": {"task": _task(Stage.SWEEP_SHIPPING_INBOX), "schedule": 60.0},
    "sweep-refunds": {"task": _task(Stage.SWEEP_REFUNDS), "schedule": 60.0},
    "triage-stranded-tickets": {"task": _task(Stage.SWEEP_TICKETS), "schedule": 60.0},
    "sweep-returns": {"task": _task(Stage.SWEEP_RETURNS), "schedule": 60.0},
    # each helpdesk has its own interval ([[helpdesks]] options.poll_interval_s): beat only looks
    "dispatch-helpdesk-polls": {"task": _task(Stage.HELPDESK_DISPATCH), "schedule": 60.0},
    "sweep-helpdesks": {"task": _task(Stage.SWEEP_HELPDESKS), "schedule": 60.0},
}
