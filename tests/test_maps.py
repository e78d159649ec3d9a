"""The map's building blocks without a browser: encoded service areas, escaping that also holds
against folium's second template pass, and basemaps."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from lifecircle.render.encoded import decode_ring, encode_polygons, encode_ring
from lifecircle.render.escape import safe_text
from lifecircle.render.maps import basemap


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
