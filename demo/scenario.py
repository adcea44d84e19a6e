"""Points the example store at a running sandbox: config, credentials, catalogs, webhooks.

Used by the demo and the integration tests, so both exercise the product exactly as
configured for production, with only base URLs and secrets swapped for the sandbox's.
"""
from __future__ import annotations

import re
from pathlib import Path

import requests

from connectors.bigcommerce import KINDS as BIGCOMMERCE_TOPICS
from connectors.bigcommerce import SECRET_HEADER as BIGCOMMERCE_SECRET_HEADER
from connectors.cin7_core import SECRET_HEADER as CIN7_SECRET_HEADER
from connectors.cin7_core import STOCK_CHANGED as CIN7_STOCK_CHANGED
from connectors.cin7_core import TOPIC_HEADER as CIN7_TOPIC_HEADER
from connectors.subscriptions import TOPICS as SUBSCRIBED
from connectors.zoho_inventory import SECRET_HEADER as ZOHO_SECRET_HEADER
from domain.core.business_config import BusinessConfig, StoreConfig

SLACK_PATH = "/slack/services/T000/B000/SANDBOX"

#: Secrets the stand-ins accept (see docs/sandbox.md and docs/sandbox-messaging.md).
PLATFORM_SECRETS = {
    "SHOPIFY_ACCESS_TOKEN": "shpat_sandbox",
    "SHOPIFY_WEBHOOK_SECRET": "sandbox-shopify-webhook-secret",
    "WOO_CONSUMER_KEY": "ck_sandbox",
    "WOO_CONSUMER_SECRET": "cs_sandbox",
    "WOO_WEBHOOK_SECRET": "sandbox-woo-webhook-secret",
    "MAGENTO_ACCESS_TOKEN": "magento_sandbox_integration_token",
    "MAGENTO_WEBHOOK_SECRET": "sandbox-magento-webhook-secret",
    "LIGHTSPEED_TOKEN": "lsxs_sandbox_token",
    "LIGHTSPEED_WEBHOOK_SECRET": "lsxs_sandbox_client_secret",
    "BIGCOMMERCE_ACCESS_TOKEN": "bc_sandbox_token",
    "BIGCOMMERCE_WEBHOOK_SECRET": "sandbox-bigcommerce-webhook-secret",
    "NETSUITE_ACCOUNT_ID": "1234567",
    "NETSUITE_CONSUMER_KEY": "ns_ck_sandbox",
    "NETSUITE_CONSUMER_SECRET": "ns_cs_sandbox",
    "NETSUITE_TOKEN_ID": "ns_tk_sandbox",
    "NETSUITE_TOKEN_SECRET": "ns_ts_sandbox",
    "SHIPSTATION_API_KEY": "ss_sandbox_key",
    "SHIPSTATION_API_SECRET": "ss_sandbox_secret",
    "SHIPSTATION_V2_API_KEY": "ss_v2_sandbox_key",
    "SHIPSTATION_WEBHOOK_TOKEN": "sandbox-shipstation-webhook-token",
    "FLEXPORT_API_KEY": "fx_sandbox_key",
    "FLEXPORT_WEBHOOK_SECRET": "sandbox-flexport-webhook-secret",
    "STRIPE_SECRET_KEY": "sk_test_sandbox",
    "STRIPE_WEBHOOK_SECRET": "whsec_sandbox",
    "ADYEN_API_KEY": "AQE_sandbox_api_key",
    "ADYEN_HMAC_KEY": "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056",
    "PAYPAL_CLIENT_ID": "paypal-sandbox-client",
    "PAYPAL_CLIENT_SECRET": "paypal-sandbox-secret",
    "PAYPAL_WEBHOOK_ID": "WH-SANDBOX-1",
    "SAP_B1_COMPANY_DB": "SBODEMOUS",
    "SAP_B1_USERNAME": "manager",
    "SAP_B1_PASSWORD": "sap_sandbox",
    "BC_CLIENT_ID": "bc-sandbox-client",
    "BC_CLIENT_SECRET": "bc-sandbox-secret",
    "BC_ERP_WEBHOOK_SECRET": "sandbox-bc-client-state",
    "QBO_CLIENT_ID": "qbo-sandbox-client",
    "QBO_CLIENT_SECRET": "qbo-sandbox-secret",
    "QBO_REFRESH_TOKEN": "AB11-first-refresh-token",
    "QBO_VERIFIER_TOKEN": "qbo-verifier-token",
    "ZOHO_CLIENT_ID": "1000.ZOHOSANDBOX",
    "ZOHO_CLIENT_SECRET": "zoho_sandbox_secret",
    "ZOHO_REFRESH_TOKEN": "1000.refresh.sandbox",
    "ZOHO_ERP_WEBHOOK_SECRET": "sandbox-zoho-webhook-secret",
    "CIN7_ACCOUNT_ID": "2a4c9b1e-0000-4c0e-9d2a-5a0c1b2c3d4e",
    "CIN7_APPLICATION_KEY": "cin7-sandbox-key",
    "CIN7_ERP_WEBHOOK_SECRET": "sandbox-cin7-webhook-secret",
}
ALL_PLATFORMS = frozenset({"shopify", "woocommerce", "lightspeed", "netsuite", "bigcommerce", "sap_b1",
                           "business_central", "quickbooks", "zoho_inventory", "cin7_core"})
