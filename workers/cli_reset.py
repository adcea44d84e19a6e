"""``backorders embedded reset``: stop the embedded servers and clear the data directory.

What ``make reset`` runs. It lists every entry it deletes, and asks first unless ``--yes``: the
directory may also hold the dead-letter spool of a deployment pointed at it.
"""
from __future__ import annotations

import click

from workers import data_reset, embedded


@click.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask before deleting.")
def reset(yes: bool) -> None:
    """Stop the embedded PostgreSQL and Redis and delete everything in the data directory
    (BACKORDERS_DATA_DIR, .data by default): their databases, the demo's logs, beat's schedules,
    the dead-letter spool. The next command starts from nothing."""
    root = embedded.data_dir()
    doomed = data_reset.entries(root)
    if not doomed:
        click.echo(f"{root}: nothing to delete")
        return
    if not yes:
        click.confirm(f"delete {len(doomed)} entries in {root} ({', '.join(p.name for p in doomed)})?", abort=True)
    for path in data_reset.reset(root):
        click.echo(f"deleted {path}")
