"""Slope: walking time over terrain from a digital elevation model (``--dem``).

Elevations are sampled from the DEM (a GeoTIFF in any CRS) by bilinear interpolation between the
centres of the four nearest cells, at every graph node and every ``step`` metres along each edge.
Each stretch of an edge costs its length times Tobler's factor for its slope in the direction of
travel::

    W(s) = 6 exp(-3.5 |s + 0.05|) km/h      (s = dh/dx, positive uphill)
    cost = length × W(0) / W(s)             ("flat-equivalent metres")

so flat ground costs exactly its length and every later step (minutes = metres / the preset's
speed, speed bands, service areas) is unchanged. W(0) ≈ 5.04 km/h is only the scale: the preset's
speed stays the speed on flat ground. Uphill and downhill differ, so the network keeps one cost
per direction (:attr:`lifecircle.network.Network.edge_cost_uv` / ``edge_cost_vu``).

Bridges and tunnels (``bridge=*``, ``tunnel=*``, ``layer`` other than 0) do not take the
terrain's elevation: the nodes inside a run of such edges take elevations interpolated between
the run's ends on the ground (harmonic interpolation weighted by edge length: linear along a
simple run), and each of their edges has the even slope between its two ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj
import rasterio
import rasterio.errors
import rasterio.windows
import scipy.sparse as sp
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import spsolve

from lifecircle.errors import CRSError, InputError
from lifecircle.isochrones import densified
from lifecircle.network import Network
from lifecircle.notes import note

if TYPE_CHECKING:
    import pandas as pd

    from lifecircle.study import Study

log = logging.getLogger(__name__)

#: Refuse a DEM when more of the walk network's length than this has no elevation under it.
MAX_NODATA_SHARE = 0.05
#: A point takes an elevation when at least this share of its bilinear weight is on valid cells.
MIN_VALID_WEIGHT = 0.5
OPTION = "--dem"


def tobler_kmh(slope: np.ndarray | float) -> np.ndarray:
    """Tobler's hiking function: walking speed (km/h) on a slope ``dh/dx`` (positive uphill)."""
    return np.asarray(6.0 * np.exp(-3.5 * np.abs(np.asarray(slope, dtype=float) + 0.05)))


def slope_factor(slope: np.ndarray | float) -> np.ndarray:
    """``W(0) / W(slope)``: how many flat metres one metre on this slope costs (1 on the flat,
    below 1 on gentle downhill, above 1 uphill and on steep downhill)."""
    s = np.asarray(slope, dtype=float)
    return np.asarray(np.exp(3.5 * (np.abs(s + 0.05) - 0.05)))


@dataclass(frozen=True)
class Dem:
    """The part of a DEM over the network: elevations (NaN = no data) and where they lie."""

    path: Path
    crs: CRS
    values: np.ndarray  # (rows, cols) float64, NaN where there is no data
    transform: Affine  # of ``values``
    cell_m: float  # the cell's size in metres, about

    def sample(self, x: np.ndarray, y: np.ndarray, crs: CRS) -> np.ndarray:
        """Elevation at points given in ``crs``, bilinear between cell centres; NaN outside
        the raster or where less than :data:`MIN_VALID_WEIGHT` of the weight has data."""
        tf = Transformer.from_crs(crs, self.crs, always_xy=True)
        dx, dy = tf.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        inv = ~self.transform
        dx, dy = np.asarray(dx, dtype=float), np.asarray(dy, dtype=float)
        col = inv.a * dx + inv.b * dy + inv.c
        row = inv.d * dx + inv.e * dy + inv.f
        h, w = self.values.shape
        inside = (col >= 0) & (col <= w) & (row >= 0) & (row <= h) & np.isfinite(col + row)
        # centre-based coordinates, held on the grid of centres at the raster's outer half cell
        c = np.clip(np.where(inside, col, 0.0) - 0.5, 0.0, w - 1.0)
        r = np.clip(np.where(inside, row, 0.0) - 0.5, 0.0, h - 1.0)
        c0 = np.minimum(np.floor(c).astype(np.int64), max(w - 2, 0))
        r0 = np.minimum(np.floor(r).astype(np.int64), max(h - 2, 0))
        fc, fr = c - c0, r - r0
        total = np.zeros(len(c))
        weight = np.zeros(len(c))
        for dr, dc, wt in (
            (0, 0, (1 - fr) * (1 - fc)),
            (0, 1, (1 - fr) * fc),
            (1, 0, fr * (1 - fc)),
            (1, 1, fr * fc),
        ):
            rr, cc = np.minimum(r0 + dr, h - 1), np.minimum(c0 + dc, w - 1)
            v = self.values[rr, cc]
            ok = np.isfinite(v)
            total += np.where(ok, wt * np.where(ok, v, 0.0), 0.0)
            weight += np.where(ok, wt, 0.0)
        good = inside & (weight >= MIN_VALID_WEIGHT)
        return np.where(good, total / np.where(good, weight, 1.0), np.nan)


