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
        ("minutes = [5, 'x']", "minutes must be a list of whole minutes from 1 to 240"),
        ("minutes = [100000]", "minutes must be a list of whole minutes from 1 to 240"),
        ("minutes = [5, 5, 10]", "minutes lists a tier twice"),
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
            '[basket]\nmandatory = ["park"]',
        )
    )
    assert s.max_reach_m == 1500
    assert make_settings().max_reach_m == pytest.approx(990)


def test_profile_roles_are_explicit(tmp_path):
    """The headline and elderly profiles come from [roles], not from the order or names."""
    base = load_preset("default")
    assert (base.headline_profile, base.elderly_profile) == ("standard", "elderly")
    assert "roles" not in base.as_dict()  # implied roles add nothing to the record
    body = (
        "minutes = [5, 10, 15]\n[profiles]\nfast = 1.2\nslow = 0.8\n"
        '[roles]\nheadline = "slow"\nelderly = "slow"\n[basket]\nmandatory = ["market"]\n'
    )
    p = tmp_path / "roles.toml"
    p.write_text(body, encoding="utf-8")
    pre = load_preset(p)
    assert pre.headline_profile == "slow" and pre.headline_speed_m_s == 0.8
    assert pre.as_dict()["roles"] == {"headline": "slow", "elderly": "slow"}
    again = tmp_path / "again.toml"
    again.write_text(pre.to_toml(), encoding="utf-8")
    assert load_preset(again).roles == pre.roles
    assert set(pre.service_area_tiers()) == {("slow", 5), ("slow", 10), ("slow", 15), ("fast", 15)}
    p.write_text(body.replace('elderly = "slow"', 'elderly = "jogger"\nboss = "fast"'), "utf-8")
    with pytest.raises(InputError) as err:
        load_preset(p)
    assert "roles.elderly = 'jogger' is not a profile" in str(err.value)
    assert "roles.boss: unknown key" in str(err.value)


# ------------------------------------------------------------------ hostile preset files


def test_binary_preset_file_is_refused(tmp_path):
    f = tmp_path / "p.toml"
    f.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match=r"preset file .*p.toml: not a text file in UTF-8"):
        load_preset(f)
    f.write_bytes(b"target = 0.8\x00\x00\x00")
    with pytest.raises(InputError, match="binary data"):
        load_preset(f)


def test_wrongly_typed_preset_gathers_every_problem_and_raises_once(tmp_path):
    body = (
        'target = "0.9"\n'  # a string where a number is expected
        "profiles = [1.1, 0.9]\n"  # a list where a table is expected
        'judge_with = { market = ["elderly"] }\n'
        "[thresholds]\n"
        'market = { minutes = 5, unverified = "yes" }\n'
        "[basket]\n"
        'tiers = ["market"]\n'  # a list where a table is expected
    )
    with pytest.raises(InputError) as exc:
        load_preset(_write(tmp_path, body))
    msg = str(exc.value)
    assert "6 problem(s)" in msg
    for part in (
        "target must be a share",
        "[profiles] must name at least one walking speed",
        "judge_with.market",
        "thresholds.market.unverified must be true or false",
        "[basket.tiers] must be a table",
        "the basket is empty",
    ):
        assert part in msg


@pytest.mark.parametrize(
    "body",
    [
        "",
        "# only a comment\n",
        "target = 0.9\n[thresholds]\nmarket = 10\n",
        "[basket]\nmandatory = []\n",
        '[basket.tiers]\n"15" = []\n',
    ],
)
def test_a_preset_without_a_basket_is_refused(tmp_path, body):
    """An empty basket made every resident count as covered: a 100 % complete life circle."""
    with pytest.raises(InputError, match=r"the file is empty|the basket is empty"):
        load_preset(_write(tmp_path, body))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("title = 5\n[basket]\nmandatory = ['market']", "title must be text"),
        ("[basket]\nmandatory = ['market']\nmust = ['park']", r"\[basket\]: unknown field"),
        ("tresholds = {}\n[basket]\nmandatory = ['market']", r"unknown field\(s\) \['tresholds'\]"),
        ("[basket]\nmandatory = ['market', 3]", "basket.mandatory must be a list"),
    ],
)
def test_more_wrong_fields(tmp_path, body, message):
    with pytest.raises(InputError, match=message):
        load_preset(_write(tmp_path, body))


# ------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"grid_cell_m": 0}, "--grid-cell-m"),
        ({"grid_cell_m": -500}, "--grid-cell-m"),
        ({"grid_cell_m": float("nan")}, "--grid-cell-m"),
        ({"grid_cell_m": 0.001}, "--grid-cell-m"),  # billions of cells: it hung
        ({"grid_cell_m": 49.9}, "--grid-cell-m"),
        ({"max_snap_m": 0}, "--max-snap-m"),
        ({"max_snap_m": -1}, "--max-snap-m"),
        ({"target": 0}, "--target"),
        ({"target": 1.01}, "--target"),
        ({"target": float("nan")}, "--target"),
    ],
)
def test_bad_settings_are_refused(kwargs, option):
    with pytest.raises(InputError, match=option):
        make_settings(**kwargs)


def test_settings_problems_are_reported_together_also_when_built_directly():
    with pytest.raises(InputError, match=r"3 problem\(s\)"):
        make_settings(target=2, max_snap_m=0, grid_cell_m=0)
    from lifecircle.config import Settings

    with pytest.raises(InputError, match="--grid-cell-m"):
        Settings(preset=load_preset(), target=0.85, grid_cell_m=-1)
    s = make_settings(grid_cell_m=250, max_snap_m=50, target=1)
    assert dataclasses.replace(s, grid_cell_m=300).grid_cell_m == 300


