"""Builds a store's connector from its database row and the environment variables it names.

Secrets never sit in the database in clear: the row names the variables (from the TOML file), and a
missing one is a permanent error that names it, so the operator sees what to set. The one thing a
platform changes by itself, a rotating OAuth refresh token, is kept sealed in the database. A webhook
secret ``backorders stores connect`` generated is read from its file when the variable is unset
(``domain.core.store_secrets``).
"""
from __future__ import annotations

import os

from connectors.base import Connector
from connectors.errors import PermanentError
from connectors.registry import build_connector
from connectors.types import ConnectorConfig
from domain.core import store_secrets
from domain.core.models import Store
from domain.core.oauth_grants import DatabaseVault


#: Rotating OAuth grants (QuickBooks Online) live in the database, sealed (``domain.core.oauth_grants``).
VAULT = DatabaseVault()


def connector_config(store: Store, *, require_credentials: bool = True) -> ConnectorConfig:
    """``require_credentials=False`` serves webhook checks, which need only the signing secret."""
    missing = [env for env in store.credentials_env.values() if not os.environ.get(env)]
    if missing and require_credentials:
        raise PermanentError(f"store {store.key}: environment variable(s) not set: {', '.join(sorted(missing))}",
                             platform=store.platform)
    secret = store_secrets.lookup(store.webhook_secret_env) if store.webhook_secret_env else None
    return ConnectorConfig(
        store_key=store.key, base_url=store.base_url,
        credentials={name: os.environ.get(env, "") for name, env in store.credentials_env.items()},
        webhook_secret=secret, options=dict(store.options or {}), token_vault=VAULT,
    )


def connector_for(store: Store, *, require_credentials: bool = True) -> Connector:
    return build_connector(store.platform, connector_config(store, require_credentials=require_credentials))
