"""Builds a store's connector from its database row and the environment variables it names.

Secrets never sit in the database in clear: the row names the variables (from the TOML file), and a
missing one is a permanent error that names it, so the operator sees what to set. The one thing a
platform changes by itself, a rotating OAuth refresh token, is kept sealed in the database. A webhook
secret ``backorders stores connect`` generated is read from its file when the variable is unset
(``domain.core.store_secrets``).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from connectors.base import Connector
from connectors.errors import PermanentError
from connectors.registry import build_connector
from connectors.types import ConnectorConfig
from domain.core import store_secrets
from domain.core.models import Store
from domain.core.oauth_grants import DatabaseVault


#: Rotating OAuth grants (QuickBooks Online) live in the database, sealed (``domain.core.oauth_grants``).
VAULT = DatabaseVault()


def env_config(what: str, key: str, platform: str, base_url: str, credentials: Mapping[str, str],
               webhook_secret_env: str | None, options: Mapping[str, Any], *, require_credentials: bool = True,
               token_vault: Any = None) -> ConnectorConfig:
    """A connector's configuration from the environment variables a business-file table names (a store,
    a shipping or payments account, a helpdesk): a missing credential is named with ``what`` and the
    key, unless only the signing secret is needed (``require_credentials=False``: webhook checks); the
    secret is the variable's value, else the one ``stores connect`` kept (``store_secrets``)."""
    missing = sorted(env for env in credentials.values() if not os.environ.get(env))
    if missing and require_credentials:
        raise PermanentError(f"{what} {key}: environment variable(s) not set: {', '.join(missing)}",
                             platform=platform)
    return ConnectorConfig(
        store_key=key, base_url=base_url,
        credentials={name: os.environ.get(env, "") for name, env in credentials.items()},
        webhook_secret=store_secrets.lookup(webhook_secret_env) if webhook_secret_env else None,
        options=dict(options), token_vault=token_vault)


def connector_config(store: Store, *, require_credentials: bool = True) -> ConnectorConfig:
    """``require_credentials=False`` serves webhook checks, which need only the signing secret."""
    return env_config("store", store.key, store.platform, store.base_url, store.credentials_env,
                      store.webhook_secret_env, store.options or {}, require_credentials=require_credentials,
                      token_vault=VAULT)


def connector_for(store: Store, *, require_credentials: bool = True) -> Connector:
    return build_connector(store.platform, connector_config(store, require_credentials=require_credentials))
