"""The map's building blocks without a browser: encoded service areas, escaping that also holds
against folium's second template pass, and basemaps."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from lifecircle.render.encoded import decode_ring, encode_polygons, encode_ring
from lifecircle.render.escape import safe_text
from lifecircle.render.maps import CATEGORY_COLOURS, basemap


def test_encoding_matches_the_reference_example_and_round_trips():
    # the worked example of Google's encoded-polyline format
    ll = np.array([[-120.2, 38.5], [-120.95, 40.7], [-126.453, 43.252]])
    assert encode_ring(ll) == "_p~iF~ps|U_ulLnnqC_mqNvxq`@"
    rng = np.random.default_rng(1)
    pts = np.column_stack([121 + rng.random(500), 31 + rng.random(500)])
    assert np.abs(decode_ring(encode_ring(pts)) - np.round(pts * 1e5) / 1e5).max() < 1e-12


def test_polygons_keep_their_holes():
    outer = shapely.box(0, 0, 0.01, 0.01)
    donut = outer.difference(shapely.box(0.004, 0.004, 0.006, 0.006))
    multi = shapely.MultiPolygon([donut, shapely.box(0.02, 0, 0.03, 0.01)])
    enc = encode_polygons(multi)
    assert [len(p) for p in enc] == [2, 1]  # outer + hole, then a plain square
    back = shapely.Polygon(decode_ring(enc[0][0]), [decode_ring(enc[0][1])])
    assert back.area == pytest.approx(donut.area, rel=1e-6)


def test_all_rings_encoded_at_once_are_each_ring_encoded_alone():
    """Every ring starts again from zero, however many rings and parts come before it."""
    rng = np.random.default_rng(7)
    parts = []
    for k in range(6):  # parts with 0 to 3 holes, vertices of every size of delta
        x, y = 121 + k * 0.05, 31 + rng.random() * 0.01
        shell = shapely.box(x, y, x + 0.04, y + 0.04).buffer(rng.random() * 0.01)
        holes = [
            shapely.box(x + 0.005 + 0.01 * h, y + 0.01, x + 0.01 + 0.01 * h, y + 0.02)
            for h in range(k % 4)
        ]
        parts.append(shapely.Polygon(shell.exterior, [h.exterior for h in holes]))
    multi = shapely.MultiPolygon(parts)
    alone = [[encode_ring(np.asarray(r.coords)) for r in [p.exterior, *p.interiors]] for p in parts]
    assert encode_polygons(multi) == alone
    assert encode_polygons(parts[3]) == [alone[3]]
    assert encode_polygons(shapely.GeometryCollection([parts[0], shapely.Point(0, 0)])) == alone[:1]
    assert encode_polygons(shapely.Polygon()) == encode_polygons(shapely.MultiPolygon()) == []


@pytest.mark.parametrize("name", ["{{ 7*7 }}", "{% if x %}", "{# c", "}}{{", "${x}`"])
def test_names_cannot_reach_folium_templates(name):
    import folium
    import geopandas as gpd

    s = safe_text(name)
    assert not any(c in s for c in "{}`$<>")
    m = folium.Map(tiles=None)
    g = gpd.GeoDataFrame({"n": [s]}, geometry=[shapely.Point(0, 0)], crs=4326)
    folium.GeoJson(g.to_json(), tooltip=folium.GeoJsonTooltip(["n"])).add_to(m)
    html = m.get_root().render()  # raises on "{%" left unescaped; evaluates "{{ 7*7 }}" to 49
    assert s in html.replace("\\u0026", "&")  # there as text, not evaluated


def test_unknown_basemap_is_refused_with_choices():
    from lifecircle.errors import InputError

    with pytest.raises(InputError, match=r"Esri\.WorldGrayCanvas"):
        basemap("no-such-tiles")
    assert basemap("none").url is None and basemap("osm").url.startswith("https://tile.")
    assert basemap("Esri.WorldGrayCanvas").gcj02 is False and basemap("gaode").gcj02 is True
    with pytest.raises(InputError, match="API key"):
        basemap("CartoDB.Positron")  # xyzservices marks it as needing a key since 2026


# ---- a hand-made run: two square communities, one market and its nested service areas -------

UTM = "EPSG:32635"  # metres around Helsinki
X0, Y0 = 385000.0, 6671000.0


def tiny_run():
    """Two 400 m squares side by side (west meets the target, east does not), one market in the
    west one with 5- and 10-minute service areas (circles of 300 and 600 m), no gaps."""
    import geopandas as gpd

    from lifecircle.render.maps import SavedRun

    west = shapely.box(X0, Y0, X0 + 400, Y0 + 400)
    east = shapely.box(X0 + 400, Y0, X0 + 800, Y0 + 400)
    comm = gpd.GeoDataFrame(
        {
            "community_id": ["W1", "E2"],
            "community_name": ["West 西", "East 东"],
            "residents": [1200.0, 800.0],
            "cov_all_standard_10min": [0.95, 0.40],
            "cov_market_standard_10min": [0.95, 0.40],
            "median_dist_m_market": [150.0, 700.0],
        },
        geometry=[west, east],
        crs=UTM,
    ).to_crs(4326)
    market = shapely.Point(X0 + 200, Y0 + 200)
    fac = gpd.GeoDataFrame(
        {
            "category": ["market"],
            "name": ["Market 菜市场"],
            "residents_within_max_minutes": [1500.0],
        },
        geometry=[market],
        crs=UTM,
    ).to_crs(4326)
    sa = gpd.GeoDataFrame(
        {"category": ["market", "market"], "profile": ["standard"] * 2, "minutes": [5, 10]},
        geometry=[market.buffer(300), market.buffer(600)],
        crs=UTM,
    ).to_crs(4326)
    gaps = gpd.GeoDataFrame(
        {"community_id": [], "weight": [], "missing_categories": []},
        geometry=gpd.GeoSeries([], crs=4326),
        crs=4326,
    )
    summary = {
        "complete_life_circle": {"profile": "standard", "minutes": 10, "target": 0.85},
        "denominator": "hand-made residents",
        "categories": {"market": {"name_zh": "菜市场", "name_en": "Market", "icon": "市"}},
        "preset": {"minutes": [5, 10]},
        "area": {"crs": UTM, "analysis_buffer_m": 990.0},
    }
    return SavedRun(
        crs=UTM,
        summary=summary,
        communities=comm,
        facilities=fac,
        service_areas=sa,
        gaps=gaps,
        categories=["market"],
    )


def _head(html: str) -> str:
    return html.split("<body", 1)[0]


def _inlined(html: str) -> bool:
    """Whether the page carries Leaflet itself and links no copy of it."""
    from lifecircle.render.assets import LEAFLET_JS, leaflet_files

    return f'src="{LEAFLET_JS}"' not in _head(html) and leaflet_files()[0][:200] in html


def test_map_inlines_leaflet_by_default_and_links_it_only_with_cdn(tmp_path):
    import re

    from lifecircle.render.assets import LEAFLET_CSS, LEAFLET_JS
    from lifecircle.render.maps import make_map

    info = make_map(tiny_run(), tmp_path / "map.html", target=0.85, tiles="none")
    html = (tmp_path / "map.html").read_text("utf-8")
    assert info["offline"] is True
    assert re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', html) == []
    assert _inlined(html)
    info = make_map(tiny_run(), tmp_path / "cdn.html", target=0.85, tiles="none", offline=False)
    cdn = _head((tmp_path / "cdn.html").read_text("utf-8"))
    assert info["offline"] is False
    assert f'src="{LEAFLET_JS}"' in cdn and f'href="{LEAFLET_CSS}"' in cdn


def test_layer_control_starts_collapsed_and_legend_is_a_control(tmp_path):
    from lifecircle.render.maps import make_map

    make_map(tiny_run(), tmp_path / "map.html", target=0.85, tiles="none")
    html = (tmp_path / "map.html").read_text("utf-8")
    assert '"collapsed": true' in html and '"collapsed": false' not in html
    # a Leaflet control in the bottom-left corner, stacked above the scale bar, not a fixed div
    assert "position: 'bottomleft'" in html and "lc-legend" in html
    assert "position:fixed" not in html


def test_service_areas_let_clicks_through_in_a_cool_hue(tmp_path):
    import json
    import re

    from lifecircle.render.maps import make_map

    make_map(tiny_run(), tmp_path / "map.html", target=0.85, tiles="none")
    html = (tmp_path / "map.html").read_text("utf-8")
    styles = [json.loads(s) for s in re.findall(r"L\.polygon\(polys, (\{[^}]*\})\)", html)]
    assert len(styles) == 2  # the 10- and the 5-minute area
    assert all(s["interactive"] is False and s["dashArray"] for s in styles)
    for chunk in html.split("L.polygon(polys")[1:]:  # no tooltip of its own to catch the mouse
        assert "bindTooltip" not in chunk.split("addTo(group)")[0]


@pytest.mark.parametrize("colour", CATEGORY_COLOURS)
def test_category_colours_are_not_the_coverage_classes_hues(colour):
    """Coverage classes are red, orange and green; a category (its markers and service areas)
    is blue, teal, purple or magenta: hue between 180° and 340°."""
    import colorsys

    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    h, _l, s = colorsys.rgb_to_hls(r, g, b)
    assert 180 <= h * 360 <= 340 and s > 0.3


def test_cli_offline_is_the_default_cdn_switches(tmp_path):
    from typer.testing import CliRunner

    from lifecircle.cli.main import app
    from lifecircle.render.assets import LEAFLET_JS

    folder = tmp_path / "run"
    write_folder(folder, tiny_run())
    runner = CliRunner()
    for args, cdn in (([], False), (["--cdn"], True), (["--offline"], False)):
        r = runner.invoke(app, ["-q", "map", str(folder), "--tiles", "none", *args])
        assert r.exit_code == 0, r.output
        assert (f'src="{LEAFLET_JS}"' in _head((folder / "map.html").read_text("utf-8"))) is cdn


# ---- lifecircle map on a batch folder ----------------------------------------------------------


def write_folder(folder, run) -> None:
    """An output folder as analyze writes it, as far as the map needs (other files empty)."""
    import json

    from lifecircle.fileio import mark_written
    from lifecircle.outputs import OUTPUT_FILES

    folder.mkdir(parents=True)
    for name in OUTPUT_FILES:
        (folder / name).write_bytes(b"")
    for name in ("communities", "facilities", "service_areas", "gaps"):
        getattr(run, name).to_file(folder / "lifecircle.gpkg", layer=name, driver="GPKG")
    (folder / "summary.json").write_text(json.dumps(run.summary), encoding="utf-8")
    mark_written(folder, OUTPUT_FILES)  # as a run lists what it wrote


def make_batch(out, *, outlines: bool = True, cdn: bool = True):
    """A batch folder of two finished districts and one failed (no folder), every map on the
    CDN as an older lifecircle drew them by default."""
    import json

    import geopandas as gpd

    from lifecircle.render.batchmaps import DISTRICTS_FILE
    from lifecircle.render.maps import make_map

    run = tiny_run()
    records = {}
    for did, name in (("D1", "一区"), ("D2", "二区")):
        write_folder(out / f"{did}_{name}", run)
        make_map(run, out / f"{did}_{name}" / "map.html", target=0.85, tiles="none",
                 offline=not cdn)  # fmt: skip
        records[did] = {"district_id": did, "name": name, "dir": f"{did}_{name}", "status": "ok",
                        "residents": 2000.0, "complete_life_circle": {"coverage": 0.7}}  # fmt: skip
    records["D3"] = {"district_id": "D3", "name": "三区", "dir": "D3_三区", "status": "failed",
                     "error": "InputError: outside the extract"}  # fmt: skip
    manifest = {"format": 1, "parameters": {"settings": {"target": 0.85}}, "districts": records}
    (out / "batch_manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (out / "city_map.html").write_text("old", encoding="utf-8")
    if outlines:
        box = tuple(run.communities.total_bounds)
        gpd.GeoDataFrame(
            {"district_id": ["D1", "D2", "D3"], "name": ["一区", "二区", "三区"],
             "dir": ["D1_一区", "D2_二区", "D3_三区"]},
            geometry=[shapely.box(*box), shapely.box(*box).buffer(0.01), shapely.box(*box)],
            crs=4326,
        ).to_file(out / DISTRICTS_FILE)  # fmt: skip


@pytest.mark.parametrize("outlines", [True, False])
def test_map_command_on_a_batch_folder_redraws_every_map(tmp_path, outlines):
    from typer.testing import CliRunner

    from lifecircle.cli.main import app
    from lifecircle.render.assets import LEAFLET_JS

    out = tmp_path / "batch"
    make_batch(out, outlines=outlines)
    pages = [out / "D1_一区" / "map.html", out / "D2_二区" / "map.html"]
    assert all(f'src="{LEAFLET_JS}"' in p.read_text("utf-8") for p in pages)
    r = CliRunner().invoke(app, ["map", str(out), "--tiles", "none"])
    assert r.exit_code == 0, r.output
    assert "Wrote 2 district maps" in r.output and "city_map.html" in r.output
    for p in [*pages, out / "city_map.html"]:
        html = p.read_text("utf-8")
        assert _inlined(html), p
    city = (out / "city_map.html").read_text("utf-8")
    assert "D1_%E4%B8%80%E5%8C%BA/map.html" in city  # each district links its own map
    assert ("三区" in city) is outlines  # a failed district shows only with its outline
    assert ("city_districts.geojson" in r.output) is not outlines  # the older folder is noted
    assert not list(out.rglob(".*.tmp"))


def test_batch_maps_out_of_date_are_found_and_redrawn(tmp_path):
    from lifecircle.render.batchmaps import map_is_current, read_manifest, refresh_district_maps

    out = tmp_path / "batch"
    make_batch(out, cdn=True)
    page = out / "D1_一区" / "map.html"
    assert not map_is_current(page, tiles="none", offline=True)
    assert map_is_current(page, tiles="none", offline=False)
    assert not map_is_current(page, tiles="osm", offline=False)  # drawn without a basemap
    records = read_manifest(out)["districts"]
    kw = {"target": 0.85, "lang": "zh", "tiles": "none"}
    assert refresh_district_maps(out, records, offline=False, **kw) == []  # already as asked
    assert refresh_district_maps(out, records, offline=True, **kw) == ["D1_一区", "D2_二区"]
    assert map_is_current(page, tiles="none", offline=True)
    assert refresh_district_maps(out, records, offline=True, **kw) == []


def test_map_command_on_a_broken_batch_folder_names_it(tmp_path):
    from typer.testing import CliRunner

    from lifecircle.cli.main import app

    out = tmp_path / "batch"
    out.mkdir()
    (out / "batch_manifest.json").write_text("{not json", encoding="utf-8")
    r = CliRunner().invoke(app, ["map", str(out)])
    assert r.exit_code == 2 and "batch_manifest.json" in r.output


@pytest.mark.parametrize(
    ("page", "shown"),
    [
        ('"\\u4e2d\\u5fc3"', '"中心"'),  # Chinese back to characters
        ("\\\\u4e2d", "\\\\u4e2d"),  # an escaped backslash, then the letters u4e2d
        ("\\\\\\u4e2d", "\\\\中"),  # an escaped backslash, then an escape
        ("\\u003c\\u0026", "\\u003c\\u0026"),  # ASCII that matters to HTML stays escaped
        ("\\ud83d\\ude00 \\u2028", "\\ud83d\\ude00 \\u2028"),  # surrogates, line separator
    ],
)
def test_page_escapes_of_non_ascii_become_characters(page, shown):
    from lifecircle.render.maps import _unescape_non_ascii

    assert _unescape_non_ascii(page) == shown
