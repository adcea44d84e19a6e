"""The stand-ins' webhook subscription endpoints answer as the platforms document them."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox.server import SandboxServer

SHOPIFY_AUTH = {"X-Shopify-Access-Token": "shpat_sandbox"}
WOO_AUTH = ("ck_sandbox", "cs_sandbox")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    with SandboxServer() as server:
        yield server.base_url


def test_shopify_webhooks_json(sandbox: str) -> None:
    api = f"{sandbox}/shopify/hooks/admin/api/2025-01"
    created = []
    for n in range(3):
        answer = requests.post(f"{api}/webhooks.json", headers=SHOPIFY_AUTH, timeout=10, json={
            "webhook": {"topic": "orders/create", "address": f"https://example.com/h{n}", "format": "json"}})
        assert answer.status_code == 201, answer.text
        created.append(answer.json()["webhook"])
    assert created[0]["topic"] == "orders/create" and created[0]["api_version"] == "2025-01"
    again = requests.post(f"{api}/webhooks.json", headers=SHOPIFY_AUTH, timeout=10, json={
        "webhook": {"topic": "orders/create", "address": "https://example.com/h0"}})
    assert again.status_code == 422
    assert again.json() == {"errors": {"address": ["for this topic has already been taken"]}}
    bad = requests.post(f"{api}/webhooks.json", headers=SHOPIFY_AUTH, timeout=10, json={"webhook": {"topic": "x/y"}})
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"topic", "address"}
    first = requests.get(f"{api}/webhooks.json", params={"limit": 2}, headers=SHOPIFY_AUTH, timeout=10)
    assert len(first.json()["webhooks"]) == 2 and 'rel="next"' in first.headers["Link"]
    filtered = requests.get(f"{api}/webhooks.json", params={"address": "https://example.com/h2"},
                            headers=SHOPIFY_AUTH, timeout=10).json()["webhooks"]
    assert [h["id"] for h in filtered] == [created[2]["id"]]
    assert requests.get(f"{api}/webhooks/count.json", headers=SHOPIFY_AUTH, timeout=10).json() == {"count": 3}
    assert requests.delete(f"{api}/webhooks/{created[1]['id']}.json", headers=SHOPIFY_AUTH, timeout=10).ok
    assert requests.get(f"{api}/webhooks/{created[1]['id']}.json", headers=SHOPIFY_AUTH, timeout=10
                        ).status_code == 404
    assert requests.get(f"{api}/webhooks.json", timeout=10).status_code == 401
    # subscriptions made in the admin are not the API's to list
    requests.post(f"{sandbox}/shopify/hooks/_admin/webhooks", json={
        "address": "https://example.com/admin", "secret": "s", "topics": ["orders/create"]}, timeout=10)
    assert requests.get(f"{api}/webhooks/count.json", headers=SHOPIFY_AUTH, timeout=10).json() == {"count": 2}


def test_woocommerce_webhooks(sandbox: str) -> None:
    api = f"{sandbox}/woocommerce/hooks/wp-json/wc/v3"
    missing = requests.post(f"{api}/webhooks", auth=WOO_AUTH, json={"name": "x"}, timeout=10)
    assert missing.status_code == 400 and missing.json()["code"] == "rest_missing_callback_param"
    bad_topic = requests.post(f"{api}/webhooks", auth=WOO_AUTH, timeout=10, json={
        "topic": "stock.changed", "delivery_url": "https://example.com/w"})
    assert bad_topic.status_code == 400 and bad_topic.json()["code"] == "woocommerce_rest_shop_webhook_invalid_topic"
    bad_url = requests.post(f"{api}/webhooks", auth=WOO_AUTH, timeout=10, json={
        "topic": "order.created", "delivery_url": "ftp://example.com/w"})
    assert bad_url.json()["code"] == "woocommerce_rest_shop_webhook_invalid_delivery_url"
    created = requests.post(f"{api}/webhooks", auth=WOO_AUTH, timeout=10, json={
        "topic": "order.created", "delivery_url": "http://127.0.0.1:9/unreachable", "secret": "s3"})
    assert created.status_code == 201
    hook = created.json()
    assert (hook["resource"], hook["event"], hook["status"]) == ("order", "created", "active") and "secret" not in hook
    pings = requests.get(f"{sandbox}/woocommerce/hooks/_admin/webhooks", timeout=10).json()["deliveries"]
    assert [d["topic"] for d in pings] == ["webhook.ping"]
    paused = requests.put(f"{api}/webhooks/{hook['id']}", auth=WOO_AUTH, json={"status": "paused"}, timeout=10)
    assert paused.json()["status"] == "paused"
    assert [h["id"] for h in requests.get(f"{api}/webhooks", params={"status": "paused"}, auth=WOO_AUTH,
                                          timeout=10).json()] == [hook["id"]]
    trash = requests.delete(f"{api}/webhooks/{hook['id']}", auth=WOO_AUTH, timeout=10)
    assert trash.status_code == 501 and trash.json()["code"] == "woocommerce_rest_trash_not_supported"
    gone = requests.delete(f"{api}/webhooks/{hook['id']}", params={"force": "true"}, auth=WOO_AUTH, timeout=10)
    assert gone.ok
    again = requests.delete(f"{api}/webhooks/{hook['id']}", params={"force": "true"}, auth=WOO_AUTH, timeout=10)
    assert again.status_code == 404 and again.json()["message"] == "Invalid ID."
    assert requests.get(f"{api}/webhooks/{hook['id']}", auth=WOO_AUTH, timeout=10).status_code == 400


def test_lightspeed_webhooks(sandbox: str) -> None:
    """X-Series: ``{url, type, active}`` all required, one webhook per (type, URL), answers under
    ``data``; those made in the back office (``_admin``) are not listed."""
    api, auth = f"{sandbox}/lightspeed/hooks/api/2.0/webhooks", {"Authorization": "Bearer lsxs_sandbox_token"}
    body = {"url": "https://example.com/ls", "type": "inventory.update", "active": True}
    created = requests.post(api, headers=auth, json=body, timeout=10)
    assert created.status_code == 201, created.text
    hook = created.json()["data"]
    assert {k: hook[k] for k in body} == body and isinstance(hook["id"], str) and hook["retailer_id"]
    again = requests.post(api, headers=auth, json=body, timeout=10)
    assert again.status_code == 409 and again.json() == {"error": "A webhook with this type and URL already exists."}
    for wrong in ({**body, "type": "stock.changed"}, {"url": "https://example.com/ls", "type": "sale.update"},
                  {**body, "url": "x"}, {**body, "active": "yes"}):
        assert requests.post(api, headers=auth, json=wrong, timeout=10).status_code == 400, wrong
    assert requests.post(api, headers=auth, json={**body, "type": "sale.update"}, timeout=10).status_code == 201
    requests.post(f"{sandbox}/lightspeed/hooks/_admin/webhooks", json={"url": "https://example.com/admin",
                                                                      "types": ["inventory.update"]}, timeout=10)
    listed = requests.get(api, headers=auth, timeout=10).json()["data"]
    assert [(h["type"], h["url"]) for h in listed] == [("inventory.update", "https://example.com/ls"),
                                                        ("sale.update", "https://example.com/ls")]
    off = requests.put(f"{api}/{hook['id']}", headers=auth, json={**body, "active": False}, timeout=10)
    assert off.ok and off.json()["data"]["active"] is False
    assert requests.put(f"{api}/{hook['id']}", headers=auth, json={"active": True}, timeout=10).status_code == 400
    assert requests.get(f"{api}/999", headers=auth, timeout=10).status_code == 404
    assert requests.get(api, timeout=10).status_code == 401
