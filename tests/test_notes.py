"""Notes and labels for people: a note is a key with parameters, written to summary.json in
English (as before) with its key, and rendered in the language of each output."""

from __future__ import annotations

import json
import pickle
import re
import string

import pytest

from lifecircle.i18n import LABELS
from lifecircle.notes import (
    NOTES,
    Note,
    communities_source_label,
    denominator_label,
    input_label,
    note,
    note_keys,
    render_note,
    render_notes,
    threshold_label,
)

CJK = re.compile(r"[\u4e00-\u9fff]")


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


@pytest.mark.parametrize("key", sorted(set(NOTES) - {"headline_warning"}))
def test_every_note_has_both_languages_with_the_same_parameters(key):
    texts = NOTES[key]
    assert set(texts) == {"zh", "en"}
    assert _fields(texts["zh"]) == _fields(texts["en"])
    assert CJK.search(texts["zh"]) and not CJK.search(texts["en"])
    assert "STANDARDS" not in texts["zh"] + texts["en"]


def test_a_headline_warning_is_a_note_in_each_language():
    """The headline words its warnings in every language itself; the note carries both."""
    en, zh = "Half the residents are off the network.", "半数居民在路网外。"
    n = note("headline_warning", en=en, zh=zh)
    assert n == "Half the residents are off the network."
    summary = {"notes": [n], "note_keys": note_keys([n])}
    assert render_notes(summary, "zh") == ["半数居民在路网外。"]


def test_a_note_is_its_english_text_with_its_key():
    n = note("grid_communities", cell_m=250.0)
    assert isinstance(n, str) and n == NOTES["grid_communities"]["en"].format(cell_m=250.0)
    assert "250 m grid" in n
    assert (n.key, n.params) == ("grid_communities", {"cell_m": 250.0})
    back = pickle.loads(pickle.dumps(n))  # to and from the batch's worker processes
    assert isinstance(back, Note) and back == n and back.params == n.params
    assert json.loads(json.dumps([n])) == [str(n)]  # summary.json's "notes" stay strings
    with pytest.raises(KeyError, match="no note"):
        note("no_such_note")
    with pytest.raises(KeyError):
        note("grid_communities")  # a parameter its text needs


def _summary() -> dict:
    notes = [
        note("empty_category", category="canteen"),
        note("extract_clipped", outside_share=0.25, reach_m=990.0),
        "a plain string from an older version",
    ]
    return {
        "notes": json.loads(json.dumps(notes)),
        "note_keys": json.loads(json.dumps(note_keys(notes))),
        "categories": {"canteen": {"name_zh": "社区食堂", "name_en": "Community canteen"}},
    }


def test_notes_render_in_the_language_asked_for():
    s = _summary()
    assert s["note_keys"][2] is None
    zh = render_notes(s, "zh")
    assert zh[0] == "“社区食堂”类设施在研究范围及其外扩范围内一处也没有:覆盖率为 0。"
    assert "25%" in zh[1] and "990 米" in zh[1] and CJK.search(zh[1])
    assert zh[2] == "a plain string from an older version"
    en = render_notes(s, "en")
    assert en[0] == (
        "Category 'Community canteen' has no facility in the area or its buffer: coverage is 0."
    )
    assert en[1] == s["notes"][1]


def test_older_summaries_keep_their_english_notes():
    s = _summary()
    assert render_notes({"notes": s["notes"]}, "zh") == s["notes"]  # no note_keys
    assert render_notes({"notes": s["notes"], "note_keys": [None]}, "zh") == s["notes"]
    broken = {"key": "extract_clipped", "params": {"outside_share": 0.1}}  # a missing field
    assert render_note("as written", broken, "zh") == "as written"
    assert render_note("as written", {"key": "gone_in_this_version"}, "zh") == "as written"


@pytest.mark.parametrize(
    "key",
    [
        "osm_residential_buildings_floor_area_estimate",
        "uniform_area_no_population_data",
        "population_raster:worldpop.tif",
        "population_points:人口.csv",
    ],
)
def test_denominators_have_words_in_both_languages(key):
    zh, en = denominator_label(key, "zh"), denominator_label(key, "en")
    assert CJK.search(zh) and zh != en
    for label in (zh, en):
        assert key.partition(":")[0] not in label  # no raw key
    if ":" in key:
        assert key.partition(":")[2] in zh and key.partition(":")[2] in en
    assert denominator_label("something_new", "zh") == "something_new"


def test_community_sources_thresholds_and_inputs_in_words():
    assert communities_source_label("grid_500m", "zh") == "500 米网格(未提供边界)"
    assert communities_source_label("grid_500m", "en") == "a 500 m grid (no boundaries given)"
    assert "admin_level 8" in communities_source_label("osm_admin_level_8", "zh")
    assert "社区.gpkg" in communities_source_label("file:社区.gpkg", "zh")
    assert communities_source_label("other", "zh") == "other"
    assert threshold_label("minutes", 10.0, "zh") == "10 分钟"
    assert threshold_label("metres", 300.0, "zh") == "300 米"
    assert threshold_label("metres", 300.0, "en") == "300 m"
    assert input_label("facilities[1]", "zh") == "设施清单 (--facilities)"
    assert input_label("osm", "en") == "OpenStreetMap data (--osm)"


@pytest.mark.parametrize("key", sorted(LABELS))
def test_every_label_has_both_languages(key):
    assert {"zh", "en"} <= set(LABELS[key])
    assert "STANDARDS" not in LABELS[key]["zh"] + LABELS[key]["en"]
