"""Escaping, one helper per output kind: hostile names (template syntax, markup, script,
formulas, control characters, right-to-left marks) go through every file a run writes and come
out as the text they are, never evaluated, never refused."""

from __future__ import annotations

import csv
import html
import json
import re
import zipfile
from pathlib import Path
from types import SimpleNamespace

import folium
import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from lifecircle.cli.main import app
from lifecircle.render.escape import (
    FORMULA_START,
    csv_safe_frame,
    csv_text,
    csv_untext,
    excel_text,
    formula_like,
    gpkg_safe_frame,
    html_text,
    plot_text,
    read_people_csv,
    safe_text,
    write_people_csv,
)

runner = CliRunner()
BOX = (24.937, 60.165, 24.952, 60.177)  # central Helsinki, inside pyrosm's extract
HOSTILE = [
    "{{ 7*7 }}",
    "{% if true %}x{% endif %}",
    "<script>window.__pwned=1</script>",
    "<img src=x onerror=alert(1)>",
    "`${x}` back\\slash",
    "\"double\" 'single'",
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tleading tab",
    "\rleading CR",
    "NUL\x00inside",
    "bell\x07inside",
    "\u202eright-to-left override",
    "\u200fright-to-left mark 社区",
]
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown(name: str) -> str:
    """What every output should show for a name: the name without the control characters no
    file or page can hold."""
    return CONTROL.sub("", name)


# ---- the helpers, one kind at a time -------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_html_helpers_leave_no_markup_template_or_script_syntax(name):
    for s in (html_text(name), safe_text(name)):
        assert not any(c in s for c in "<>\"'") and not CONTROL.search(s)
        text = html.unescape(s)  # what a browser shows
        if BIDI.search(name):  # right-to-left marks kept, inside an isolate
            assert text == "\u2068" + shown(name) + "\u2069"
        else:
            assert text == shown(name)
    assert not any(c in safe_text(name) for c in "{}`$\\")


@pytest.mark.parametrize("name", HOSTILE)
def test_names_are_text_after_folium_second_template_pass(name):
    s = safe_text(name)
    m = folium.Map(tiles=None)
    fg = folium.FeatureGroup(name=s)
    g = gpd.GeoDataFrame({"n": [s]}, geometry=[shapely.Point(0, 0)], crs=4326)
    folium.GeoJson(g.to_json(), tooltip=folium.GeoJsonTooltip(["n"])).add_to(fg)
    fg.add_to(m)
    folium.LayerControl().add_to(m)
    page = m.get_root().render()  # "{%" left unescaped would raise; "{{ 7*7 }}" would give 49
    decoded = re.sub(r"\\u([0-9a-fA-F]{4})", lambda x: chr(int(x.group(1), 16)), page)
    assert decoded.count(json.dumps(s, ensure_ascii=False)[1:-1]) >= 2  # tooltip and layer
    assert '"n": "49"' not in decoded and '"n": "x"' not in decoded  # nothing evaluated


def test_legend_and_attribution_show_hostile_text():
    from lifecircle.render.controls import attribution_control, legend

    m = folium.Map(tiles=None)
    bad = "population_points:{{ 7*7 }}{% if true %}x{% endif %}<b>.csv"
    legend(0.85, bad, "{{ 6*7 }}", 15).add_to(m)  # the denominator names the user's file
    attribution_control(bad).add_to(m)
    page = m.get_root().render()
    assert "&#123;&#123; 7*7 &#125;&#125;&#123;% if true %&#125;x" in page
    assert "(&#123;&#123; 6*7 &#125;&#125;, \\u2264 15 min)" in page  # the profile, as text
    assert "42" not in page.split("lc-legend", 1)[1].split("</div>", 1)[0] and "<b>.csv" not in page


@pytest.mark.parametrize(
    "text",
    [*HOSTILE, "'=already quoted", "''-1", "'plain", "'", "", " =1+1", "a=b", "3", "-12"],
)
def test_csv_text_neutralises_formulas_and_reads_back(text):
    cell = csv_text(text)
    assert cell[:1] not in FORMULA_START and not formula_like(cell)
    assert csv_untext(cell) == text.replace("\x00", "")
    if not formula_like(text) and not text.startswith("'"):
        assert cell == text.replace("\x00", "")  # only what needs it changes


