"""The ``[returns]`` table: where returns arrive, which ShipStation account makes their labels, the
fraud checks that send a return to review and the timers of the return flow (``domain.returns``).

Without the table returns still work with these defaults (staff create them; no label is bought,
the customer ships by their own means). Problems are reported with their key path, like the rest
of the file (``domain.core.business_config``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domain.core.business_config import _Reader

DAY_S = 86_400
SOURCES = ("staff", "loop")
KEYS = {"enabled", "location", "label_account", "window", "serial_returns", "serial_window", "empty_box_grams",
        "empty_box_percent", "item_grams", "stuck_after", "label_sweep_after", "loop_secret_env",
        "write_back"}


@dataclass(frozen=True)
class ReturnsConfig:
    enabled: bool = True
    #: The location key returned units are counted at (None: the first location).
    location: str | None = None
    #: A ``[[shipping.accounts]]`` key (provider ``shipstation``) that buys return labels; None: no label.
    label_account: str | None = None
    #: Orders placed longer ago than this are flagged for review (a return outside the window).
    window_s: int = 30 * DAY_S
    #: A customer with this many returns (this one included) within ``serial_window_s`` is flagged.
    serial_returns: int = 3
    serial_window_s: int = 60 * DAY_S
    #: A parcel received lighter than this (grams) is an empty-box claim; 0: weight not checked.
    empty_box_grams: int = 0
    #: What each SKU weighs shipped, in grams (``[returns.item_grams]``). A floor in grams misses the
    #: empty box of a big item — a futon frame's carton alone weighs kilograms — so a parcel under
    #: ``empty_box_percent`` of what its lines weigh is an empty-box claim too.
    item_grams: tuple[tuple[str, int], ...] = ()
    empty_box_percent: int = 25
    #: A return left in one state longer than this is listed as stuck (and its step sent again).
    stuck_after_s: int = 3 * DAY_S
    #: How often a label awaiting the customer's parcel has its tracking read again.
    label_sweep_after_s: int = 6 * 3600
    #: The environment variable holding Loop Returns' webhook secret (``X-Loop-Signature``).
    loop_secret_env: str = "LOOP_WEBHOOK_SECRET"
    #: Our moves on a store's own return (Shopify's) written back to it: approve or decline it
    #: while it is ``requested``, cancel or close it once open (``domain.returns.store_writes``).
    write_back: bool = True

    def expected_grams(self, lines: list[dict[str, Any]]) -> int | None:
        """What the returned lines weigh by ``item_grams``; None unless every SKU's weight is known."""
        weights = dict(self.item_grams)
        if not lines or any(str(line.get("sku")) not in weights for line in lines):
            return None
        return sum(weights[str(line["sku"])] * int(line.get("quantity") or 0) for line in lines)


def read_returns(reader: _Reader, data: dict[str, Any], *, locations: set[str],
                 shipping_accounts: dict[str, str], sku_codes: set[str] | None = None) -> ReturnsConfig:
    """``[returns]``; absent: the defaults."""
    if "returns" not in data:
        return ReturnsConfig()
    table = reader.table(data, "returns", "returns")
    reader.unknown_keys(table, KEYS, "returns")
    defaults = ReturnsConfig()
    location = reader.string(table, "location", "returns", required=False)
    if location is not None and location not in locations:
        reader.problem("returns.location", f"unknown location {location!r}")
    account = reader.string(table, "label_account", "returns", required=False)
    if account is not None and shipping_accounts.get(account) != "shipstation":
        reader.problem("returns.label_account", f"{account!r} is not a [[shipping.accounts]] key with "
                                                f"provider \"shipstation\"")
    return ReturnsConfig(
        enabled=reader.boolean(table, "enabled", "returns", True), location=location, label_account=account,
        window_s=reader.duration(table, "window", "returns", defaults.window_s),
        serial_returns=reader.integer(table, "serial_returns", "returns", default=defaults.serial_returns,
                                      minimum=2) or defaults.serial_returns,
        serial_window_s=reader.duration(table, "serial_window", "returns", defaults.serial_window_s),
        empty_box_grams=reader.integer(table, "empty_box_grams", "returns", default=0) or 0,
        item_grams=_item_grams(reader, table, sku_codes),
        empty_box_percent=_percent(reader, table, defaults.empty_box_percent),
        stuck_after_s=reader.duration(table, "stuck_after", "returns", defaults.stuck_after_s),
        label_sweep_after_s=reader.duration(table, "label_sweep_after", "returns", defaults.label_sweep_after_s),
        loop_secret_env=reader.string(table, "loop_secret_env", "returns", required=False,
                                      default=defaults.loop_secret_env) or defaults.loop_secret_env,
        write_back=reader.boolean(table, "write_back", "returns", True),
    )


def _item_grams(reader: _Reader, table: dict[str, Any], sku_codes: set[str] | None) -> tuple[tuple[str, int], ...]:
    weights = reader.table(table, "item_grams", "returns.item_grams")
    out = []
    for sku in sorted(weights):
        if sku_codes is not None and sku not in sku_codes:
            reader.problem(f"returns.item_grams.{sku}", "unknown SKU")
            continue
        value = reader.integer(weights, sku, "returns.item_grams", default=0, minimum=1)
        if value:
            out.append((sku, value))
    return tuple(out)


def _percent(reader: _Reader, table: dict[str, Any], default: int) -> int:
    value = reader.integer(table, "empty_box_percent", "returns", default=default, minimum=1) or default
    if value > 99:
        reader.problem("returns.empty_box_percent", f"must be under 100, got {value}")
        return default
    return value
