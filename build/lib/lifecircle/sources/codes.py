"""Administrative codes (统计用区划代码): 6 digits for a district, 9 for a subdistrict or town, 12
for a residents' or village committee. Always text. Validation and comparison with a code table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from lifecircle.errors import InputError
from lifecircle.sources._files import check_file, read_csv_text

DISTRICT_COLUMNS = ("areacode", "district_code", "district", "区县代码", "区代码")
SUBDISTRICT_COLUMNS = ("streetcode", "subdistrict_code", "street_code", "街道代码", "乡镇代码")


def looks_like_codes(ids: pd.Series) -> bool:
    """Ids are treated as administrative codes when every one is digits and some have 9 or more."""
    s = ids.astype(str)
    return bool(len(s)) and bool(s.str.fullmatch(r"\d+").all()) and bool((s.str.len() >= 9).any())


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def validate_community_codes(
    table: pd.DataFrame, id_column: str, option: str = "--communities"
) -> dict[str, Any]:
    """Check 12-digit community codes and, when the file has them, their consistency with the
    6-digit district and 9-digit subdistrict columns. Every problem is listed in one error."""
    ids = table[id_column].astype(str).str.strip()
    problems = []
    bad_len = ids[~ids.str.fullmatch(r"\d{12}")]
    for code in bad_len.head(20):
        problems.append(
            f"{code!r} has {len(code)} characters: a community code has 12 digits "
            "(6 district + 3 subdistrict + 3 committee)"
        )
    dcol = _find(list(table.columns), DISTRICT_COLUMNS)
    scol = _find(list(table.columns), SUBDISTRICT_COLUMNS)
    good = ids.str.fullmatch(r"\d{12}")
    for col, n, what in ((dcol, 6, "district"), (scol, 9, "subdistrict")):
        if col is None:
            continue
        other = table[col].astype(str).str.strip()
        wrong = good & (ids.str[:n] != other)
        for code, o in zip(ids[wrong].head(20), other[wrong].head(20), strict=True):
            problems.append(f"{code} does not start with its {what} code {o} (column {col})")
    if problems:
        more = "" if len(problems) <= 20 else f"\n  - … and {len(problems) - 20} more"
        raise InputError(
            f"{option}: invalid community codes\n"
            + "\n".join(f"  - {p}" for p in problems[:20])
            + more
            + "\nCodes are text: keep every digit, including leading ones."
        )
    return {"codes_checked": len(ids), "district_column": dcol, "subdistrict_column": scol}


def compare_with_code_table(
    path: str | Path, ids: pd.Series, residents: pd.Series
) -> dict[str, Any]:
    """Communities of a code table (like the 6,509 Shanghai committees) against the polygons:
    committees with no polygon or no residents, and polygons whose code the table lacks. The table
    is limited to the districts the polygons touch."""
    p = check_file(path, "--code-table")
    t = read_csv_text(p, "--code-table")
    col = next((c for c in ("code", "id") if c in t.columns), None)  # 'code' reads as 'id'
    if col is None:
        raise InputError(f"--code-table {p}: needs a 'code' column of 12-digit codes")
    t["code"] = t[col].astype(str).str.strip()
    names = dict(zip(t["code"], t.get("name", t["code"]), strict=True))
    have = set(ids.astype(str))
    districts = {c[:6] for c in have}
    in_scope = t[t["code"].str[:6].isin(districts)]
    no_polygon = sorted(set(in_scope["code"]) - have)
    unknown = sorted(have - set(t["code"]))
    res = residents.reindex(list(have)).fillna(0.0)
    no_residents = sorted(c for c in have if c in names and res.get(c, 0.0) <= 0)
    return {
        "code_table": str(p),
        "districts": sorted(districts),
        "table_committees_in_districts": len(in_scope),
        "committees_without_polygon": [{"code": c, "name": names.get(c, "")} for c in no_polygon],
        "committees_without_residents": [
            {"code": c, "name": names.get(c, "")} for c in no_residents
        ],
        "polygons_with_unknown_codes": unknown,
    }
