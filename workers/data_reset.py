"""Clearing the data directory (``backorders embedded reset``, ``make reset``).

The embedded PostgreSQL and Redis, the demo's logs and configuration, beat's schedule files and
the dead-letter spool all live under one directory (``BACKORDERS_DATA_DIR``, ``.data`` by
default); the virtualenv does not, so a reset costs no reinstall. The servers are stopped
before their files go, or PostgreSQL would keep writing into a deleted directory.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from workers import embedded


def entries(root: Path) -> list[Path]:
    """What a reset of ``root`` deletes: every entry in it, in name order."""
    return sorted(root.iterdir()) if root.is_dir() else []


def reset(root: Path) -> list[Path]:
    """Stop the embedded servers of ``root`` and delete everything in it; returns what went.

    The directory itself is kept (it may be a mount point or owned by a service account)."""
    embedded.stop(root)
    gone = entries(root)
    for path in gone:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return gone
