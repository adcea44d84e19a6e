"""Fixtures of the ops-command tests: the example configuration on the platform stand-ins."""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from demo import scenario
from sandbox.server import SandboxServer
from tests.conftest import REPO_ROOT
from workers.cli import main


@dataclass(frozen=True)
class StandIns:
    """Where the stores of a CLI test live: the sandbox's URL, the business file, the environment."""

    url: str
    config: Path
    env: dict[str, str]


@pytest.fixture
def stand_ins(db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
              ) -> Iterator[Callable[..., StandIns]]:
    """``stand_ins(platforms, available=4)``: the example configuration's stores of those platforms
    on a fresh sandbox, applied with ``config apply``, every SKU stocked with ``available`` at each
    mapped location, the environment (tokens, ``BACKORDERS_CONFIG``) pointed there."""
    from domain.core.business_config import load_config
    from domain.core.env_settings import get_settings

    with ExitStack() as stack:
        def start(platforms: Collection[str] = ("shopify", "woocommerce"), available: int = 4) -> StandIns:
            sandbox = stack.enter_context(SandboxServer())
            env = scenario.sandbox_env(sandbox.base_url)
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            path = tmp_path / "store.toml"
            path.write_text(scenario.sandbox_config_text(REPO_ROOT / "examples" / "futon-store.toml",
                                                         sandbox.base_url, set(platforms)))
            monkeypatch.setenv("BACKORDERS_CONFIG", str(path))
            get_settings.cache_clear()
            applied = CliRunner().invoke(main, ["config", "apply", str(path)])
            assert applied.exit_code == 0, applied.output
            scenario.prepare(sandbox.base_url, load_config(path), None, env, available=available)
            return StandIns(sandbox.base_url, path, env)

        yield start
    get_settings.cache_clear()


@pytest.fixture
def sandboxed(stand_ins: Callable[..., StandIns]) -> str:
    """The example configuration's Shopify and WooCommerce stores on the stand-ins, stocked with 4
    of each SKU; the sandbox URL."""
    return stand_ins().url
