"""``lifecircle analyze --sensitivity``: sensitivity.csv (CSV for people, listed in the folder's
marker), the map's and the report's marks on uncertain verdicts, hostile names in all of them,
bad options (exit 2, nothing written), and nothing changed without the flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drawn_town import HOSTILE, grid_town
from lifecircle.cli.main import app
from lifecircle.fileio import MARKER
from lifecircle.outputs import CACHE_FILE, OUTPUT_FILES
from lifecircle.render.escape import html_text, read_people_csv
from lifecircle.sensitivity import EXTRA_COLUMNS, SENSITIVITY_COLUMNS

runner = CliRunner()


def _cli(*args: object):
    return runner.invoke(app, ["-q", *map(str, args)])


@pytest.fixture(scope="module")
def town(tmp_path_factory) -> dict:
    return grid_town(tmp_path_factory.mktemp("town"))


def _args(town: dict, out: Path, *extra: object) -> list[object]:
    return [
        "analyze",
        "--osm", town["osm"],
        "--population", town["population"],
        "--facilities", town["facilities"],
        "--no-osm-facilities",
        "--communities", town["communities"],
        "--preset", town["preset"],
        "--lang", "en",
        "--out", out,
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def runs(town, tmp_path_factory) -> dict[str, Path]:
    """The same analysis with and without --sensitivity."""
    d = tmp_path_factory.mktemp("runs")
    with_it, without = d / "with", d / "without"
    r = _cli(*_args(town, with_it, "--sensitivity", "--dropout", 0.3, "--dropout-runs", 3))
    assert r.exit_code == 0, r.output
    r = _cli(*_args(town, without))
    assert r.exit_code == 0, r.output
    return {"with": with_it, "without": without}


def test_sensitivity_csv_is_written_and_recorded(runs):
    out = runs["with"]
    table = read_people_csv(out / "sensitivity.csv", dtype={"community_id": str})
    assert list(table.columns) == [*SENSITIVITY_COLUMNS, *EXTRA_COLUMNS]
    cov = read_people_csv(out / "coverage.csv", dtype={"community_id": str})
    assert table["coverage"].iloc[: len(cov)].tolist() == pytest.approx(
        cov["coverage"].tolist(), nan_ok=True
    )
    assert "sensitivity.csv" in json.loads((out / MARKER).read_text("utf-8"))["files"]
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert "sensitivity.csv" in summary["outputs"]
    sens = summary["sensitivity"]
    assert sens["dropout"] == 0.3 and sens["dropout_runs"] == 3
    assert sens["speed_band_m_s"] == 0.1 and sens["snap_limits_m"] == [100.0, 200.0, 300.0]
    assert (sens["category"], sens["profile"], sens["minutes"]) == ("all", "standard", 15)
    # the summary lists exactly the table's uncertain communities of the headline's row
    head = table[
        (table["category"] == "all")
        & (table["profile"] == "standard")
        & (table["minutes"] == 15)
        & (table["community_id"] != "*")
        & (table["verdict_stable"] == False)  # noqa: E712
    ]
    assert sorted(c["community_id"] for c in sens["uncertain_communities"]) == sorted(
        head["community_id"]
    )
    assert len(head)  # the town is drawn so that some verdicts are uncertain


def test_names_stay_text_in_the_csv(runs):
    raw = (runs["with"] / "sensitivity.csv").read_text("utf-8-sig")
    for name in ('=HYPERLINK(""http://x"",""y"")', "+1", "@SUM(A1)"):
        assert f",'{name}," in raw or f',"\'{name}",' in raw, name  # quoted: never a formula
    table = read_people_csv(runs["with"] / "sensitivity.csv")
    assert set(HOSTILE) <= set(table["community_name"])  # read back as they were


def test_map_and_report_mark_the_uncertain_communities(runs):
    out = runs["with"]
    sens = json.loads((out / "summary.json").read_text("utf-8"))["sensitivity"]
    n = len(sens["uncertain_communities"])
    page = (out / "map.html").read_text("utf-8")
    assert page.count("lc-unsure") == n  # the popup's first line
    assert "verdict uncertain: the coverage band crosses the target" in page  # legend
    assert f"How sure is each verdict ({n})" in page  # the layer of "?" markers
    report = (out / "report.html").read_text("utf-8")
    assert 'id="sensitivity"' in report
    section = report.split('id="sensitivity"')[1].split("<h2")[0]
    assert section.count("<tr><td>? ") == n
    for c in sens["uncertain_communities"]:
        assert html_text(c["community_name"]) in section


def test_hostile_names_stay_text_in_the_marks(runs, tmp_path):
    """Every community marked uncertain (summary edited), then the map and report rebuilt."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(runs["with"], out)
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    summary["sensitivity"]["uncertain_communities"] = [
        {"community_id": f"c{i}", "community_name": name, "coverage_low": 0.1,
         "coverage": 0.5, "coverage_high": 0.9, "flipped_by": "speed, dropout"}
        for i, name in enumerate(HOSTILE)
    ]  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary), "utf-8")
    assert _cli("map", out, "--lang", "en").exit_code == 0
    assert _cli("report", out, "--lang", "zh").exit_code == 0
    page = (out / "map.html").read_text("utf-8")
    report = (out / "report.html").read_text("utf-8")
    assert page.count("lc-unsure") == len(HOSTILE)
    for text in (page, report):
        assert "<script>alert(1)" not in text
    # folium's second template pass never sees the braces; the report shows them as text
    assert "\\u0026#123;\\u0026#123; 7*7" in page and "{{ 7*7 }}" not in page
    assert "{{ 7*7 }}" in report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    assert "步行速度、设施缺失" in report  # the reasons in the report's language


