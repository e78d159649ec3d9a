"""report.html: written by analyze, rebuilt by `lifecircle report`, names from data escaped."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lifecircle.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def out(tmp_path_factory, helsinki, comm_file):
    out = tmp_path_factory.mktemp("report") / "out"
    args = ["-q", "analyze", "--osm", str(helsinki), "--communities", str(comm_file)]
    r = runner.invoke(app, [*args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_report_written_with_escaped_names(out):
    html = (out / "report.html").read_text("utf-8")
    assert "15分钟社区生活圈评估报告" in html
    assert "East &lt;b&gt;" in html and "East <b>" not in html  # a community name from data
    assert "© OpenStreetMap" in html
    # provenance: each input's file and the start of its digest, as summary.json records them
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    for v in summary["provenance"]["inputs"].values():
        assert f"<code>{v['sha256'][:16]}…</code>" in html


RAW_KEYS = ("osm_residential_buildings_floor_area_estimate", "file:communities.geojson")


def _text(html: str) -> str:
    """What a reader sees: the page without its tags and styles."""
    import html as h
    import re

    body = re.sub(r"<style.*?</style>|<script.*?</script>", "", html, flags=re.S)
    return h.unescape(re.sub(r"<[^>]+>", " ", body))


def test_chinese_outputs_speak_chinese(out, tmp_path):
    """--lang zh (the default): notes, denominator, community source, thresholds and input names
    in Chinese in the report; the denominator in words on the map and in the spreadsheet; no
    raw keys and no reference to a file users do not have."""
    import json

    from openpyxl import load_workbook

    from lifecircle.notes import NOTES, denominator_label

    s = json.loads((out / "summary.json").read_text("utf-8"))
    assert s["notes"] and all(isinstance(n, str) for n in s["notes"])  # as before: English
    keys = [k["key"] for k in s["note_keys"]]
    assert "empty_category" in keys and set(keys) <= set(NOTES)
    text = _text((out / "report.html").read_text("utf-8"))
    for english in s["notes"]:
        assert english not in text
    assert "一处也没有" in text
    for raw in (*RAW_KEYS, "see STANDARDS", "has no facility", "are not routed on"):
        assert raw not in text, raw
    assert "按 OSM 居住建筑估算的居民" in text and "用户文件 communities.geojson" in text
    assert "10 分钟" in text and "OpenStreetMap 数据 (--osm)" in text
    map_text = _text((out / "map.html").read_text("utf-8"))
    assert denominator_label(s["denominator"], "zh") in (out / "map.html").read_text("utf-8")
    assert "Denominator" not in map_text and "service area" not in map_text
    ws = load_workbook(out / "coverage.xlsx").worksheets[0]
    cells = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    assert denominator_label(s["denominator"], "zh") in cells
    assert not any(raw in c for raw in RAW_KEYS for c in cells)
    assert "10 分钟" in cells


def test_english_report_rebuilt_from_the_same_summary(out, tmp_path):
    import json
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    r = runner.invoke(app, ["report", str(copy), "--lang", "en"])
    assert r.exit_code == 0, r.output
    text = _text((copy / "report.html").read_text("utf-8"))
    s = json.loads((copy / "summary.json").read_text("utf-8"))
    empty = [k["params"]["category"] for k in s["note_keys"] if k["key"] == "empty_category"]
    name = s["categories"][empty[0]]["name_en"]
    assert f"Category '{name}' has no facility" in text
    assert "residents estimated from OSM residential buildings" in text
    assert "一处也没有" not in text and RAW_KEYS[0] not in text


def test_report_command_rebuilds_in_english(out):
    r = runner.invoke(app, ["report", str(out), "--lang", "en"])
    assert r.exit_code == 0, r.output
    html = (out / "report.html").read_text("utf-8")
    assert "15-minute life circle report" in html and "Primary school" in html
    assert not list(out.glob(".report.*"))  # no temporary file left behind


def test_report_on_a_folder_that_is_not_an_output(tmp_path):
    r = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "no such output folder" in r.output
    r = runner.invoke(app, ["report", str(tmp_path)])
    assert r.exit_code == 2 and "not a `lifecircle analyze` output folder" in r.output


def test_map_command_rebuilds_from_the_folder(out):
    before = (out / "map.html").read_text("utf-8")
    r = runner.invoke(app, ["map", str(out), "--lang", "en"])
    assert r.exit_code == 0, r.output
    html = (out / "map.html").read_text("utf-8")
    assert html != before and "Primary school" in html
    assert "<script>alert" not in html and "East <b>" not in html
    r = runner.invoke(app, ["map", str(out.parent / "nope")])
    assert r.exit_code == 2


def test_community_popups_name_what_is_missing_and_how_far(out):
    import geopandas as gpd

    comm = gpd.read_file(out / "lifecircle.gpkg", layer="communities")
    assert "median_dist_m_market" in comm.columns
    med = comm["median_dist_m_market"].dropna()
    assert len(med) and (med >= 0).all()
    import re

    # the labels in each language, whatever language earlier tests rebuilt the map in
    for lang, label in (("zh", "步行距离中位数"), ("en", "median walk")):
        r = runner.invoke(app, ["map", str(out), "--lang", lang])
        assert r.exit_code == 0, r.output
        raw = (out / "map.html").read_text("utf-8")
        # the GeoJSON is embedded with \\uXXXX escapes: decode them to see what the browser gets
        html = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), raw)
        assert label in html
        # shown as text in popups and tooltips; the raw name only inside the escaped JSON
        assert "East &lt;b&gt;" in html and "East <b>" not in raw


def test_hexbin_sums_weights_and_keeps_points_in_their_hexagon():
    import geopandas as gpd
    import numpy as np
    import shapely

    from lifecircle.render.hexbin import hexbin

    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 2000, (3000, 2))
    pts = gpd.GeoDataFrame({"w": rng.uniform(1, 5, 3000)}, geometry=shapely.points(xy), crs=4549)
    hexes = hexbin(pts, "w", 100.0)
    assert hexes["weight"].sum() == pytest.approx(pts["w"].sum())
    assert hexes["points"].sum() == 3000
    # every point lies in the hexagon it was counted in: the hexagons cover all points once
    joined = gpd.sjoin(pts, hexes, predicate="within")
    assert joined.index.is_unique and len(joined) >= 2995  # points on edges may fall on a border
    area = 1.5 * np.sqrt(3) * 100.0**2
    assert np.allclose(hexes.area, area)


def _lacking_by_loop(gaps):
    """What the report lists, gap by gap: per community the weight lacking each category,
    added in the layer's order, categories in the order they first appear."""
    out: dict[str, dict[str, float]] = {}
    for cid, cats, w in zip(
        gaps["community_id"].astype(str),
        gaps["missing_categories"].fillna(""),
        gaps["weight"],
        strict=True,
    ):
        lacking = out.setdefault(cid, {})
        for k in filter(None, (x.strip() for x in cats.split(","))):
            lacking[k] = lacking.get(k, 0.0) + float(w)
    return {c: d for c, d in out.items() if d}


@pytest.mark.parametrize("seed", range(10))
def test_the_reports_sums_of_gaps_are_those_of_a_loop_over_them(seed):
    """Fractional weights and ties: the same sums to the last bit and the same order, so the
    report lists tied categories as it always did."""
    import numpy as np
    import pandas as pd

    from lifecircle.render.report import _lacking

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 300))
    combos = ["", "a", "a, d", "d, a", "b, c, d", None, "c"]
    gaps = pd.DataFrame(
        {
            "community_id": rng.choice(["1", "2", "03", "社区"], n),
            "missing_categories": [combos[i] for i in rng.integers(0, len(combos), n)],
            "weight": rng.choice([0.1, 0.2, 0.7, 1.3, 57.2 / 3], n),
        }
    )
    got = _lacking(gaps)
    want = _lacking_by_loop(gaps)
    assert got == want
    assert {c: list(d) for c, d in got.items()} == {c: list(d) for c, d in want.items()}
