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
        "stuck_after", "label_sweep_after", "loop_secret_env"}


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
    #: A return left in one state longer than this is listed as stuck (and its step sent again).
    stuck_after_s: int = 3 * DAY_S
    #: How often a label awaiting the customer's parcel has its tracking read again.
    label_sweep_after_s: int = 6 * 3600
    #: The environment variable holding Loop Returns' webhook secret (``X-Loop-Signature``).
    loop_secret_env: str = "LOOP_WEBHOOK_SECRET"


def read_returns(reader: _Reader, data: dict[str, Any], *, locations: set[str],
                 shipping_accounts: dict[str, str]) -> ReturnsConfig:
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
        stuck_after_s=reader.duration(table, "stuck_after", "returns", defaults.stuck_after_s),
        label_sweep_after_s=reader.duration(table, "label_sweep_after", "returns", defaults.label_sweep_after_s),
        loop_secret_env=reader.string(table, "loop_secret_env", "returns", required=False,
                                      default=defaults.loop_secret_env) or defaults.loop_secret_env,
    )