def _open(p: Path) -> Any:
    """The DEM opened with rasterio, refused unless it is a raster with a CRS."""
    try:
        src = rasterio.open(p)
    except rasterio.errors.RasterioError as exc:
        raise InputError(
            f"{OPTION} {p}: not a readable raster ({exc}); give a GeoTIFF of elevations in metres"
        ) from exc
    if src.crs is None:
        src.close()
        raise CRSError(
            f"{OPTION} {p}: the raster has no coordinate reference system; set it (e.g. "
            f"gdal_edit.py -a_srs EPSG:4326 {p.name}) or export the DEM with its CRS"
        )
    return src


def check_dem(path: str | Path) -> None:
    """Refuse, before any heavy work, a DEM that is not a readable raster or has no CRS."""
    _open(Path(path)).close()


def read_dem(path: str | Path, net: Network) -> Dem:
    """Read the DEM cells over the network's extent.

    Raises
    ------
    InputError
        When the file is not a readable raster, has no CRS, or does not overlap the network.
    """
    p = Path(path)
    with _open(p) as src:
        kept = net.edge_geom[net.edge_kept] if net.edge_kept.any() else net.edge_geom
        x0, y0, x1, y1 = shapely.total_bounds(kept)
        try:
            crs = CRS.from_user_input(src.crs)
            tf = Transformer.from_crs(net.crs, crs, always_xy=True)
            bx0, by0, bx1, by1 = tf.transform_bounds(x0, y0, x1, y1, densify_pts=21)
        except (pyproj.exceptions.CRSError, pyproj.exceptions.ProjError) as exc:
            raise CRSError(
                f"{OPTION} {p}: its coordinate reference system ({src.crs}) cannot be used "
                f"({exc}); export the DEM in a geographic or projected CRS (e.g. EPSG:4326)"
            ) from exc
        if not np.isfinite([bx0, by0, bx1, by1]).all():
            raise CRSError(
                f"{OPTION} {p}: the walk network cannot be placed in the DEM's coordinate "
                f"reference system ({crs.name}); export the DEM in EPSG:4326 or a local "
                "projected CRS"
            )
        win = _window(src, (bx0, by0, bx1, by1), p, crs)
        try:
            band = src.read(1, window=win, masked=True)
        except rasterio.errors.RasterioError as exc:
            raise InputError(
                f"{OPTION} {p}: its cells cannot be read ({exc}); check that the file is complete"
            ) from exc
        values = np.ma.filled(band.astype(np.float64), np.nan)
        wtf = src.window_transform(win)
    cell_m = _cell_metres(wtf, crs, net.crs, (x0 + x1) / 2, (y0 + y1) / 2)
    return Dem(path=p, crs=crs, values=values, transform=wtf, cell_m=cell_m)


def _window(
    src: Any, bounds: tuple[float, float, float, float], p: Path, crs: CRS
) -> rasterio.windows.Window:
    """The raster's cells over ``bounds`` (in its CRS) and two cells around; refuses when none."""
    left, bottom, right, top = src.bounds
    bx0, by0, bx1, by1 = bounds
    if bx0 > right or bx1 < left or by0 > top or by1 < bottom:
        raise InputError(
            f"{OPTION} {p}: the DEM ({crs.name}, bounds {left:.6g}, {bottom:.6g}, {right:.6g}, "
            f"{top:.6g}) does not overlap the walk network (bounds {bx0:.6g}, {by0:.6g}, "
            f"{bx1:.6g}, {by1:.6g} in the DEM's CRS); give a DEM that covers the analysis area "
            "and the walking reach around it"
        )
    win = rasterio.windows.from_bounds(bx0, by0, bx1, by1, transform=src.transform)
    col0 = max(int(np.floor(win.col_off)) - 2, 0)
    row0 = max(int(np.floor(win.row_off)) - 2, 0)
    col1 = min(int(np.ceil(win.col_off + win.width)) + 2, src.width)
    row1 = min(int(np.ceil(win.row_off + win.height)) + 2, src.height)
    return rasterio.windows.Window(col0, row0, max(col1 - col0, 1), max(row1 - row0, 1))


