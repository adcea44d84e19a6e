"""Warnings about a valid configuration: events its SKUs and stores will raise that no route hears.

A file can be correct and still leave staff deaf: a store that routes only ``stock.out`` never
hears that its SKUs (``allow_backorder`` defaults to true) went to backorder, which also switches
their listings to keep selling (Shopify ``inventory_policy=continue``, WooCommerce
``backorders=notify``). ``backorders config check`` prints these beside the file's problems; they
do not fail the check, since an unrouted event is still stored as an alert.
"""
from __future__ import annotations

from domain.core.business_config import BusinessConfig


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def route_warnings(config: BusinessConfig) -> list[str]:
    """One line per event some SKU or store will raise that no ``[[notifications.routes]]`` names."""
    routed = {route.event for route in config.notifications.routes}
    warnings: list[str] = []
    if not config.notifications.routes:
        warnings.append("notifications.routes: none; alerts are stored (and shown by `backorders status`) "
                        "but nobody is told")
        return warnings
    backorder = [s.code for s in config.skus if s.allow_backorder]
    if backorder and "stock.backorder" not in routed:
        warnings.append(
            f"notifications.routes: {_count(len(backorder), 'SKU')} accept backorders (allow_backorder, default "
            f"true; e.g. {backorder[0]}): at 0 they raise stock.backorder and their listings are switched to keep "
            "selling (Shopify inventory_policy=continue, WooCommerce backorders=notify), but no route names "
            "stock.backorder")
    denied = [s.code for s in config.skus if not s.allow_backorder]
    if denied and "stock.out" not in routed:
        warnings.append(f"notifications.routes: {_count(len(denied), 'SKU')} do not accept backorders (e.g. "
                        f"{denied[0]}): at 0 they raise stock.out, but no route names stock.out")
    low = [s.code for s in config.skus if s.threshold > 0]
    if low and "stock.low" not in routed:
        warnings.append(f"notifications.routes: {_count(len(low), 'SKU')} have a threshold (e.g. {low[0]}): they "
                        "raise stock.low, but no route names stock.low")
    located = [s.code for s in config.skus if s.location_thresholds]
    for event in ("stock.location_low", "stock.location_out"):
        if located and event not in routed:
            warnings.append(f"notifications.routes: {_count(len(located), 'SKU')} have location_thresholds (e.g. "
                            f"{located[0]}): they raise {event}, but no route names it")
    selling = [s.key for s in config.stores if s.sells and not s.read_only]
    if selling and "channel.push_failed" not in routed:
        warnings.append(f"notifications.routes: stock is written to {', '.join(selling)}, and a write that fails "
                        "for good raises channel.push_failed, but no route names it")
    return warnings
