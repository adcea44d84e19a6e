"""The ``[[helpdesks]]`` tables: the helpdesks (Zendesk, Gorgias, Intercom) whose tickets we read
and write back to — the agents' home base stays theirs.

Each entry names its ``key`` (the webhook address is ``/webhooks/helpdesk/{key}``), ``platform``,
``base_url`` (required for Zendesk and Gorgias, whose address names the account), the environment
variables holding its credentials (``credentials``: Zendesk ``email`` + ``api_token`` or
``oauth_token``; Gorgias ``email`` + ``api_key``; Intercom ``access_token``), the one holding its
webhook secret (``webhook_secret_env``: Zendesk's signing secret, Intercom's client secret, or for
Gorgias — which signs nothing — a secret we generate and put in its HTTP integration's header),
and ``options`` (``admin_id`` is required for Intercom; ``poll_interval_s`` the reconciliation poll's
interval, default 300; ``groups`` / ``assignees`` map our queues to the helpdesk's ids). Problems are reported with their key
path, like the rest of the file (``domain.core.business_config``); docs/support-helpdesks.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from connectors.helpdesk.registry import (
    CREDENTIALS,
    DEFAULT_BASE_URLS,
    OPTIONS,
    REQUIRED_OPTIONS,
    SHARED_OPTIONS,
    TABLE_OPTIONS,
)

if TYPE_CHECKING:
    from domain.core.business_config import _Reader

PLATFORMS = tuple(CREDENTIALS)
KEYS = {"key", "platform", "base_url", "credentials", "webhook_secret_env", "options"}


@dataclass(frozen=True)
class HelpdeskConfig:
    """One ``[[helpdesks]]`` entry."""

    key: str
    platform: str
    base_url: str = ""
    credentials: dict[str, str] = field(default_factory=dict)   # credential name → environment variable
    webhook_secret_env: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HelpdesksConfig:
    entries: tuple[HelpdeskConfig, ...] = ()

    def helpdesk(self, key: str) -> HelpdeskConfig | None:
        return next((entry for entry in self.entries if entry.key == key), None)


def _credentials(reader: _Reader, item: dict[str, Any], platform: str, path: str) -> dict[str, str]:
    credentials = {name: env for name, env in reader.table(item, "credentials", f"{path}.credentials").items()
                   if reader.env_name(env, f"{path}.credentials.{name}")}
    sets = CREDENTIALS.get(platform, ())
    if sets and not any(set(names) <= set(credentials) for names in sets):
        wanted = " or ".join(" + ".join(names) for names in sets)
        reader.problem(f"{path}.credentials", f"missing: {platform} needs the variables holding its {wanted}")
    return credentials


def _options(reader: _Reader, item: dict[str, Any], platform: str, path: str) -> dict[str, Any]:
    options = reader.table(item, "options", f"{path}.options")
    reader.unknown_keys(options, SHARED_OPTIONS | OPTIONS.get(platform, set()), f"{path}.options")
    for name in REQUIRED_OPTIONS.get(platform, ()):
        if name not in options:
            reader.problem(f"{path}.options.{name}", f"missing: {platform} needs it")
    for name, value in options.items():
        if name in TABLE_OPTIONS:
            if not isinstance(value, dict) or not all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                                      for v in value.values()):
                reader.problem(f"{path}.options.{name}", f"expected a table of queue = id, got {value!r}")
        elif not isinstance(value, (str, int, float, bool)):
            reader.problem(f"{path}.options.{name}", f"expected a string or number, got {value!r}")
    interval = options.get("poll_interval_s")
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int) or interval < 30):
        reader.problem(f"{path}.options.poll_interval_s", f"expected whole seconds, at least 30, got {interval!r}")
    return dict(options)


def _read_entry(reader: _Reader, item: dict[str, Any], path: str, seen: set[str]) -> HelpdeskConfig | None:
    reader.unknown_keys(item, KEYS, path)
    key = reader.key(item, path, seen)
    if key and len(key) > 32:
        reader.problem(f"{path}.key", f"at most 32 characters (it names the helpdesk's tickets), got {len(key)}")
    platform = reader.string(item, "platform", path) or ""
    if platform and platform not in PLATFORMS:
        reader.problem(f"{path}.platform", f"expected one of {', '.join(PLATFORMS)}, got {platform!r}")
    base_url = reader.string(item, "base_url", path, required=platform not in DEFAULT_BASE_URLS) or ""
    if base_url and urlsplit(base_url).scheme not in ("http", "https"):
        reader.problem(f"{path}.base_url", f"expected an http(s) URL, got {base_url!r}")
    credentials = _credentials(reader, item, platform, path)
    secret = item.get("webhook_secret_env")
    secret_env = reader.env_name(secret, f"{path}.webhook_secret_env") if secret is not None else None
    options = _options(reader, item, platform, path)
    if not key or platform not in PLATFORMS:
        return None
    return HelpdeskConfig(key, platform, base_url, credentials, secret_env, options)


def read_helpdesks(reader: _Reader, data: dict[str, Any]) -> HelpdesksConfig:
    """``[[helpdesks]]`` in file order."""
    seen: set[str] = set()
    entries = [entry for path, item in reader.tables(data, "helpdesks")
               if (entry := _read_entry(reader, item, path, seen)) is not None]
    return HelpdesksConfig(tuple(entries))