def _cell_metres(wtf: Affine, dem_crs: CRS, net_crs: CRS, x: float, y: float) -> float:
    """About how many metres a DEM cell spans near (x, y) of the network's CRS."""
    to_dem = Transformer.from_crs(net_crs, dem_crs, always_xy=True)
    back = Transformer.from_crs(dem_crs, net_crs, always_xy=True)
    dx, dy = to_dem.transform(x, y)
    ex, ey = back.transform([dx, dx + abs(wtf.a)], [dy, dy + abs(wtf.e)])
    return float(max(abs(ex[1] - ex[0]), abs(ey[1] - ey[0]), 1e-3))


def _structure_z(net: Network, z: np.ndarray) -> np.ndarray:
    """Node elevations with the inside of bridge and tunnel runs interpolated between their
    ground ends (harmonic, weighted by 1 / edge length: linear along a simple run). A run with
    no end on the ground with an elevation is flat at the mean of its nodes' elevations."""
    structure = net.edge_structure
    if structure is None or not structure.any():
        return z
    n = net.n_nodes
    su, sv = net.edge_u[structure], net.edge_v[structure]
    on_structure = np.zeros(n, dtype=bool)
    on_structure[su] = on_structure[sv] = True
    ground = np.zeros(n, dtype=bool)
    ground[net.edge_u[~structure]] = ground[net.edge_v[~structure]] = True
    anchor = ground & on_structure & np.isfinite(z)
    inner = on_structure & ~anchor
    out = z.copy()
    adj = sp.coo_matrix((np.ones(len(su)), (su, sv)), shape=(n, n))
    _, comp = connected_components(adj, directed=False)
    has_anchor = np.zeros(comp.max() + 1, dtype=bool)
    has_anchor[comp[anchor]] = True
    # runs without a known ground end: flat at their mean elevation
    loose = inner & ~has_anchor[comp]
    if loose.any():
        zz = np.where(np.isfinite(z), z, 0.0)
        known = np.isfinite(z) & on_structure
        tot = np.bincount(comp[known], weights=zz[known], minlength=len(has_anchor))
        cnt = np.bincount(comp[known], minlength=len(has_anchor))
        mean = np.divide(tot, cnt, out=np.full(len(tot), np.nan), where=cnt > 0)
        out[loose] = mean[comp[loose]]
    solve = np.flatnonzero(inner & has_anchor[comp])
    if len(solve):
        out[solve] = _harmonic(net, structure, solve, anchor, z)
    return out


def _harmonic(
    net: Network, structure: np.ndarray, solve: np.ndarray, anchor: np.ndarray, z: np.ndarray
) -> np.ndarray:
    """Elevations of the ``solve`` nodes: each the length-weighted mean of its neighbours on
    structure edges, the ``anchor`` nodes held at ``z``."""
    n = net.n_nodes
    idx = np.full(n, -1, dtype=np.int64)
    idx[solve] = np.arange(len(solve))
    u, v = net.edge_u[structure], net.edge_v[structure]
    w = 1.0 / np.maximum(net.edge_len[structure], 0.01)
    loop = u != v
    u, v, w = u[loop], v[loop], w[loop]
    rows, cols, vals = [], [], []
    rhs = np.zeros(len(solve))
    for a, b in ((u, v), (v, u)):
        ia, ib = idx[a], idx[b]
        sel = ia >= 0
        rows.append(ia[sel])
        cols.append(ia[sel])
        vals.append(w[sel])
        both = sel & (ib >= 0)
        rows.append(ia[both])
        cols.append(ib[both])
        vals.append(-w[both])
        fixed = sel & anchor[b]
        np.add.at(rhs, ia[fixed], w[fixed] * z[b[fixed]])
    mat = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(solve), len(solve)),
    )
    return np.asarray(spsolve(mat.tocsc(), rhs), dtype=float).reshape(-1)


@dataclass(frozen=True)
class _Profile:
    """Every stretch of every edge: its edge, horizontal length and elevations at both ends."""

    edge: np.ndarray
    length: np.ndarray
    z0: np.ndarray
    z1: np.ndarray