def test_without_the_flag_nothing_changes(runs):
    a, b = runs["with"], runs["without"]
    assert not (b / "sensitivity.csv").exists()
    assert sorted(json.loads((b / MARKER).read_text("utf-8"))["files"]) == sorted(
        [*OUTPUT_FILES, CACHE_FILE]
    )
    for name in ("coverage.csv", "area_coverage.csv", "denominators.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    sa = json.loads((a / "summary.json").read_text("utf-8"))
    sb = json.loads((b / "summary.json").read_text("utf-8"))
    assert "sensitivity" not in sb and "sensitivity.csv" not in sb["outputs"]
    # sensitivity.csv's quoted names add to the count of quoted CSV cells (and its note)
    ta, tb = sa["text_cells"], sb["text_cells"]
    assert ta["csv_quoted"] > tb["csv_quoted"] and ta["xlsx_cleaned"] == tb["xlsx_cleaned"]
    assert [k for k in sa["note_keys"] if k["key"] != "csv_quoted"] == [
        k for k in sb["note_keys"] if k["key"] != "csv_quoted"
    ]
    volatile = ("provenance", "timings_s", "output_timings_s", "map", "figures", "sensitivity")
    volatile = (*volatile, "outputs")
    for s in (sa, sb):
        for key in (*volatile, "text_cells", "notes", "note_keys"):
            s.pop(key, None)
    assert sa == sb
    page = (b / "map.html").read_text("utf-8")
    assert "lc-unsure" not in page and "verdict uncertain" not in page
    assert 'id="sensitivity"' not in (b / "report.html").read_text("utf-8")


def test_a_rerun_without_the_flag_removes_its_csv(runs, town, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(runs["with"], out)
    assert _cli(*_args(town, out, "--overwrite")).exit_code == 0
    assert not (out / "sensitivity.csv").exists()  # it was the earlier run's, listed as such


def test_a_users_sensitivity_csv_is_never_replaced(town, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "sensitivity.csv").write_text("mine", "utf-8")
    r = _cli(*_args(town, out, "--overwrite", "--sensitivity"))
    assert r.exit_code == 2
    assert "sensitivity.csv" in r.output and "did not write" in r.output
    assert (out / "sensitivity.csv").read_text("utf-8") == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["sensitivity.csv"]  # refused before work


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--sensitivity", "--speed-band", "-0.1"], "--speed-band"),
        (["--sensitivity", "--speed-band", "2"], "--speed-band"),
        (["--sensitivity", "--snap-band", "1"], "--snap-band"),
        (["--sensitivity", "--snap-band", "-0.5"], "--snap-band"),
        (["--sensitivity", "--dropout", "1"], "--dropout"),
        (["--sensitivity", "--dropout", "-0.1"], "--dropout"),
        (["--sensitivity", "--dropout-runs", "0"], "--dropout-runs"),
        (["--dropout", "0.2"], "only used with --sensitivity"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(town, tmp_path, extra, named):
    out = tmp_path / "out"
    r = _cli(*_args(town, out, *extra))
    assert r.exit_code == 2, r.output
    assert named in r.output
    assert not out.exists()


def test_a_bad_preset_speed_band_exits_2(town, tmp_path):
    preset = tmp_path / "p.toml"
    text = town["preset"].read_text("utf-8").replace("speed_band_m_s = 0.1", "speed_band_m_s = -1")
    preset.write_text(text, "utf-8")
    args = _args(town, tmp_path / "out", "--sensitivity")
    args[args.index("--preset") + 1] = preset
    r = _cli(*args)
    assert r.exit_code == 2 and "speed_band_m_s must be a speed" in r.output
    assert not (tmp_path / "out").exists()
