"""The example's commented-out Odoo and Airtable stores, uncommented as their comments say, pass
``config check``: their options are the connectors' own (checked by their rules), and Airtable's
backorder status is accepted on a back office that can write it."""
from __future__ import annotations

from pathlib import Path

import pytest

from domain.core.business_config import load_config
from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "futon-store.toml"


def uncommented(text: str, key: str) -> str:
    start = text.index(f'# [[stores]]\n# key = "{key}"')
    end = text.index("\n\n", start)
    return text[:start] + "\n".join(line[2:] for line in text[start:end].splitlines()) + text[end:]


@pytest.mark.parametrize("key, platform", [("odoo-erp", "odoo"), ("airtable-inventory", "airtable")])
def test_the_uncommented_block_passes_config_check(tmp_path: Path, key: str, platform: str) -> None:
    path = tmp_path / "store.toml"
    path.write_text(uncommented(EXAMPLE.read_text(), key))
    [store] = [s for s in load_config(path).stores if s.key == key]
    assert store.platform == platform and store.sells is False


def test_a_broken_airtable_mapping_is_named(tmp_path: Path) -> None:
    from domain.core.business_config import ConfigError

    path = tmp_path / "store.toml"
    path.write_text(uncommented(EXAMPLE.read_text(), "airtable-inventory").replace(
        'base_id = "appFutonLoft00001"', 'base_id = "futon"'))
    with pytest.raises(ConfigError, match="base_id"):
        load_config(path)