def _profile(net: Network, dem: Dem, node_z: np.ndarray, step_m: float) -> _Profile:
    """Edges cut into stretches of at most ``step_m``; ground vertices sampled from the DEM,
    the ends held at their nodes' elevations, structures' vertices on the even slope between
    their ends."""
    # the service areas' densifier (a crossing link, a point's two ends, keeps one vertex and
    # so has no stretch: it costs its length)
    xy, idx = densified(net.edge_geom, step_m)
    z = dem.sample(xy[:, 0], xy[:, 1], net.crs)
    first = np.concatenate([[True], idx[1:] != idx[:-1]])
    last = np.concatenate([idx[1:] != idx[:-1], [True]])
    z[first] = node_z[net.edge_u[idx[first]]]
    z[last] = node_z[net.edge_v[idx[last]]]
    seg = np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))
    same = idx[1:] == idx[:-1]
    if net.edge_structure is not None and net.edge_structure.any():
        cum = np.concatenate([[0.0], np.cumsum(np.where(same, seg, 0.0))])
        start = np.maximum.accumulate(np.where(first, np.arange(len(idx)), 0))
        along = cum - cum[start]
        total = np.zeros(net.n_edges)
        np.add.at(total, idx[1:][same], seg[same])
        st = net.edge_structure[idx]
        e = idx[st]
        frac = np.divide(along[st], total[e], out=np.zeros(int(st.sum())), where=total[e] > 0)
        za, zb = node_z[net.edge_u[e]], node_z[net.edge_v[e]]
        z[st] = za + (zb - za) * frac
    return _Profile(edge=idx[1:][same], length=seg[same], z0=z[:-1][same], z1=z[1:][same])


