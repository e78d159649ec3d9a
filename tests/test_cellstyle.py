"""styled() gives every cell the styles, and the workbook the style tables, of setting each
cell's styles one by one."""

from __future__ import annotations

import io
import zipfile

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

from lifecircle.render.cellstyle import styled

FILL = PatternFill("solid", start_color="F8CBAD", end_color="F8CBAD")
BORDER = Border(left=Side(style="thin", color="BFBFBF"))
TOP = Alignment(vertical="top", wrap_text=True)
NAMES = ["<script>", "{{ 7*7 }}", '=HYPERLINK("x")', "+1", "@SUM(A1)", "plain"]

# (name, attrs) applied in this order to the cells of each row; later ones restyle a cell
STEPS = [
    ("text", {"number_format": "@"}),
    ("quoted", {"number_format": "@", "quotePrefix": True}),
    ("below", {"number_format": "0.0%", "fill": FILL}),
    ("input", {"fill": FILL, "border": BORDER, "number_format": "yyyy-mm-dd"}),
    ("bold", {"font": Font(bold=True)}),
    ("top", {"alignment": TOP}),
]


def _book(use_cache: bool) -> Workbook:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for i, name in enumerate(NAMES * 5, start=1):
        for j, (step, attrs) in enumerate(STEPS, start=1):
            if (i + j) % 3 == 0:  # cells start from different styles
                continue
            cell = ws.cell(row=i, column=1 + (i * j) % 4, value=name)
            if use_cache:
                styled(cell, step, **attrs)
            else:
                for attr, value in attrs.items():
                    setattr(cell, attr, value)
    return wb


def _parts(wb: Workbook) -> dict[str, bytes]:
    buf = io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(buf) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def test_styled_equals_setting_each_cell() -> None:
    plain, cached = _book(False), _book(True)
    a, b = plain.active, cached.active
    assert a is not None and b is not None
    styles = [
        (c.coordinate, None if c._style is None else tuple(c._style))
        for row in a.iter_rows()
        for c in row
    ]
    assert styles == [
        (c.coordinate, None if c._style is None else tuple(c._style))
        for row in b.iter_rows()
        for c in row
    ]
    assert any(c.quotePrefix for row in b.iter_rows() for c in row)
    assert _parts(plain) == _parts(cached)


def test_cells_do_not_share_their_styles() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    first = styled(ws.cell(row=1, column=1), "below", fill=FILL)
    second = styled(ws.cell(row=2, column=1), "below", fill=FILL)
    second.font = Font(bold=True)  # restyling one cell leaves the other as it was
    assert not first.font.bold and second.font.bold
    assert first.fill == FILL and second.fill == FILL
