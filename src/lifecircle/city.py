"""The city-level outputs of a batch: city_coverage.csv, city_summary.json, city_map.html."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from lifecircle.config import Settings
from lifecircle.fileio import atomic_write
from lifecircle.headline import Headline, headline
from lifecircle.render.batchmaps import DISTRICTS_FILE, refresh_district_maps, save_districts
from lifecircle.render.citymap import make_city_map
from lifecircle.render.escape import read_people_csv, write_people_csv
from lifecircle.render.options import Presentation
from lifecircle.sources.citycache import CityCache
from lifecircle.sources.districts import District


def district_headlines(
    out: Path, dists: list[District], records: dict[str, Any]
) -> dict[str, Headline]:
    """Per finished district, its headline (:mod:`lifecircle.headline`), read from its own
    summary.json: a district can be ``ok`` and still be off the network."""
    found: dict[str, Headline] = {}
    for d in dists:
        f = out / d.dirname / "summary.json"
        if records[d.district_id]["status"] != "ok" or not f.is_file():
            continue
        try:
            found[d.district_id] = headline(json.loads(f.read_text("utf-8")))
        except (OSError, ValueError, KeyError):
            continue
    return found


def write_city_outputs(
    out: Path,
    dists: list[District],
    manifest: dict[str, Any],
    settings: Settings,
    cache: CityCache,
    files: dict[str, Any],
    rule: str | None,
    presentation: Presentation,
) -> dict[str, Any]:
    """city_coverage.csv (every finished district's area rows), city_map.html and the summary."""
    records = manifest["districts"]
    heads = district_headlines(out, dists, records)
    warned = {k: [w.as_dict() for w in hl.warnings] for k, hl in heads.items()}
    frames = []
    for d in dists:
        rec = records[d.district_id]
        f = out / d.dirname / "area_coverage.csv"
        if rec["status"] == "ok" and f.is_file():
            a = read_people_csv(f, dtype={"community_id": str})
            a = a.drop(columns=["community_id", "community_name"], errors="ignore")
            a.insert(0, "district_id", d.district_id)
            a.insert(1, "district_name", d.name)
            frames.append(a)
    city = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    quoted = atomic_write(out / "city_coverage.csv", lambda p: write_people_csv(city, p))
    ok = [d for d in dists if records[d.district_id]["status"] == "ok"]
    failed = {
        d.district_id: records[d.district_id].get("error", "")
        for d in dists
        if records[d.district_id]["status"] != "ok"
    }
    total = sum(float(records[d.district_id].get("residents") or 0) for d in ok)
    covered = sum(
        float(records[d.district_id].get("residents") or 0)
        * float(records[d.district_id]["complete_life_circle"]["coverage"])
        for d in ok
    )
    summary: dict[str, Any] = {
        "districts": len(dists),
        "ok": len(ok),
        "failed": failed,
        "community_assignment": rule,
        "target": settings.target,
        "preset": settings.preset.name,
        "text_cells": {"csv_quoted": quoted},  # district names given a leading ' (see README)
        "totals": {
            "residents": total,
            "complete_life_circle_coverage": covered / total if total else None,
            "districts_meeting_target": sum(
                bool(records[d.district_id]["complete_life_circle"]["meets_target"]) for d in ok
            ),
            "districts_with_warnings": sum(bool(warned.get(d.district_id)) for d in ok),
            # districts without population data count area samples, not residents
            "districts_counting_area_samples": sum(hl.area_samples for hl in heads.values()),
        },
        "per_district": {
            d.district_id: {
                k: records[d.district_id].get(k)
                for k in (
                    "name",
                    "dir",
                    "status",
                    "error",
                    "seconds",
                    "read_cache_s",
                    "outputs_s",
                    "peak_rss_mb",
                    "residents",
                )
            }
            | {
                "complete_life_circle": (
                    records[d.district_id].get("complete_life_circle") or {}
                ).get("coverage"),
                "warning": bool(warned.get(d.district_id)),
                "warnings": warned.get(d.district_id, []),
                "counts": (
                    ("area_samples" if heads[d.district_id].area_samples else "residents")
                    if d.district_id in heads
                    else None
                ),
            }
            for d in dists
        },
        "provenance": {
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "inputs": files,
            "city_cache": {
                "path": str(cache.path),
                **{
                    k: cache.meta[k] for k in ("ways", "features", "buildings", "seconds", "reused")
                },
            },
            "parameters": manifest["parameters"],
            "attribution": "© OpenStreetMap contributors (ODbL 1.0)",
        },
    }
    # districts skipped as unchanged keep the maps of an earlier run: draw them as this one asks
    summary["district_maps_redrawn"] = refresh_district_maps(
        out,
        records,
        target=settings.target,
        lang=presentation.lang,
        tiles=presentation.tiles,
        offline=presentation.offline,
    )
    save_districts(out / DISTRICTS_FILE, dists)  # so `lifecircle map` can redraw the city map
    make_city_map(
        out / "city_map.html",
        dists,
        records,
        heads,
        target=settings.target,
        lang=presentation.lang,
        tiles=presentation.tiles,
        offline=presentation.offline,
    )
    return summary
