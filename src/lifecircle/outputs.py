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
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from lifecircle.config import Settings
from lifecircle.errors import InputError
from lifecircle.gpkg import write_gpkg
from lifecircle.pipeline import Inputs, Result

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
    inputs: Inputs, settings: Settings, *, files: dict[str, Any] | None = None
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


def write_outputs(
    result: Result,
    out: Path,
    *,
    inputs: Inputs,
    settings: Settings,
    overwrite: bool,
    files: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write every output into ``out`` atomically; returns the summary that was written."""
    from lifecircle.render.figures import write_figures
    from lifecircle.render.maps import make_map
    from lifecircle.render.report import render_report
    from lifecircle.render.spreadsheet import write_xlsx

    check_output_dir(out, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    default_mode(tmp, folder=True)
    try:
        result.coverage.to_csv(tmp / "coverage.csv", index=False, encoding="utf-8-sig")
        result.area_coverage.to_csv(tmp / "area_coverage.csv", index=False, encoding="utf-8-sig")
        result.denominators.to_csv(tmp / "denominators.csv", index=False, encoding="utf-8-sig")
        gpkg = tmp / "lifecircle.gpkg"
        layers = {
            "communities": result.communities,
            "facilities": result.facilities,
            "residents": result.residents,
            "service_areas": result.service_areas,
            "gaps": result.gaps,
        }
        write_gpkg(gpkg, {name: _finite(layer) for name, layer in layers.items()})
        write_xlsx(result, tmp / "coverage.xlsx", target=settings.target, lang=settings.lang)
        map_info = make_map(
            result,
            tmp / "map.html",
            target=settings.target,
            lang=settings.lang,
            tiles=settings.tiles,
            offline=settings.offline,
        )
        summary = dict(result.summary)
        summary["map"] = map_info
        summary["figures"] = write_figures(
            tmp,
            communities=result.communities,
            area_coverage=result.area_coverage,
            summary=summary,
            target=settings.target,
            lang=settings.lang,
        )
        summary["provenance"] = provenance(inputs, settings, files=files)
        summary.update(extra or {})
        summary["outputs"] = list(OUTPUT_FILES)
        (tmp / "summary.json").write_text(
            json.dumps(_jsonable(summary), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        render_report(tmp, lang=settings.lang)  # built from what was just written
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
