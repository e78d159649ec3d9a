"""Compare two sets of ``lifecircle analyze`` outputs file by file, value by value.

Each root holds one output folder per case (the same names on both sides). For every case it
compares ``coverage.csv``, ``area_coverage.csv``, every layer of ``lifecircle.gpkg`` (read with
geopandas, sorted, values and geometries compared exactly, as WKB) and ``summary.json`` (timings
aside), and prints one verdict per file or layer:

* ``identical``: byte for byte (CSV) or value for value and WKB for WKB (layers, JSON);
* ``intended: ...``: the only differences are later, deliberate changes, named;
* ``UNEXPLAINED: ...``: anything else, with what differs.

    python benchmarks/compare_versions.py OLD_ROOT NEW_ROOT [--cases helsinki city_100000]

Run it with the newer code on ``PYTHONPATH`` (it uses ``lifecircle.render.escape`` to undo the
CSV formula quote). The exit status is 1 when any difference is unexplained.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CSVS = ("coverage.csv", "area_coverage.csv")
NAME_COLUMNS = ("community_name", "name")
DTYPE_REASONS = {"weight": " (b4987ab: population weights are checked as numbers, kept as float)"}

# Differences in summary.json that later issues made on purpose: key path prefix -> reason.
# ("timings": not compared at all.)
SUMMARY_INTENDED: tuple[tuple[str, str], ...] = (
    ("/timings_s", "timings"),
    ("/output_timings_s", "timings"),
    ("/scenario/timings_s", "timings"),
    ("/crossings/baseline_routing_s", "timings"),
    ("/crossings/split_s", "timings"),
    ("/provenance/created_utc", "timings"),
    ("/provenance/presentation", "#9: presentation options (lang, tiles, offline) apart"),
    ("/provenance/parameters/lang", "#9: presentation options (lang, tiles, offline) apart"),
    ("/headline", "#12: headline in summary.json"),
    ("/warnings", "#12: warnings in summary.json"),
    ("/note_keys", "#12: notes are keyed"),
    ("/notes", "#12: notes are keyed (texts come from the key)"),
    ("/text_cells", "#12: escaped text cells counted"),
    ("/complete_life_circle/", "headline: basket categories with data counted"),
    ("/residents/counts", "headline: residents counted on/off the network"),
    ("/counts/communities_dropped_empty", "empty communities listed"),
    ("/outputs", "new output files (report, study cache)"),
    ("/map/", "maps inline Leaflet by default (--cdn), legend and controls"),
    ("/figures/font", "figures find a CJK font (fc-list)"),
    ("/figures/lang", "figures find a CJK font, so they are drawn in zh"),
    ("/preset/source", "preset's source text edited"),
    ("/provenance/parameters/preset/source", "preset's source text edited"),
    ("/network", "#13: walk network (cycleways with foot access kept, pedestrian areas joined)"),
)


class Verdict:
    """The differences found in one file or layer, each explained or not."""

    def __init__(self) -> None:
        self.intended: set[str] = set()
        self.unexplained: list[str] = []

    def __str__(self) -> str:
        if self.unexplained:
            more = f" (besides intended: {'; '.join(sorted(self.intended))})" * bool(self.intended)
            return "UNEXPLAINED: " + "; ".join(self.unexplained[:6]) + more
        if self.intended:
            return "intended: " + "; ".join(sorted(self.intended))
        return "identical"


# ---- CSV ----------------------------------------------------------------------------------------


def _rows(path: Path) -> list[list[str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def compare_csv(old: Path, new: Path) -> Verdict:
    """Byte-identical, or identical once the intended CSV changes of #12 are undone."""
    from lifecircle.render.escape import csv_untext

    v = Verdict()
    a, b = old.read_bytes(), new.read_bytes()
    if a == b:
        return v
    ra, rb = _rows(old), _rows(new)
    if b"\r\n" in b and b"\r\n" not in a:
        v.intended.add("#12: CRLF row ends")
    if len(ra) != len(rb):
        v.unexplained.append(f"{len(ra)} rows before, {len(rb)} after")
        return v
    if ra[0] != rb[0]:
        v.unexplained.append(f"header {ra[0]} -> {rb[0]}")
        return v
    header = ra[0]
    bad: dict[str, int] = {}
    for row_a, row_b in zip(ra[1:], rb[1:], strict=True):
        for col, x, y in zip(header, row_a, row_b, strict=True):
            if x == y:
                continue
            y2 = csv_untext(y)
            if y2 == x:
                v.intended.add("#12: leading ' before = + - @")
            elif col in NAME_COLUMNS and y2.strip() == x:
                v.intended.add("names keep surrounding white space")
            elif _same_number(x, y):
                v.intended.add("float printed differently, same value")
            else:
                bad[col] = bad.get(col, 0) + 1
    v.unexplained += [f"{n} cell(s) of {c} differ" for c, n in bad.items()]
    return v


