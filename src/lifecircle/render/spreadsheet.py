"""``coverage.xlsx`` for community offices: a summary sheet and one sheet per category, codes as
text, percentages formatted, communities below target highlighted, frozen headers, and a print
setup (landscape, one page wide, the header row on every page).

Every cell that comes from data goes through :func:`lifecircle.render.escape.excel_text`: it is
a string cell (so it can never run as a formula; one that looks like a formula is also marked
as quoted text, as Excel does for a typed ``'=…``), and characters a workbook cannot hold are
removed and counted."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from lifecircle.fileio import atomic_write
from lifecircle.headline import headline
from lifecircle.i18n import t
from lifecircle.naming import ALL
from lifecircle.notes import denominator_label, threshold_label
from lifecircle.render.cellstyle import styled
from lifecircle.render.escape import excel_text, formula_like

if TYPE_CHECKING:
    from lifecircle.pipeline import Result

BELOW = PatternFill("solid", start_color="F8CBAD", end_color="F8CBAD")
HEADER = PatternFill("solid", start_color="D9E1F2", end_color="D9E1F2")
BOLD = Font(bold=True)
_BAD_SHEET_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})


class _TextCells:
    """Writes string cells and counts those whose text had to be cleaned to fit a workbook."""

    def __init__(self) -> None:
        self.cleaned = 0

    def __call__(self, ws: Worksheet, row: int, col: int, value: object) -> Cell:
        """A string cell: shown as typed, never evaluated (``=SUM(A1)`` stays text)."""
        text, changed = excel_text(value)
        self.cleaned += changed
        cell = ws.cell(row=row, column=col)
        cell.value = text
        cell.data_type = "s"
        if formula_like(text):  # stays text even when someone edits the cell
            return styled(cell, "text_quoted", number_format="@", quotePrefix=True)
        return styled(cell, "text", number_format="@")


def _share(ws: Worksheet, row: int, col: int, value: float, target: float | None) -> Cell:
    cell = ws.cell(row=row, column=col)
    if value is None or not np.isfinite(value):
        cell.value = None
        return cell
    cell.value = float(value)
    if target is not None and value < target:
        return styled(cell, "share_below", number_format="0.0%", fill=BELOW)
    return styled(cell, "share", number_format="0.0%")


def _header(text: _TextCells, ws: Worksheet, labels: list[str]) -> None:
    for j, label in enumerate(labels, start=1):
        c = text(ws, 1, j, label)
        c.font = BOLD
        c.fill = HEADER
        c.alignment = Alignment(wrap_text=True, vertical="center")
    ws.row_dimensions[1].height = 32


def _widths(ws: Worksheet, widths: list[int]) -> None:
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = w


def _print_setup(ws: Worksheet, header_row: int) -> None:
    """Landscape A4, every column on one page wide (as many pages down as it takes), the header
    row repeated on every page, and the sheet name and page number in the margins."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.print_options.horizontalCentered = True
    ws.oddHeader.center.text = "&A"
    ws.oddFooter.center.text = "&P / &N"


def _sheet_title(label: str, used: set[str]) -> str:
    """A sheet name Excel accepts: no ``[]:*?/\\`` or control characters, no quote at either
    end, at most 31 characters, unique regardless of case."""
    base = excel_text(label)[0].translate(_BAD_SHEET_CHARS).strip("'")[:28].rstrip("'") or "sheet"
    title, k = base, 2
    while title.lower() in used:
        title, k = f"{base[:25]}_{k}", k + 1
    used.add(title.lower())
    return title


def category_label(summary: dict[str, Any], cat: str, lang: str) -> str:
    """A category's name in ``lang`` as the run recorded it (its key when it has none)."""
    if cat == ALL:
        return t("all", lang)
    return str(summary.get("categories", {}).get(cat, {}).get(f"name_{lang}", cat))


def write_xlsx(result: Result, path: Path, *, target: float, lang: str = "zh") -> dict[str, Any]:
    """Write the workbook.

    Returns
    -------
    dict
        ``sheets``: the sheet names; ``cleaned_cells``: how many text cells had characters a
        workbook cannot hold (NUL and other control characters) removed.
    """
    text = _TextCells()
    cov = result.coverage
    profiles = list(dict.fromkeys(cov["profile"]))
    minutes = sorted(set(cov["minutes"]))
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new workbook has its first sheet
    used: set[str] = set()
    ws.title = _sheet_title(t("summary", lang), used)
    _summary_sheet(ws, text, result, target=target, lang=lang, profiles=profiles, minutes=minutes)
    for cat in [*result.categories, ALL]:
        sheet = wb.create_sheet(_sheet_title(category_label(result.summary, cat, lang), used))
        _category_sheet(
            sheet, text, result, cat, target=target, lang=lang, profiles=profiles, minutes=minutes
        )
    if len(result.capacity):
        _capacity_sheet(wb, text, result, lang, used)
    atomic_write(path, wb.save)
    return {"sheets": wb.sheetnames, "cleaned_cells": text.cleaned}


