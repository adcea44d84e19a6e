"""Fixtures of the ops-command tests: the example configuration on the platform stand-ins."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from demo import scenario
from sandbox.server import SandboxServer
from tests.conftest import REPO_ROOT
from workers.cli import main


@pytest.fixture
def sandboxed(db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The example configuration's Shopify and WooCommerce stores on the stand-ins, applied, stocked
    with 4 of each SKU, the environment pointed there; yields the sandbox URL."""
    from domain.core.business_config import load_config
    from domain.core.env_settings import get_settings

    with SandboxServer() as sandbox:
        env = scenario.sandbox_env(sandbox.base_url)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        path = tmp_path / "store.toml"
        path.write_text(scenario.sandbox_config_text(REPO_ROOT / "examples" / "futon-store.toml", sandbox.base_url,
                                                     {"shopify", "woocommerce"}))
        monkeypatch.setenv("BACKORDERS_CONFIG", str(path))
        get_settings.cache_clear()
        assert CliRunner().invoke(main, ["config", "apply", str(path)]).exit_code == 0
        scenario.prepare(sandbox.base_url, load_config(path), None, env, available=4)
        yield sandbox.base_url
    get_settings.cache_clear()
