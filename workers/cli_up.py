"""``backorders up``: run the Procfile's processes here, restarting any that dies on its own.

What ``make up`` runs (see ``workers/process_set.py`` for the rules). ``--only`` picks the
processes for this host when they are spread across machines (``--only worker,notify`` on a
worker host, ``--only web,beat`` on another); under systemd use the units in ``deploy/``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click


@click.command("up")
@click.option("--procfile", "procfile", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="Procfile", show_default=True)
@click.option("--only", default="", help="Comma-separated process names to run (default: all).")
@click.option("--grace", default=10.0, show_default=True, type=float,
              help="Seconds between SIGTERM and SIGKILL at stop.")
def up(procfile: Path, only: str, grace: float) -> None:
    """Run every Procfile process; one that exits is restarted alone, the others keep running."""
    from workers import procfile as procfiles
    from workers.process_set import ProcessSet, environment

    try:
        kinds = procfiles.load(procfile)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    unknown = sorted(set(wanted) - {k.name for k in kinds})
    if unknown:
        raise click.ClickException(f"not in {procfile}: {', '.join(unknown)} (it has {', '.join(k.name for k in kinds)})")
    if wanted:
        kinds = [k for k in kinds if k.name in wanted]
    cwd = procfile.resolve().parent
    sys.exit(ProcessSet(kinds, environment(os.environ, cwd), cwd, grace_s=grace).run())
