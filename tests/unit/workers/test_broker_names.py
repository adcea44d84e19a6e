"""Queue and exchange names per deployment (``workers.broker_names``): prefixed on RabbitMQ only."""
from __future__ import annotations

import pytest
from celery import Celery

from workers.broker_names import QUEUES, BrokerNames, is_amqp


@pytest.mark.parametrize(("url", "amqp"), [("amqp://guest:guest@rabbit:5672//", True), ("pyamqp://h//", True),
                                           ("amqps://h//", True), ("redis://h:6379/0", False), (None, False)])
def test_which_brokers_take_the_prefix_in_their_names(url: str | None, amqp: bool) -> None:
    assert is_amqp(url) is amqp


def test_on_rabbitmq_every_name_carries_the_prefix() -> None:
    names = BrokerNames.for_broker("amqp://h//", "shop-eu:").celery_settings()
    assert [q.name for q in names["task_queues"]] == [f"shop-eu:{q}" for q in QUEUES]
    assert [q.alias for q in names["task_queues"]] == list(QUEUES)
    assert {q.exchange.name for q in names["task_queues"]} == {"shop-eu:tasks"}
    assert names["task_default_queue"] == "shop-eu:default"
    assert (names["event_exchange"], names["event_queue_prefix"], names["control_exchange"]) == (
        "shop-eu:celeryev", "shop-eu:celeryev", "shop-eu:celery")


def test_on_redis_the_names_stay_plain_because_every_key_is_prefixed_already() -> None:
    names = BrokerNames.for_broker("redis://h:6379/0", "shop-eu:").celery_settings()
    assert [q.name for q in names["task_queues"]] == list(QUEUES)
    assert {q.exchange.name for q in names["task_queues"]} == {"default"}
    assert (names["task_default_queue"], names["event_exchange"], names["control_exchange"]) == (
        "default", "celeryev", "celery")


def test_plain_names_in_routes_and_worker_queue_lists_resolve_to_the_deployments_queues() -> None:
    app = Celery("names", set_as_current=False)
    app.config_from_object("celeryconfig")
    app.conf.update(broker_url="amqp://h//", **BrokerNames("shop-eu:").celery_settings())
    queues = app.amqp.queues
    queues.select(["sync", "detect", "default", "timers"])  # the Procfile's ``worker -Q``
    assert sorted(queues.consume_from) == ["shop-eu:default", "shop-eu:detect", "shop-eu:sync", "shop-eu:timers"]
    assert app.amqp.router.route({}, "tasks.notify.deliver")["queue"].name == "shop-eu:notify"
    assert app.amqp.router.route({}, "tasks.purchasing.plan")["queue"].name == "shop-eu:default"
    assert app.amqp.default_queue.name == "shop-eu:default"