#: The five storefronts the example store sells through (``examples/futon-store.toml``).
STOREFRONTS = ("shopify", "woocommerce", "bigcommerce", "magento", "lightspeed")
#: What the demo runs: every platform above and all five storefronts.
DEMO_PLATFORMS = ALL_PLATFORMS | frozenset(STOREFRONTS)


def instance_for(platform: str, store_key: str) -> str:
    """The sandbox instance a store lives on: its key, except NetSuite's, which is the account id
    (the account is part of the host and of the OAuth realm there)."""
    return PLATFORM_SECRETS["NETSUITE_ACCOUNT_ID"] if platform == "netsuite" else store_key


def sandbox_env(sandbox_url: str, web_url: str = "http://127.0.0.1:8000") -> dict[str, str]:
    """Every environment variable the example configuration names, pointed at the sandbox."""
    return {
        **PLATFORM_SECRETS,
        "SLACK_WEBHOOK_OPS": f"{sandbox_url}{SLACK_PATH}",
        "SLACK_WEBHOOK_PURCHASING": f"{sandbox_url}{SLACK_PATH}",
        "SLACK_WEBHOOK_CARE": f"{sandbox_url}{SLACK_PATH}",
        "EMAIL_PROVIDER": "mailgun",
        "MAILGUN_API_KEY": "sandbox-mailgun-key",
        "MAILGUN_DOMAIN": "mg.futonloft.example",
        "MAILGUN_BASE_URL": f"{sandbox_url}/mailgun",
        "MAILGUN_WEBHOOK_SIGNING_KEY": "sandbox-mailgun-signing-key",
        "EMAIL_FROM": "Futon Loft <orders@futonloft.example>",
        "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000",
        "TWILIO_AUTH_TOKEN": "sandbox-twilio-token",
        "TWILIO_FROM": "+15005550006",
        "TWILIO_BASE_URL": f"{sandbox_url}/twilio",
        "PUBLIC_BASE_URL": web_url,
    }


def _without_stores(rule: str, left_out: set[str]) -> str:
    """A refund rule's ``channels`` without the stores left out; no rule when none is left."""
    channels = re.search(r'(?m)^channels = \[([^\]]*)\]\n', rule)
    if not channels:
        return rule
    kept = [name for name in re.findall(r'"([^"]+)"', channels.group(1)) if name not in left_out]
    if not kept:
        return ""
    listed = ", ".join(f'"{name}"' for name in kept)
    return rule.replace(channels.group(0), f"channels = [{listed}]\n")


def _payment_account(block: str, sandbox_url: str, left_out: set[str]) -> str:
    """A payments account on its stand-in (``/{provider}/{key}``), without the stores left out; no
    account when none of its stores is left."""
    key = re.search(r'(?m)^key = "([^"]+)"', block)
    provider = re.search(r'(?m)^provider = "([^"]+)"', block)
    stores = re.search(r'(?m)^stores = \[([^\]]*)\]', block)
    if not key or not provider or not stores:
        return block
    kept = [name for name in re.findall(r'"([^"]+)"', stores.group(1)) if name not in left_out]
    if not kept:
        return ""
    block = block.replace(stores.group(0), "stores = [" + ", ".join(f'"{name}"' for name in kept) + "]")
    block = re.sub(r'(?m)^# base_url = .*\n', "", block)
    return block.replace(f'key = "{key.group(1)}"\n',
                         f'key = "{key.group(1)}"\nbase_url = "{sandbox_url}/{provider.group(1)}/{key.group(1)}"\n', 1)


