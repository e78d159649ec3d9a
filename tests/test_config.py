"""Presets, the taxonomy and the walk filter load from data files and are validated."""

from __future__ import annotations

import dataclasses

import pytest

from lifecircle.categories import load_taxonomy
from lifecircle.config import PRESETS, load_preset, make_settings
from lifecircle.errors import InputError


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_validates_and_round_trips(name, tmp_path):
    p = load_preset(name)
    p.check_categories(set(load_taxonomy().keys))
    assert 0 < p.target <= 1 and p.basket
    assert p.source and p.title
    f = tmp_path / "copy.toml"
    f.write_text(p.to_toml(), encoding="utf-8")
    back = load_preset(f)
    assert dataclasses.replace(back, file=p.file) == p


def test_shipped_presets_say_what_the_standards_say():
    gb = load_preset("gb50180")
    assert gb.threshold("kindergarten").describe() == "300 m"
    assert gb.threshold("primary_school").metres == 500
    assert gb.threshold("middle_school").metres == 1000
    assert gb.threshold("kindergarten").unverified
    assert set(gb.basket_for(5)) < set(gb.basket_for(10)) < set(gb.basket_for(15))
    sh = load_preset("shanghai")
    assert sh.target == 0.85 and load_preset("shanghai-2035").target == 0.99
    assert sh.threshold("elder_care").minutes == 5 and sh.judge_with["elder_care"] == "elderly"
    assert sh.threshold("kindergarten").minutes == 10
    assert load_preset("tdt1062").basket_for(10)


def _write(tmp_path, text):
    f = tmp_path / "p.toml"
    f.write_text(text, encoding="utf-8")
    return f


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("target = 1.5", "target must be a share in (0, 1]"),
        ("target = 0", "target must be a share in (0, 1]"),
        ("[thresholds]\nmarket = -5", "thresholds.market.minutes must be a positive number"),
        ("[thresholds]\nmarket = {}", "needs exactly one of minutes or metres"),
        (
            "[thresholds]\nmarket = { minutes = 5, metres = 300 }",
            "exactly one of minutes or metres",
        ),
        ("[profiles]\nstandard = 9", "walking speed between 0.1 and 3"),
        ("[judge_with]\nmarket = 'runner'", "is not a profile"),
        ("minutes = [5, 'x']", "minutes must be a list of positive whole minutes"),
        ("this is = not toml =", "not valid TOML"),
    ],
)
def test_bad_preset_files(tmp_path, body, message):
    with pytest.raises(
        InputError,
        match=message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ):
        load_preset(_write(tmp_path, body))


def test_unknown_category_in_preset(tmp_path):
    p = load_preset(
        _write(tmp_path, "[thresholds]\nwet_market = 10\n[basket]\nmandatory = ['wet_market']")
    )
    with pytest.raises(InputError, match="unknown category wet_market"):
        p.check_categories(set(load_taxonomy().keys))


def test_unknown_preset_name():
    with pytest.raises(InputError, match="no such preset"):
        load_preset("beijing")


def test_settings_reach_follows_the_longest_threshold(tmp_path):
    s = make_settings(
        _write(
            tmp_path,
            "minutes = [5, 10, 15]\n[thresholds]\npark = { metres = 1500 }\n"
            "[basket]\nmandatory = [\"park\"]",
        )
    )
    assert s.max_reach_m == 1500
    assert make_settings().max_reach_m == pytest.approx(990)
