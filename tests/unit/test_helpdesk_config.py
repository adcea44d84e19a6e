"""``[[helpdesks]]`` in the business file: what ``config check`` accepts and what it reports."""
from __future__ import annotations

import tomllib

import pytest

from domain.core.business_config import ConfigError, parse_config
from tests.conftest import REPO_ROOT

EXAMPLE = (REPO_ROOT / "examples" / "futon-store.toml").read_text()
GOOD = '''
[[helpdesks]]
key = "zendesk-main"
platform = "zendesk"
base_url = "https://futon.zendesk.com"
credentials = { email = "ZENDESK_EMAIL", api_token = "ZENDESK_API_TOKEN" }
webhook_secret_env = "ZENDESK_WEBHOOK_SECRET"

[[helpdesks]]
key = "chat"
platform = "intercom"
credentials = { access_token = "INTERCOM_TOKEN" }
webhook_secret_env = "INTERCOM_CLIENT_SECRET"
options = { admin_id = "814860", api_version = "2.11" }
'''


def parsed(extra: str) -> object:
    return parse_config(tomllib.loads(EXAMPLE + extra))


def problems(extra: str) -> list[str]:
    with pytest.raises(ConfigError) as error:
        parsed(extra)
    return error.value.problems


def test_entries_are_read_in_file_order_with_their_defaults() -> None:
    config = parsed(GOOD)
    zendesk, intercom = config.helpdesks.entries  # type: ignore[attr-defined]
    assert (zendesk.key, zendesk.platform, zendesk.credentials["api_token"]) == \
        ("zendesk-main", "zendesk", "ZENDESK_API_TOKEN")
    assert (intercom.base_url, intercom.options["admin_id"]) == ("", "814860")
    assert config.helpdesks.helpdesk("chat") is intercom  # type: ignore[attr-defined]


def test_every_problem_is_reported_with_its_key_path() -> None:
    found = problems('''
[[helpdesks]]
key = "gg"
platform = "gorgias"
credentials = { email = "GORGIAS_EMAIL" }
webhook_secret_env = "not a name"
options = { colour = "blue" }

[[helpdesks]]
key = "ic"
platform = "intercom"
credentials = { access_token = "INTERCOM_TOKEN" }

[[helpdesks]]
key = "fd"
platform = "freshdesk"
''')
    assert "helpdesks[0].base_url: missing" in found
    assert any(p.startswith("helpdesks[0].credentials: missing: gorgias needs") for p in found)
    assert any(p.startswith("helpdesks[0].webhook_secret_env: expected an environment variable") for p in found)
    assert "helpdesks[0].options.colour: unknown key" in found
    assert "helpdesks[1].options.admin_id: missing: intercom needs it" in found
    assert any(p.startswith("helpdesks[2].platform: expected one of zendesk, gorgias, intercom") for p in found)


def test_the_example_files_commented_helpdesks_are_valid_once_uncommented() -> None:
    head, _, block = EXAMPLE.partition("# --- helpdesks")
    entries = block[block.index("# [[helpdesks]]"):]
    lines = [line[2:] if line.startswith("# ") else "" for line in entries.splitlines()]
    config = parse_config(tomllib.loads(head + "\n".join(lines)))
    assert {entry.platform for entry in config.helpdesks.entries} == {"zendesk", "gorgias", "intercom"}
