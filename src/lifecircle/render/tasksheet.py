"""``tasks.csv`` and ``tasks.xlsx``: the task list of :func:`lifecircle.tasks.build_tasks` for
community offices.

The workbook is set up like ``coverage.xlsx`` (every name a string cell through
:func:`lifecircle.render.escape.excel_text`, formula-like text marked as quoted text, landscape
A4 one page wide with the header row on every page, frozen header) and leaves the responsible
department, person and deadline blank but ready for input: shaded, bordered, text cells for the
names and a date cell, checked as a date, for the deadline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, PatternFill, Side
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from lifecircle.fileio import atomic_write
from lifecircle.i18n import t
from lifecircle.render.cellstyle import styled
from lifecircle.render.escape import write_people_csv
from lifecircle.render.spreadsheet import BELOW, _header, _print_setup, _TextCells, _widths
from lifecircle.tasks import INPUT_KEYS

TOP = Alignment(vertical="top", wrap_text=True)
INPUT_FILL = PatternFill("solid", start_color="FFF2CC", end_color="FFF2CC")
_THIN = Side(style="thin", color="BFBFBF")
INPUT_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
INPUT_ROWS_MIN = 20  # rows formatted for input even when the list is short

_WIDTH = {
    "community_id": 15, "community_name": 22, "subdistrict": 12, "category": 24,
    "residents": 10, "residents_affected": 11, "share": 10, "target": 8, "threshold": 18,
    "median_walk_min": 14, "site_name": 20, "site_lon": 12, "site_lat": 12,
    "site_lon_gcj02": 14, "site_lat_gcj02": 14, "site_rank": 8,
    "note": 30, "department": 18, "person": 12, "deadline": 12,
}  # fmt: skip
_FORMAT = {
    "residents": "#,##0",
    "residents_affected": "#,##0",
    "share": "0.0%",
    "target": "0%",
    "median_walk_min": "0.0",
    "site_lon": "0.000000",
    "site_lat": "0.000000",
    "site_lon_gcj02": "0.000000",
    "site_lat_gcj02": "0.000000",
    "site_rank": "0",
}
TITLE = {"zh": "治理任务清单", "en": "Task list"}
DEADLINE_PROMPT = {
    "zh": ("完成时限", "请输入日期,如 2026-06-30"),
    "en": ("Deadline", "Enter a date, such as 2026-06-30"),
}


def _keys(tasks: pd.DataFrame) -> list[str]:
    keys = tasks.attrs.get("keys")
    if not keys or len(keys) != len(tasks.columns):
        raise ValueError("tasks: not a table made by lifecircle.tasks.build_tasks")
    return list(keys)


def _number(ws: Worksheet, row: int, col: int, value: Any, fmt: str) -> None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return
    if np.isfinite(v):
        styled(ws.cell(row=row, column=col, value=v), f"number {fmt}", number_format=fmt)


def _input_cells(ws: Worksheet, cols: dict[str, int], last_row: int, lang: str) -> None:
    """Shade and border the columns the office fills in; the deadline is a checked date."""
    title, prompt = DEADLINE_PROMPT.get(lang, DEADLINE_PROMPT["en"])
    check = DataValidation(
        type="date",
        operator="greaterThan",
        formula1="DATE(2000,1,1)",
        allow_blank=True,
        showInputMessage=True,
        showErrorMessage=True,
        promptTitle=title,
        prompt=prompt,
        errorTitle=title,
        error=prompt,
    )
    ws.add_data_validation(check)
    for key in INPUT_KEYS:
        j = cols[key]
        fmt = "yyyy-mm-dd" if key == "deadline" else "@"
        for i in range(2, last_row + 1):
            cell = ws.cell(row=i, column=j)
            styled(cell, f"input {fmt}", fill=INPUT_FILL, border=INPUT_BORDER, number_format=fmt)
        if key == "deadline":
            letter = ws.cell(row=1, column=j).column_letter
            check.add(f"{letter}2:{letter}{last_row}")


def write_tasks_xlsx(tasks: pd.DataFrame, path: Path, *, lang: str = "zh") -> dict[str, Any]:
    """Write the task list as a workbook; returns ``cleaned_cells`` (text cells whose control
    characters had to be removed)."""
    keys = _keys(tasks)
    text = _TextCells()
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = TITLE.get(lang, TITLE["en"])
    _header(text, ws, [str(c) for c in tasks.columns])
    cols = {k: j for j, k in enumerate(keys, start=1)}
    for key in INPUT_KEYS:
        ws.cell(row=1, column=cols[key]).fill = INPUT_FILL
    for i, values in enumerate(tasks.itertuples(index=False), start=2):
        for key, value in zip(keys, values, strict=True):
            j = cols[key]
            if key in _FORMAT:
                _number(ws, i, j, value, _FORMAT[key])
            elif key not in INPUT_KEYS:
                text(ws, i, j, "" if value is None else value)
        if "share" in cols:
            styled(ws.cell(row=i, column=cols["share"]), "below", fill=BELOW)
    if not len(tasks):
        text(ws, 2, 1, t("none_missing", lang))
    last = max(len(tasks) + 1, INPUT_ROWS_MIN + 1)
    _input_cells(ws, cols, last, lang)
    for i in range(2, len(tasks) + 2):
        for j in range(1, len(keys) + 1):
            styled(ws.cell(row=i, column=j), "top", alignment=TOP)
    _widths(ws, [_WIDTH.get(k, 12) for k in keys])
    ws.freeze_panes = "C2"
    _print_setup(ws, 1)
    atomic_write(path, wb.save)
    return {"cleaned_cells": text.cleaned}


def write_tasks(tasks: pd.DataFrame, folder: Path, *, lang: str = "zh") -> dict[str, int]:
    """Write ``tasks.csv`` (UTF-8 with BOM; formula-like text quoted, see
    :func:`~lifecircle.render.escape.write_people_csv`) and ``tasks.xlsx`` into ``folder``.

    Returns
    -------
    dict
        ``csv_quoted`` and ``xlsx_cleaned``: how many cells had to be made safe.
    """
    _keys(tasks)
    Path(folder).mkdir(parents=True, exist_ok=True)
    quoted = atomic_write(Path(folder) / "tasks.csv", lambda p: write_people_csv(tasks, p))
    xlsx = write_tasks_xlsx(tasks, Path(folder) / "tasks.xlsx", lang=lang)
    return {"csv_quoted": quoted, "xlsx_cleaned": xlsx["cleaned_cells"]}
