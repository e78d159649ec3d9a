"""The workbench's files (``POST /api/scenario``, ``/api/scenario/load``, ``/api/export``,
``/api/print``): a saved scenario that ``lifecircle scenario`` reproduces byte for byte, loaded
back exactly; tables and a printable page of the state whose hostile names stay inert; bad
requests and hostile zips refused with a clear 4xx, and nothing written to disk."""

from __future__ import annotations

import csv
import http.client
import io
import json
import shlex
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from lifecircle.cli.main import app
from lifecircle.i18n import t
from lifecircle.render.escape import people_csv_bytes, read_people_csv
from lifecircle.render.printview import short_communities
from lifecircle.server import MAX_BODY, start_in_thread
from lifecircle.workbench import Workbench
from lifecircle.workbench_files import MEMBER_CAPS
from test_serve import LAT0, LON0, STEP, N, _csv, _osm, _snapshot

runner = CliRunner()
#: one community per name: each must stay text in every file
COMMUNITY_NAMES = [
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x","y")',
    "+1",
    "@SUM(A1)",
    "-2",
    "{{ 7*7 }} 南京路社区",
]
FACILITIES = [
    ("m1", "market", "{{ 7*7 }}", 0.5, 0.5),
    ("m2", "market", "+1", 7.5, 7.0),
    ("c1", "health", "@SUM(A1)", 4.0, 4.2),
]
# a moved market (m1 closed, reopened across the road), an elder-care home and a canteen with
# names holding commas, quotes, new lines, formulas and Chinese, at coordinates with many digits
EDITS = {
    "add": [
        {"category": "market", "lon": LON0 + 1.5123456789012 * STEP, "lat": LAT0 + 0.5 * STEP,
         "name": "菜场 (moved), \"new\"\nsecond line"},
        {"category": "elder_care", "lon": 121.47412345678901, "lat": 31.234098765432101,
         "name": '=HYPERLINK("http://evil","click")'},
        {"category": "canteen", "lon": LON0 + 6.25 * STEP, "lat": LAT0 + 3.3333333333333 * STEP,
         "name": "-2"},
        {"category": "elder_care", "lon": LON0 + 7.1 * STEP, "lat": LAT0 + 7.9 * STEP,
         "name": "<script>alert(1)</script>"},
    ],
    "remove": ["facilities.csv:m1"],
}  # fmt: skip


def _communities(path: Path) -> Path:
    """Vertical strips side by side across the grid, one per hostile name."""
    x1, y1 = LON0 + (N - 1) * STEP, LAT0 + (N - 1) * STEP
    k = len(COMMUNITY_NAMES)
    xs = [LON0 + (x1 - LON0) * i / k for i in range(k + 1)]
    feats = [
        {
            "type": "Feature",
            "properties": {"id": f"3201060010{i:02d}", "name": name},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[a, LAT0], [b, LAT0], [b, y1], [a, y1], [a, LAT0]]],
            },
        }
        for i, (a, b, name) in enumerate(zip(xs[:-1], xs[1:], COMMUNITY_NAMES, strict=True))
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    return path


