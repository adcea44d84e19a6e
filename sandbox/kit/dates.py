"""One instant shown twice: in the site's zone without an offset, and in UTC.

WordPress (so WooCommerce) answers every date as ``date_x`` in the site's zone and ``date_x_gmt``
in UTC, both ``YYYY-MM-DDTHH:MM:SS`` with no offset, and reads a date filter in the site's zone
unless told it is GMT (https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-products,
``dates_are_gmt``); Magento's admin shows store-local times beside UTC ``created_at`` the same way.
A stand-in declares its zone once and renders or reads dates through it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any


@dataclass(frozen=True)
class SiteDates:
    zone: tzinfo
    gmt_suffix: str = "_gmt"

    def local(self, value: datetime) -> str:
        return value.astimezone(self.zone).replace(tzinfo=None, microsecond=0).isoformat()

    def gmt(self, value: datetime) -> str:
        return value.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0).isoformat()

    def pairs(self, **dates: datetime) -> dict[str, Any]:
        """``{name: local, name_gmt: utc}`` for each ``name=instant``, in the order given."""
        return {key: value for name, when in dates.items()
                for key, value in ((name, self.local(when)), (name + self.gmt_suffix, self.gmt(when)))}

    def read(self, value: str, is_gmt: bool) -> datetime:
        """An ISO-8601 date; without an offset it is UTC when ``is_gmt``, else the site's time."""
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc if is_gmt else self.zone)


def zulu(value: datetime) -> str:
    """UTC to the second with a ``Z``, as X-Series (and most JSON APIs) write an instant."""
    return value.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
