"""The batch manifest: what a batch folder was made with, and per district a digest of its
inputs and parameters and the outcome, so that a rerun redoes only what changed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from lifecircle.config import Settings
from lifecircle.errors import InputError
from lifecircle.fileio import MARKER, explained, probe_writable
from lifecircle.fileio import write_json as write_json  # the batch writes its JSON with it
from lifecircle.inputs import Inputs

MANIFEST = "batch_manifest.json"


def digest(*parts: Any) -> str:
    """SHA-256 of the parts: bytes as they are, anything else as sorted JSON."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()


def frame_digest(gdf: gpd.GeoDataFrame) -> str:
    """Digest of a layer's attributes and exact geometries."""
    h = hashlib.sha256()
    for col in gdf.columns:
        h.update(str(col).encode())
        if col == gdf.geometry.name:
            h.update(b"".join(shapely.to_wkb(gdf.geometry.to_numpy())))
        else:
            h.update(pd.util.hash_pandas_object(gdf[col], index=False).to_numpy().tobytes())
    return h.hexdigest()


def run_parameters(inputs: Inputs, settings: Settings) -> dict[str, Any]:
    """What a batch folder is bound to: changing any of these needs ``--force``."""
    params = settings.as_dict()
    params.pop("processes", None)  # how the work is spread, not what it computes
    return {
        "settings": params,
        "osm_facilities": inputs.osm_facilities,
        "id_column": inputs.id_column,
        "name_column": inputs.name_column,
        "communities_crs": inputs.communities_crs,
        "facilities_crs": inputs.facilities_crs,
        "population_crs": inputs.population_crs,
        "age_share": inputs.age_share,
        "encoding": inputs.encoding,
    }


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _read_manifest(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The manifest at ``path``, or ``None`` and why it is no batch manifest."""
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except ValueError as exc:
        return None, f"not JSON: {exc}"
    except OSError as exc:
        return None, f"cannot be read: {exc.strerror or exc}"
    if not (
        isinstance(manifest, dict)
        and isinstance(manifest.get("parameters"), dict)
        and isinstance(manifest.get("districts"), dict)
        and all(isinstance(v, dict) for v in manifest["districts"].values())
    ):
        return None, "JSON without the parameters and districts of a batch run"
    return manifest, ""


def open_manifest(out: Path, params: dict[str, Any], *, force: bool) -> dict[str, Any]:
    """The manifest of the batch folder ``out``, or a new one; refuses a folder made with other
    parameters (unless ``force``, which forgets every district) or holding something else."""
    path = out / MANIFEST
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder; choose another path")
    probe_writable(out)  # now, not after the city is read
    if path.is_file():
        manifest, why = _read_manifest(path)
        if manifest is None:
            if force:  # start over: every district is recomputed, the file rewritten
                return {"format": 1, "parameters": params, "districts": {}}
            raise InputError(
                f"--out {out}: {MANIFEST} is unreadable ({why}); pass --force to start over"
            )
        if manifest["parameters"] != params and not force:
            old, new = _flat(manifest["parameters"]), _flat(params)
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise InputError(
                f"--out {out}: holds a batch run made with other parameters (changed: "
                f"{', '.join(changed)}); pass --force to recompute every district with the new "
                "ones, or choose another folder"
            )
        if force:
            manifest["districts"] = {}
        manifest["parameters"] = params
        return manifest
    # lifecircle's own city cache and marker (a run refused after reading the city leaves
    # them, and the next one reuses the cache) do not make a folder the user's
    ours = {"_cache", MARKER}
    if out.is_dir() and any(p for p in out.iterdir() if p.name not in ours) and not force:
        raise InputError(
            f"--out {out}: the folder is not empty and holds no batch run; choose an empty "
            "folder, or pass --force to write into it (its other files are kept)"
        )
    with explained(f"--out {out}"):
        out.mkdir(parents=True, exist_ok=True)
    return {"format": 1, "parameters": params, "districts": {}}


def complete(folder: Path) -> bool:
    """Whether a district folder holds every output file."""
    from lifecircle.outputs import OUTPUT_FILES

    return all((folder / f).is_file() for f in OUTPUT_FILES)
