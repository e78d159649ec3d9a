"""One escaping helper per output kind, so that a name from data (a community, facility,
category or district) is shown as the text it is, and never runs, in every file a run writes.

HTML (``map.html``, ``city_map.html``, ``report.html``)
    :func:`html_text` makes text safe in HTML text and quoted attribute values; the report's
    Jinja environment passes every value through it. :func:`safe_text` adds what the maps need:
    folium renders each element and then parses the result again as a Jinja template (so a
    ``{{ … }}`` or ``{% … %}`` in a name would be evaluated on the machine writing the map),
    and it emits JavaScript template literals (which backticks and ``${`` would end or inject
    into). Both drop the control characters a page cannot show and isolate right-to-left marks
    so that they cannot reorder the text around a name.
Spreadsheets (``coverage.xlsx``)
    :func:`excel_text` removes what a workbook cannot hold (control characters such as NUL or
    BEL, which openpyxl refuses, and text beyond Excel's 32,767 characters a cell); the writer
    stores every data cell as a string and marks those :func:`formula_like` as quoted text.
CSV meant for people (``coverage.csv``, ``area_coverage.csv``, ``denominators.csv``,
``city_coverage.csv``)
    :func:`write_people_csv` writes a frame with a BOM (so that Excel reads it as UTF-8) after
    :func:`csv_safe_frame` has prefixed a single quote to every text cell a spreadsheet would
    take for a formula (the OWASP advice for CSV injection); :func:`read_people_csv` reads such
    a file back exactly as it was before.
GeoPackage (``lifecircle.gpkg``)
    :func:`gpkg_safe_frame` removes NUL, which GDAL would otherwise cut a text value at.
Figures (``coverage_chart.png``, ``coverage_map.png``)
    :func:`plot_text` keeps matplotlib from reading ``$…$`` in a name as mathematics (which
    draws it as a formula, or fails the run on ``$\\frac$``).

JSON (``summary.json``) needs no helper: :func:`json.dumps` escapes every control character.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

# characters XML 1.0 (and so an xlsx file) cannot hold, and that a web page cannot show: the
# C0 controls except tab, line feed and carriage return, U+FFFE/U+FFFF and lone surrogates
_UNHOLDABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# explicit bidirectional formatting characters: marks, embeddings, overrides and isolates
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
FSI, PDI = "\u2068", "\u2069"  # first strong isolate … pop directional isolate
FORMULA_START = frozenset("=+-@\t\r")  # what makes Excel, Calc and Sheets read a formula
QUOTE = "'"  # the prefix that makes a spreadsheet read a cell as text
EXCEL_MAX_CHARS = 32_767  # the most characters an Excel cell holds

F = TypeVar("F", bound=pd.DataFrame)


# ---- HTML ---------------------------------------------------------------------------------------


def html_text(value: object) -> str:
    """``value`` as text for HTML text or a quoted attribute value.

    ``<``, ``>``, ``&`` and both quotes become entities; control characters a page cannot show
    (NUL, BEL, …) are dropped; a value holding right-to-left marks or overrides is wrapped in
    an isolate (U+2068 … U+2069) so that they reorder only the value itself, never the text
    around it. ``None`` gives an empty string.
    """
    s = _UNHOLDABLE.sub("", "" if value is None else str(value))
    if _BIDI.search(s):
        s = f"{FSI}{s}{PDI}"
    return html.escape(s, quote=True)


def safe_text(value: object) -> str:
    """``value`` as text for a folium map: :func:`html_text`, and also safe inside folium's
    second Jinja pass (``{``, ``}``) and inside JavaScript template literals (backtick, ``$``,
    backslash), all as HTML character references that a browser shows as the characters."""
    return (
        html_text(value)
        .replace("`", "&#96;")
        .replace("$", "&#36;")
        .replace("\\", "&#92;")
        .replace("{", "&#123;")
        .replace("}", "&#125;")
    )


# ---- spreadsheets -------------------------------------------------------------------------------


def formula_like(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a formula: it begins (after any spaces) with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return."""
    return text.lstrip(" \u3000")[:1] in FORMULA_START


def excel_text(value: object) -> tuple[str, bool]:
    """``value`` as text an Excel cell can hold, and whether anything had to be removed.

    Control characters other than tab, line feed and carriage return are removed (XML 1.0, and
    so xlsx, cannot hold them), as is text beyond 32,767 characters. Everything else is kept,
    right-to-left marks included. ``None`` gives an empty string.
    """
    s = "" if value is None else str(value)
    clean = _UNHOLDABLE.sub("", s)[:EXCEL_MAX_CHARS]
    return clean, clean != s


# ---- CSV meant for people -----------------------------------------------------------------------


