"""``lifecircle serve``: the workbench's HTTP API answers what ``lifecircle scenario`` and
``lifecircle site`` compute for the same edit, refuses bad requests with a JSON 4xx (never a
traceback), serves no file of any path, and never changes the analysis folder."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lifecircle.cli.main import app
from lifecircle.render.escape import read_people_csv
from lifecircle.server import MAX_BODY, host_warning, start_in_thread
from lifecircle.siting import site
from lifecircle.webpage import PageOptions
from lifecircle.workbench import Workbench

runner = CliRunner()
LON0, LAT0 = 121.47, 31.23  # a 9 × 9 street grid in central Shanghai, about 800 m across
STEP = 0.001
N = 9
NAMES = ["<script>alert(1)</script>", '=HYPERLINK("http://x","y")']
FACILITIES = [
    ("m1", "market", "{{ 7*7 }}", 0.5, 0.5),
    ("m2", "market", "+1", 7.5, 7.0),
    ("c1", "health", "@SUM(A1)", 4.0, 4.2),
]
ADDED = {"category": "elder_care", "lon": LON0 + 4.0 * STEP, "lat": LAT0 + 4.0 * STEP}


def _osm(path: Path) -> Path:
    nid = lambda i, j: 1 + i * N + j  # noqa: E731
    nodes = [
        f'<node id="{nid(i, j)}" version="1" lat="{LAT0 + i * STEP:.6f}" '
        f'lon="{LON0 + j * STEP:.6f}"/>'
        for i in range(N)
        for j in range(N)
    ]
    ways, w = [], 1
    for i in range(N):
        for line in ([nid(i, j) for j in range(N)], [nid(j, i) for j in range(N)]):
            refs = "".join(f'<nd ref="{r}"/>' for r in line)
            ways.append(f'<way id="{w}" version="1">{refs}<tag k="highway" v="residential"/></way>')
            w += 1
    body = "\n".join(nodes + ways)
    path.write_text(f'<?xml version="1.0"?>\n<osm version="0.6">\n{body}\n</osm>\n', "utf-8")
    return path


def _csv(path: Path, rows) -> Path:
    lines = ["id,category,name,lon,lat"]
    for i, c, n, x, y in rows:
        name = '"' + n.replace('"', '""') + '"'
        lines.append(f"{i},{c},{name},{LON0 + x * STEP:.7f},{LAT0 + y * STEP:.7f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _communities(path: Path) -> Path:
    """Two communities side by side, with hostile names."""
    x1, y1 = LON0 + (N - 1) * STEP, LAT0 + (N - 1) * STEP
    xm = (LON0 + x1) / 2
    boxes = [(LON0, LAT0, xm, y1), (xm, LAT0, x1, y1)]
    feats = [
        {
            "type": "Feature",
            "properties": {"id": f"31010100100{k}", "name": name},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[a, b], [c, b], [c, d], [a, d], [a, b]]],
            },
        }
        for k, ((a, b, c, d), name) in enumerate(zip(boxes, NAMES, strict=True))
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    return path


@pytest.fixture(scope="module")
def town(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("town")
    _osm(d / "grid.osm")
    _communities(d / "communities.geojson")
    _csv(d / "facilities.csv", FACILITIES)
    return d


@pytest.fixture(scope="module")
def analysis(town, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "base"
    r = runner.invoke(
        app,
        ["-q", "analyze", "--osm", str(town / "grid.osm"), "--communities",
         str(town / "communities.geojson"), "--facilities", str(town / "facilities.csv"),
         "--out", str(out)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return out


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def served(analysis):
    """The workbench on 127.0.0.1 at a free port, in a thread; the folder's files before."""
    before = _snapshot(analysis)
    bench = Workbench.open(analysis)
    running = start_in_thread(bench, host="127.0.0.1", port=0)
    yield running, bench, before
    running.stop()


def call(served, method: str, path: str, body=None, headers=None):
    """One request to the server on 127.0.0.1: (status, headers, parsed JSON or text)."""
    running = served[0]
    conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=60)
    try:
        if isinstance(body, dict | list):
            body = json.dumps(body)
            headers = {"Content-Type": "application/json", **(headers or {})}
        chunked = body is not None and not isinstance(body, str | bytes)
        conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    kind = resp.getheader("Content-Type", "")
    data = json.loads(raw) if kind.startswith("application/json") else raw.decode()
    return resp.status, resp, data


