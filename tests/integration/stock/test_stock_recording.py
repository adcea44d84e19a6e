"""Recording figures: set-based, only real changes reported, never older over newer."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.types import StockRecord
from domain.core.models import ChannelListing, Sku, StockHistory, StockLevel, Store
from domain.stock.levels import record_batch

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _store_id(session: Session, key: str) -> int:
    return session.scalar(select(Store.id).where(Store.key == key))  # type: ignore[return-value]


def test_page_is_stored_and_only_changes_are_reported(db_session: Session, catalog: object) -> None:
    shop = _store_id(db_session, "shopify-main")
    records = [StockRecord(external_id=f"v{i}", sku=code, location_external_id="655441491", available=5 + i,
                           inventory_item_id=f"{9007199254740993 + i}", updated_at=T0)
               for i, code in enumerate(["FUT-FRM-OAK-FULL", "FUT-MAT-COT-FULL"])]
    first = record_batch(db_session, shop, records)
    assert len(first.changed_sku_ids) == 2 and first.unknown == []
    again = record_batch(db_session, shop, records)
    assert again.changed_sku_ids == [], "the same figures again are not a change"
    listing = db_session.scalar(select(ChannelListing.inventory_item_id).where(ChannelListing.external_id == "v0"))
    assert listing == "9007199254740993", "ids beyond 2**53 survive as strings"
    assert db_session.scalar(select(func.count()).select_from(StockHistory)) == 2


def test_incremental_rows_resolve_through_learned_listings(db_session: Session, catalog: object) -> None:
    shop = _store_id(db_session, "shopify-main")
    record_batch(db_session, shop, [StockRecord(external_id="v1", sku="BED-PILLOW-STD", inventory_item_id="777",
                                                location_external_id="655441491", available=40, updated_at=T0)])
    update = StockRecord(external_id="777", inventory_item_id="777", location_external_id="655441491",
                         available=0, updated_at=T0 + timedelta(minutes=1))
    result = record_batch(db_session, shop, [update])
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == "BED-PILLOW-STD"))
    assert result.changed_sku_ids == [sku_id]
    assert db_session.scalar(select(StockLevel.available).where(StockLevel.sku_id == sku_id)) == 0


def test_an_older_update_never_overwrites_newer_state(db_session: Session, catalog: object) -> None:
    shop = _store_id(db_session, "shopify-main")
    newer = StockRecord(external_id="v1", sku="MAT-HYB-KING", location_external_id="655441491", available=0,
                        updated_at=T0 + timedelta(hours=1))
    older = StockRecord(external_id="v1", sku="MAT-HYB-KING", location_external_id="655441491", available=9,
                        updated_at=T0)
    record_batch(db_session, shop, [newer])
    assert record_batch(db_session, shop, [older]).changed_sku_ids == []
    assert db_session.scalar(select(StockLevel.available)) == 0


def test_unknown_skus_and_locations_are_returned_not_stored(db_session: Session, catalog: object) -> None:
    shop = _store_id(db_session, "shopify-main")
    result = record_batch(db_session, shop, [
        StockRecord(external_id="x", sku="NOT-IN-CONFIG", location_external_id="655441491", available=1),
        StockRecord(external_id="y", sku="MAT-HYB-KING", location_external_id="999", available=1),
    ])
    assert len(result.unknown) == 2 and result.changed_sku_ids == []
    assert db_session.scalar(select(func.count()).select_from(StockLevel)) == 0


def test_a_restock_date_the_platform_reports_becomes_the_sku_s_eta(db_session: Session, catalog: object) -> None:
    from datetime import date

    shop = _store_id(db_session, "shopify-main")
    later, sooner = date(2027, 3, 1), date(2027, 1, 20)
    record_batch(db_session, shop, [
        StockRecord(external_id="v1", sku="MAT-HYB-KING", location_external_id="655441491", available=4,
                    restock_eta=later),
        StockRecord(external_id="v1", sku="MAT-HYB-KING", location_external_id="655441491", available=4,
                    restock_eta=sooner)])
    eta = select(Sku.eta).where(Sku.code == "MAT-HYB-KING")
    assert db_session.scalar(eta) == sooner, "the nearest date the page names"

    record_batch(db_session, shop, [StockRecord(external_id="v1", sku="MAT-HYB-KING",
                                                location_external_id="655441491", available=0)])
    assert db_session.scalar(eta) == sooner, "a record naming no date leaves the SKU's date as it is"
    assert db_session.scalar(select(Sku.eta).where(Sku.code == "BED-PILLOW-STD")) is None
