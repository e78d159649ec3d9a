"""The maps of a batch folder: the district outlines the city map is drawn from
(``city_districts.geojson``), and which district maps are out of date with the way a run shows
its maps (``--tiles``, ``--offline/--cdn``), so a rerun or ``lifecircle map BATCH_OUT`` redraws
them all alike."""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

from lifecircle.errors import InputError
from lifecircle.fileio import atomic_write
from lifecircle.manifest import MANIFEST, complete
from lifecircle.render.assets import LEAFLET_JS
from lifecircle.render.maps import basemap, load_outputs, make_map
from lifecircle.sources.districts import District

log = logging.getLogger(__name__)

DISTRICTS_FILE = "city_districts.geojson"  # the district outlines, for redrawing city_map.html


def is_batch_folder(out: Path) -> bool:
    """Whether ``out`` was written by ``lifecircle batch`` (it holds the batch manifest)."""
    return (out / MANIFEST).is_file()


def save_districts(path: Path, dists: list[District]) -> None:
    """Write the district outlines (id, name, folder; WGS 84) to ``path``, replacing it whole."""
    gdf = gpd.GeoDataFrame(
        {
            "district_id": [d.district_id for d in dists],
            "name": [d.name for d in dists],
            "dir": [d.dirname for d in dists],
        },
        geometry=[d.geometry for d in dists],
        crs=4326,
    )
    atomic_write(path, lambda p: p.write_text(gdf.to_json(), encoding="utf-8"))


def read_manifest(out: Path) -> dict[str, Any]:
    """The batch manifest of ``out``; an :class:`InputError` naming the folder if unreadable."""
    try:
        return dict(json.loads((out / MANIFEST).read_text("utf-8")))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{out}: {MANIFEST} is unreadable ({exc}); rerun `lifecircle batch` into it"
        ) from exc


def load_districts(out: Path, manifest: dict[str, Any]) -> tuple[list[District], list[str]]:
    """The districts of the batch folder ``out`` in the manifest's order, and notes.

    Folders written before ``city_districts.geojson`` existed lack the outlines: each finished
    district is then outlined by the union of its communities, and a note says so (the
    districts that never finished are left off the city map until the next batch run).
    """
    records: dict[str, dict[str, Any]] = manifest.get("districts", {})
    notes: list[str] = []
    shapes: dict[str, Any] = {}
    f = out / DISTRICTS_FILE
    if f.is_file():
        gdf = gpd.read_file(f)
        shapes = {
            str(i): g
            for i, g in zip(gdf["district_id"], gdf.geometry, strict=True)
            if g is not None and not g.is_empty
        }
    else:
        notes.append(
            f"{out}: no {DISTRICTS_FILE} (a batch folder from an older lifecircle): the city map "
            "outlines each district by its communities; rerun `lifecircle batch` for the outlines"
        )
    dists, missing = [], []
    for did, rec in records.items():
        geom = shapes.get(did)
        if geom is None and rec.get("status") == "ok":
            try:
                comm = gpd.read_file(out / rec["dir"] / "lifecircle.gpkg", layer="communities")
                geom = shapely.union_all(comm.to_crs(4326).geometry.to_numpy())
            except (OSError, ValueError, KeyError):
                geom = None
        if geom is None:
            missing.append(did)
            continue
        dists.append(District(did, str(rec.get("name", did)), geom, str(rec.get("dir", did))))
    if missing:
        notes.append(f"districts without an outline, left off the city map: {', '.join(missing)}")
    return dists, notes


def map_is_current(path: Path, *, tiles: str, offline: bool) -> bool:
    """Whether the map page at ``path`` was drawn on basemap ``tiles`` with Leaflet inlined
    (``offline``) or linked from the CDN."""
    try:
        html = path.read_text("utf-8")
    except OSError:
        return False
    head = html.split("<body", 1)[0]
    if (f'src="{LEAFLET_JS}"' in head) == offline:
        return False
    bm = basemap(tiles)
    if bm.url is None:
        return "L.tileLayer(" not in html
    return json.dumps(bm.url) in html


def district_folders(out: Path, records: dict[str, dict[str, Any]]) -> list[Path]:
    """The folders of the districts that finished, holding every output file."""
    return [
        out / str(rec["dir"])
        for rec in records.values()
        if rec.get("status") == "ok" and rec.get("dir") and complete(out / str(rec["dir"]))
    ]


def refresh_district_maps(
    out: Path,
    records: dict[str, dict[str, Any]],
    *,
    target: float,
    lang: str,
    tiles: str,
    offline: bool,
) -> list[str]:
    """Redraw the map of every finished district whose page is not drawn as this run asks
    (a district skipped as unchanged keeps the map of the run that computed it); returns the
    folders redrawn."""
    redrawn = []
    for folder in district_folders(out, records):
        if map_is_current(folder / "map.html", tiles=tiles, offline=offline):
            continue
        run = load_outputs(folder)
        draw = partial(make_map, run, target=target, lang=lang, tiles=tiles, offline=offline)
        atomic_write(folder / "map.html", draw)
        redrawn.append(folder.name)
    if redrawn:
        log.info("redrew %d district maps for this run's map settings", len(redrawn))
    return redrawn
