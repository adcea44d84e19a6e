"""Platform name → helpdesk connector, so a ``[[helpdesks]]`` entry builds its connector alone.

An Intercom entry without ``base_url`` talks to ``https://api.intercom.io`` (US workspaces; EU and
Australian ones set ``https://api.eu.intercom.io`` / ``https://api.au.intercom.io``:
https://developers.intercom.com/docs/build-an-integration/learn-more/rest-apis/regional-hosting);
Zendesk and Gorgias addresses name the account (``https://{subdomain}.zendesk.com``,
``https://{account}.gorgias.com``), so they are required.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from connectors.helpdesk.common import CREDENTIALS, WEBHOOK_SECRETS
from connectors.helpdesk.contract import HelpdeskConnector
from connectors.helpdesk.gorgias import GorgiasHelpdesk
from connectors.helpdesk.intercom import IntercomHelpdesk
from connectors.helpdesk.zendesk import ZendeskHelpdesk
from connectors.types import ConnectorConfig

HELPDESKS: dict[str, type] = {"zendesk": ZendeskHelpdesk, "gorgias": GorgiasHelpdesk, "intercom": IntercomHelpdesk}
DEFAULT_BASE_URLS = {"intercom": "https://api.intercom.io"}
#: Options each platform requires in its entry (Intercom: the admin notes and assignments are made as).
REQUIRED_OPTIONS = {"intercom": ("admin_id",)}
#: Options an entry may set, per platform (besides the shared retry and paging ones).
OPTIONS = {"zendesk": set(), "gorgias": {"agent_email", "bucket_size", "leak_rate"},
           "intercom": {"admin_id", "api_version", "priority_attribute"}}
SHARED_OPTIONS = {"since", "page_size", "max_retries", "max_retry_after_s", "poll_interval_s", "groups", "assignees"}
#: Options that are tables (our queue → the helpdesk's group / assignee id), read by the write-back.
TABLE_OPTIONS = {"groups", "assignees"}
__all__ = ["CREDENTIALS", "DEFAULT_BASE_URLS", "HELPDESKS", "OPTIONS", "REQUIRED_OPTIONS", "SHARED_OPTIONS",
           "TABLE_OPTIONS",
           "WEBHOOK_SECRETS", "build_helpdesk"]


def build_helpdesk(platform: str, config: ConnectorConfig, **kwargs: Any) -> HelpdeskConnector:
    """The connector for ``platform``; kwargs go to its constructor (``sleep``, ``clock``, ``session``)."""
    try:
        cls = HELPDESKS[platform]
    except KeyError:
        raise ValueError(f"unknown helpdesk platform {platform!r} (known: {', '.join(sorted(HELPDESKS))})") from None
    if not config.base_url and platform in DEFAULT_BASE_URLS:
        config = replace(config, base_url=DEFAULT_BASE_URLS[platform])
    connector: HelpdeskConnector = cls(config, **kwargs)
    return connector