def sandbox_config_text(example: Path, sandbox_url: str, platforms: set[str]) -> str:
    """The example file with each store's base URL pointed at the sandbox.

    Stores on platforms without a stand-in in ``platforms`` are left out of the result, with the
    store policies and refund rules that only name them.
    """
    text = example.read_text()
    blocks = re.split(r"(?m)^(?=\[\[|\[)", text)
    out = []
    left_out: set[str] = set()
    for block in blocks:
        if block.startswith("[[store_policies]]"):
            policy_store = re.search(r'(?m)^store = "([^"]+)"', block)
            if policy_store and policy_store.group(1) in left_out:
                continue
        if block.startswith("[[refunds.rules]]"):
            block = _without_stores(block, left_out)
            if not block:
                continue
        if block.startswith("[[cases.routes]]"):
            channel = re.search(r'(?m)^channel = "([^"]+)"', block)
            if channel and channel.group(1) in left_out:
                continue
        if block.startswith("[[payments.accounts]]"):
            block = _payment_account(block, sandbox_url, left_out)
            if not block:
                continue
        if block.startswith("[[stores]]"):
            key = re.search(r'(?m)^key = "([^"]+)"', block)
            platform = re.search(r'(?m)^platform = "([^"]+)"', block)
            if not key or not platform or platform.group(1) not in platforms:
                left_out.add(key.group(1) if key else "")
                continue
            instance = instance_for(platform.group(1), key.group(1))
            block = re.sub(r'(?m)^base_url = "[^"]*"', f'base_url = "{sandbox_url}/{platform.group(1)}/{instance}"',
                           block)
            # Entra ID tokens come from the stand-in too (Business Central's ``authority_host`` option)
            block = re.sub(r'authority_host = "[^"]*"',
                           f'authority_host = "{sandbox_url}/{platform.group(1)}/{instance}/login"', block)
            if platform.group(1) == "quickbooks":  # QuickBooks' OAuth token endpoint is the stand-in's too
                block = block.replace("options = { ", f'options = {{ token_url = "{sandbox_url}/quickbooks/{instance}'
                                                      f'/oauth2/v1/tokens/bearer", ', 1)
            # and Zoho's OAuth tokens (its ``accounts_host`` option)
            block = re.sub(r'accounts_host = "[^"]*"',
                           f'accounts_host = "{sandbox_url}/{platform.group(1)}/{instance}/accounts"', block)
        if block.startswith("[[shipping.accounts]]"):  # each account on its stand-in, V2 too
            key, provider = (re.search(rf'(?m)^{name} = "([^"]+)"', block) for name in ("key", "provider"))
            if key and provider:
                root = f"{sandbox_url}/{provider.group(1)}/{key.group(1)}"
                block = re.sub(r'(?m)^base_url = "[^"]*"', f'base_url = "{root}"', block)
                block = block.replace('v2_base_url = "https://api.shipstation.com"', f'v2_base_url = "{root}"')
        out.append(block)
    text = "".join(out)
    for key in left_out:
        text = re.sub(rf'(?m)^erp_store = "{re.escape(key)}"\n', "", text)
    return text


def seed_store(sandbox_url: str, store: StoreConfig, skus: list[str], available: int,
               vendors: list[dict[str, str]] | None = None) -> None:
    """Give every SKU ``available`` units at each of the store's mapped locations (and, for an
    ERP, the vendors whose purchase orders it takes)."""
    base = f"{sandbox_url}/{store.platform}/{instance_for(store.platform, store.key)}/_admin"
    body: dict[str, object] = {"reset": True}
    if store.platform == "shopify":
        body["items"] = [{"sku": code, "available": available, "inventory_policy": "deny"} for code in skus]
    elif store.platform == "woocommerce":
        body["items"] = [{"sku": code, "stock_quantity": available, "manage_stock": True, "backorders": "no"}
                         for code in skus]
    elif store.platform == "magento" and store.options.get("msi"):
        body.update(msi=True, sources=list(store.locations))
        body["items"] = [{"sku": code, "sources": dict.fromkeys(store.locations, available)} for code in skus]
    elif store.platform == "magento":
        body["items"] = [{"sku": code, "qty": available} for code in skus]
    elif store.platform == "lightspeed":
        body["outlet_ids"] = list(store.locations)
        body["items"] = [{"sku": code, "current_amount": available} for code in skus]
    elif store.platform == "bigcommerce":
        body["items"] = [{"sku": code, "inventory_level": available} for code in skus]
    elif store.platform == "netsuite":
        body["locations"] = max(int(k) for k in store.locations) if store.locations else 1
        body["items"] = [{"sku": code, "on_hand": available, "committed": 0} for code in skus]
        body["vendors"] = vendors or []
    elif store.platform == "business_central":  # the stand-in adopts the file's tenant and company
        body.update(tenant=store.options.get("tenant"), company_id=store.options.get("company_id"),
                    locations=list(store.locations), vendors=[{"number": v["external_id"], "name": v["name"]}
                                                              for v in vendors or []],
                    items=[{"sku": code, "stock": {loc: available for loc in store.locations}} for code in skus])
    elif store.platform == "quickbooks":  # the stand-in adopts the file's realm id; one quantity per item
        body.update(realm_id=store.options.get("realm_id"), items=[{"sku": code, "qty": available} for code in skus],
                    vendors=[{"key": v["external_id"], "name": v["name"]} for v in vendors or []])
    elif store.platform == "sap_b1":
        body["warehouses"] = [{"code": code} for code in store.locations] or [{"code": "01"}]
        body["items"] = [{"sku": code, "warehouses": {place["code"]: {"in_stock": available}
                                                      for place in body["warehouses"]}} for code in skus]
        body["partners"] = [{"card_code": v["external_id"], "name": v["name"]} for v in vendors or []]
        body["item_fields"] = ["BackorderStatus"] if store.options.get("backorder_status") else []
    elif store.platform == "zoho_inventory":  # vendors and locations by the ids the file names
        body.update(locations=[{"id": place, "name": place} for place in store.locations],
                    vendors=[str(v) for v in (store.options.get("vendor_ids") or {}).values()],
                    custom_fields=["Backorder Status"] if store.options.get("backorder_status") else [],
                    items=[{"sku": code, "stock": {place: {"on_hand": available} for place in store.locations}}
                           for code in skus])
    elif store.platform == "cin7_core":  # suppliers by the names the file maps our vendors to
        body.update(locations=list(store.locations),
                    suppliers=[str(v) for v in (store.options.get("vendor_ids") or {}).values()],
                    products=[{"sku": code, "stock": {place: {"on_hand": available} for place in store.locations}}
                              for code in skus])
    else:
        raise ValueError(f"no sandbox seeding for platform {store.platform!r}")
    requests.post(f"{base}/seed", json=body, timeout=60).raise_for_status()


