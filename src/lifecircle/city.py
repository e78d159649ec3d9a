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
from lifecircle.sources.districts import District, overlapping


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


#: what city_summary.json keeps of each district's manifest record
_DISTRICT_FIELDS = (
    "name", "dir", "status", "error", "seconds", "read_cache_s", "outputs_s", "peak_rss_mb",
    "residents",
)  # fmt: skip


def _city_table(out: Path, dists: list[District], records: dict[str, Any]) -> pd.DataFrame:
    """Every finished district's area rows, led by the district's id and name."""
    frames = []
    for d in dists:
        f = out / d.dirname / "area_coverage.csv"
        if records[d.district_id]["status"] == "ok" and f.is_file():
            a = read_people_csv(f, dtype={"community_id": str})
            a = a.drop(columns=["community_id", "community_name"], errors="ignore")
            a.insert(0, "district_id", d.district_id)
            a.insert(1, "district_name", d.name)
            frames.append(a)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _city_totals(
    ok: list[dict[str, Any]], heads: dict[str, Headline], warned: dict[str, list[Any]]
) -> dict[str, Any]:
    """The city's totals over the finished districts' records."""
    total = sum(float(r.get("residents") or 0) for r in ok)
    covered = sum(
        float(r.get("residents") or 0) * float(r["complete_life_circle"]["coverage"]) for r in ok
    )
    return {
        "residents": total,
        "complete_life_circle_coverage": covered / total if total else None,
        "districts_meeting_target": sum(
            bool(r["complete_life_circle"]["meets_target"]) for r in ok
        ),
        "districts_with_warnings": sum(bool(w) for w in warned.values()),
        # districts without population data count area samples, not residents
        "districts_counting_area_samples": sum(hl.area_samples for hl in heads.values()),
    }


def _district_entry(
    record: dict[str, Any], head: Headline | None, warnings: list[Any]
) -> dict[str, Any]:
    """One district in city_summary.json → per_district."""
    return {k: record.get(k) for k in _DISTRICT_FIELDS} | {
        "complete_life_circle": (record.get("complete_life_circle") or {}).get("coverage"),
        "warning": bool(warnings),
        "warnings": warnings,
        "counts": None if head is None else ("area_samples" if head.area_samples else "residents"),
    }


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
    city = _city_table(out, dists, records)
    quoted = atomic_write(out / "city_coverage.csv", lambda p: write_people_csv(city, p))
    ok = [d for d in dists if records[d.district_id]["status"] == "ok"]
    summary: dict[str, Any] = {
        "districts": len(dists),
        "ok": len(ok),
        "failed": {
            d.district_id: records[d.district_id].get("error", "")
            for d in dists
            if records[d.district_id]["status"] != "ok"
        },
        "community_assignment": rule,
        "target": settings.target,
        "preset": settings.preset.name,
        "text_cells": {"csv_quoted": quoted},  # district names given a leading ' (see README)
        "totals": _city_totals([records[d.district_id] for d in ok], heads, warned),
        # residents in the overlap of two districts are in both: said, never only summed twice
        "district_overlaps": overlapping(dists),
        "per_district": {
            d.district_id: _district_entry(
                records[d.district_id], heads.get(d.district_id), warned.get(d.district_id, [])
            )
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
