"""TradeGecko and QuickBooks Commerce export files read as a catalogue; every bad row named by its line."""
from __future__ import annotations

from pathlib import Path

import pytest

from domain.core.exports import ExportError, read_export

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "imports"
HEADER = "Product Name,Supplier,Supplier Code,Variant Name,Variant SKU,Buy Price,Retail Price,Reorder Point," \
         "Keep Selling,Stock On Hand - Main,Committed - Main\n"


def write(tmp_path: Path, text: str, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_tradegecko_export_reads_variants_suppliers_and_stock_per_location() -> None:
    catalogue = read_export(EXAMPLES / "tradegecko-export.csv", "tradegecko")

    by_code = {v.code: v for v in catalogue.variants}
    assert len(by_code) == 11 and catalogue.locations == ["Brooklyn Showroom", "Newark Warehouse"]
    shaker = by_code["FUT-FRM-SHK-QUEEN-NAT"]
    assert (shaker.title, shaker.category, shaker.supplier, shaker.cost, shaker.price, shaker.reorder_point) == (
        "Shaker futon frame, queen, natural", "futon-frames", "kyoto-frames", "335.00", "689.00", 4)
    assert shaker.stock == {"Newark Warehouse": (3, 0), "Brooklyn Showroom": (1, 1)}
    assert by_code["BED-COVER-LIN-FULL-CHR"].stock["Newark Warehouse"] == (-2, 2), "oversold stays below zero"
    assert by_code["FUT-FRM-SHK-QUEEN-ESP"].keep_selling is False
    assert by_code["ACC-GRIP-PAIR"].supplier is None and by_code["ACC-GRIP-PAIR"].reorder_point is None
    assert {(s.key, s.name) for s in catalogue.suppliers} >= {("lla-01", "Lisbon Linen Atelier"),
                                                              ("dreamfoam", "DreamFoam Mattress Co.")}


def test_the_shipped_qbcommerce_export_gathers_a_variant_s_rows_per_location() -> None:
    catalogue = read_export(EXAMPLES / "qbcommerce-export.csv", "qbcommerce")

    by_code = {v.code: v for v in catalogue.variants}
    assert sorted(by_code) == ["BED-COVER-LIN-QUEEN-OAT", "BED-THROW-WOOL-GRY", "FUT-FRM-SHK-FULL-NAT",
                               "FUT-MAT-ORG-QUEEN"]
    assert by_code["FUT-MAT-ORG-QUEEN"].stock == {"Newark Warehouse": (5, 5), "Brooklyn Showroom": (1, 0)}
    assert by_code["BED-THROW-WOOL-GRY"].keep_selling is False


def test_every_bad_row_is_named_by_its_line_and_nothing_is_returned(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER
                 + "Frame,Kyoto,kyoto,\"Frame, full\",FR-1,10.00,20.00,2,true,5,0\n"
                 + "Frame,Kyoto,kyoto,\"Frame, queen\",,10.00,20.00,2,true,5,0\n"
                 + "Frame,Kyoto,kyoto,Frame king,FR-3,ten,20.00,2,maybe,5.5,0\n"
                 + "Frame,Kyoto,kyoto,Frame twin,FR-1,10.00,20.00,-1,true,5,0\n"
                 + "Frame,Kyoto,kyoto,Frame xl,FR-5,10.00,20.00,2,true,5,0,extra\n")
    with pytest.raises(ExportError) as raised:
        read_export(path, "tradegecko")

    assert raised.value.problems == [
        "export.csv line 3: column 'Variant SKU' is empty: every variant needs its SKU",
        "export.csv line 4: column 'Buy Price': 'ten' is not a price",
        "export.csv line 4: column 'Keep Selling': 'maybe' is not true or false",
        "export.csv line 4: column 'Stock On Hand - Main': '5.5' is not a whole number of units",
        "export.csv line 5: column 'Reorder Point': -1 is below zero",
        "export.csv line 5: SKU 'FR-1' is already on line 2",
        "export.csv line 6: more cells than the header has columns",
    ]


def test_a_quoted_cell_over_two_lines_keeps_the_line_numbers_true(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "Frame,Kyoto,kyoto,\"Frame,\nfull\",FR-1,10,20,2,true,5,0\n"
                 + "Frame,Kyoto,kyoto,Frame queen,,10,20,2,true,5,0\n")
    with pytest.raises(ExportError, match="line 4: column 'Variant SKU' is empty"):
        read_export(path, "tradegecko")


def test_a_missing_column_and_an_unknown_layout_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"line 1: missing column\(s\) 'Variant SKU'"):
        read_export(write(tmp_path, "Product Name,SKU\nFrame,FR-1\n"), "tradegecko")
    with pytest.raises(ExportError, match="unknown export format 'gecko'"):
        read_export(write(tmp_path, HEADER), "gecko")
    with pytest.raises(ExportError, match="no variants"):
        read_export(write(tmp_path, HEADER), "tradegecko")


def test_qbcommerce_rows_of_one_variant_must_agree_and_name_each_location_once(tmp_path: Path) -> None:
    path = write(tmp_path, "SKU,Product Name,Variant Name,Supplier,Location,Stock On Hand,Committed,Buy Price\n"
                 "FR-1,Frame,Frame full,Kyoto,Main,5,0,10.00\n"
                 "FR-1,Frame,Frame full,Kyoto,Main,4,0,10.00\n"
                 "FR-1,Frame,Frame full,Kyoto,Annex,1,0,12.00\n")
    with pytest.raises(ExportError) as raised:
        read_export(path, "qbcommerce")
    assert raised.value.problems == ["export.csv line 3: SKU 'FR-1' at 'Main' is already on an earlier line",
                                     "export.csv line 4: SKU 'FR-1': product fields differ from line 2"]


def test_a_file_that_is_not_utf8_says_how_to_export_it(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(HEADER.encode() + "Fràme,K,k,F,FR-1,1,2,1,true,1,0\n".encode("latin-1"))
    with pytest.raises(ExportError, match="not UTF-8 text"):
        read_export(path, "tradegecko")