def register_webhooks(sandbox_url: str, store: StoreConfig, web_url: str, secret: str) -> None:
    base = f"{sandbox_url}/{store.platform}/{store.key}/_admin"
    address = f"{web_url}/webhooks/{store.key}"
    if store.platform == "lightspeed":
        body: dict[str, object] = {"url": address, "types": ["inventory.update", "product.update"], "secret": secret}
    elif store.platform == "quickbooks":  # one endpoint for the app, signed with its verifier token
        body = {"address": address}
    elif store.platform == "bigcommerce":  # nothing signed: the secret rides in a header of ours
        body = {"address": address, "topics": list(BIGCOMMERCE_TOPICS), "headers": {BIGCOMMERCE_SECRET_HEADER: secret}}
    elif store.platform == "zoho_inventory":  # a workflow rule's webhook, as the operator sets it up in Zoho
        body = {"address": address, "headers": {ZOHO_SECRET_HEADER: secret}}
    elif store.platform == "cin7_core":  # through Cin7's own webhooks API, as `stores connect` does
        requests.post(f"{sandbox_url}/cin7_core/{store.key}/ExternalApi/v2/webhooks", timeout=10, headers={
            "api-auth-accountid": PLATFORM_SECRETS["CIN7_ACCOUNT_ID"],
            "api-auth-applicationkey": PLATFORM_SECRETS["CIN7_APPLICATION_KEY"]}, json={
            "Type": CIN7_STOCK_CHANGED, "IsActive": True, "ExternalURL": address, "ExternalAuthorizationType": "noauth",
            "ExternalHeaders": [{"Key": CIN7_SECRET_HEADER, "Value": secret},
                                {"Key": CIN7_TOPIC_HEADER, "Value": CIN7_STOCK_CHANGED}]}).raise_for_status()
        return
    else:
        topics = {"shopify": list(SUBSCRIBED["shopify"]),
                  "woocommerce": ["product.updated", "order.created"],
                  "magento": ["stock_item.updated", "source_items.updated", "order.placed"]}.get(store.platform)
        if topics is None:
            return
        body = {"address": address, "secret": secret, "topics": topics}
    requests.post(f"{base}/webhooks", json=body, timeout=10).raise_for_status()


def prepare(sandbox_url: str, config: BusinessConfig, web_url: str | None, env: dict[str, str],
            available: int = 10) -> None:
    """Seed every sandbox store with the configured SKUs and subscribe our receiver to its webhooks."""
    codes = [sku.code for sku in config.skus]
    for store in config.stores:
        vendors = [{"external_id": v.key, "name": v.name} for v in config.vendors if v.erp_store == store.key]
        seed_store(sandbox_url, store, codes, available, vendors)
        if web_url and store.webhook_secret_env:
            register_webhooks(sandbox_url, store, web_url, env[store.webhook_secret_env])
