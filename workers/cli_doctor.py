"""``backorders doctor``: one line per dependency (``workers.doctor``), exit 1 when any check fails."""
from __future__ import annotations

import json
import sys

import click


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def doctor(as_json: bool) -> None:
    """Check the configuration, database and migrations, Redis' memory policy, the broker, live
    workers, every store's credentials and every messaging provider's key; exit 1 on any FAIL."""
    from workers import doctor as checking
    from workers.cli import _environment

    _environment()
    checks = checking.run()
    if as_json:
        click.echo(json.dumps({"ok": not checking.failed(checks), "checks": [c.as_dict() for c in checks]}, indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for check in checks:
            click.echo(f"{check.status:<4}  {check.name:<{width}}  {check.detail}")
        counts = {s: sum(c.status == s for c in checks) for s in (checking.OK, checking.WARN, checking.FAIL)}
        click.echo(f"{counts['OK']} ok, {counts['WARN']} warning(s), {counts['FAIL']} failed")
    sys.exit(1 if checking.failed(checks) else 0)