# ------------------------------------------------------------------ the taxonomy


def _cats(tmp_path, body):
    f = tmp_path / "c.toml"
    f.write_text(body, encoding="utf-8")
    return f


def test_binary_categories_file_is_refused(tmp_path):
    f = tmp_path / "c.toml"
    f.write_bytes(b"\xff\xfe\x00garbage" * 10)
    with pytest.raises(InputError, match=r"categories file .*c.toml: not a text file"):
        load_taxonomy(f)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[categories.x]\nname_en = 'X'\nmatch = [{ amenity = 'cafe' }]", "needs name_zh"),
        ("[categories.x]\nname_zh = 1\nname_en = 'X'\nmatch = [{ a = 'b' }]", "x.name_zh must"),
        (
            "[categories.x]\nname_zh = '甲'\nname_en = 'X'\nmatch = [{ amenity = ['cafe'] }]",
            "x.match.0..amenity must be a regular expression in quotes",
        ),
        (
            "[categories.x]\nname_zh = '甲'\nname_en = 'X'\nmatch = [{ amenity = { a = 1 } }]",
            "must be a regular expression in quotes",
        ),
        ("[categories.x]\nname_zh = '甲'\nname_en = 'X'", "x.match: needs at least one rule"),
        (
            "[categories.x]\nname_zh = '甲'\nname_en = 'X'\nmatch = [{ a = 'b' }]\nicon = 5",
            "x.icon must be one character",
        ),
        (
            "[categories.x]\nname_zh = '甲'\nname_en = 'X'\nmatch = [{ a = 'b' }]\nmatches = []",
            "unknown field",
        ),
        ("categories = 'x'", "needs at least one"),
    ],
)
def test_garbage_categories_files_are_refused(tmp_path, body, message):
    with pytest.raises(InputError, match=message):
        load_taxonomy(_cats(tmp_path, body))


def test_the_shipped_taxonomy_names_every_category():
    tax = load_taxonomy()
    assert all(c.name_zh and c.name_en for c in tax.categories)
    assert "elderly_care" in tax["elder_care"].synonyms


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("clinic", "health"),  # an OSM tag value of the category's rules
        ("elderly_care", "elder_care"),  # a synonym
        ("Elder-Care", "elder_care"),  # spelling
        ("kinder_garten", "kindergarten"),  # close to the key
        ("诊所", "health"),  # a Chinese name part
        ("养老院", "elder_care"),  # a Chinese name in the rules
        ("社区食堂", "canteen"),
        ("foo", None),  # short and close to nothing sensible
        ("observatory", None),
    ],
)
def test_suggest_category(name, key):
    from lifecircle.categories import suggest_category

    assert suggest_category(name, load_taxonomy()) == key


def test_outside_taxonomy_notes_say_what_happens_and_what_to_write():
    from lifecircle.categories import outside_taxonomy
    from lifecircle.notes import note_keys, render_note

    found, notes = outside_taxonomy(
        ["clinic", "market", "wet_thing_xyz", "my_basket_kind"],
        load_taxonomy(),
        ["health", "market", "my_basket_kind"],
    )
    assert found == {"clinic": "health", "wet_thing_xyz": None}
    assert len(notes) == 2
    assert "'clinic'" in notes[0] and "outside the complete-life-circle basket" in notes[0]
    assert "'health' (基层医疗" in notes[0] and "a category of the basket" in notes[0]
    zh = render_note(notes[0], note_keys(notes)[0], "zh")
    assert "属完整生活圈)" in zh and "in the basket" not in zh  # one language a note
    assert "taxonomy keys: canteen" in notes[1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("exclude = ['area']", r"\[exclude\] must be a table"),
        ("require = 'highway'", "require must be a list of texts"),
        ("[exclude]\narea = 1", "exclude.area must be a regular expression"),
        ("[elevated]\nrules = { highway = 'trunk' }", r"\[\[elevated.rules\]\] must be a list"),
        ("[elevated]\nfoot_allowed = 'yes'", "elevated.foot_allowed must be a list"),
        ("excludes = {}", "unknown field"),
    ],
)
def test_wrongly_typed_walk_filter_is_refused(tmp_path, body, message):
    from lifecircle.config import load_walk_filter

    with pytest.raises(InputError, match=message):
        load_walk_filter(_write(tmp_path, body))
    assert load_walk_filter().classify({"highway": "footway"}) == "walk"


@pytest.mark.parametrize("body", ["require = []\n", "require = ['highway']\n[exclude]\n"])
def test_a_walk_filter_that_excludes_nothing_is_refused(tmp_path, body):
    """require = [] alone passed the empty-file check and made foot=no ways walkable."""
    from lifecircle.config import load_walk_filter

    f = tmp_path / "walk.toml"
    f.write_text(body, encoding="utf-8")
    with pytest.raises(InputError, match=r"(?s)walk.toml.*excludes nothing.*shipped"):
        load_walk_filter(f)


@pytest.mark.parametrize("body", ["", "# only a comment\n"])
def test_an_empty_walk_filter_is_refused(tmp_path, body):
    from lifecircle.config import load_walk_filter

    f = tmp_path / "walk.toml"
    f.write_text(body, encoding="utf-8")
    with pytest.raises(InputError, match=r"(?s)walk filter .*walk.toml.*the file is empty"):
        load_walk_filter(f)
