"""``backorders demo`` hands over to the checkout's ``python -m demo`` and never imports the demo;
without a checkout it says what to run instead."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from workers import cli
from workers.demo_launcher import demo_command

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_command_runs_the_checkouts_demo_with_the_checkout_first_on_the_path() -> None:
    argv, env = demo_command(REPO_ROOT, True, "python3", {"PYTHONPATH": os.pathsep.join(["/opt/extra", ""]),
                                                          "OTHER": "kept"})
    assert argv == ["python3", "-m", "demo", "--keep"]
    assert env["PYTHONPATH"].split(os.pathsep) == [str(REPO_ROOT), "/opt/extra"]
    assert env["OTHER"] == "kept"
    assert demo_command(REPO_ROOT, False, "python3", {})[0] == ["python3", "-m", "demo"]


def test_outside_a_checkout_it_names_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"`make demo` or `python -m demo` in a checkout"):
        demo_command(tmp_path, False, "python3", {})


def test_the_handover_finds_the_demo_from_any_directory(tmp_path: Path) -> None:
    argv, env = demo_command(REPO_ROOT, False, sys.executable, os.environ)
    result = subprocess.run([*argv, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--keep" in result.stdout


def test_backorders_demo_execs_python_m_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str], dict[str, str]]] = []
    monkeypatch.setattr(os, "execvpe", lambda file, args, env: calls.append((file, args, env)))
    result = CliRunner().invoke(cli.main, ["demo", "--keep"])
    assert result.exit_code == 0, result.output
    assert [(file, args) for file, args, _ in calls] == [
        (sys.executable, [sys.executable, "-m", "demo", "--keep"])]


def test_backorders_demo_without_a_checkout_exits_with_the_reason(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    monkeypatch.setattr(cli, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(os, "execvpe", lambda *args: pytest.fail("nothing may be started"))
    result = CliRunner().invoke(cli.main, ["demo"])
    assert result.exit_code == 1
    assert "the demo is not installed with the product" in result.output
