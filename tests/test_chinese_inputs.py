"""Chinese data: GCJ-02 / BD-09 coordinates, GB18030 and BOM files, Chinese headers, full-width
digits — checked against a maintained reference converter on thousands of points."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pyproj import Geod

from conftest import FIXTURES
from lifecircle import chinacoords as cc
from lifecircle.config import make_settings
from lifecircle.errors import InputError
from lifecircle.pipeline import Inputs, analyze
from lifecircle.sources.facilities import read_facilities_file
from lifecircle.sources.osm import overpass_json_to_osm_xml

ct = pytest.importorskip("coordTransform.coordTransform", reason="the reference converter")
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def china_points():
    rng = np.random.default_rng(2026)
    # 5,000 points across China's extent, from Xinjiang to Heilongjiang and Hainan
    return rng.uniform(73.7, 134.8, 5000), rng.uniform(18.2, 53.4, 5000)


def _metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def test_forward_matches_reference(china_points):
    lon, lat = china_points
    ref = np.array([ct.wgs84_to_gcj02(a, b) for a, b in zip(lon, lat, strict=True)])
    got = np.column_stack(cc.wgs84_to_gcj02(lon, lat))
    assert _metres(ref[:, 0], ref[:, 1], got[:, 0], got[:, 1]).max() < 0.001
    ref_bd = np.array([ct.wgs84_to_bd09(a, b) for a, b in zip(lon, lat, strict=True)])
    got_bd = np.column_stack(cc.wgs84_to_bd09(lon, lat))
    assert _metres(ref_bd[:, 0], ref_bd[:, 1], got_bd[:, 0], got_bd[:, 1]).max() < 0.001


def test_inverse_within_half_a_metre_and_round_trips_within_a_millimetre(china_points):
    lon, lat = china_points
    gcj = np.array([ct.wgs84_to_gcj02(a, b) for a, b in zip(lon, lat, strict=True)])
    back = cc.gcj02_to_wgs84(gcj[:, 0], gcj[:, 1])
    assert _metres(lon, lat, *back).max() < 0.5
    again = np.array([ct.wgs84_to_gcj02(a, b) for a, b in zip(*back, strict=True)])
    assert _metres(gcj[:, 0], gcj[:, 1], again[:, 0], again[:, 1]).max() < 0.001
    bd = np.array([ct.wgs84_to_bd09(a, b) for a, b in zip(lon, lat, strict=True)])
    back_bd = cc.bd09_to_wgs84(bd[:, 0], bd[:, 1])
    assert _metres(lon, lat, *back_bd).max() < 0.5
    # the one-step inverse most tools ship is off by metres: ours is not that
    crude = np.array([ct.gcj02_to_wgs84(a, b) for a, b in gcj])
    assert _metres(lon, lat, crude[:, 0], crude[:, 1]).max() > 1.0


def test_unknown_system():
    with pytest.raises(ValueError, match="unknown coordinate system"):
        cc.to_wgs84([121.0], [31.0], "wgs72")


# ------------------------------------------------------------------ files


def _write(path, text: str, encoding: str) -> None:
    path.write_bytes(text.encode(encoding))


CSV_ZH = (
    "编号,类别,名称,经度,纬度\n001,market,人民菜场,121.4750,31.2310\n"
    "002,health,社区卫生服务站,１２１．４７６０,３１．２３２０\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_chinese_csv_in_every_encoding(tmp_path, encoding):
    p = tmp_path / "f.csv"
    _write(p, CSV_ZH, encoding)
    f = read_facilities_file(p)
    assert list(f["name"]) == ["人民菜场", "社区卫生服务站"]
    assert list(f["facility_id"]) == ["f.csv:001", "f.csv:002"]  # codes keep leading zeros
    assert f.geometry.iloc[1].x == pytest.approx(121.476)  # full-width digits folded


def test_gbk_is_not_garbled_and_explicit_encoding_wins(tmp_path):
    p = tmp_path / "f.csv"
    _write(p, CSV_ZH, "gbk")
    assert read_facilities_file(p)["name"].iloc[0] == "人民菜场"
    with pytest.raises(InputError, match="cannot be decoded as utf-8"):
        read_facilities_file(p, encoding="utf-8")


def _small_osm(tmp_path):
    resp = json.loads((FIXTURES / "overpass_small.json").read_text("utf-8"))
    return overpass_json_to_osm_xml(resp, tmp_path / "small.osm"), resp


def _on_street_points(resp, n=4):
    el = [e for e in resp["elements"] if e["type"] == "node" and 1000 <= e["id"] < 1009]
    return [(e["lon"], e["lat"]) for e in el[:n]]


@pytest.mark.parametrize(
    ("system", "forward"), [("gcj02", "wgs84_to_gcj02"), ("bd09", "wgs84_to_bd09")]
)
def test_declared_offset_systems_land_on_the_streets(tmp_path, system, forward):
    osm, resp = _small_osm(tmp_path)
    rows = ["id,category,name,lon,lat"]
    for i, (lon, lat) in enumerate(_on_street_points(resp)):
        x, y = getattr(ct, forward)(lon, lat)
        rows.append(f"{i},market,m{i},{x:.8f},{y:.8f}")
    p = tmp_path / "amap.csv"
    p.write_text("\n".join(rows), encoding="utf-8")
    r = analyze(
        Inputs(osm=osm, facilities=(p,), facilities_crs=system, osm_facilities=False),
        make_settings(),
    )
    mine = r.facilities[r.facilities["source"] == "amap.csv"].to_crs(r.crs)
    # converted back to WGS 84, every facility stands on a street node: legs under 0.5 m
    from lifecircle.snapping import snap_points

    legs = snap_points(mine.geometry.to_numpy(), r.network, max_snap_m=50).leg_m
    assert np.nanmax(legs) < 0.5
    assert not any("GCJ-02" in n for n in r.summary["notes"])


def test_gcj02_file_declared_wgs84_is_flagged(tmp_path):
    osm, resp = _small_osm(tmp_path)
    rows = ["id,category,name,lon,lat"]
    for i, (lon, lat) in enumerate(_on_street_points(resp, 9)):
        x, y = ct.wgs84_to_gcj02(lon, lat)
        rows.append(f"{i},market,m{i},{x:.8f},{y:.8f}")
    p = tmp_path / "amap.csv"
    p.write_text("\n".join(rows), encoding="utf-8")
    r = analyze(Inputs(osm=osm, facilities=(p,), osm_facilities=False), make_settings())
    assert any("--facilities-crs gcj02" in n for n in r.summary["notes"])


def test_declared_crs_that_puts_points_far_away(tmp_path):
    osm, resp = _small_osm(tmp_path)
    p = tmp_path / "f.csv"
    (lon, lat) = _on_street_points(resp, 1)[0]
    p.write_text(f"id,category,name,lon,lat\n1,market,x,{lon},{lat}\n", encoding="utf-8")
    with pytest.raises(InputError, match="none of its 1 points falls in the analysis area"):
        analyze(Inputs(osm=osm, facilities=(p,), facilities_crs="EPSG:3857"), make_settings())


def test_communities_and_population_declared_gcj02(tmp_path):
    import geopandas as gpd
    import shapely

    osm, resp = _small_osm(tmp_path)
    # one community polygon around the grid, given in GCJ-02, and one resident point in GCJ-02
    box = [(121.4695, 31.2295), (121.4725, 31.2295), (121.4725, 31.2322), (121.4695, 31.2322)]
    gbox = [tuple(ct.wgs84_to_gcj02(x, y)) for x, y in box]
    comm = tmp_path / "c.geojson"
    gpd.GeoDataFrame(
        {"id": ["c"], "name": ["一"]}, geometry=[shapely.Polygon(gbox)], crs=4326
    ).to_file(comm)
    lon, lat = _on_street_points(resp, 5)[4]
    glon, glat = ct.wgs84_to_gcj02(lon, lat)
    pop = tmp_path / "p.csv"
    pop.write_text(f"经度,纬度,人口\n{glon:.8f},{glat:.8f},10\n", encoding="gb18030")
    r = analyze(
        Inputs(
            osm=osm,
            communities=comm,
            communities_crs="gcj02",
            population=pop,
            population_crs="gcj02",
        ),
        make_settings(),
    )
    got = r.communities.geometry.iloc[0]
    assert got.equals_exact(shapely.Polygon(box), tolerance=1e-7)
    assert r.residents["snap_m"].iloc[0] < 0.5  # the resident lands on its street node again


# ------------------------------------------------------------------ hostile facility lists


def _fac(tmp_path, text, name="f.csv", encoding="utf-8"):
    p = tmp_path / name
    _write(p, text, encoding)
    return p


@pytest.mark.parametrize("header", ["id,category,name,lon,lat\n", "编号,类别,名称,经度,纬度\n"])
def test_a_facility_file_with_a_header_and_no_rows_is_refused(tmp_path, header):
    p = _fac(tmp_path, header)
    with pytest.raises(InputError, match=r"(?s)--facilities .*f.csv.*header but no rows"):
        read_facilities_file(p)


def test_an_empty_vector_facility_layer_is_refused(tmp_path):
    import geopandas as gpd

    p = tmp_path / "f.geojson"
    gpd.GeoDataFrame({"category": []}, geometry=[], crs=4326).to_file(p)
    with pytest.raises(InputError, match=r"(?s)--facilities .*f.geojson.*no feature"):
        read_facilities_file(p)


def test_duplicate_ids_in_a_file_are_refused_with_lines(tmp_path):
    p = _fac(tmp_path, "编号,类别,名称,经度,纬度\n001,market,a,121.47,31.23\n"
             "002,market,b,121.48,31.23\n001,market,c,121.49,31.23\n"
             "002,health,d,121.50,31.23\n")  # fmt: skip
    with pytest.raises(InputError) as exc:
        read_facilities_file(p)
    msg = str(exc.value)
    assert "2 row(s) rejected" in msg
    assert "id '001' is given to 2 rows (lines 2, 4)" in msg  # same id, same category
    assert "id '002' is given to 2 rows (lines 3, 5)" in msg  # same id, elsewhere


def test_one_facility_in_two_categories_keeps_its_id(tmp_path):
    p = _fac(tmp_path, "id,category,name,lon,lat\n7,canteen,中心,121.47,31.23\n"
             "7,community_centre,中心,121.47,31.23\n")  # fmt: skip
    f = read_facilities_file(p)
    assert list(f["facility_id"]) == ["f.csv:7", "f.csv:7"]
    assert list(f["category"]) == ["canteen", "community_centre"]


def test_rows_without_an_id_get_their_line(tmp_path):
    p = _fac(tmp_path, "id,category,name,lon,lat\n,market,a,121.47,31.23\n9,market,b,121.48,31.2\n")
    assert list(read_facilities_file(p)["facility_id"]) == ["f.csv:line2", "f.csv:9"]
    q = _fac(tmp_path, "category,lon,lat\nmarket,121.47,31.23\n", name="g.csv")
    assert list(read_facilities_file(q)["facility_id"]) == ["g.csv:line2"]


def test_facility_ids_are_unique_across_files(tmp_path):
    from lifecircle.sources.facilities import read_facilities_files

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    text = "id,category,name,lon,lat\n1,market,x,121.47,31.23\n"
    a = _fac(tmp_path / "a", text, name="shops.csv")
    b = _fac(tmp_path / "b", text, name="shops.csv")
    c = _fac(tmp_path, text, name="other.csv")
    got = read_facilities_files([a, b, c])
    ids = [fid for _, f in got for fid in f["facility_id"]]
    assert ids == ["a/shops.csv:1", "b/shops.csv:1", "other.csv:1"]
    assert [f["source"].iloc[0] for _, f in got] == ["a/shops.csv", "b/shops.csv", "other.csv"]
    with pytest.raises(InputError, match=r"--facilities .*shops.csv: given twice"):
        read_facilities_files([a, c, tmp_path / "a" / ".." / "a" / "shops.csv"])


def test_projected_facility_csv_is_not_range_checked(tmp_path):
    from lifecircle.sources._files import parse_crs

    p = _fac(tmp_path, "id,category,name,lon,lat\n1,market,x,500000,3460000\n")
    f = read_facilities_file(p, crs=parse_crs("EPSG:4549", "--facilities-crs"))
    assert 119.9 < f.geometry.x.iloc[0] < 120.1


def test_own_categories_outside_the_taxonomy_get_a_hint_in_the_summary(tmp_path):
    osm, resp = _small_osm(tmp_path)
    rows = ["编号,类别,名称,经度,纬度"]
    for i, (lon, lat) in enumerate(_on_street_points(resp, 4)):
        rows.append(f"{i},{['clinic', 'elderly_care', '诊所', 'market'][i]},f{i},{lon},{lat}")
    p = tmp_path / "mine.csv"
    p.write_text("\n".join(rows), encoding="utf-8")
    r = analyze(Inputs(osm=osm, facilities=(p,), osm_facilities=False), make_settings())
    outside = r.summary["counts"]["user_categories_outside_taxonomy"]
    assert outside == {"clinic": "health", "elderly_care": "elder_care", "诊所": "health"}
    notes = [n for n in r.summary["notes"] if "not in the taxonomy" in n]
    assert len(notes) == 3
    assert any("'elderly_care'" in n and "'elder_care' (养老服务" in n for n in notes)
    assert all("outside the complete-life-circle basket" in n for n in notes)
    assert "clinic" in r.categories  # still analysed on its own


def test_a_list_with_both_wgs84_and_gcj02_columns_reads_the_declared_pair(tmp_path):
    """sites.csv of a GCJ-02 project carries lon/lat (WGS 84) and lon_gcj02/lat_gcj02: read
    with --facilities-crs gcj02 it must take the GCJ-02 pair, not shift the WGS 84 one."""
    import numpy as np

    from lifecircle.chinacoords import wgs84_to_gcj02
    from lifecircle.sources.facilities import read_facilities_file

    lon, lat = 121.4737, 31.2304
    glon, glat = (float(v[0]) for v in wgs84_to_gcj02(np.array([lon]), np.array([lat])))
    f = tmp_path / "sites.csv"
    f.write_text(
        "rank,candidate_id,name,category,lon,lat,lon_gcj02,lat_gcj02\n"
        f"1,c1,候选点,elder_care,{lon},{lat},{glon:.9f},{glat:.9f}\n",
        encoding="utf-8",
    )
    for crs in ("gcj02", None):
        pt = read_facilities_file(f, crs=crs).geometry.iloc[0]
        assert abs(pt.x - lon) < 1e-7 and abs(pt.y - lat) < 1e-7, crs


def test_control_characters_pasted_into_a_category_are_not_part_of_it(tmp_path):
    from lifecircle.sources.facilities import read_facilities_file

    f = tmp_path / "fac.csv"
    f.write_text(
        "id,category,name,lon,lat\n1,market\x07,a,121.47,31.23\n2,\x00park ,b,121.48,31.23\n",
        encoding="utf-8",
    )
    assert list(read_facilities_file(f)["category"]) == ["market", "park"]