def _same_number(x: str, y: str) -> bool:
    try:
        fx, fy = float(x), float(y)
    except ValueError:
        return False
    return fx == fy or (math.isnan(fx) and math.isnan(fy))


# ---- GeoPackage ---------------------------------------------------------------------------------


def _layers(path: Path) -> list[str]:
    import pyogrio

    return [str(x[0]) for x in pyogrio.list_layers(path)] if path.exists() else []


def _read(path: Path, layer: str) -> Any:
    import geopandas as gpd

    return gpd.read_file(path, layer=layer, engine="pyogrio")


def _single(geoms: np.ndarray) -> np.ndarray:
    """One-part multi-geometries as their part (the newer code writes one geometry type per
    layer, promoting single parts to multi)."""
    import shapely

    out = geoms.copy()
    multi = np.isin(shapely.get_type_id(geoms), [4, 5, 6]) & (
        shapely.get_num_geometries(geoms) == 1
    )
    out[multi] = shapely.get_geometry(geoms[multi], 0)
    return out


def _sorted(df: Any) -> Any:
    import shapely

    keys = [c for c in df.columns if c != "geometry"]
    tmp = df.copy()
    tmp["_wkb"] = shapely.to_wkb(_single(df.geometry.to_numpy()), hex=True)
    tmp = tmp.sort_values([*keys, "_wkb"], kind="stable", key=lambda s: s.astype(str))
    return tmp.reset_index(drop=True)


def _column_diff(col: str, a: pd.Series, b: pd.Series, v: Verdict) -> None:
    if a.equals(b):
        return
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
        x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
        same = (x == y) | (np.isnan(x) & np.isnan(y))
        if same.all():
            why = DTYPE_REASONS.get(col, "")
            v.intended.add(f"{col}: dtype {a.dtype} -> {b.dtype}, same values{why}")
            return
        v.unexplained.append(
            f"{col}: {int((~same).sum())} value(s) differ "
            f"(max |diff| {np.nanmax(np.abs(x - y)):.3g})"
        )
        return
    sa, sb = a.astype(str), b.astype(str)
    diff = sa != sb
    if not diff.any():
        v.intended.add(f"{col}: dtype {a.dtype} -> {b.dtype}, same text")
    elif col in NAME_COLUMNS and (sa[diff] == sb[diff].str.strip()).all():
        v.intended.add("names keep surrounding white space")
    else:
        v.unexplained.append(f"{col}: {int(diff.sum())} value(s) differ")


def compare_frames(
    a: Any, b: Any, v: Verdict, on_geometry: Callable[..., None] | None = None
) -> None:
    """Columns, then values, then geometries (WKB) of two layers, sorted the same way."""
    import shapely

    only_a = [c for c in a.columns if c not in b.columns]
    only_b = [c for c in b.columns if c not in a.columns]
    if only_a:
        v.unexplained.append(f"columns gone: {only_a}")
    if only_b:
        v.unexplained.append(f"new columns: {only_b}")
    if len(a) != len(b):
        v.unexplained.append(f"{len(a)} rows before, {len(b)} after")
        return
    common = [c for c in a.columns if c in b.columns]
    a, b = _sorted(a[common]), _sorted(b[common])
    for col in common:
        if col != "geometry":
            _column_diff(col, a[col], b[col], v)
    ga, gb = a.geometry.to_numpy(), b.geometry.to_numpy()
    same = shapely.to_wkb(ga) == shapely.to_wkb(gb)
    if same.all():
        return
    sa, sb = _single(ga), _single(gb)
    same1 = shapely.to_wkb(sa) == shapely.to_wkb(sb)
    if same1.all():
        v.intended.add("single parts stored as multi (one geometry type per layer)")
        return
    if on_geometry is not None:
        on_geometry(a, b, ~same1, v)
        return
    v.unexplained.append(f"{int((~same1).sum())} geometrie(s) differ")


def _service_area_clip(speeds: dict[str, float]) -> Callable[..., None]:
    """#9 clips each smaller service area by the next larger one after simplification, and a
    later fix no longer fills unreached land that touches the raster's border as a hole. So a
    category's largest reach may only lose such border pieces (never gain land), and a smaller
    one must lie within the larger and cover almost the same land as before."""

    def check(a: Any, b: Any, differ: np.ndarray, v: Verdict) -> None:
        import shapely

        reach = b["minutes"].to_numpy(dtype=float) * b["profile"].map(speeds).to_numpy(dtype=float)
        top = (
            pd.Series(reach).groupby(b["category"].to_numpy()).transform("max").to_numpy() == reach
        )
        crs = a.estimate_utm_crs()
        ga = a.geometry.to_crs(crs).to_numpy()[differ]
        gb = b.geometry.to_crs(crs).to_numpy()[differ]
        gained = shapely.area(shapely.difference(gb, ga))
        inter = shapely.area(shapely.intersection(ga, gb))
        union = shapely.area(shapely.union(ga, gb))
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 1.0)
        big = top[differ]
        if (gained[big] > 1.0).any():
            v.unexplained.append(
                f"{int((gained[big] > 1).sum())} largest service area(s) gained land"
            )
        elif big.any():
            v.intended.add(
                f"fix 878fad1: {int(big.sum())} largest service area(s) keep unreached land at the "
                "raster's border unfilled"
            )
        if iou.min() >= 0.98:
            v.intended.add(
                f"#9: {int((~big).sum())} smaller service area(s) clipped by the larger one "
                f"(IoU with before >= {iou.min():.4f})"
            )
        else:
            v.unexplained.append(f"service areas differ (IoU down to {iou.min():.3f})")

    return check


def _facilities(a: Any, new: Path, lb: list[str], v: Verdict) -> Any:
    """#12 keeps one geometry type per layer: the facilities layer holds a point for each
    facility (``shape`` says what it stands for) and the areas and lines are in
    ``facility_outlines`` / ``facility_lines``. Rebuild the old layer from them."""
    b = _read(new, "facilities")
    if "shape" not in b.columns or "shape" in a.columns:
        return b
    v.intended.add("#12: facilities are points; areas/lines in facility_outlines/_lines")
    b = b.drop(columns="shape")
    for layer in ("facility_outlines", "facility_lines"):
        if layer not in lb:
            continue
        keys = ["facility_id", "category"]
        outline = _read(new, layer)[[*keys, "geometry"]].rename(columns={"geometry": "_o"})
        b = b.merge(outline, on=keys, how="left", validate="many_to_one")
        hit = b["_o"].notna().to_numpy()
        geoms = b.geometry.to_numpy().copy()
        geoms[hit] = b["_o"].to_numpy()[hit]
        b = b.drop(columns="_o").set_geometry(geoms, crs=b.crs)
    return b


def compare_gpkg(old: Path, new: Path, speeds: dict[str, float]) -> dict[str, Verdict]:
    """One verdict per layer; the facility layers of #12 are compared as one."""
    out: dict[str, Verdict] = {}
    la, lb = _layers(old), _layers(new)
    split = ("facility_outlines", "facility_lines")
    for layer in dict.fromkeys([*la, *lb]):
        v = out.setdefault(layer, Verdict())
        if layer in split and layer not in la:
            v.intended.add("#12: facility areas/lines in their own layer (compared in facilities)")
            continue
        if layer not in lb or layer not in la:
            v.unexplained.append("layer only " + ("before" if layer in la else "after"))
            continue
        a = _read(old, layer)
        b = _facilities(a, new, lb, v) if layer == "facilities" else _read(new, layer)
        hook = _service_area_clip(speeds) if layer == "service_areas" else None
        compare_frames(a, b, v, hook)
    return out


# ---- summary.json -------------------------------------------------------------------------------


def _flat(d: Any, path: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, x in d.items():
            out.update(_flat(x, f"{path}/{k}"))
        return out
    return {path: d}


def compare_summary(old: Path, new: Path) -> Verdict:
    """Key by key; a difference is intended when its key path is in :data:`SUMMARY_INTENDED`."""
    v = Verdict()
    a = _flat(json.loads(old.read_text("utf-8")))
    b = _flat(json.loads(new.read_text("utf-8")))
    for key in sorted(set(a) | set(b)):
        if key in a and key in b and _equal(a[key], b[key]):
            continue
        reason = next((r for p, r in SUMMARY_INTENDED if key.startswith(p)), None)
        if reason == "timings":
            continue
        if reason is None:
            where = "only before" if key not in b else "only after" if key not in a else "changed"
            v.unexplained.append(f"{key} {where}")
        else:
            v.intended.add(reason)
    return v


def _equal(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    return bool(x == y)


# ---- main ---------------------------------------------------------------------------------------


def compare_case(old: Path, new: Path) -> list[tuple[str, Verdict]]:
    """Every compared file (and layer) of one case, with its verdict."""
    rows: list[tuple[str, Verdict]] = []
    for name in CSVS:
        rows.append((name, compare_csv(old / name, new / name)))
    speeds = json.loads((new / "summary.json").read_text("utf-8"))["preset"]["speeds_m_s"]
    for layer, v in compare_gpkg(old / "lifecircle.gpkg", new / "lifecircle.gpkg", speeds).items():
        rows.append((f"lifecircle.gpkg:{layer}", v))
    rows.append(("summary.json", compare_summary(old / "summary.json", new / "summary.json")))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--cases", nargs="*")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    cases = args.cases or sorted(
        p.name for p in args.old.iterdir() if (p / "summary.json").exists()
    )
    bad = False
    if args.markdown:
        print("| case | file or layer | verdict |\n|---|---|---|")
    for case in cases:
        if not (args.new / case / "summary.json").exists():
            print(f"{case}: no outputs after")
            bad = True
            continue
        for what, v in compare_case(args.old / case, args.new / case):
            bad |= bool(v.unexplained)
            print(f"| {case} | {what} | {v} |" if args.markdown else f"{case:24} {what:34} {v}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
