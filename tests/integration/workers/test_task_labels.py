"""Flower's task list reads ``sku_id=12 (FUT-…), store_id=3 (shopify-main)``, not ``(12, 3)``: the
message's ``argsrepr`` names each argument and the store or SKU behind an id, from the database."""
from __future__ import annotations

from typing import Any

import pytest

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import Sku, Store
from domain.stock.catalog import apply_config


def test_ids_are_named_and_lists_shortened(db_session: Session, futon_config: Any) -> None:
    from tasks.channels import push_due
    from tasks.stock import evaluate
    from workers.task_labels import Names, describe, describe_kwargs

    apply_config(db_session, futon_config)
    db_session.commit()
    store_id = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == "FUT-FRM-OAK-FULL"))
    names = Names()
    assert describe(push_due, (sku_id, store_id), names, chain="4a13") == (
        f"sku_id={sku_id} (FUT-FRM-OAK-FULL), store_id={store_id} (shopify-main), chain=4a13")
    assert describe(push_due, (999_999, 999_998), names) == "sku_id=999999, store_id=999998", "unknown ids stay ids"
    assert describe(evaluate, (list(range(1, 9)),), names) == "sku_ids=[1, 2, 3, 4, 5, … 8 in all]"
    assert describe_kwargs({"store_id": store_id}, names) == f"{{store_id={store_id} (shopify-main)}}"


def test_a_published_message_carries_the_label(db_session: Session, futon_config: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.channels import push_due
    from workers import task_labels

    # a fresh cache: ids are reused from test to test (tables are emptied), never in a deployment
    monkeypatch.setattr(task_labels.NAMES, "_stores", {})
    monkeypatch.setattr(task_labels.NAMES, "_stores_at", float("-inf"))
    monkeypatch.setattr(task_labels.NAMES, "_skus", type(task_labels.NAMES._skus)())
    apply_config(db_session, futon_config)
    db_session.commit()
    store_id = db_session.scalar(select(Store.id).where(Store.key == "woo-outlet"))
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == "FUT-FRM-OAK-FULL"))
    headers: dict[str, Any] = {"task": push_due.name, "argsrepr": repr((sku_id, store_id))}
    task_labels._label(sender=push_due.name, body=((sku_id, store_id), {}, {}), headers=headers)
    assert headers["argsrepr"] == f"sku_id={sku_id} (FUT-FRM-OAK-FULL), store_id={store_id} (woo-outlet)"