def csv_text(text: str) -> str:
    """A CSV cell that no spreadsheet evaluates: a single quote before text that is
    :func:`formula_like` (``=SUM(A1)`` → ``'=SUM(A1)``, ``-12`` → ``'-12``); NUL removed.

    Text that already begins with quotes followed by such a character gets one more quote, so
    that :func:`csv_untext` gives back exactly what was written.
    """
    s = text.replace("\x00", "")
    return QUOTE + s if formula_like(s.lstrip(QUOTE)) else s


def csv_untext(text: str) -> str:
    """The inverse of :func:`csv_text` (less the NUL it removed)."""
    if text.startswith(QUOTE) and formula_like(text.lstrip(QUOTE)):
        return text[1:]
    return text


def _map_text(df: F, fn: Callable[[str], str]) -> tuple[F, int]:
    """A copy of ``df`` with ``fn`` applied to every text cell and column name; the number of
    cells it changed. Numbers, booleans and missing values are left as they are."""
    out = df.copy()
    changed = 0
    for col in out.columns:
        dtype = out[col].dtype
        if not (pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype)):
            continue  # numbers, booleans, dates and geometries
        after, n = _map_column(out[col], fn)
        if n:
            changed += n
            out[col] = after
    names = {c: fn(c) for c in out.columns if isinstance(c, str) and fn(c) != c}
    return (out.rename(columns=names) if names else out), changed + len(names)


def _map_column(before: pd.Series, fn: Callable[[str], str]) -> tuple[pd.Series, int]:
    """``fn`` applied to each text cell of a column, and the number of cells it changed; each
    distinct value is passed once (50 k residents' rows hold a few hundred ids)."""
    try:
        codes, uniques = pd.factorize(before, use_na_sentinel=True)
    except TypeError:  # unhashable cells: one by one
        after = pd.Series(
            [fn(v) if isinstance(v, str) else v for v in before], index=before.index
        ).astype(before.dtype)
        return after, int((before.ne(after) & before.notna()).sum())
    values = list(uniques)
    mapped = [fn(v) if isinstance(v, str) else v for v in values]
    moved = np.array([isinstance(v, str) and v != w for v, w in zip(values, mapped, strict=True)])
    if not moved.any():
        return before, 0
    hit = (codes >= 0) & moved[np.maximum(codes, 0)]
    cells = before.to_numpy(dtype=object).copy()
    cells[hit] = np.array(mapped, dtype=object)[codes[hit]]
    return pd.Series(cells, index=before.index, dtype=before.dtype), int(hit.sum())


def csv_safe_frame(df: F) -> tuple[F, int]:
    """A copy of ``df`` with every text cell passed through :func:`csv_text`, and the number of
    cells changed.

    Only text is touched: a numeric column keeps ``-0.5`` as the number it is, while a text
    column (a code such as ``"-12"``) is text and gets its quote.
    """
    return _map_text(df, csv_text)


def people_csv_bytes(df: pd.DataFrame) -> tuple[bytes, int]:
    """The bytes :func:`write_people_csv` writes for ``df`` (for an answer sent without a file,
    such as the workbench's export), and the number of cells that were given a quote."""
    safe, changed = csv_safe_frame(df)
    text = safe.to_csv(index=False, lineterminator="\r\n")
    return ("\ufeff" + text).encode("utf-8"), changed


def write_people_csv(df: pd.DataFrame, path: Path) -> int:
    """Write ``df`` to ``path`` as a CSV that Excel opens as UTF-8 (with a BOM) and in which
    no cell runs as a formula (:func:`csv_safe_frame`); returns the number of cells that were
    given a quote."""
    data, changed = people_csv_bytes(df)
    Path(path).write_bytes(data)
    return changed


def read_people_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV written by :func:`write_people_csv` back into the values it was given
    (``kwargs`` go to :func:`pandas.read_csv`)."""
    df = pd.read_csv(path, encoding="utf-8-sig", **kwargs)
    return _map_text(df, csv_untext)[0]


# ---- GeoPackage ---------------------------------------------------------------------------------


def gpkg_safe_frame(df: F) -> tuple[F, int]:
    """A copy of ``df`` without NUL in any text cell (GDAL ends a text value at the first
    NUL, so ``a\\x00b`` would be stored as ``a``); the number of cells changed."""
    return _map_text(df, lambda s: s.replace("\x00", ""))


# ---- figures ------------------------------------------------------------------------------------


def plot_text(value: object) -> str:
    """``value`` as literal text for a matplotlib label: ``$`` escaped (matplotlib would read
    text between two of them as mathematics) and control characters dropped (no font has
    glyphs for them)."""
    return _UNHOLDABLE.sub("", "" if value is None else str(value)).replace("$", r"\$")