@pytest.fixture(scope="module")
def analysis(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("strips")
    args = ["-q", "analyze", "--osm", str(_osm(d / "grid.osm")), "--communities",
            str(_communities(d / "communities.geojson")), "--facilities",
            str(_csv(d / "facilities.csv", FACILITIES)), "--out", str(d / "base")]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return d / "base"


@pytest.fixture(scope="module")
def served(analysis):
    before = _snapshot(analysis)
    bench = Workbench.open(analysis)
    running = start_in_thread(bench, host="127.0.0.1", port=0)
    yield running, bench
    running.stop()
    assert _snapshot(analysis) == before  # no request changed the analysis folder


def post(served, path: str, body, kind: str = "application/json", headers=None):
    """(status, headers, body bytes) of one POST to the server."""
    conn = http.client.HTTPConnection("127.0.0.1", served[0].port, timeout=120)
    data = json.dumps(body).encode() if isinstance(body, dict | list) else body
    try:
        conn.request("POST", path, body=data, headers={"Content-Type": kind, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp, resp.read()
    finally:
        conn.close()


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _evaluate(served, body) -> dict:
    status, _, raw = post(served, "/api/evaluate", body)
    assert status == 200, raw
    return json.loads(raw)


# ---- save, reproduce, load -------------------------------------------------------------------


def test_saved_scenario_reproduces_the_evaluate_coverage_byte_for_byte(
    served, analysis, tmp_path, monkeypatch
):
    status, resp, raw = post(served, "/api/scenario", EDITS)
    assert status == 200, raw
    assert resp.getheader("Content-Type") == "application/zip"
    disposition = 'attachment; filename="lifecircle-scenario.zip"'
    assert resp.getheader("Content-Disposition") == disposition
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        assert zf.namelist() == ["workbench.csv", "remove.csv", "README.txt"]
        zf.extractall(tmp_path)
    added = pd.read_csv(tmp_path / "workbench.csv", encoding="utf-8-sig", dtype=str)
    assert list(added.columns) == ["id", "category", "name", "lon", "lat"]
    assert added["id"].tolist() == ["1", "2", "3", "4"]
    assert added["lon"].tolist() == [repr(a["lon"]) for a in EDITS["add"]]  # written exactly
    assert added["lat"].tolist() == [repr(a["lat"]) for a in EDITS["add"]]
    assert added["name"][1] == "'" + EDITS["add"][1]["name"]  # a formula stays text in Excel
    assert (
        tmp_path / "remove.csv"
    ).read_bytes() == "\ufefffacility_id\r\nfacilities.csv:m1\r\n".encode()
    # run exactly the command the README gives, in the folder the zip was unpacked into
    readme = (tmp_path / "README.txt").read_text("utf-8")
    command = next(line.strip() for line in readme.splitlines() if "lifecircle scenario" in line)
    args = shlex.split(command)
    assert args[:3] == ["lifecircle", "scenario", str(analysis)]
    assert args[3:] == ["--add", "workbench.csv", "--add-crs", "EPSG:4326", "--remove",
                        "remove.csv", "--out", f"{analysis}-scenario"]  # fmt: skip
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["-q", *args[1:]])
    assert r.exit_code == 0, r.output
    out = Path(f"{analysis}-scenario")
    state = _evaluate(served, EDITS)
    api = pd.DataFrame(state["coverage"], columns=state["columns"])
    assert (out / "coverage.csv").read_bytes() == people_csv_bytes(api)[0]
    # the added facilities have the same ids in both
    want_ids = [f"workbench.csv:{k}" for k in range(1, 5)]
    assert [f["facility_id"] for f in state["facilities"] if f["change"] == "added"] == want_ids
    changes = read_people_csv(out / "facility_changes.csv", dtype=str, keep_default_na=False)
    assert changes.loc[changes["change"] == "added", "facility_id"].tolist() == want_ids
    assert changes.loc[changes["change"] == "removed", "facility_id"].tolist() == EDITS["remove"]
    # the export of the same state holds the scenario's two tables, byte for byte
    status, resp, raw = post(served, "/api/export", {**EDITS, "format": "csv"})
    assert status == 200 and resp.getheader("Content-Type") == "application/zip"
    assert 'filename="lifecircle-export.zip"' in resp.getheader("Content-Disposition")
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        assert zf.namelist() == ["coverage.csv", "coverage_change.csv"]
        assert zf.read("coverage.csv") == (out / "coverage.csv").read_bytes()
        assert zf.read("coverage_change.csv") == (out / "coverage_change.csv").read_bytes()


def test_a_loaded_scenario_gives_back_the_edits_exactly(served):
    status, _, saved = post(served, "/api/scenario", EDITS)
    assert status == 200
    status, resp, raw = post(served, "/api/scenario/load", saved, "application/zip")
    assert status == 200, raw
    assert resp.getheader("Content-Type").startswith("application/json")
    loaded = json.loads(raw)
    assert loaded == EDITS  # names (new lines, quotes, formulas), categories, floats as saved
    assert _evaluate(served, loaded)["coverage"] == _evaluate(served, EDITS)["coverage"]


def test_only_the_lists_that_hold_something_are_in_the_command(served):
    status, _, raw = post(served, "/api/scenario", {"add": EDITS["add"][:1]})
    assert status == 200
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        assert zf.read("remove.csv") == "\ufefffacility_id\r\n".encode()  # the header only
        readme = zf.read("README.txt").decode()
    assert "--add workbench.csv --add-crs EPSG:4326 --out" in readme
    assert "--remove" not in readme.split("--out")[0]
    status, _, raw = post(served, "/api/scenario", {"remove": ["facilities.csv:c1"]})
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        readme = zf.read("README.txt").decode()
        assert zf.read("workbench.csv") == "\ufeffid,category,name,lon,lat\r\n".encode()
    assert "--remove remove.csv --out" in readme and "--add" not in readme
    status, _, raw = post(served, "/api/scenario", {})
    assert status == 200
    status, _, back = post(served, "/api/scenario/load", raw, "application/zip")
    assert json.loads(back) == {"add": [], "remove": []}


# ---- hostile zips and bad requests -------------------------------------------------------------

GOOD = {
    "workbench.csv": "\ufeffid,category,name,lon,lat\r\n1,market,x,121.474,31.234\r\n".encode(),
    "remove.csv": b"facility_id\r\n",
}


def _bomb() -> bytes:
    """A 40 MB workbench.csv of one repeated row that packs into about 40 kB."""
    row = b"1,market,x,121.474,31.234\r\n"
    return _zip({**GOOD, "workbench.csv": b"id,category,name,lon,lat\r\n" + row * 1_500_000})


def _lying() -> bytes:
    """A zip whose headers say workbench.csv unpacks to 60 bytes while it holds far more."""
    rows = b"1,market,x,121.474,31.234\r\n" * 100_000
    data = bytearray(_zip({**GOOD, "workbench.csv": b"id,category,name,lon,lat\r\n" + rows}))
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 22 : local + 26] = (60).to_bytes(4, "little")
    data[central + 24 : central + 28] = (60).to_bytes(4, "little")
    return bytes(data)


BAD_ZIPS = [
    (_lying(), "workbench.csv cannot be unpacked"),
    (b"PK\x03\x04 this is no zip", "not a zip file"),
    (b"id,category,name,lon,lat\n", "not a zip file"),
    (_zip({**GOOD, "../evil": b"x"}), "'../evil'"),
    (_zip({"../workbench.csv": GOOD["workbench.csv"], "remove.csv": b"facility_id\n"}), "paths"),
    (_zip({**GOOD, "/etc/passwd": b"x"}), "'/etc/passwd'"),
    (_zip({**GOOD, "sub/": b""}), "'sub/'"),
    (_zip({**GOOD, "notes.txt": b"x"}), "'notes.txt'"),
    (_zip({"workbench.csv": GOOD["workbench.csv"]}), "remove.csv missing"),
    (_bomb(), f"more than {MEMBER_CAPS['workbench.csv']:,} bytes"),
    (_zip({**GOOD, "workbench.csv": b"id,category,name,lon,lat,capacity\n1,market,x,1,2,3\n"}),
     "the header must be id,category,name,lon,lat exactly"),
    (_zip({**GOOD, "workbench.csv": b"id,category,name,lon,lat\n1,market,x,121.474\n"}),
     "line(s) 2 do not have the 5 cells"),
    (_zip({**GOOD, "workbench.csv": b"id,category,name,lon,lat\n1,casino,x,121.474,31.234\n"}),
     "unknown category 'casino'"),
    (_zip({**GOOD, "workbench.csv": b"id,category,name,lon,lat\n1,market,x,east,nan\n"}),
     "not WGS 84"),
    (_zip({**GOOD, "workbench.csv": b"id,category,name,lon,lat\n7,market,x,121.474,31.234\n"}),
     "ids are 1, 2"),
    (_zip({**GOOD, "workbench.csv": b"id,category,name,lon,lat\n1,market,\xff,121.4,31.2\n"}),
     "not UTF-8"),
    (_zip({**GOOD, "remove.csv": b"facility_id\nosm:node/404\n"}), "'osm:node/404'"),
    (_zip({**GOOD, "remove.csv": b"id\nfacilities.csv:m1\n"}), "the header must be facility_id"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "said"), BAD_ZIPS)
def test_a_zip_that_is_not_one_of_ours_is_refused(
    served, analysis, tmp_path, monkeypatch, data, said
):
    monkeypatch.chdir(tmp_path)
    before = _snapshot(analysis)
    status, resp, raw = post(served, "/api/scenario/load", data, "application/zip")
    assert status == 400, raw
    assert resp.getheader("Content-Type").startswith("application/json")
    err = json.loads(raw)["error"]
    assert said in err["message"] and "Traceback" not in err["message"]
    assert _snapshot(analysis) == before and not any(tmp_path.iterdir())  # nothing written


def test_oversized_and_mistyped_loads_are_refused(served):
    # a declared length over the limit is refused from the headers alone (the body sent is
    # short, so that the client is not still sending when the server answers and closes)
    over = {"Content-Length": str(MAX_BODY + 1)}
    status, _, raw = post(served, "/api/scenario/load", _zip(GOOD), "application/zip", over)
    assert status == 413 and "bytes" in json.loads(raw)["error"]["message"]
    status, _, raw = post(served, "/api/scenario/load", _zip(GOOD), "application/json")
    assert status == 415 and "application/zip" in json.loads(raw)["error"]["message"]
    rows = "".join(f"{k},market,x,121.474,31.234\n" for k in range(1, 1002))
    big = _zip({**GOOD, "workbench.csv": ("id,category,name,lon,lat\n" + rows).encode()})
    status, _, raw = post(served, "/api/scenario/load", big, "application/zip")
    assert status == 413 and "at most 1000" in json.loads(raw)["error"]["message"]


BAD_REQUESTS = [
    ("/api/scenario", {"add": [{**EDITS["add"][0], "category": "casino"}]}, "unknown category"),
    ("/api/scenario", {"add": [{**EDITS["add"][0], "lon": 2.35, "lat": 48.85}]}, "outside"),
    ("/api/scenario", {"remove": ["osm:node/404"]}, "osm:node/404"),
    ("/api/scenario", {"format": "csv"}, "unknown field"),
    ("/api/scenario", '{"add": [', "malformed JSON"),
    ("/api/export", {"format": "pdf"}, '"format" \'pdf\'; give "csv" or "xlsx"'),
    ("/api/export", {"format": ["csv"]}, "give \"csv\" or \"xlsx\""),
    ("/api/export", {"add": [{**EDITS["add"][0], "category": "casino"}], "format": "csv"},
     'export: "add"[0]: unknown category'),
    ("/api/export", [1], "JSON object"),
    ("/api/print", {"lang": "fr"}, '"lang" \'fr\'; give "zh" or "en"'),
    ("/api/print", {"add": [{"category": "market"}]}, "must be a number"),
    ("/api/print", "{nope}", "malformed JSON"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "said"), BAD_REQUESTS)
def test_bad_requests_get_a_json_400_with_a_clear_message(served, analysis, path, body, said):
    before = _snapshot(analysis)
    data = body.encode() if isinstance(body, str) else body
    status, resp, raw = post(served, path, data)
    assert status == 400, raw
    assert resp.getheader("Content-Type").startswith("application/json")
    assert said in json.loads(raw)["error"]["message"]
    assert b"Traceback" not in raw and _snapshot(analysis) == before


# ---- export and print: names stay text ---------------------------------------------------------


def test_csv_export_keeps_hostile_names_inert_and_reads_back(served):
    status, _, raw = post(served, "/api/export", {**EDITS, "format": "csv"})
    assert status == 200
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        text = zf.read("coverage.csv").decode("utf-8")
        change = zf.read("coverage_change.csv").decode("utf-8")
    assert text.startswith("\ufeffcommunity_id,community_name")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    names = [r[1] for r in rows[1:]]
    for cell in names:  # no name cell a spreadsheet would evaluate
        assert cell[:1] not in "=+-@", cell
    assert {"'+1", "'@SUM(A1)", "'-2", '\'=HYPERLINK("http://x","y")'} <= set(names)
    assert "'-2" in change
    back = pd.read_csv(io.StringIO(text.lstrip("\ufeff")), dtype={"community_id": str})
    assert set(COMMUNITY_NAMES) <= {n.lstrip("'") for n in back["community_name"]}


def test_xlsx_export_holds_both_tables_as_text_never_formulas(served):
    status, resp, raw = post(served, "/api/export", {**EDITS, "format": "xlsx"})
    assert status == 200
    assert resp.getheader("Content-Type").startswith("application/vnd.openxmlformats")
    assert 'filename="lifecircle-export.xlsx"' in resp.getheader("Content-Disposition")
    wb = openpyxl.load_workbook(io.BytesIO(raw))
    assert wb.sheetnames == ["coverage", "coverage_change"]
    state = _evaluate(served, EDITS)
    ws = wb["coverage"]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == state["columns"]
    assert len(rows) - 1 == len(state["coverage"])
    names = [r[1] for r in rows[1:]]
    assert set(names) == set(COMMUNITY_NAMES)  # exactly the names, no quote added
    for sheet in wb:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value[:1] in "=+-@":
                    assert cell.quotePrefix, cell.value
    cov = [r[7] for r in rows[1:]]
    want = [r["coverage"] for r in state["coverage"]]
    # shares as numbers (a workbook keeps 16 significant digits)
    assert all(isinstance(v, int | float) for v in cov)
    assert cov == pytest.approx(want, rel=1e-15, abs=0)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_print_is_a_static_a4_page_with_every_name_as_text(served, lang):
    status, resp, raw = post(served, "/api/print", {**EDITS, "lang": lang})
    assert status == 200
    assert resp.getheader("Content-Type") == "text/html; charset=utf-8"
    assert resp.getheader("Content-Disposition") is None  # shown, not saved
    page = raw.decode("utf-8")
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "{{ 7*7 }} 南京路社区" in page and ">49<" not in page
    assert "=HYPERLINK(&quot;http://evil&quot;,&quot;click&quot;)" in page
    assert "size: A4" in page and "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    for key in ("wbp_title", "wbp_edits", "wbp_shares", "wbp_flips", "wbp_short", "all"):
        assert t(key, lang).replace("'", "&#x27;") in page, key
    assert "workbench.csv:4" in page and "facilities.csv:m1" in page
    state = _evaluate(served, EDITS)
    flips = state["change"]["flips"]["now_meets"]
    assert flips and all(f["community_id"] in page for f in flips)


def test_short_communities_are_sorted_by_shortfall():
    judged = {"all": ("standard", 15), "market": ("standard", 10)}
    rows = []
    for cid, clc, market in [("a", 0.9, 0.5), ("b", 0.2, 0.9), ("c", 0.6, 0.2), ("d", 0.9, 0.9)]:
        rows.append((cid, "all", "standard", 15, 100.0, clc))
        rows.append((cid, "market", "standard", 10, 100.0, market))
        rows.append((cid, "market", "standard", 5, 100.0, 0.0))  # not the judging row
    rows.append(("e", "all", "standard", 15, 0.0, 0.0))  # no residents: never short
    cov = pd.DataFrame(
        [(c, f"n{c}", cat, p, m, r, v) for c, cat, p, m, r, v in rows],
        columns=["community_id", "community_name", "category", "profile", "minutes",
                 "residents", "coverage"],
    )  # fmt: skip
    got = short_communities(cov, judged, target=0.85)
    assert got["community_id"].tolist() == ["b", "c", "a"]
    assert got["shortfall"].tolist() == pytest.approx([0.65, 0.25, 0.0])
    assert got["short"].tolist() == [[], [("market", 0.2)], [("market", 0.5)]]


def test_print_without_edits_says_so_in_the_default_language(served):
    status, _, raw = post(served, "/api/print", {})
    assert status == 200
    page = raw.decode("utf-8")
    assert '<html lang="zh-CN">' in page and t("wbp_no_edits", "zh") in page
    assert t("wbp_no_flips", "zh") in page
