"""coverage.xlsx: text codes, formats, highlighting, frozen headers, no formula ever runs."""

from __future__ import annotations

import openpyxl
import pytest
from typer.testing import CliRunner

from lifecircle.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def workbook(tmp_path_factory, helsinki, comm_file):
    out = tmp_path_factory.mktemp("xlsx") / "out"
    args = ["-q", "analyze", "--osm", str(helsinki), "--communities", str(comm_file)]
    r = runner.invoke(app, [*args, "--out", str(out), "--lang", "en"])
    assert r.exit_code == 0, r.output
    return openpyxl.load_workbook(out / "coverage.xlsx")


def test_sheets_and_headers(workbook):
    names = workbook.sheetnames
    assert names[0] == "Summary"
    assert "Complete life circle" in names and "Primary school" in names
    ws = workbook["Primary school"]
    assert ws.freeze_panes == "C2"
    assert [c.value for c in ws[1]][:3] == ["Community code", "Community", "Residents"]


def test_codes_are_text_and_formulas_stay_text(workbook):
    ws = workbook["Complete life circle"]
    ids = [ws.cell(row=r, column=1) for r in range(2, ws.max_row + 1)]
    assert {c.value for c in ids} == {
        "310101001001",
        "310101001002",
        "310101001003",
        "310101001004",
    }
    assert all(c.data_type == "s" for c in ids)
    names = {
        ws.cell(row=r, column=2).value: ws.cell(row=r, column=2) for r in range(2, ws.max_row + 1)
    }
    cell = names["=SUM(A1)"]  # a hostile name from the communities file
    assert cell.data_type == "s" and cell.value == "=SUM(A1)" and cell.quotePrefix


def test_every_sheet_prints_landscape_one_page_wide_with_its_header(workbook):
    for ws in workbook.worksheets:
        ps = ws.page_setup
        assert ps.orientation == "landscape" and str(ps.paperSize) == ws.PAPERSIZE_A4
        assert (ps.fitToWidth, ps.fitToHeight) == (1, 0)
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        header = ws.print_title_rows  # the row that holds the column labels
        row = int(header.split(":")[0].lstrip("$"))
        assert header == f"${row}:${row}" and ws.cell(row, 1).font.bold
        assert ws.cell(row, 2).value  # a label, not an empty row
        assert ws.oddFooter.center.text == "&P / &N"


def test_unholdable_characters_are_removed_and_counted(tmp_path):
    from openpyxl import Workbook

    from lifecircle.render.spreadsheet import _TextCells

    wb = Workbook()
    ws = wb.active
    text = _TextCells()
    text(ws, 1, 1, "NUL\x00 bell\x07 esc\x1b")
    text(ws, 2, 1, "\u202eRTL \u200fmark")  # legal in xlsx: kept
    text(ws, 3, 1, "plain")
    wb.save(tmp_path / "x.xlsx")  # raw, openpyxl raises IllegalCharacterError
    back = openpyxl.load_workbook(tmp_path / "x.xlsx").active
    assert back["A1"].value == "NUL bell esc" and back["A2"].value == "\u202eRTL \u200fmark"
    assert text.cleaned == 1


def test_sheet_titles_excel_accepts():
    from lifecircle.render.spreadsheet import _sheet_title

    used: set[str] = set()
    assert _sheet_title("'quoted' [a]:b\x07", used) == "quoted' _a__b"
    assert _sheet_title("QUOTED' _A__B", used) == "QUOTED' _A__B_2"  # unique ignoring case


def test_percentages_and_below_target_highlighted(workbook):
    ws = workbook["Complete life circle"]
    shares = [ws.cell(row=r, column=6) for r in range(2, ws.max_row + 1)]
    numeric = [c for c in shares if isinstance(c.value, int | float)]
    assert numeric and all(c.number_format == "0.0%" for c in numeric)
    below = [c for c in numeric if c.value < 0.85]
    assert below and all(c.fill.start_color.rgb.endswith("F8CBAD") for c in below)


@pytest.mark.parametrize(
    "payload", ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", '=HYPERLINK("x")']
)
def test_formula_payloads_stay_text(tmp_path, payload):
    from openpyxl import Workbook

    from lifecircle.render.spreadsheet import _TextCells

    wb = Workbook()
    ws = wb.active
    _TextCells()(ws, 1, 1, payload)
    wb.save(tmp_path / "x.xlsx")
    cell = openpyxl.load_workbook(tmp_path / "x.xlsx").active["A1"]
    assert cell.value == payload and cell.data_type == "s"
    assert cell.quotePrefix  # and stays text when someone edits it in Excel
    # and the file holds no formula element at all
    import zipfile

    xml = zipfile.ZipFile(tmp_path / "x.xlsx").read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml
