"""domain.core.spool on a real directory: appended, fsync'd, counted; cut lines skipped, not fatal."""
from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from domain.core import spool


def _write_many(directory: str, start: int, count: int) -> None:
    for n in range(start, start + count):
        spool.write({"task_name": "t", "task_id": f"id-{n}", "args": [n], "kwargs": {}, "error": "e"},
                    Path(directory))


def test_entries_are_appended_and_counted(tmp_path: Path) -> None:
    assert spool.pending_count(tmp_path / "absent") == 0
    path = spool.write({"task_name": "tasks.x", "task_id": "a", "args": [1], "kwargs": {"k": 2},
                        "error": "InternalError: read-only"}, tmp_path)
    spool.write({"task_name": "tasks.x", "task_id": "b", "args": [], "kwargs": {}, "error": "e"}, tmp_path)
    assert path.parent == tmp_path and path.name.endswith(".jsonl")
    [first, second] = spool.pending(tmp_path)
    assert (first["task_id"], first["args"], first["kwargs"]) == ("a", [1], {"k": 2})
    assert second["task_id"] == "b" and "spooled_at" in second


def test_a_writer_never_appends_to_a_claimed_file(tmp_path: Path) -> None:
    """The importer renames a file before reading it; the next write starts a new file."""
    first = spool.write({"task_name": "t", "task_id": "before"}, tmp_path)
    claimed = spool.claim_file(first)
    assert claimed is not None and not first.exists()
    again = spool.write({"task_name": "t", "task_id": "after"}, tmp_path)
    assert again == first and first.exists()
    assert sorted(e["task_id"] for e in spool.pending(tmp_path)) == ["after", "before"]
    assert "after" not in claimed.read_text()


def test_a_line_cut_by_a_crash_is_skipped(tmp_path: Path) -> None:
    path = spool.write({"task_name": "t", "task_id": "whole"}, tmp_path)
    with open(path, "a") as handle:
        handle.write('{"task_name": "t", "task_id": "cu')
    assert [e["task_id"] for e in spool.pending(tmp_path)] == ["whole"]


def test_processes_write_their_own_files_and_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(str(tmp_path), i * 100, 50)) for i in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    assert len(list(tmp_path.glob("*.jsonl"))) == 4
    ids = sorted(e["task_id"] for e in spool.pending(tmp_path))
    assert ids == sorted(f"id-{i * 100 + n}" for i in range(4) for n in range(50))
    assert all(json.loads(line) for p in tmp_path.glob("*.jsonl") for line in p.read_text().splitlines())


def test_directory_comes_from_the_environment() -> None:
    assert spool.spool_dir({"DEAD_LETTER_SPOOL_DIR": "/srv/spool"}) == Path("/srv/spool")
    assert spool.spool_dir({"BACKORDERS_DATA_DIR": "/var/lib/b"}) == Path("/var/lib/b/dead-letter-spool")