def _edge_costs(net: Network, prof: _Profile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per edge, the cost u -> v and v -> u (flat-equivalent metres), and per edge the length
    without an elevation at both ends of a stretch (walked as flat)."""
    known = np.isfinite(prof.z0) & np.isfinite(prof.z1)
    slope = np.divide(
        np.where(known, prof.z1 - prof.z0, 0.0),
        prof.length,
        out=np.zeros(len(prof.length)),
        where=prof.length > 0,
    )
    m = net.n_edges
    flat_len = np.bincount(prof.edge, weights=prof.length, minlength=m)
    fw = np.bincount(prof.edge, weights=prof.length * slope_factor(slope), minlength=m)
    bw = np.bincount(prof.edge, weights=prof.length * slope_factor(-slope), minlength=m)
    unknown = np.bincount(prof.edge, weights=np.where(known, 0.0, prof.length), minlength=m)
    # the edge's length times its mean factor: exactly its length on flat ground
    ratio_fw = np.divide(fw, flat_len, out=np.ones(m), where=flat_len > 0)
    ratio_bw = np.divide(bw, flat_len, out=np.ones(m), where=flat_len > 0)
    return net.edge_len * ratio_fw, net.edge_len * ratio_bw, unknown


def apply_dem(net: Network, path: str | Path) -> Network:
    """The network with walking costs over the terrain of the DEM at ``path``.

    Parameters
    ----------
    net
        The walk graph (not changed).
    path
        A raster of elevations in metres (GeoTIFF), in any CRS.

    Returns
    -------
    Network
        A copy with ``node_z``, ``edge_cost_uv``, ``edge_cost_vu`` and ``terrain`` (what the
        DEM gave: elevation range, the share walked as flat for lack of data, ...).

    Raises
    ------
    InputError
        When the DEM cannot be read, has no CRS, does not overlap the network, or has no data
        under more than :data:`MAX_NODATA_SHARE` of the network's length.
    """
    dem = read_dem(path, net)
    p = dem.path
    ground_z = dem.sample(net.node_xy[:, 0], net.node_xy[:, 1], net.crs)
    node_z = _structure_z(net, ground_z)
    step = float(np.clip(dem.cell_m / 2.0, 5.0, 50.0))
    prof = _profile(net, dem, node_z, step)
    cost_uv, cost_vu, unknown = _edge_costs(net, prof)
    kept = net.edge_kept
    total = float(net.edge_len[kept].sum())
    share = float(unknown[kept].sum() / total) if total > 0 else 0.0
    z_kept = node_z[np.unique(np.concatenate([net.edge_u[kept], net.edge_v[kept]]))]
    if not np.isfinite(z_kept).any():
        raise InputError(
            f"{OPTION} {p}: the DEM holds no data under the walk network (every cell there is "
            "nodata); give a DEM with elevations over the analysis area"
        )
    if share > MAX_NODATA_SHARE:
        raise InputError(
            f"{OPTION} {p}: {share:.0%} of the walk network's length lies where the DEM has no "
            f"data (at most {MAX_NODATA_SHARE:.0%} is walked as flat); give a DEM that covers "
            "the analysis area and the walking reach around it, or fill its voids (e.g. "
            "gdal_fillnodata.py)"
        )
    structure = net.edge_structure if net.edge_structure is not None else np.zeros(0, bool)
    steeper = np.maximum(cost_uv, cost_vu)[kept]
    terrain: dict[str, Any] = {
        "dem": str(p),
        "dem_crs": dem.crs.to_string(),
        "sampling": "bilinear",
        "sample_step_m": round(step, 2),
        "elevation_min_m": round(float(np.nanmin(z_kept)), 2) + 0.0,  # never -0.0
        "elevation_max_m": round(float(np.nanmax(z_kept)), 2) + 0.0,
        "nodata_length_share": round(share, 6),
        "nodes_without_elevation": int((~np.isfinite(z_kept)).sum()),
        "structure_edges": int(structure[kept].sum()) if len(structure) else 0,
        "length_km": round(total / 1000, 3),
        "uphill_cost_km": round(float(steeper.sum()) / 1000, 3),
    }
    log.info(
        "DEM %s: elevations %.1f–%.1f m; %.1f%% of the network walked as flat for lack of data",
        p.name,
        terrain["elevation_min_m"],
        terrain["elevation_max_m"],
        100 * share,
    )
    return replace(
        net,
        node_z=node_z,
        edge_cost_uv=cost_uv,
        edge_cost_vu=cost_vu,
        terrain=terrain,
        _csr=None,
    )


def terrain_notes(net: Network) -> list[str]:
    """The notes of a network with terrain: the DEM used, and the part walked as flat."""
    info = net.terrain
    if not info:
        return []
    notes: list[str] = [
        note(
            "dem_used",
            file=Path(info["dem"]).name,
            z_min=info["elevation_min_m"],
            z_max=info["elevation_max_m"],
            structures=info["structure_edges"],
        )
    ]
    if info["nodata_length_share"] > 0:
        notes.append(
            note(
                "dem_partial_nodata",
                file=Path(info["dem"]).name,
                share=info["nodata_length_share"],
            )
        )
    return notes


def flat_comparison(
    study: Study,
    res: pd.DataFrame,
    categories: list[str],
    empty: list[str],
    dem: dict[str, Any],
) -> tuple[dict[str, Any], list[str]]:
    """How the terrain changed coverage: the headline shares (complete life circle over the
    basket categories with data, and each category within its threshold) with the terrain
    (``dem``: ``summary.json → complete_life_circle``, which holds them) and on flat ground
    (the same network, facilities and residents, one more search per category).

    Returns the ``terrain`` section of ``summary.json`` and its notes (the DEM used, the part
    walked as flat, the change against flat ground).
    """
    from lifecircle.coverage import headline_shares
    from lifecircle.naming import dist_col
    from lifecircle.routing import origin_distances_on

    net = study.network
    info = dict(net.terrain or {})
    if not net.has_terrain:
        return info, []
    notes = terrain_notes(net)
    preset = study.settings.preset
    profile, minutes = preset.headline_profile, max(preset.minutes)
    flat_res = res.copy()
    distances = origin_distances_on(
        net.flat(),
        [study.access[cat].snap for cat in categories],
        study.residents.snap,
        limit_m=study.search_limit_m,
        processes=study.settings.processes,
    )
    for cat, d in zip(categories, distances, strict=True):
        flat_res[dist_col(cat)] = d
    flat_sh = headline_shares(
        flat_res,
        categories,
        preset,
        speed_m_s=preset.speeds_m_s[profile],
        minutes=minutes,
        empty=empty,
    )
    info["comparison"] = {
        "profile": profile,
        "minutes": minutes,
        "coverage_with_data_dem": dem["coverage_with_data"],
        "coverage_with_data_flat": flat_sh["coverage_with_data"],
        "within_threshold_dem": dem["within_threshold"],
        "within_threshold_flat": flat_sh["within_threshold"],
    }
    a, b = dem["coverage_with_data"], flat_sh["coverage_with_data"]
    within_dem = dict(dem["within_threshold"])
    within_flat = dict(flat_sh["within_threshold"])  # type: ignore[call-overload]
    both = [
        c for c in categories if within_dem.get(c) is not None and within_flat.get(c) is not None
    ]
    if a is None or b is None or not both:
        return info, notes
    most = max(both, key=lambda c: abs(within_dem[c] - within_flat[c]))
    return info, [
        *notes,
        note(
            "dem_coverage_change",
            coverage_dem=float(a),
            coverage_flat=float(b),  # type: ignore[arg-type]
            change=float(a) - float(b),  # type: ignore[arg-type]
            minutes=minutes,
            category=most,
            category_dem=float(within_dem[most]),
            category_flat=float(within_flat[most]),
        ),
    ]