def _summary_sheet(
    ws: Any,
    text: _TextCells,
    result: Result,
    *,
    target: float,
    lang: str,
    profiles: list[str],
    minutes: list[int],
) -> None:
    """The first sheet: the headline and the run's frame, then one row per category."""
    summary = result.summary
    preset = summary.get("preset", {})
    hl = headline(summary)
    info = [
        (t("headline", lang), hl.sentence(lang)),
        *((t("warning", lang), w) for w in hl.warning_texts(lang)),
        (t("preset", lang), f"{preset.get('name', '')} — {preset.get('title', '')}"),
        (t("denominator", lang), denominator_label(summary["denominator"], lang)),
        (t("target", lang), f"{target:.0%}"),
        (t("source", lang), t("osm_attribution", lang)),
        ("", t("below_note_samples" if hl.area_samples else "below_note", lang)),
    ]
    for i, (k, v) in enumerate(info, start=1):
        text(ws, i, 1, k).font = BOLD
        text(ws, i, 2, v)
    top = len(info) + 2
    labels = [t("category", lang), t("threshold", lang)]
    labels += [f"{t(p, lang)} ≤{m}{t('minutes', lang)}" for p in profiles for m in minutes]
    labels += [t("communities_meeting", lang)]
    for j, label in enumerate(labels, start=1):
        c = text(ws, top, j, label)
        c.font, c.fill = BOLD, HEADER
        c.alignment = Alignment(wrap_text=True)
    cov = result.coverage
    area = result.area_coverage.set_index(["category", "profile", "minutes"])["coverage"]
    per_comm = cov[(cov["profile"] == profiles[0]) & (cov["minutes"] == max(minutes))]
    for i, cat in enumerate([*result.categories, ALL], start=top + 1):
        text(ws, i, 1, category_label(summary, cat, lang))
        info_c = summary["categories"].get(cat, {})
        value = info_c.get("threshold_value")
        text(
            ws,
            i,
            2,
            info_c.get("threshold", "")
            if value is None
            else threshold_label(str(info_c["threshold_kind"]), float(value), lang),
        )
        j = 3
        for p in profiles:
            for m in minutes:
                _share(ws, i, j, area.get((cat, p, m), np.nan), target)
                j += 1
        rows = per_comm[(per_comm["category"] == cat) & (per_comm["residents"] > 0)]
        text(ws, i, j, f"{int(rows['meets_target'].sum())} / {len(rows)}")
    _widths(ws, [34, 14, *([13] * (len(profiles) * len(minutes))), 16])
    ws.freeze_panes = ws.cell(row=top + 1, column=2)
    _print_setup(ws, top)


def _category_sheet(
    sheet: Any,
    text: _TextCells,
    result: Result,
    cat: str,
    *,
    target: float,
    lang: str,
    profiles: list[str],
    minutes: list[int],
) -> None:
    """One category's sheet: per community its residents, shares and verdict."""
    hl = headline(result.summary)
    no_data = "no_area_samples" if hl.area_samples else "no_residents"
    sub = result.coverage[result.coverage["category"] == cat]
    wide = sub.set_index(["community_id", "community_name", "profile", "minutes"])[
        "coverage"
    ].unstack(["profile", "minutes"])
    res = sub.drop_duplicates("community_id").set_index("community_id")["residents"]
    cols = [(p, m) for p in profiles for m in minutes]
    labels = [t("community_id", lang), t("community_name", lang), hl.unit_label(lang)]
    labels += [f"{t(p, lang)} ≤{m}{t('minutes', lang)}" for p, m in cols]
    labels += [t("meets_target", lang)]
    _header(text, sheet, labels)
    for i, (key_pair, row) in enumerate(wide.iterrows(), start=2):
        cid, cname = str(key_pair[0]), str(key_pair[1])  # type: ignore[index]
        text(sheet, i, 1, cid)
        text(sheet, i, 2, cname)
        count = sheet.cell(row=i, column=3, value=float(res.get(cid, 0.0)))
        styled(count, "count", number_format="#,##0")
        for j, key in enumerate(cols, start=4):
            _share(sheet, i, j, row.get(key, np.nan), target)
        head = row.get((profiles[0], max(minutes)), np.nan)
        if not np.isfinite(head):
            text(sheet, i, 4 + len(cols), t(no_data, lang))
            continue
        ok = bool(head >= target)
        c = text(sheet, i, 4 + len(cols), t("yes" if ok else "no", lang))
        if not ok:
            c.fill = BELOW
    _widths(sheet, [16, 24, 11, *([12] * len(cols)), 10])
    sheet.freeze_panes = "C2"
    _print_setup(sheet, 1)