# ---- the routes --------------------------------------------------------------------------------


def test_index_is_the_workbench_page_under_a_strict_policy(served):
    status, resp, text = call(served, "GET", "/")
    assert status == 200 and resp.getheader("Content-Type").startswith("text/html")
    csp = resp.getheader("Content-Security-Policy")
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert script_src.split() == ["script-src", "'self'"]  # no inline script, no eval
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert '<script src="/static/workbench.js"' in text
    # the only script elements: the two files and the JSON data block (which never runs)
    assert text.count("<script") == 3 and 'type="application/json"' in text
    for name in ("workbench.js", "workbench.css", "leaflet.js", "leaflet.css"):
        status, resp, body = call(served, "GET", f"/static/{name}")
        assert status == 200 and len(body) > 1000
        assert resp.getheader("Content-Type").split(";")[0] in ("text/javascript", "text/css")


def test_layers_give_communities_and_facilities_in_wgs84(served):
    status, _, got = call(served, "GET", "/api/layers")
    assert status == 200
    comm = got["communities"]["features"]
    assert sorted(f["properties"]["community_name"] for f in comm) == sorted(NAMES)
    assert set(comm[0]["properties"]) == {"community_id", "community_name", "residents"}
    assert sum(f["properties"]["residents"] for f in comm) > 0
    lon, lat = comm[0]["geometry"]["coordinates"][0][0]
    assert LON0 - 0.01 < lon < LON0 + 0.02 and LAT0 - 0.01 < lat < LAT0 + 0.02
    fac = {f["properties"]["facility_id"]: f for f in got["facilities"]["features"]}
    assert set(fac) == {"facilities.csv:m1", "facilities.csv:m2", "facilities.csv:c1"}
    m1 = fac["facilities.csv:m1"]
    assert m1["properties"] == {"facility_id": "facilities.csv:m1", "category": "market",
                                "name": "{{ 7*7 }}"}  # fmt: skip
    assert m1["geometry"]["coordinates"] == pytest.approx([LON0 + 0.5 * STEP, LAT0 + 0.5 * STEP])
    # the baseline's service areas per category (nested tiers, largest first) and its gaps
    tiers = got["service_areas"]["market"]["tiers"]["features"]
    minutes = [f["properties"]["minutes"] for f in tiers]
    assert minutes and minutes == sorted(minutes, reverse=True)
    assert got["gaps"]["kind"] == "points" and got["gaps"]["features"]


def test_summary_gives_the_baseline(served, analysis):
    status, resp, s = call(served, "GET", "/api/summary")
    assert status == 200 and resp.getheader("X-Content-Type-Options") == "nosniff"
    saved = json.loads((analysis / "summary.json").read_text("utf-8"))
    assert s["target"] == saved["complete_life_circle"]["target"] == 0.85
    assert s["facilities"] == 3
    cats = {c["category"]: c for c in s["categories"]}
    assert cats["market"]["facilities"] == 2 and cats["elder_care"]["facilities"] == 0
    assert cats["market"]["name_zh"] == saved["categories"]["market"]["name_zh"]
    assert cats["market"]["name_en"] == saved["categories"]["market"]["name_en"]
    for c, share in saved["complete_life_circle"]["within_threshold"].items():
        assert cats[c]["coverage"] == share
    assert s["complete_life_circle"]["coverage"] == saved["complete_life_circle"]["coverage"]
    w, so, e, n = s["bounds_wgs84"]
    assert w < LON0 + 4 * STEP < e and so < LAT0 + 4 * STEP < n


