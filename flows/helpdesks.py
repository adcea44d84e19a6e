"""Helpdesk connectors built from ``[[helpdesks]]`` and the environment variables each entry names.

A missing variable is a permanent error naming it. Built connectors are kept per entry and rebuilt
when the entry or a secret changes (the same as ``flows.payments`` does for payment accounts).
"""
from __future__ import annotations

import threading

from connectors.helpdesk.contract import HelpdeskConnector
from connectors.helpdesk.registry import build_helpdesk
from connectors.types import ConnectorConfig
from domain.core.helpdesk_config import HelpdeskConfig
from flows.connections import env_config

_built: dict[str, tuple[ConnectorConfig, HelpdeskConnector]] = {}
_lock = threading.Lock()


def helpdesk_config(entry: HelpdeskConfig) -> ConnectorConfig:
    return env_config("helpdesk", entry.key, entry.platform, entry.base_url, entry.credentials,
                      entry.webhook_secret_env, entry.options)


def helpdesk_for(entry: HelpdeskConfig) -> HelpdeskConnector:
    """The entry's connector, built once per process while its entry and secrets stay the same."""
    config = helpdesk_config(entry)
    with _lock:
        kept = _built.get(entry.key)
        if kept is None or kept[0] != config:
            kept = (config, build_helpdesk(entry.platform, config))
            _built[entry.key] = kept
        return kept[1]