def test_csv_frames_quote_text_and_leave_numbers():
    df = pd.DataFrame(
        {
            "share": [-0.5, 0.25],
            "n": [-3, 4],
            "code": ["-12", "7"],  # a code is text: it gets its quote
            "ok": [True, False],
            "name": ["=1+1", None],
        }
    )
    safe, n = csv_safe_frame(df)
    assert n == 2
    assert list(safe["code"]) == ["'-12", "7"] and safe["name"].iloc[0] == "'=1+1"
    assert pd.isna(safe["name"].iloc[1]) and list(safe["share"]) == [-0.5, 0.25]
    assert list(df["code"]) == ["-12", "7"]  # the argument is not touched


def test_people_csv_round_trip(tmp_path):
    df = pd.DataFrame({"code": ["-12", "c1"], "name": HOSTILE[6:8], "share": [-0.5, 1.0]})
    assert write_people_csv(df, tmp_path / "x.csv") == 3
    raw = (tmp_path / "x.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    with open(tmp_path / "x.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[1] == ["'-12", '\'=HYPERLINK("http://x","y")', "-0.5"]
    back = read_people_csv(tmp_path / "x.csv", dtype={"code": str})
    pd.testing.assert_frame_equal(back, df)


def test_excel_text_removes_only_what_a_workbook_cannot_hold():
    assert excel_text("NUL\x00bell\x07") == ("NULbell", True)
    for kept in ("\u202eRTL\u200f", "tab\tline\ncr\r", "=SUM(A1)", "社区"):
        assert excel_text(kept) == (kept, False)
    long, changed = excel_text("x" * 40_000)
    assert len(long) == 32_767 and changed
    assert excel_text(None) == ("", False)


def test_geopackage_keeps_names_except_nul(tmp_path):
    g = gpd.GeoDataFrame(
        {"name": HOSTILE, "n": np.arange(len(HOSTILE))},
        geometry=[shapely.Point(0, i) for i in range(len(HOSTILE))],
        crs=4326,
    )
    safe, n = gpkg_safe_frame(g)
    assert n == 1 and isinstance(safe, gpd.GeoDataFrame)
    safe.to_file(tmp_path / "x.gpkg", layer="a", engine="pyogrio")
    back = gpd.read_file(tmp_path / "x.gpkg", layer="a")
    assert list(back["name"]) == [s.replace("\x00", "") for s in HOSTILE]  # NUL inside: kept


def test_plot_text_is_drawn_literally(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_yticks([0, 1], [plot_text(r"$\frac$ market"), plot_text("bell\x07")])
    fig.savefig(tmp_path / "x.png")  # raw, "$\frac$" is a mathtext syntax error
    plt.close(fig)
    assert plot_text("a$b$c") == r"a\$b\$c"


# ---- every output of a run -----------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_out(tmp_path_factory) -> Path:
    """An analysis whose community names, text ids, facility names and a category's names
    are all hostile, with residents in every community (so each is listed in the report)."""
    import pyrosm

    d = tmp_path_factory.mktemp("hostile")
    x0, y0, x1, y1 = BOX
    cols = 4
    w, h = (x1 - x0) / cols, (y1 - y0) / (len(HOSTILE) // cols)
    cells = [
        shapely.box(x0 + (i % cols) * w, y0 + (i // cols) * h, x0 + (i % cols + 1) * w,
                    y0 + (i // cols + 1) * h)
        for i in range(len(HOSTILE))
    ]  # fmt: skip
    ids = [f"-{i}" if i % 2 else f"c{i}" for i in range(len(HOSTILE))]  # "-1": a text id
    features = [
        {"type": "Feature", "properties": {"id": i, "name": n},
         "geometry": shapely.geometry.mapping(c)}
        for i, n, c in zip(ids, HOSTILE, cells, strict=True)
    ]  # fmt: skip
    (d / "comm.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    with open(d / "fac.csv", "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "category", "name", "lon", "lat"])
        for i, (name, c) in enumerate(zip(HOSTILE, cells, strict=True)):
            out.writerow([f"f{i}", "market", name, f"{c.centroid.x:.6f}", f"{c.centroid.y:.6f}"])
    with open(d / "pop.csv", "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["lon", "lat", "weight"])
        for c in cells:
            p = c.centroid
            out.writerow([f"{p.x + w / 5:.6f}", f"{p.y + h / 5:.6f}", 100])
    from importlib.resources import files

    toml = (files("lifecircle") / "data" / "categories.toml").read_text("utf-8")
    head, market = toml.split("[categories.market]\n", 1)
    market = re.sub(
        r'name_zh = ".*"', lambda _: r'name_zh = "{{ 7*7 }}\u0007市场"', market, count=1
    )
    market = re.sub(
        r'name_en = ".*"',
        lambda _: r'name_en = "<b>$\\frac$</b> =HYPERLINK(\"x\")\u0000"',  # $…$: mathtext
        market,
        count=1,
    )
    (d / "cats.toml").write_text(head + "[categories.market]\n" + market, encoding="utf-8")
    res = d / "out"
    r = runner.invoke(
        app,
        ["-q", "analyze", "--osm", pyrosm.get_data("helsinki_pbf"),
         "--communities", d / "comm.geojson", "--facilities", d / "fac.csv",
         "--population", d / "pop.csv", "--categories", d / "cats.toml",
         "--out", res, "--tiles", "none", "--offline", "--lang", "en"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return res


def community_names() -> list[str]:
    """The names as the communities reader returns them (GDAL ends a GeoJSON string at NUL)."""
    return [n.split("\x00")[0] for n in HOSTILE]


@pytest.mark.parametrize("name", ["coverage.csv", "area_coverage.csv", "denominators.csv"])
def test_no_csv_cell_runs_as_a_formula(hostile_out, name):
    path = hostile_out / name
    types = read_people_csv(path, dtype={"community_id": str}).dtypes
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert all(c[:1] not in FORMULA_START for c in rows[0])
    text_cols = [j for j, c in enumerate(rows[0]) if pd.api.types.is_string_dtype(types[c])]
    num_cols = [j for j, c in enumerate(rows[0]) if types[c].kind in "fi"]
    assert len(text_cols) >= 3 and num_cols
    for row in rows[1:]:
        for j in text_cols:
            assert row[j][:1] not in FORMULA_START and not formula_like(row[j]), row[j]
        for j in num_cols:
            assert row[j] == "" or float(row[j]) == float(row[j])  # a plain number, no quote


def test_csv_reads_back_every_name_and_text_id(hostile_out):
    cov = read_people_csv(hostile_out / "coverage.csv", dtype={"community_id": str})
    assert set(cov["community_name"]) == set(community_names())
    assert {"-1", "-3", "c0"} <= set(cov["community_id"])
    raw = (hostile_out / "coverage.csv").read_text("utf-8-sig")
    assert "\n'-1," in raw and "'=HYPERLINK(" in raw and "\n-1," not in raw
    summary = json.loads((hostile_out / "summary.json").read_text("utf-8"))
    assert summary["text_cells"]["csv_quoted"] > 0
    assert any("leading '" in n for n in summary["notes"])


def test_xlsx_holds_every_name_as_text_and_prints(hostile_out):
    wb = openpyxl.load_workbook(hostile_out / "coverage.xlsx")
    names = set()
    for ws in wb.worksheets:
        assert not CONTROL.search(ws.title)
        assert ws.page_setup.orientation == "landscape"
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows and ws.print_title_rows.startswith("$")
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f"
                if isinstance(c.value, str):
                    assert c.data_type == "s" and not CONTROL.search(c.value)
                    if formula_like(c.value):
                        assert c.quotePrefix, c.value
        if ws.title != wb.worksheets[0].title:
            assert ws.print_title_rows == "$1:$1"
            names |= {ws.cell(r, 2).value for r in range(2, ws.max_row + 1)}
    # every name kept, less what a workbook cannot hold (XML reads a lone CR as a line feed)
    assert names == {shown(n).replace("\r", "\n") for n in community_names()}
    assert "\u202eright-to-left override" in names
    xml = zipfile.ZipFile(hostile_out / "coverage.xlsx").read("xl/worksheets/sheet2.xml")
    assert b"<f>" not in xml
    summary = json.loads((hostile_out / "summary.json").read_text("utf-8"))
    assert summary["text_cells"]["xlsx_cleaned"] > 0
    assert any("coverage.xlsx" in n for n in summary["notes"])


def test_geopackage_and_json_keep_names(hostile_out):
    fac = gpd.read_file(hostile_out / "lifecircle.gpkg", layer="facilities")
    mine = fac[fac["source"] != "osm"] if "source" in fac else fac
    assert "NULinside" in set(mine["name"])  # the NUL removed, the rest kept
    assert "<script>window.__pwned=1</script>" in set(mine["name"])
    comm = gpd.read_file(hostile_out / "lifecircle.gpkg", layer="communities")
    assert set(comm["community_name"]) == set(community_names())
    summary = json.loads((hostile_out / "summary.json").read_text("utf-8"))
    assert summary["text_cells"]["gpkg_nul_removed"] >= 1
    market = summary["categories"]["market"]
    assert market["name_zh"] == "{{ 7*7 }}\x07市场"  # JSON holds it all, escaped


def decoded(path: Path) -> str:
    raw = path.read_text("utf-8")
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), raw)


def test_map_shows_names_as_text(hostile_out):
    page = decoded(hostile_out / "map.html")
    assert "<script>window.__pwned" not in page and "<img src=x" not in page
    assert "onerror=alert(1)" in page  # there, as text inside an escaped tag
    assert "&#123;&#123; 7*7 &#125;&#125;" in page  # the literal braces, shown as text
    assert "<b>49</b>" not in page and '"name": "49"' not in page
    assert "&#123;% if true %&#125;x&#123;% endif %&#125;" in page
    assert "\x07" not in page and "\x00" not in page
    assert "\u2068\u202eright-to-left override\u2069" in page  # isolated from what follows
    # the category with hostile names: layer control, popups, tooltips
    assert "&lt;b&gt;&#36;&#92;frac&#36;&lt;/b&gt; =HYPERLINK(&quot;x&quot;)" in page


def test_report_shows_names_as_text(hostile_out):
    page = (hostile_out / "report.html").read_text("utf-8")
    assert "<script>window.__pwned" not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "<td>{{ 7*7 }}</td>" in page  # one template pass: data is never evaluated
    assert "<td>{% if true %}x{% endif %}</td>" in page
    assert "=HYPERLINK(&quot;http://x&quot;,&quot;y&quot;)" in page  # the name, not the CSV's '…
    assert "'=HYPERLINK" not in page and "<td>-1</td>" in page
    assert "\x07" not in page and "bellinside" in page
    assert "\u2068\u202eright-to-left override\u2069" in page


# ---- the city outputs of a batch ----------------------------------------------------------


def test_city_outputs_show_district_names_as_text(tmp_path):
    from lifecircle.city import write_city_outputs
    from lifecircle.config import make_settings
    from lifecircle.render.options import Presentation
    from lifecircle.sources.districts import District

    dists, records = [], {}
    for i, name in enumerate(HOSTILE):
        did = f"-{i}" if i % 2 else f"d{i}"
        d = District(did, name, shapely.box(i * 0.01, 0, i * 0.01 + 0.01, 0.01), f"x{i}")
        dists.append(d)
        (tmp_path / d.dirname).mkdir()
        area = pd.DataFrame(
            {"category": ["all"], "profile": ["standard"], "minutes": [15], "coverage": [0.5]}
        )
        write_people_csv(area, tmp_path / d.dirname / "area_coverage.csv")
        ok = i % 3 != 0
        records[did] = {
            "name": name,
            "status": "ok" if ok else "failed",
            "error": "" if ok else f"{name} failed",
            "residents": 100.0,
            "complete_life_circle": {"coverage": 0.5, "meets_target": False} if ok else None,
        }
    manifest = {"districts": records, "parameters": {}}
    meta = dict.fromkeys(("ways", "features", "buildings", "seconds", "reused"), 0)
    cache = SimpleNamespace(path=tmp_path / "cache", meta=meta)
    shown = Presentation(tiles="none")
    summary = write_city_outputs(
        tmp_path,
        dists,
        manifest,
        make_settings(),
        cache,  # type: ignore[arg-type]
        {},
        None,
        shown,
    )

    page = decoded(tmp_path / "city_map.html")
    assert "<script>window.__pwned" not in page and "<img src=x" not in page
    assert '"name": "&#123;&#123; 7*7 &#125;&#125;"' in page and '"name": "49"' not in page
    assert "<b>&#123;&#123; 7*7 &#125;&#125;</b>" in page  # the popup
    assert "\x07" not in page
    with open(tmp_path / "city_coverage.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(not formula_like(r["district_name"]) for r in rows)
    assert all(not formula_like(r["district_id"]) for r in rows)
    assert {r["district_id"] for r in rows} >= {"'-1", "'-5"}
    back = read_people_csv(tmp_path / "city_coverage.csv", dtype={"district_id": str})
    assert set(back["district_name"]) == {n.replace("\x00", "") for i, n in enumerate(HOSTILE)
                                          if i % 3 != 0}  # fmt: skip
    assert summary["text_cells"]["csv_quoted"] > 0
    again = json.loads(json.dumps(summary, ensure_ascii=False))  # as batch.py writes it
    assert again["per_district"]["d0"]["name"] == "{{ 7*7 }}"
    assert again["per_district"]["-13"]["name"] == "bell\x07inside"


def test_a_facility_list_lifecircle_wrote_reads_back_to_its_names(tmp_path):
    """The workbench saves its added facilities as a CSV for Excel ('=1+1 keeps a formula
    text); `scenario --add` on that file must name them =1+1, not '=1+1."""
    from lifecircle.sources.facilities import read_facilities_file

    names = ["=1+1<script>", "@SUM(A1)", "-12", "'s-Hertogenbosch", "''=x", "+cmd"]
    df = pd.DataFrame({
        "id": [f"a{i}" for i in range(len(names))], "category": "market", "name": names,
        "lon": 121.47, "lat": 31.23,
    })  # fmt: skip
    p = tmp_path / "workbench.csv"
    write_people_csv(df, p)
    assert "'=1+1" in p.read_text("utf-8-sig")  # safe in Excel
    assert list(read_facilities_file(p)["name"]) == names  # and exactly the names again


@pytest.mark.parametrize("sep", [";", "\t"])
def test_a_semicolon_or_tab_separated_list_is_read(tmp_path, sep):
    """Excel saves "CSV" with semicolons where the decimal mark is a comma."""
    from lifecircle.sources.facilities import read_facilities_file

    p = tmp_path / "list.csv"
    rows = [
        "id,category,name,lon,lat",
        "a1,market,东菜场,121.47,31.23",
        "a2,health,诊所,121.48,31.24",
    ]
    p.write_text("\n".join(r.replace(",", sep) for r in rows) + "\n", encoding="utf-8")
    fac = read_facilities_file(p)
    assert list(fac["name"]) == ["东菜场", "诊所"] and list(fac["category"]) == ["market", "health"]
    assert fac.geometry.x.tolist() == [121.47, 121.48]


def test_a_semicolon_list_with_decimal_commas_is_read(tmp_path):
    from lifecircle.sources.facilities import read_facilities_file

    p = tmp_path / "list.csv"
    p.write_text(
        "id;category;name;lon;lat;capacity\na1;elder_care;长者之家;121,47;31,23;1,5\n"
        'a2;market;"菜场,东";121.48;31.24;40\n',
        encoding="utf-8",
    )
    fac = read_facilities_file(p)
    assert fac.geometry.x.tolist() == [121.47, 121.48] and fac.geometry.y.tolist() == [31.23, 31.24]
    assert list(fac["capacity"]) == [1.5, 40.0] and list(fac["name"]) == ["长者之家", "菜场,东"]


def test_rows_are_numbered_by_their_line_with_blank_and_spaced_lines(tmp_path):
    from lifecircle.sources._files import read_csv_text, row_numbers

    p = tmp_path / "l.csv"
    p.write_text('a,b\n1,2\n\n   \n"x\ny",3\n4,5\n', encoding="utf-8")
    df = read_csv_text(p, "--facilities")
    assert list(df["a"]) == ["1", "x\ny", "4"] and list(row_numbers(df)) == [2, 5, 7]
    assert list(row_numbers(df.copy())) == [2, 5, 7]  # kept by derived frames, never copied
    assert df.copy().attrs["lines"] is df.attrs["lines"]


def test_log_records_lose_their_control_characters():
    import logging

    from lifecircle.cli.logs import _printable_record

    rec = logging.LogRecord("x", logging.INFO, "", 0, "wrote %s", ("\x1b[2Jdistrict",), None)
    assert _printable_record(rec) and rec.getMessage() == "wrote \ufffd[2Jdistrict"
