"""Dead letters the database would not take, kept in a local file until it does.

A task that fails for good is recorded as a ``dead_letters`` row. When the failure *is* the
database (a probe made it read-only: 92 tasks failed and not one dead letter could be written, so
``backorders status`` showed nothing wrong), that row cannot be written either. Then the dead
letter goes to a spool: JSON lines in ``DEAD_LETTER_SPOOL_DIR`` (default
``$BACKORDERS_DATA_DIR/dead-letter-spool``), one file per process, each line flushed and
``fsync``-ed before the task is given up, and logged at ERROR.

:func:`import_pending` moves spooled entries into ``dead_letters`` (idempotent by ``task_id``: the
table's unique key) and deletes a file only after the transaction that imported it committed, so a
crash in between imports the same lines again, harmlessly. It runs when a worker starts, from
beat's ``tasks.deadletters.import_spool`` every minute, after any dead letter that reached the
table, and in ``backorders status``.

Writers and the importer meet on ``flock``: the importer locks a file only to rename it out of the
writers' way (``….jsonl.claimed-<pid>``), and a writer that locked a file checks that its path
still names it, opening a new one if not; so no line lands in a file after it was read, and no
writer waits while the importer talks to the database. A claimed file left by a crash is imported
by the next run like any other. The spool is local to a machine: with workers on several hosts, each
host's spool is imported by the workers and beat sweeps that run there.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

SUFFIX = ".jsonl"
CLAIMED = ".claimed-"


def spool_dir(env: dict[str, str] | None = None) -> Path:
    """``DEAD_LETTER_SPOOL_DIR``, else ``dead-letter-spool`` under the data directory."""
    env = dict(os.environ) if env is None else env
    configured = env.get("DEAD_LETTER_SPOOL_DIR")
    if configured:
        return Path(configured).resolve()
    return (Path(env.get("BACKORDERS_DATA_DIR", ".data")) / "dead-letter-spool").resolve()


def _own_file(directory: Path) -> Path:
    return directory / f"{socket.gethostname()}-{os.getpid()}{SUFFIX}"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _locked(path: Path, mode: str) -> Iterator[IO[str] | None]:
    """``path`` opened and ``flock``-ed, still the file the path names; None once it is gone."""
    for _ in range(100):
        try:
            handle = open(path, mode, encoding="utf-8")
        except FileNotFoundError:
            if "a" in mode:
                raise
            yield None
            return
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                yield handle
                return
        finally:
            handle.close()  # closing releases the lock
        if "a" not in mode:
            yield None
            return
    raise OSError(f"could not lock {path}: it keeps being replaced")


def write(entry: dict[str, Any], directory: Path | None = None) -> Path:
    """Append one dead letter and ``fsync`` it; the path it went to (raises if the disk refuses)."""
    directory = directory or spool_dir()
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    path = _own_file(directory)
    line = json.dumps({**entry, "spooled_at": datetime.now(timezone.utc).isoformat()}, default=str,
                      sort_keys=True)
    new_file = not path.exists()
    with _locked(path, "a") as handle:
        assert handle is not None
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    if created or new_file:
        _fsync_dir(directory)
    return path


def _files(directory: Path) -> list[Path]:
    """Spool files, written-to and claimed alike, oldest name first."""
    try:
        return sorted(p for p in directory.iterdir() if p.name.endswith(SUFFIX) or CLAIMED in p.name)
    except FileNotFoundError:
        return []


def claim_file(path: Path) -> Path | None:
    """Rename a writer's file out of its way (under its lock); None if it is already gone."""
    if CLAIMED in path.name:
        return path
    with _locked(path, "r") as handle:
        if handle is None:
            return None
        claimed = path.with_name(f"{path.name}{CLAIMED}{os.getpid()}")
        os.rename(path, claimed)
        return claimed


def _entries(handle: IO[str], path: Path) -> list[dict[str, Any]]:
    entries = []
    for number, line in enumerate(handle.read().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:  # a line cut by a crash mid-write: keep it visible in the log, skip it
            log.error("dead-letter spool %s line %d is not JSON, skipped: %r", path, number, line[:200])
            continue
        if isinstance(entry, dict) and entry.get("task_id"):
            entries.append(entry)
    return entries


def pending(directory: Path | None = None) -> list[dict[str, Any]]:
    """Every spooled dead letter not imported yet, oldest file first."""
    found: list[dict[str, Any]] = []
    for path in _files(directory or spool_dir()):
        try:
            with open(path, encoding="utf-8") as handle:
                found.extend(_entries(handle, path))
        except FileNotFoundError:
            continue
    return found


def pending_count(directory: Path | None = None) -> int:
    """How many dead letters wait in the spool (0 when the directory does not exist)."""
    return len(pending(directory))


def import_pending(session_factory: Callable[[], Session], directory: Path | None = None) -> int:
    """Move spooled dead letters into ``dead_letters``; how many lines were imported.

    One transaction per file; the file is deleted after its commit, under its lock. A database
    that still refuses leaves every file in place (the error propagates to the caller).
    """
    from sqlalchemy.dialects.postgresql import insert

    from domain.core.models import DeadLetter

    imported = 0
    for path in _files(directory or spool_dir()):
        claimed = claim_file(path)
        if claimed is None:
            continue
        try:
            with open(claimed, encoding="utf-8") as handle:
                entries = _entries(handle, claimed)
        except FileNotFoundError:  # another importer finished it
            continue
        if entries:
            with session_factory() as session:
                for entry in entries:
                    values: dict[str, Any] = {
                        "task_name": str(entry.get("task_name", "?"))[:200],
                        "task_id": str(entry["task_id"])[:64],
                        "args": list(entry.get("args") or []), "kwargs": dict(entry.get("kwargs") or {}),
                        "error": str(entry.get("error", ""))[:4000]}
                    if entry.get("failed_at"):
                        values["failed_at"] = datetime.fromisoformat(str(entry["failed_at"]))
                    session.execute(insert(DeadLetter).values(**values)
                                    .on_conflict_do_nothing(index_elements=["task_id"]))
                session.commit()
        claimed.unlink(missing_ok=True)
        imported += len(entries)
    if imported:
        log.warning("imported %d spooled dead letter(s) into dead_letters", imported)
    return imported


def try_import(session_factory: Callable[[], Session] | None = None) -> int:
    """:func:`import_pending` that never raises: a refusing database leaves the spool for later."""
    if not _files(spool_dir()):
        return 0
    if session_factory is None:
        from domain.core.db import get_sessionmaker
        session_factory = get_sessionmaker()
    try:
        return import_pending(session_factory)
    except Exception:
        log.warning("spooled dead letters not imported yet (the database still refuses)", exc_info=True)
        return 0