_CAPACITY_SHEET = [  # column of capacity.csv, header label, number format (None: text)
    ("community_id", "community_id", None),
    ("community_name", "community_name", None),
    ("category", "category", None),
    ("profile", "profile", None),
    ("minutes", "threshold", "0.#"),
    ("target_group", "target_group", None),
    ("target_basis", "target_basis", None),
    ("target_population", "target_population", "#,##0"),
    ("supply_per_1000", "supply_per_1000", "0.0"),
    ("facilities_with_capacity", "facilities_with_capacity", "0"),
    ("facilities_without_capacity", "facilities_without_capacity", "0"),
]


def _capacity_sheet(
    wb: Workbook, text: _TextCells, result: Result, lang: str, used: set[str]
) -> None:
    """The capacity.csv table as a sheet: labels in ``lang``, a note on what 2SFCA measures."""
    ws = wb.create_sheet(_sheet_title(t("capacity_sheet", lang), used))
    labels = [t(label, lang) for _, label, _ in _CAPACITY_SHEET]
    labels[4] += f" ({t('minutes', lang)})"
    _header(text, ws, labels)
    words = {
        "category": lambda v: category_label(result.summary, v, lang),
        "profile": lambda v: t(v, lang),
        "target_group": lambda v: t(f"group_{v}", lang),
        "target_basis": lambda v: t(f"basis_{v}", lang),
        "community_name": lambda v: t("area_total", lang) if v == "(area total)" else v,
    }
    rows = result.capacity.to_dict("records")
    for i, row in enumerate(rows, start=2):
        for j, (col, _, fmt) in enumerate(_CAPACITY_SHEET, start=1):
            v = row[col]
            if fmt is None:
                text(ws, i, j, words.get(col, str)(str(v)))
            elif v is not None and np.isfinite(float(v)):
                styled(ws.cell(row=i, column=j, value=float(v)), f"number {fmt}", number_format=fmt)
    text(ws, len(rows) + 3, 1, t("capacity_note", lang))
    _widths(ws, [16, 24, 24, 12, 10, 16, 18, 12, 12, 14, 14])
    ws.freeze_panes = "C2"
    _print_setup(ws, 1)


#: columns of a table that hold shares, shown as percentages
SHARE_COLUMNS = frozenset({"coverage", "coverage_before", "coverage_after", "change", "target"})


def tables_workbook(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """A workbook (its bytes; nothing is written to disk) with one sheet per table, its
    columns as the header row: every text cell a string that never runs as a formula (as in
    ``coverage.xlsx``), numbers as numbers (shares as percentages), booleans as booleans,
    missing values empty. Headers frozen and filterable; printed landscape, one page wide.

    The sheets are streamed (openpyxl's write-only mode: a city's long tables take half the
    time and a fraction of the memory).

    Parameters
    ----------
    sheets
        Sheet name → table (the names are made acceptable to Excel).
    """
    wb = Workbook(write_only=True)
    used: set[str] = set()
    for name, df in sheets.items():
        ws = wb.create_sheet(_sheet_title(name, used))
        cols = [str(c) for c in df.columns]
        for j, c in enumerate(cols, start=1):
            ws.column_dimensions[get_column_letter(j)].width = max(10, min(40, len(c) + 4))
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(max(len(cols), 1))}{len(df) + 1}"
        _print_setup(ws, 1)
        ws.append([_stream_text(ws, c, header=True) for c in cols])
        shares = [c in SHARE_COLUMNS for c in cols]
        for row in df.itertuples(index=False, name=None):
            ws.append([_stream_cell(ws, v, s) for v, s in zip(row, shares, strict=True)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _stream_text(ws: Any, value: object, *, header: bool = False) -> WriteOnlyCell:
    """A string cell of a streamed sheet: shown as typed, never evaluated."""
    cell = WriteOnlyCell(ws, value=excel_text(value)[0])
    cell.data_type = "s"
    if formula_like(str(cell.value)):
        cell.quotePrefix = True
    if header:
        cell.font, cell.fill = BOLD, HEADER
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    return cell


def _stream_cell(ws: Any, v: object, share: bool) -> object:
    if v is None or v is pd.NA or (isinstance(v, float) and not np.isfinite(v)):
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | float | np.integer | np.floating):
        x = v.item() if isinstance(v, np.generic) else v
        if not share:
            return x
        cell = WriteOnlyCell(ws, value=x)
        cell.number_format = "0.0%"
        return cell
    text = excel_text(v)[0]
    # plain text is written as a string as it is; only formula-like text needs a cell typed
    # as a string and marked as quoted (a plain "=…" would be taken for a formula)
    return _stream_text(ws, text) if formula_like(text) else text