def test_evaluate_equals_lifecircle_scenario_for_the_same_added_facility(
    served, analysis, tmp_path
):
    status, _, got = call(served, "POST", "/api/evaluate", {"add": [{**ADDED, "name": NAMES[0]}]})
    assert status == 200, got
    added = tmp_path / "workbench.csv"
    added.write_text(
        f'id,category,name,lon,lat\n1,elder_care,"{NAMES[0]}",{ADDED["lon"]!r},{ADDED["lat"]!r}\n',
        encoding="utf-8",
    )
    out = tmp_path / "what-if"
    args = ["-q", "scenario", str(analysis), "--add", str(added), "--out", str(out)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    want = read_people_csv(out / "coverage.csv")
    api = pd.DataFrame(got["coverage"], columns=got["columns"])
    assert got["columns"] == list(want.columns)
    assert set(api["community_name"]) == set(NAMES)  # hostile names come back as the same text
    assert len(api) == len(want)
    for col in want.columns:
        a, w = api[col].to_numpy(), want[col].to_numpy()
        if want[col].dtype.kind == "f":
            assert np.array_equal(a.astype(float), w.astype(float), equal_nan=True), col
        else:
            assert [str(v) for v in a] == [str(v) for v in w], col
    # the change: residents newly covered and verdicts that flip, as the scenario says them
    ch = got["change"]
    assert ch["rerouted_categories"] == ["elder_care"]
    base_area = read_people_csv(analysis / "area_coverage.csv")
    new_area = read_people_csv(out / "area_coverage.csv")
    row = lambda t: t[(t["category"] == "elder_care") & (t["minutes"] == 10)  # noqa: E731
                      & (t["profile"] == "standard")]["covered_residents"].sum()  # fmt: skip
    newly = ch["per_category"]["elder_care"]["residents_newly_covered"]
    assert newly == row(new_area) - row(base_area) > 0
    assert ch["per_category"]["market"]["residents_newly_covered"] == 0
    flips = read_people_csv(out / "coverage_change.csv")
    judged = flips["at_threshold"].astype(str).eq("True")
    flips = flips[judged & (flips["verdict_change"] == "now_meets")]
    assert len(ch["flips"]["now_meets"]) == 2  # both communities now have elder care nearby
    assert sorted(f["community_id"] for f in ch["flips"]["now_meets"]) == sorted(
        flips["community_id"].astype(str)
    )
    assert got["facilities"][0]["facility_id"] == "workbench.csv:1"
    assert got["facilities"][0]["name"] == NAMES[0]  # the name comes back as the same text


def test_removing_lowers_coverage_and_nothing_is_the_baseline(served, analysis):
    status, _, none = call(served, "POST", "/api/evaluate", {"add": [], "remove": []})
    assert status == 200
    base = read_people_csv(analysis / "coverage.csv")
    assert [r["coverage"] for r in none["coverage"]] == pytest.approx(
        base["coverage"].tolist(), abs=0, nan_ok=True
    )
    assert none["change"]["rerouted_categories"] == []
    status, _, got = call(served, "POST", "/api/evaluate", {"remove": ["facilities.csv:c1"]})
    assert status == 200, got
    h = got["change"]["per_category"]["health"]
    assert h["coverage_after"] == 0.0 < h["coverage_before"]
    assert h["residents_newly_covered"] < 0
    # each request starts from the baseline: the removal did not stay
    status, _, again = call(served, "POST", "/api/evaluate", {})
    assert again["coverage"] == none["coverage"]


def test_sites_equal_the_siting_of_the_library_and_of_lifecircle_site(served, tmp_path):
    ask = {"category": "elder_care", "count": 2}
    status, _, got = call(served, "POST", "/api/sites", ask)
    assert status == 200, got
    bench = served[1]
    want = site(bench.study, category="elder_care", count=2)
    assert [s["candidate_id"] for s in got["sites"]] == want.sites["candidate_id"].tolist()
    assert [s["coverage_after"] for s in got["sites"]] == want.sites["coverage_after"].tolist()
    assert got["coverage_after"] == want.coverage_after and got["mode"] == "count"
    assert len(got["curve"]) == 3
    out = tmp_path / "sites"
    args = ["-q", "site", str(served[1].folder), "--out", str(out), "--category", "elder_care"]
    r = runner.invoke(app, [*args, "--count", "2"])
    assert r.exit_code == 0, r.output
    csv = read_people_csv(out / "sites.csv")
    assert [s["candidate_id"] for s in got["sites"]] == csv["candidate_id"].astype(str).tolist()
    for col in ("residents_newly_covered", "coverage_after", "lon", "lat"):
        assert [s[col] for s in got["sites"]] == csv[col].astype(float).tolist(), col
    status, _, got = call(served, "POST", "/api/sites", {"category": "elder_care", "target": 0.5})
    assert status == 200 and got["reached"] is True and got["coverage_after"] >= 0.5


# ---- bad requests ------------------------------------------------------------------------------

BAD = [
    ("POST", "/api/evaluate", {"add": [{**ADDED, "category": "casino"}]}, 400, "unknown category"),
    ("POST", "/api/evaluate", {"add": [{**ADDED, "lon": "121.47"}]}, 400, "must be a number"),
    ("POST", "/api/evaluate", {"add": [{**ADDED, "lat": True}]}, 400, "must be a number"),
    ("POST", "/api/evaluate", {"add": [{**ADDED, "lon": 2.35, "lat": 48.85}]}, 400, "outside"),
    ("POST", "/api/evaluate", {"add": [{**ADDED, "lon": 10**400}]}, 400, "finite number"),
    ("POST", "/api/evaluate", {"add": [{**ADDED, "lat": None}]}, 400, "must be a number"),
    ("POST", "/api/evaluate", {"add": [{**ADDED, "name": 5}]}, 400, "name"),
    ("POST", "/api/evaluate", {"add": [{**ADDED, "category": ["market"]}]}, 400, "category"),
    ("POST", "/api/evaluate", {"add": [{**ADDED, "category": {"a": 1}}]}, 400, "category"),
    ("POST", "/api/evaluate", '{"add": [{"name": "\\ud800"}]}', 400, "unpaired surrogate"),
    ("POST", "/api/evaluate", {"add": [{**ADDED, "name": "x" * 201}]}, 400, "200 characters"),
    ("POST", "/api/evaluate", {"add": [ADDED] * 1001}, 413, "at most 1000"),
    ("POST", "/api/evaluate", "[" * 100_000 + "]" * 100_000, 400, "nested too deeply"),
    ("POST", "/api/evaluate", {"add": {"category": "market"}}, 400, "must be a list"),
    ("POST", "/api/evaluate", {"remove": ["osm:node/404"]}, 400, "osm:node/404"),
    ("POST", "/api/evaluate", {"remove": [1]}, 400, "facility_id strings"),
    ("POST", "/api/evaluate", {"moved": []}, 400, "unknown field"),
    ("POST", "/api/evaluate", [1, 2], 400, "JSON object"),
    ("POST", "/api/evaluate", '{"add": [', 400, "malformed JSON"),
    ("POST", "/api/evaluate", '{"add": [{"lon": NaN}]}', 400, "malformed JSON"),
    ("POST", "/api/evaluate", b"\xff\xfe{", 400, "malformed JSON"),
    ("POST", "/api/sites", {"category": "casino", "count": 1}, 400, "not a category"),
    ("POST", "/api/sites", {"category": "elder_care", "count": 0}, 400, "count"),
    ("POST", "/api/sites", {"category": "elder_care", "spacing_m": 1}, 400, "spacing_m"),
    ("POST", "/api/sites", {"count": 1}, 400, "give a category"),
    ("GET", "/api/evaluate", None, 405, "GET is not allowed"),
    ("DELETE", "/api/summary", None, 405, "not allowed"),
    ("PUT", "/api/sites", b"{}", 405, "not allowed"),
    ("GET", "/api/nothing", None, 404, "no such page"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "said"), BAD)
def test_bad_requests_get_a_json_4xx_with_a_clear_message(served, method, path, body, status, said):
    headers = {"Content-Type": "application/json"} if isinstance(body, str | bytes) else None
    got_status, resp, got = call(served, method, path, body, headers)
    assert got_status == status, got
    assert resp.getheader("Content-Type").startswith("application/json")
    assert got["error"]["status"] == status
    assert said in got["error"]["message"]
    assert "Traceback" not in json.dumps(got)


def test_wrong_content_type_and_huge_bodies_are_refused(served):
    status, _, got = call(served, "POST", "/api/evaluate", "{}", {"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in got["error"]["message"]
    status, _, got = call(served, "POST", "/api/evaluate", "{}", {})
    assert status == 415
    json_type = {"Content-Type": "application/json"}
    # a declared length over the limit is refused from the headers alone (the body sent is
    # short, so that the client is not still sending when the server answers and closes)
    declared = json_type | {"Content-Length": str(MAX_BODY + 1)}
    status, _, got = call(served, "POST", "/api/evaluate", '{"add": []}', declared)
    assert status == 413 and "bytes" in got["error"]["message"]
    # no Content-Length: read until it is over the limit; the last chunk is what goes over,
    # so the whole body has been sent by then
    whole, rest = divmod(MAX_BODY, 65_536)
    chunks = iter([*[b"a" * 65_536] * whole, b"a" * (rest + 1)])
    status, _, got = call(served, "POST", "/api/evaluate", chunks, json_type)
    assert status == 413 and "bytes" in got["error"]["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/api/..%2f..%2fsummary.json",
        "/api/summary/../../summary.json",
        "//etc/passwd",
        "/etc/passwd",
        "/summary.json",
        "/coverage.csv",
        "/study_cache.pickle",
        "/api/%2e%2e/study_cache.pickle",
        "http://127.0.0.1/etc/passwd",
        "/static/../summary.json",
        "/static/..",
        "/static/%2e%2e",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2fsummary.json",
        "/static//etc/passwd",
        "/static/%2Fetc%2Fpasswd",
        "/static/summary.json",
        "/static/study_cache.pickle",
        "/static/__init__.py",
        "/static/webpage.py",
        "/static/",
        "/static/workbench.js/../../server.py",
    ],
)
def test_no_path_reaches_the_file_system(served, path):
    status, _, got = call(served, "GET", path)
    assert status == 404
    assert "root:" not in json.dumps(got) and "residents" not in json.dumps(got)


def test_requests_naming_another_host_are_refused(served):
    status, _, got = call(served, "GET", "/api/summary", headers={"Host": "evil.example:80"})
    assert status == 403 and "evil.example" in got["error"]["message"]


def test_requests_never_change_the_analysis_folder(served, analysis):
    call(served, "POST", "/api/evaluate", {"add": [ADDED], "remove": ["facilities.csv:m1"]})
    call(served, "POST", "/api/sites", {"category": "market", "count": 1})
    assert _snapshot(analysis) == served[2]


# ---- the command -------------------------------------------------------------------------------


def test_host_warning_only_off_this_machine():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert host_warning(host) is None
    for host in ("0.0.0.0", "192.168.1.10", "::", "example.org"):
        assert "other machines" in (host_warning(host) or "")


def test_serve_command_warns_off_loopback_and_refuses_a_non_analysis(
    analysis, tmp_path, monkeypatch
):
    import lifecircle.server as server

    calls = []

    def fake(bench, **kw):  # listens nowhere; says where it would
        calls.append(kw)
        kw["started"]("http://127.0.0.1:8765/")

    monkeypatch.setattr(server, "serve_forever", fake)
    r = runner.invoke(app, ["serve", str(analysis), "--host", "0.0.0.0", "--port", "9"])
    assert r.exit_code == 0, r.output
    assert "warning" in r.output and "other machines" in r.output
    assert calls == [
        {"host": "0.0.0.0", "port": 9, "started": calls[0]["started"], "page": calls[0]["page"]}
    ]
    # the page in the analysis's language (zh: analyze's default), with basemap tiles
    assert calls[0]["page"] == PageOptions(lang="zh", offline=False)
    r = runner.invoke(app, ["serve", str(analysis)])
    assert r.exit_code == 0 and "warning" not in r.output
    assert "http://127.0.0.1:8765/" in r.output
    assert calls[1]["host"] == "127.0.0.1" and calls[1]["port"] == 8765
    r = runner.invoke(app, ["serve", str(analysis), "--port", "0", "-q"])
    assert r.exit_code == 0 and calls[2]["port"] == 0
    assert "http://" not in r.output  # -q: nothing said once it listens
    r = runner.invoke(app, ["serve", str(tmp_path)])
    assert r.exit_code == 2 and "analyze" in r.output
    r = runner.invoke(app, ["serve", str(analysis), "--port", "70000"])
    assert r.exit_code == 2 and "--port" in r.output
    r = runner.invoke(app, ["serve", str(analysis), "--lang", "en", "--offline"])
    assert r.exit_code == 0 and calls[-1]["page"] == PageOptions(lang="en", offline=True)
    r = runner.invoke(app, ["serve", str(analysis), "--lang", "fr"])
    assert r.exit_code == 2 and "--lang fr" in r.output and "zh or en" in r.output
