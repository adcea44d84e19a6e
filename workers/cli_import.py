"""``backorders import tradegecko FILE`` and ``backorders import qbcommerce FILE``: a TradeGecko or
QuickBooks Commerce export's products, variants, stock and suppliers loaded into the business file
and the database (``flows.imports``; the accepted columns: ``domain.core.exports``,
docs/connect-a-store.md "Coming from TradeGecko or QuickBooks Commerce")."""
from __future__ import annotations

import os
from pathlib import Path

import click

LISTED = 20


@click.group("import")
def import_group() -> None:
    """Load an export file from a platform that has closed (TradeGecko, QuickBooks Commerce)."""


def _command(layout: str, what: str) -> click.Command:
    @click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path),
                  help="The business TOML file (default: $BACKORDERS_CONFIG).")
    @click.option("--store", "store_key", required=True,
                  help="The store whose stock figures the export gives (e.g. your QuickBooks Online store).")
    @click.option("--threshold", default=0, show_default=True, type=click.IntRange(min=0),
                  help="The low-stock threshold written for each SKU added.")
    @click.option("--lead-time-days", default=14, show_default=True, type=click.IntRange(min=0),
                  help="The lead time written for each supplier added (review it in the file).")
    @click.option("--vendor-email", default=None,
                  help="The email written for a supplier the export gives none (e.g. your own purchasing address).")
    @click.option("--file-only", is_flag=True, help="Write the file only; load nothing into the database.")
    def command(export: Path, file: Path | None, store_key: str, threshold: int, lead_time_days: int,
                vendor_email: str | None, file_only: bool) -> None:
        from domain.core.business_config import ConfigError
        from domain.core.exports import ExportError
        from flows.imports import run

        path = file or Path(os.environ.get("BACKORDERS_CONFIG", "examples/futon-store.toml"))
        if not file_only:
            from workers.cli import _environment

            _environment()
        try:
            report = run(layout, export, path, store_key, threshold=threshold, lead_time_days=lead_time_days,
                         vendor_email=vendor_email, database=not file_only)
        except ExportError as exc:
            raise click.ClickException(f"{export}: nothing was imported\n" + "\n".join(exc.problems)) from exc
        except ConfigError as exc:
            raise click.ClickException(f"{path}: the file would not pass `config check`; nothing was imported\n"
                                       + "\n".join(exc.problems)) from exc
        merge = report.merge
        click.echo(f"{export.name} ({layout}): {report.variants} variants, {report.suppliers} suppliers, "
                   f"stock at {len(report.locations)} location(s)")
        click.echo(f"  SKUs: {merge.skus_added} added, {merge.skus_kept} already listed (left as written)")
        click.echo(f"  vendors: {len(merge.vendors_added)} added, {merge.vendors_kept} already listed"
                   + (f" — check lead_time_days and email of {', '.join(merge.vendors_added)}" if merge.vendors_added
                      else ""))
        for added in merge.locations_added:
            click.echo(f"  mapped {added}")
        if not file_only:
            click.echo(f"  stock: {report.stock_rows} figures recorded for store {store_key}")
        for warning in report.warnings[:LISTED]:
            click.echo(f"  warning: {warning}", err=True)
        click.echo(f"wrote {path}")

    command.__doc__ = (f"Load {what} export EXPORT into the business file and the database: its products and "
                       f"variants as [[skus]], its suppliers as [[vendors]], its stock as STORE's figures. "
                       f"Only adds; a bad row stops everything, named by its line.")
    return click.command(layout)(command)


import_group.add_command(_command("tradegecko", "a TradeGecko product"))
import_group.add_command(_command("qbcommerce", "a QuickBooks Commerce inventory"))
