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
    assert cell.data_type == "s" and cell.value == "=SUM(A1)"


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

    from lifecircle.render.spreadsheet import _text

    wb = Workbook()
    ws = wb.active
    _text(ws, 1, 1, payload)
    wb.save(tmp_path / "x.xlsx")
    cell = openpyxl.load_workbook(tmp_path / "x.xlsx").active["A1"]
    assert cell.value == payload and cell.data_type == "s"
    # and the file holds no formula element at all
    import zipfile

    xml = zipfile.ZipFile(tmp_path / "x.xlsx").read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml
