"""Write an analysis to an output folder: coverage.csv, lifecircle.gpkg, summary.json, map.html.

Everything is written into a temporary sibling folder first and moved into place only when all
files are complete, so a failure never leaves a half-written folder or destroys an earlier run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import asdict, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from lifecircle.config import Settings
from lifecircle.errors import InputError
from lifecircle.headline import with_headline
from lifecircle.inputs import Inputs
from lifecircle.render.escape import gpkg_safe_frame, write_people_csv
from lifecircle.render.figures import write_figures
from lifecircle.render.maps import make_map
from lifecircle.render.options import Presentation
from lifecircle.render.report import render_report
from lifecircle.render.spreadsheet import write_xlsx
from lifecircle.result import Result
from lifecircle.study import Study, study_cache

log = logging.getLogger(__name__)

OUTPUT_FILES = (
    "coverage.csv",
    "area_coverage.csv",
    "coverage.xlsx",
    "denominators.csv",
    "lifecircle.gpkg",
    "summary.json",
    "map.html",
    "coverage_map.png",
    "coverage_chart.png",
    "report.html",
)


def default_mode(path: Path, *, folder: bool = False) -> None:
    """Give a temporary file or folder the permissions a plainly created one would have
    (``mkstemp`` / ``mkdtemp`` make them private), before it is moved into place."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod((0o777 if folder else 0o666) & ~umask)


def check_output_dir(out: Path, *, overwrite: bool) -> None:
    """Refuse a non-empty output folder unless ``overwrite``; refuse a path that is a file."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder; choose another path")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError(
            f"--out {out}: the folder is not empty; pass --overwrite to replace its contents, "
            "or choose another folder"
        )


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_files(inputs: Inputs) -> dict[str, Any]:
    """Path, SHA-256 and size of every input file."""
    files: dict[str, Any] = {}
    for label, p in [
        ("osm", inputs.osm),
        ("area", inputs.area),
        ("communities", inputs.communities),
        ("population", inputs.population),
        ("code_table", inputs.code_table),
        ("categories", inputs.categories),
        ("walk_filter", inputs.walk_filter),
    ] + [(f"facilities[{i}]", f) for i, f in enumerate(inputs.facilities)]:
        if p is not None:
            files[label] = {
                "path": str(p),
                "sha256": sha256(Path(p)),
                "bytes": Path(p).stat().st_size,
            }
    return files


def provenance(
    inputs: Inputs,
    settings: Settings,
    *,
    files: dict[str, Any] | None = None,
    presentation: Presentation | None = None,
) -> dict[str, Any]:
    """Where a run's inputs came from and with what it ran; ``files`` reuses digests already
    computed (the batch hashes a city's files once, not once per district)."""
    if files is None:
        files = input_files(inputs)
    versions: dict[str, str | None] = {}
    for pkg in (
        "lifecircle",
        "numpy",
        "scipy",
        "pandas",
        "shapely",
        "pyproj",
        "geopandas",
        "osmium",
        "osmnx",
        "networkx",
        "rasterio",
        "folium",
    ):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": files,
        "place": inputs.place,
        "options": {
            "facilities_crs": inputs.facilities_crs,
            "communities_crs": inputs.communities_crs,
            "population_crs": inputs.population_crs,
            "osm_facilities": inputs.osm_facilities,
            "id_column": inputs.id_column,
            "name_column": inputs.name_column,
            "categories_file": str(inputs.categories) if inputs.categories else None,
            "walk_filter_file": str(inputs.walk_filter) if inputs.walk_filter else None,
        },
        "parameters": settings.as_dict(),
        "presentation": asdict(presentation or Presentation()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "attribution": "© OpenStreetMap contributors (ODbL 1.0)",
    }


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o


def _finite(df: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f":
            out[c] = out[c].replace([np.inf, -np.inf], np.nan)
    return out


def text_cleaning(*, csv_quoted: int, xlsx: int, gpkg: int) -> tuple[dict[str, int], list[str]]:
    """What was done to names so that each file shows them as text: the counts (summary.json's
    ``text_cells``) and a note for each kind of change that was made."""
    notes = []
    if csv_quoted:
        notes.append(
            f"{csv_quoted} CSV cell(s) begin with =, +, -, @, a tab or a carriage return; they "
            "were written with a leading ' so that Excel shows them as text rather than running "
            "them as formulas (remove that one quote to get the value as it was)."
        )
    if xlsx:
        notes.append(
            f"{xlsx} coverage.xlsx cell(s) held control characters (such as NUL or BEL) that a "
            "workbook cannot store; they were removed there and the rest of the text kept."
        )
    if gpkg:
        notes.append(
            f"{gpkg} lifecircle.gpkg value(s) held NUL characters, which a GeoPackage text field "
            "cannot store; they were removed there and the rest of the text kept."
        )
    return {"csv_quoted": csv_quoted, "xlsx_cleaned": xlsx, "gpkg_nul_removed": gpkg}, notes


def write_outputs(
    result: Result,
    out: Path,
    *,
    inputs: Inputs,
    settings: Settings,
    presentation: Presentation | None = None,
    overwrite: bool,
    files: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    study: tuple[Study, str] | None = None,
) -> dict[str, Any]:
    """Write every output into ``out`` atomically; returns the summary that was written.

    ``study`` (a study and its :func:`~lifecircle.study.study_key`) is saved in the folder's
    ``_cache`` so that later commands on the folder need not read the inputs again.
    """
    shown = presentation or Presentation()
    check_output_dir(out, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    default_mode(tmp, folder=True)
    try:
        quoted = write_people_csv(result.coverage, tmp / "coverage.csv")
        quoted += write_people_csv(result.area_coverage, tmp / "area_coverage.csv")
        quoted += write_people_csv(result.denominators, tmp / "denominators.csv")
        gpkg = tmp / "lifecircle.gpkg"
        layers = {
            "communities": result.communities,
            "facilities": result.facilities,
            "residents": result.residents,
            "service_areas": result.service_areas,
            "gaps": result.gaps,
        }
        nul = 0
        for name, layer in layers.items():
            clean, n = gpkg_safe_frame(_finite(layer))
            clean.to_file(gpkg, layer=name, driver="GPKG", engine="pyogrio")
            nul += n
        # the headline (verdict, warnings) is decided once, from the summary every output reads
        record = provenance(inputs, settings, files=files, presentation=shown)
        summary = with_headline(result.summary | {"provenance": record})
        result = replace(result, summary=summary)
        xlsx = write_xlsx(result, tmp / "coverage.xlsx", target=settings.target, lang=shown.lang)
        counts, notes = text_cleaning(csv_quoted=quoted, xlsx=xlsx["cleaned_cells"], gpkg=nul)
        summary["text_cells"] = counts
        summary["notes"] = [*summary.get("notes", []), *notes]
        summary["map"] = make_map(
            result,
            tmp / "map.html",
            target=settings.target,
            lang=shown.lang,
            tiles=shown.tiles,
            offline=shown.offline,
        )
        summary["figures"] = write_figures(
            tmp,
            communities=result.communities,
            area_coverage=result.area_coverage,
            summary=summary,
            target=settings.target,
            lang=shown.lang,
        )
        summary.update(extra or {})
        summary["outputs"] = list(OUTPUT_FILES)
        (tmp / "summary.json").write_text(
            json.dumps(_jsonable(summary), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        render_report(tmp, lang=shown.lang)  # built from what was just written
        if study is not None:
            study[0].save(study_cache(tmp), key=study[1])
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "previous")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %s", out)
    return summary
