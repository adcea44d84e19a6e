"""The systemd units and the compose file in deploy/ run exactly the Procfile's processes.

Each Procfile process has a unit whose ExecStart is the Procfile command (without
``backorders supervise --``: systemd restarts it) with the same defaults, restarts on failure
but not after exit 78, reads the environment file and runs as the service account; and
``systemd-analyze verify`` accepts every unit where it is installed.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workers import procfile

REPO_ROOT = Path(__file__).resolve().parents[3]
DEPLOY = REPO_ROOT / "deploy"
UNIT_BIN = "/opt/backorders/venv/bin/"
PROCESSES = procfile.load(REPO_ROOT / "Procfile")
VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::-(?P<default>[^}]*))?\}")


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file, each a list of (key, value) in order (keys repeat, as Environment=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        else:
            key, _, value = line.partition("=")
            assert current is not None, f"{path.name}: {line!r} before any section"
            current.append((key.strip(), value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


def procfile_argv(command: str) -> tuple[list[str], dict[str, str]]:
    """The Procfile command as argv with ``${X:-d}`` written ``${X}``, and the defaults by name."""
    command = command.removeprefix("backorders supervise -- ")
    defaults = {m["name"]: m["default"] for m in VARIABLE.finditer(command) if m["default"] is not None}
    return VARIABLE.sub(lambda m: "${" + m["name"] + "}", command).split(), defaults


def test_every_procfile_process_has_a_unit_and_nothing_else_runs() -> None:
    units = {p.name.removeprefix("backorders-").removesuffix(".service")
             for p in (DEPLOY / "systemd").glob("backorders-*.service")}
    assert units == {p.name for p in PROCESSES} | {"migrate"}
    assert {p.name for p in PROCESSES} >= {"web", "worker", "notify", "beat", "beat2", "flower"}


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)
def test_the_unit_runs_the_procfile_command_supervised(process: procfile.ProcessType) -> None:
    unit = parse_unit(DEPLOY / "systemd" / f"backorders-{process.name}.service")
    service = unit["Service"]
    [exec_start] = values(service, "ExecStart")
    assert exec_start.startswith(UNIT_BIN), "the virtualenv's own programs, not PATH's"
    argv, defaults = procfile_argv(process.command)
    assert exec_start.removeprefix(UNIT_BIN).replace("%%", "%").split() == argv
    environment = dict(v.split("=", 1) for v in values(service, "Environment"))
    for name, default in defaults.items():
        assert name in environment, f"{name} has no default in the unit"
        # Paths under the data directory move to the service's state directory; the rest match.
        expected = default.replace(".data/", "/var/lib/backorders/")
        assert environment[name] == expected, name
    assert environment["BACKORDERS_DATA_DIR"] == "/var/lib/backorders"
    assert values(service, "EnvironmentFile") == ["/etc/backorders/backorders.env"]
    assert values(service, "Restart") == ["on-failure"]
    assert values(service, "RestartPreventExitStatus") == ["78"]
    assert values(service, "User") == ["backorders"] and values(service, "StateDirectory") == ["backorders"]
    assert values(unit["Unit"], "PartOf") == ["backorders.target"]
    assert values(unit["Unit"], "StartLimitIntervalSec") == ["0"], "never give up restarting"
    assert values(unit["Install"], "WantedBy") == ["backorders.target"]


def test_two_beats_each_with_its_own_schedule_file() -> None:
    schedules = set()
    for name in ("beat", "beat2"):
        service = parse_unit(DEPLOY / "systemd" / f"backorders-{name}.service")["Service"]
        schedules |= {v.split("=", 1)[1] for v in values(service, "Environment") if "SCHEDULE_FILE" in v}
    assert len(schedules) == 2


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify_accepts_every_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point the units at this interpreter's bin.
    for unit in (DEPLOY / "systemd").iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace(UNIT_BIN, f"{Path(sys.executable).parent}/"))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if str(tmp_path) in line] == [], result.stderr


def test_compose_runs_each_procfile_process_with_restarts() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    for process in PROCESSES:
        service = services[process.name]
        argv, _ = procfile_argv(process.command)
        assert procfile_argv(service["command"])[0] == argv, process.name
        assert service["restart"] == "on-failure"
        assert service["env_file"] == "backorders.env"
        assert service["build"]["dockerfile"] == "deploy/container/Containerfile"
    redis = services["redis"]["command"]
    assert "--maxmemory-policy noeviction" in redis and "--appendonly yes" in redis
    assert "backorders db upgrade" in services["migrate"]["command"]


def test_the_image_holds_the_installed_product_and_runs_unprivileged() -> None:
    text = (DEPLOY / "container" / "Containerfile").read_text()
    copied = set(re.findall(r"(?m)^COPY (?:\S+ )*?(\S+) \./\S*$", text)) | set(
        re.findall(r"(?m)^COPY ((?:\S+ )+)\./$", text)[0].split())
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    packages = re.search(r'include = \[([^\]]*)\]', pyproject)
    assert packages is not None
    for package in re.findall(r'"(\w+)\*"', packages.group(1)):
        assert package in copied, package
    assert {"templates", "migrations", "celeryconfig.py", "alembic.ini"} <= copied
    assert "demo" not in copied and "sandbox" not in copied
    assert re.search(r"(?m)^USER backorders$", text)
    assert "pip install" in text and "-e ." in text
