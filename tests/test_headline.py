"""The headline (lifecircle.headline): the verdict and its warnings, decided once from a summary
and repeated by every output that shows a verdict; the shares it needs (coverage.py); the
GCJ-02 check of facility lists; the batch's status table and city outputs."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from openpyxl import load_workbook
from typer.testing import CliRunner

from conftest import shared
from lifecircle.cli.main import app
from lifecircle.config import load_preset
from lifecircle.coverage import covered_mask, headline_shares
from lifecircle.headline import (
    AREA_SAMPLES,
    BOUNDARIES_CUT,
    EMPTY_BASKET,
    LOOKS_GCJ02,
    OFF_NETWORK,
    OFF_NETWORK_WARN_SHARE,
    headline,
    status_cell,
    with_headline,
)
from lifecircle.naming import ALL

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures"


def _summary(**changes) -> dict:
    """A hand-made summary of a run: three basket categories, all with data, 2 % off-network."""
    s = {
        "denominator": "population_points:people.csv",
        "area": {"communities": 4},
        "residents": {"points": 100, "total": 5000.0, "off_network_share": 0.02},
        "categories": {
            "market": {"name_zh": "菜市场", "name_en": "Market", "threshold": "10 min"},
            "park": {"name_zh": "公园绿地", "name_en": "Park", "threshold": "10 min"},
            "elder_care": {
                "name_zh": "养老服务(养老院)",
                "name_en": "Elder care (homes)",
                "threshold": "5 min",
            },
            "transit": {"name_zh": "公交站", "name_en": "Bus stop", "threshold": "10 min"},
        },
        "facilities": {"empty_categories": []},
        "complete_life_circle": {
            "profile": "standard",
            "minutes": 15,
            "basket": ["market", "park", "elder_care"],
            "coverage": 0.62,
            "target": 0.85,
            "meets_target": False,
            "empty_basket_categories": [],
            "basket_with_data": ["market", "park", "elder_care"],
            "coverage_with_data": 0.62,
            "within_threshold": {"market": 0.9, "park": 0.8, "elder_care": 0.7, "transit": 1.0},
        },
        "communities_meeting_target": {"count": 1, "of": 4},
        "notes": [],
        "counts": {},
        "provenance": {"parameters": {"max_snap_m": 200.0}},
    }
    for path, value in changes.items():
        node = s
        *head, last = path.split("__")
        for k in head:
            node = node[k]
        node[last] = value
    return s


def _empty_elder_care() -> dict:
    s = _summary()
    s["facilities"]["empty_categories"] = ["elder_care"]
    clc = s["complete_life_circle"]
    clc.update(
        coverage=0.0,
        empty_basket_categories=["elder_care"],
        basket_with_data=["market", "park"],
        coverage_with_data=0.74,
    )
    clc["within_threshold"]["elder_care"] = 0.0
    return s


# ------------------------------------------------------------------ the headline, by hand


def test_clean_run_has_no_warning_and_states_the_verdict():
    hl = headline(_summary())
    assert hl.warnings == () and hl.status == "ok" and hl.verdict == "misses"
    assert "62.0% of residents" in hl.sentence("en") and "misses it" in hl.sentence("en")
    assert "1 of 4 communities" in hl.sentence("en")
    assert "62.0% 的居民" in hl.sentence("zh") and "未达标" in hl.sentence("zh")


@pytest.mark.parametrize(("share", "warned"), [(0.03, False), (0.05, False), (0.40, True)])
def test_off_network_share_above_the_threshold_is_a_warning(share, warned):
    hl = headline(_summary(residents__off_network_share=share))
    codes = [w.code for w in hl.warnings]
    assert (OFF_NETWORK in codes) is warned
    assert hl.status == ("ok_with_warnings" if warned else "ok")
    if warned:
        (w,) = hl.warnings
        assert "40%" in w.text("en") and "200 m" in w.text("en") and "--max-snap-m" in w.text("en")
        assert "40%" in w.text("zh") and "200 米" in w.text("zh")
        assert f"{OFF_NETWORK_WARN_SHARE:.0%}" in w.text("en")
        assert w.as_dict()["share"] == pytest.approx(0.40)


def test_empty_basket_category_is_named_with_the_share_over_the_others():
    hl = headline(_empty_elder_care())
    assert hl.empty_basket == ("elder_care",)
    (w,) = hl.warnings
    assert w.code == EMPTY_BASKET
    en, zh = w.text("en"), w.text("zh")
    assert "Elder care" in en and "(homes)" not in en  # the short name
    assert "over the 2 basket categories with data it is 74.0%" in en
    assert "养老服务" in zh and "74.0%" in zh
    assert w.short_text("en") == "no facility: Elder care"
    # the per-category view shows what is informative: shares within each threshold
    lines = {x.key: x for x in hl.per_category("en")}
    assert lines["elder_care"].share is None and lines["elder_care"].empty
    assert lines["market"].share == pytest.approx(0.9) and lines["market"].in_basket
    assert not lines["transit"].in_basket
    assert [x.key for x in hl.per_category("en")][-1] == "transit"  # basket first


def test_every_basket_category_empty():
    s = _empty_elder_care()
    s["complete_life_circle"].update(
        empty_basket_categories=["market", "park", "elder_care"],
        basket_with_data=[],
        coverage_with_data=None,
    )
    (w,) = headline(s).warnings
    assert "None of the basket's 3 categories" in w.text("en")


def test_area_samples_are_not_called_residents():
    hl = headline(_summary(denominator=AREA_SAMPLES))
    assert hl.area_samples
    assert "of area samples" in hl.sentence("en") and "residents reach" not in hl.sentence("en")
    assert "面积样本点" in hl.sentence("zh")
    assert hl.unit_label("zh") == "面积样本点" and hl.unit_label("en") == "Area samples"
    assert headline(_summary()).unit_label("zh") == "居民数"


def test_gcj02_suspicion_in_counts_is_a_warning():
    hl = headline(_summary(counts={"facilities_look_gcj02": ["amap.csv"]}))
    assert [w.code for w in hl.warnings] == [LOOKS_GCJ02]
    assert "amap.csv" in hl.warnings[0].text("en") and "--facilities-crs gcj02" in hl.warnings[
        0
    ].text("zh")


def test_cut_osm_boundaries_are_a_warning_that_names_them():
    cut = {"count": 12, "admin_levels": ["9"], "names": ["<b>甲里</b>", "{{ 7*7 }}"],
           "communities_kept": 3}  # fmt: skip
    hl = headline(_summary(counts={BOUNDARIES_CUT: cut}))
    assert [w.code for w in hl.warnings] == [BOUNDARIES_CUT]
    en, zh = hl.warnings[0].text("en"), hl.warnings[0].text("zh")
    assert "12 OSM administrative boundaries (admin_level 9)" in en
    assert "<b>甲里</b>, {{ 7*7 }} … (+10)" in en  # as text; the outputs escape it
    assert "only the 3 communities" in en and "--communities" in en
    assert "<b>甲里</b>、{{ 7*7 }}" in zh and "--communities" in zh
    assert hl.warnings[0].short_text("en") == "12 boundaries cut"


def test_with_headline_adds_warnings_and_notes_once():
    s = with_headline(_empty_elder_care() | {"notes": ["a note"]})
    assert [w["code"] for w in s["warnings"]] == [EMPTY_BASKET]
    assert s["warnings"][0]["categories"] == ["elder_care"]
    assert s["notes"][0] == "a note" and s["notes"][1] == s["warnings"][0]["message"]["en"]
    assert s["headline"]["status"] == "ok_with_warnings"
    assert "Elder care" in s["headline"]["text"]["en"]
    again = with_headline(s)
    assert len(again["notes"]) == 2
    samples = with_headline(_summary(denominator=AREA_SAMPLES))
    assert samples["residents"]["counts"] == "area_samples"
    assert samples["headline"]["counts"] == "area_samples"


def test_an_older_summary_without_the_new_keys_still_has_a_headline():
    s = _summary()
    for k in ("empty_basket_categories", "basket_with_data", "coverage_with_data"):
        del s["complete_life_circle"][k]
    del s["provenance"]
    hl = headline(s)
    assert hl.empty_basket == () and hl.verdict == "misses"


def test_status_cell():
    warned = with_headline(_summary(residents__off_network_share=0.88))["warnings"]
    assert status_cell("ok", [], "en") == "ok"
    assert status_cell("ok", warned, "en") == "ok ⚠ 88% off the network"
    assert status_cell("failed", warned, "en") == "failed"


# ------------------------------------------------------------------ coverage.headline_shares


PRESET = dataclasses.replace(load_preset(), basket_tiers={15: ("market", "park", "health")})


def _residents() -> pd.DataFrame:
    # standard walker 1.1 m/s; at 15 min the limits are market 660 m, park 660 m, health 990 m
    return pd.DataFrame(
        {
            "community_id": ["A", "A", "B", "B", ""],
            "weight": [100.0, 300.0, 50.0, 50.0, 1000.0],
            "dist_m_market": [300.0, 700.0, np.inf, 100.0, 0.0],
            "dist_m_park": [100.0, 100.0, 100.0, 1000.0, 0.0],
            "dist_m_health": [np.inf, np.inf, np.inf, np.inf, np.inf],
        }
    )


def test_headline_shares_over_the_categories_with_data():
    res = _residents()
    got = headline_shares(
        res, ["market", "park", "health"], PRESET, speed_m_s=1.1, minutes=15, empty=["health"]
    )
    assert got["empty_basket_categories"] == ["health"]
    assert got["basket_with_data"] == ["market", "park"]
    # market and park both within 660 m: only the first resident (100 of 500; the one outside
    # every community is not counted, as in coverage.csv)
    assert got["coverage_with_data"] == pytest.approx(100 / 500)
    assert got["within_threshold"]["market"] == pytest.approx(150 / 500)
    assert got["within_threshold"]["park"] == pytest.approx(450 / 500)
    assert got["within_threshold"]["health"] == 0.0


def test_headline_shares_equal_the_complete_life_circle_when_nothing_is_empty():
    res = _residents().assign(dist_m_health=[10.0, 10.0, 2000.0, 10.0, 0.0])
    got = headline_shares(
        res, ["market", "park", "health"], PRESET, speed_m_s=1.1, minutes=15, empty=[]
    )
    inside = res["community_id"] != ""
    full = covered_mask(res, ALL, 1.1, 15, PRESET) & inside.to_numpy()
    w = res["weight"].to_numpy()
    assert got["coverage_with_data"] == pytest.approx(w[full].sum() / w[inside].sum())
    assert got["empty_basket_categories"] == []


# ------------------------------------------------------------------ the GCJ-02 check


def _network_and_points(name: str, n: int = 60):
    from lifecircle.categories import load_taxonomy
    from lifecircle.config import load_walk_filter
    from lifecircle.crs import metric_crs
    from lifecircle.network import build_network
    from lifecircle.sources.osm import read_osm

    osm = read_osm(shared(f"osm/{name}"), walk_filter=load_walk_filter(), taxonomy=load_taxonomy())
    ll = np.concatenate([w.lonlat for w in osm.ways])
    crs = metric_crs(*ll.mean(axis=0))
    net = build_network(osm.ways, crs)
    rng = np.random.default_rng(7)
    edges = rng.choice(np.flatnonzero(net.edge_kept), n)
    pts = shapely.line_interpolate_point(net.edge_geom[edges], rng.random(n), normalized=True)
    lonlat = shapely.get_coordinates(gpd.GeoSeries(pts, crs=crs).to_crs(4326).to_numpy())
    return net, crs, lonlat


@pytest.mark.parametrize("name", ["shanghai_huangpu_roads.osm", "shanghai_central_roads.osm"])
def test_gcj02_list_read_as_wgs84_is_flagged_whatever_the_street_density(name):
    from lifecircle.chinacoords import wgs84_to_gcj02
    from lifecircle.sources.facilities import gcj02_evidence

    net, crs, lonlat = _network_and_points(name)
    truth = gcj02_evidence(lonlat, net, crs)
    assert not truth["looks_gcj02"], truth
    gcj = np.column_stack(wgs84_to_gcj02(lonlat[:, 0], lonlat[:, 1]))
    shifted = gcj02_evidence(gcj, net, crs)
    assert shifted["looks_gcj02"], shifted
    assert shifted["median_m_read_as_gcj02"] < 1.0
    # points set back from the street, as a shop is: still told apart in both directions
    rng = np.random.default_rng(3)
    back = lonlat + rng.normal(0, 1e-4, lonlat.shape)  # about 10 m
    assert not gcj02_evidence(back, net, crs)["looks_gcj02"]
    back_gcj = np.column_stack(wgs84_to_gcj02(back[:, 0], back[:, 1]))
    assert gcj02_evidence(back_gcj, net, crs)["looks_gcj02"]


def test_gcj02_list_on_huangpu_is_a_headline_warning(tmp_path):
    """The README's Amap-style example list read as WGS 84 on the Huangpu extract: its points sit
    a median 15 m from these dense streets, which a fixed 25 m rule missed. The flag is in the
    notes, the warnings and the console."""
    example = Path(__file__).resolve().parents[1] / "data/examples/shanghai_facilities_gcj02.csv"
    out = tmp_path / "out"
    r = runner.invoke(
        app,
        ["analyze", "--osm", str(shared("osm/shanghai_huangpu_roads.osm")), "--facilities",
         str(example), "--out", str(out), "--lang", "en"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text("utf-8"))
    assert LOOKS_GCJ02 in [w["code"] for w in s["warnings"]]
    assert s["counts"]["facilities_look_gcj02"] == [example.name]
    assert "look like Amap/Tencent (GCJ-02)" in " ".join(r.output.split())
    # and declared as what it is, nothing is flagged
    r = runner.invoke(
        app,
        ["analyze", "--osm", str(shared("osm/shanghai_huangpu_roads.osm")), "--facilities",
         str(example), "--facilities-crs", "gcj02", "--out", str(out), "--overwrite"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text("utf-8"))
    assert LOOKS_GCJ02 not in [w["code"] for w in s["warnings"]]


# ------------------------------------------------------------------ through the CLI


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    r = runner.invoke(app, ["demo", "--out", str(out), "--lang", "en"])
    assert r.exit_code == 0, r.output
    return r, out


def test_demo_headline_names_the_empty_basket_categories(demo_run):
    r, out = demo_run
    s = json.loads((out / "summary.json").read_text("utf-8"))
    clc = s["complete_life_circle"]
    per_cat = s["facilities"]["per_category"]
    expected = [c for c in clc["basket"] if per_cat[c] == 0]
    assert expected and clc["empty_basket_categories"] == expected
    (w,) = [w for w in s["warnings"] if w["code"] == EMPTY_BASKET]
    assert w["categories"] == expected
    assert 0 < clc["coverage_with_data"] < 1 and clc["coverage"] == 0
    assert s["headline"]["status"] == "ok_with_warnings"
    text = " ".join(r.output.split())  # rich wraps long lines
    names = [s["categories"][c]["name_en"] for c in expected]
    for name in names:
        assert name in text
    n_data = len(clc["basket"]) - len(expected)
    assert f"over the {n_data} basket categories with data it is" in text
    assert f"{clc['coverage_with_data']:.1%}" in text
    # the per-category view: each category's share within its threshold
    for c, share in clc["within_threshold"].items():
        if c not in s["facilities"]["empty_categories"]:
            assert f"{share:.1%}" in text
    report = (out / "report.html").read_text("utf-8")
    for name in names:
        assert name in report
    assert "Per category: share of residents within its threshold" in report
    html = (out / "map.html").read_text("utf-8")
    assert "lc-warning" in html and names[0] in html


def test_area_samples_are_named_in_every_output(tmp_path):
    from lifecircle.sources.osm import overpass_json_to_osm_xml

    resp = json.loads((FIXTURES / "overpass_small.json").read_text("utf-8"))
    osm = overpass_json_to_osm_xml(resp, tmp_path / "small.osm")
    out = tmp_path / "out"
    r = runner.invoke(app, ["analyze", "--osm", str(osm), "--out", str(out), "--lang", "en"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text("utf-8"))
    assert s["denominator"] == AREA_SAMPLES and s["residents"]["counts"] == "area_samples"
    text = " ".join(r.output.split())
    assert "area samples (Denominator" in text and "residents (" not in text
    report = (out / "report.html").read_text("utf-8")
    assert "<th>per 10,000 residents</th>" not in report and "Area samples" in report
    assert "Points (area samples) off the network" in report
    ws = load_workbook(out / "coverage.xlsx").worksheets[1]
    assert ws.cell(1, 3).value == "Area samples"
    html = (out / "map.html").read_text("utf-8")
    assert "Area samples ≤ 15 min" in html and "Residents" not in html  # the map's language
    zh = tmp_path / "zh.html"
    from lifecircle.render.report import render_report

    render_report(out, lang="zh", dest=zh)
    zh_html = zh.read_text("utf-8")
    assert "<th>每万居民</th>" not in zh_html and "<th>面积样本点</th>" in zh_html


# ------------------------------------------------------------------ the batch


def _district_summary(share: float, denominator: str = "population_points:p.csv") -> dict:
    return with_headline(_summary(residents__off_network_share=share, denominator=denominator))


def test_batch_status_table_and_city_outputs_flag_off_network_districts(tmp_path):
    from rich.console import Console

    from lifecircle.city import district_headlines
    from lifecircle.cli import batch as batch_cli
    from lifecircle.render.citymap import make_city_map
    from lifecircle.sources.districts import District

    dists, records = [], {}
    for did, share in (("310101", 0.88), ("310104", 0.03)):
        d = District(did, f"name {did}", shapely.box(121.4, 31.2, 121.45, 31.25), did)
        (tmp_path / did).mkdir()
        den = AREA_SAMPLES if did == "310104" else "population_points:p.csv"
        (tmp_path / did / "summary.json").write_text(json.dumps(_district_summary(share, den)))
        dists.append(d)
        records[did] = {"status": "ok", "complete_life_circle": {"coverage": 0.6}, "residents": 5e3}
    heads = district_headlines(tmp_path, dists, records)
    warned = {k: [w.as_dict() for w in hl.warnings] for k, hl in heads.items()}
    assert [w["code"] for w in warned["310101"]] == [OFF_NETWORK] and warned["310104"] == []
    make_city_map(tmp_path / "city_map.html", dists, records, heads, target=0.85, lang="en")
    html = (tmp_path / "city_map.html").read_text("utf-8")
    assert "60.0% ⚠" in html and "88%" in html
    assert html.count("Area samples: 5,000") == 1  # in the map's language (--lang en)
    assert html.count("Residents: 5,000") == 1
    assert "1 district(s) finished with warnings" in html

    summary = {
        "per_district": {
            d.district_id: {
                "name": d.name,
                "status": "ok",
                "complete_life_circle": 0.6,
                "residents": 5000.0,
                "counts": "area_samples" if heads[d.district_id].area_samples else "residents",
                "warning": bool(warned[d.district_id]),
                "warnings": warned[d.district_id],
            }
            for d in dists
        }
        | {"FAR": {"name": "nowhere", "status": "failed", "error": "outside"}},
        "totals": {"districts_with_warnings": 1},
    }
    rec = Console(record=True, width=200)
    old = batch_cli.console
    batch_cli.console = rec
    try:
        batch_cli.print_status_table(summary, lang="en")
    finally:
        batch_cli.console = old
    rows = {line.split()[0]: line for line in rec.export_text().splitlines() if line.strip()}
    assert "ok ⚠ 88% off the network" in rows["310101"]
    assert "⚠" not in rows["310104"] and " ok " in rows["310104"]
    assert "5,000 (area samples)" in rows["310104"] and "area samples" not in rows["310101"]
    assert "failed" in rows["FAR"]


def test_batch_city_summary_marks_warned_districts_ok_with_a_flag(tmp_path):
    """city_summary.json: a finished district with warnings keeps status ok and carries them."""
    from lifecircle.city import district_headlines
    from lifecircle.sources.districts import District

    d = District("D1", "one", shapely.box(0, 0, 1, 1), "D1")
    (tmp_path / "D1").mkdir()
    s = copy.deepcopy(_district_summary(0.4))
    (tmp_path / "D1" / "summary.json").write_text(json.dumps(s))
    heads = district_headlines(tmp_path, [d], {"D1": {"status": "ok"}})
    assert heads["D1"].warnings[0].text("en").startswith("40% of residents")
    assert not heads["D1"].area_samples
    # a failed district is not read
    assert district_headlines(tmp_path, [d], {"D1": {"status": "failed"}}) == {}


def test_quiet_run_still_prints_the_headline_warnings(tmp_path):
    from lifecircle.sources.osm import overpass_json_to_osm_xml

    resp = json.loads((FIXTURES / "overpass_small.json").read_text("utf-8"))
    osm = overpass_json_to_osm_xml(resp, tmp_path / "small.osm")
    r = runner.invoke(app, ["-q", "analyze", "--osm", str(osm), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    text = "".join(r.output.split())
    assert "警示:" in text and "完整生活圈篮子中的" in text  # zh by default
    assert "Complete life circle" not in text and "note:" not in text


def test_legend_headline_is_text_never_markup_or_template():
    from branca.element import Figure

    from lifecircle.render.controls import legend

    el = legend(
        0.85,
        "residents",
        "standard",
        15,
        headline="<script>window.__pwned=1</script>",
        warnings=("{{ 7*7 }} `${x}` <img onerror=y>",),
    )
    fig = Figure()
    fig.add_child(el)
    html = fig.render()
    assert "<script>window" not in html and "&lt;script&gt;" in html
    assert "{{ 7*7 }}" not in html and "&#123;&#123; 7*7 &#125;&#125;" in html
    assert "<img" not in html and "&#96;&#36;&#123;x&#125;&#96;" in html


def test_demo_goes_on_to_site_its_empty_basket_category(demo_run):
    """The demo ends with the step from a gap to a decision: where new facilities of a basket
    category that has none would go, in OUT-sites."""
    r, out = demo_run
    s = json.loads((out / "summary.json").read_text("utf-8"))
    empty = s["complete_life_circle"]["empty_basket_categories"]
    sites_out = out.with_name(f"{out.name}-sites")
    site = json.loads((sites_out / "summary.json").read_text("utf-8"))
    assert site["question"]["category"] == empty[0] and site["sites"] == 5
    assert site["coverage_after"] > site["coverage_before"] == 0.0
    assert "lifecircle site" in r.output and (sites_out / "sites.csv").is_file()
    assert (sites_out / "tasks.csv").is_file()


def test_demo_refuses_a_sites_folder_of_the_users_before_any_work(tmp_path):
    out = tmp_path / "demo"
    mine = tmp_path / "demo-sites"
    mine.mkdir()
    (mine / "sites.csv").write_text("my own list", encoding="utf-8")
    r = runner.invoke(app, ["demo", "--out", str(out), "--overwrite"])
    assert r.exit_code == 2, r.output
    assert not out.exists() and (mine / "sites.csv").read_text(encoding="utf-8") == "my own list"


@pytest.mark.parametrize("name", ["shanghai_huangpu_roads.osm", "shanghai_central_roads.osm"])
def test_bd09_list_read_as_wgs84_is_flagged_as_bd09_not_gcj02(name):
    """A Baidu list sits a few hundred metres further off than a GCJ-02 one: told apart."""
    from lifecircle.chinacoords import wgs84_to_bd09, wgs84_to_gcj02
    from lifecircle.sources.facilities import gcj02_evidence

    net, crs, lonlat = _network_and_points(name)
    bd = np.column_stack(wgs84_to_bd09(lonlat[:, 0], lonlat[:, 1]))
    assert gcj02_evidence(bd, net, crs, system="bd09")["looks_bd09"]
    assert not gcj02_evidence(bd, net, crs)["looks_gcj02"]
    for other in (lonlat, np.column_stack(wgs84_to_gcj02(lonlat[:, 0], lonlat[:, 1]))):
        assert not gcj02_evidence(other, net, crs, system="bd09")["looks_bd09"]


def test_bd09_list_is_a_headline_warning_naming_the_option(tmp_path):
    import pandas as pd

    from lifecircle.chinacoords import gcj02_to_bd09

    example = Path(__file__).resolve().parents[1] / "data/examples/shanghai_facilities_gcj02.csv"
    df = pd.read_csv(example, dtype=str)
    lon, lat = gcj02_to_bd09(df["lon"].astype(float).to_numpy(), df["lat"].astype(float).to_numpy())
    df["lon"], df["lat"] = [f"{v:.7f}" for v in lon], [f"{v:.7f}" for v in lat]
    baidu = tmp_path / "baidu.csv"
    df.to_csv(baidu, index=False)
    out = tmp_path / "out"
    r = runner.invoke(
        app,
        ["analyze", "--osm", str(shared("osm/shanghai_central_roads.osm")), "--facilities",
         str(baidu), "--out", str(out), "--lang", "en"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text("utf-8"))
    codes = [w["code"] for w in s["warnings"]]
    assert "facilities_look_bd09" in codes and LOOKS_GCJ02 not in codes
    assert "--facilities-crs bd09" in " ".join(r.output.split())


def test_communities_without_residents_are_said_not_judged():
    """A grid over a city centre has empty cells: "72 communities" then "0 of 16 meet it"
    must say where the other 56 went."""
    meet = {"count": 0, "of": 16, "communities_without_residents": 56}
    hl = headline(_summary(communities_meeting_target=meet))
    assert "0 of the 16 communities with residents meet it (56 more have no residents" in (
        hl.sentence("en")
    )
    assert "有居民的 16 个社区中 0 个达标(另有 56 个社区没有居民" in hl.sentence("zh")
    assert "1 of 4 communities meet it." in headline(_summary()).sentence("en")
