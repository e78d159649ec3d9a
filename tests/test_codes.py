"""Administrative codes: 12-digit community codes, consistency with district/subdistrict codes,
comparison with a code table."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import shared
from lifecircle.errors import InputError
from lifecircle.sources.codes import (
    compare_with_code_table,
    looks_like_codes,
    validate_community_codes,
)


def test_which_ids_are_codes():
    assert looks_like_codes(pd.Series(["310101002001", "310101002002"]))
    assert not looks_like_codes(pd.Series(["1", "2"]))
    assert not looks_like_codes(pd.Series(["grid_r001_c002"]))


def test_good_codes_and_consistency():
    t = pd.DataFrame(
        {"id": ["310101002001", "310101020003"], "areaCode": ["310101", "310101"],
         "streetCode": ["310101002", "310101020"]}
    )  # fmt: skip
    rep = validate_community_codes(t, "id")
    assert rep["codes_checked"] == 2 and rep["district_column"] == "areaCode"


@pytest.mark.parametrize(
    ("code", "message"),
    [("31010100200", "11 characters"), ("3101010020011", "13 characters")],
)
def test_codes_of_11_or_13_digits(code, message):
    t = pd.DataFrame({"id": ["310101002001", code]})
    with pytest.raises(InputError, match=message):
        validate_community_codes(t, "id")


def test_code_inconsistent_with_its_subdistrict():
    t = pd.DataFrame({"id": ["310101002001"], "streetCode": ["310101020"]})
    with pytest.raises(InputError, match="does not start with its subdistrict code 310101020"):
        validate_community_codes(t, "id")


def test_against_a_hand_made_table(tmp_path):
    table = tmp_path / "codes.csv"
    table.write_text(
        "code,name\n310101002001,甲居委会\n310101002002,乙居委会\n310101002003,丙居委会\n"
        "310104001001,别区居委会\n",
        encoding="utf-8",
    )
    ids = pd.Series(["310101002001", "310101002002", "310101999001"])
    residents = pd.Series({"310101002001": 120.0, "310101002002": 0.0, "310101999001": 5.0})
    rep = compare_with_code_table(table, ids, residents)
    assert rep["table_committees_in_districts"] == 3  # the other district's committee is out
    assert rep["committees_without_polygon"] == [{"code": "310101002003", "name": "丙居委会"}]
    assert rep["committees_without_residents"] == [{"code": "310101002002", "name": "乙居委会"}]
    assert rep["polygons_with_unknown_codes"] == ["310101999001"]


def test_against_the_shanghai_table():
    table = shared("admin/shanghai_communities.csv")
    ids = pd.Series(["310101020001"])  # one committee of 五里桥街道
    rep = compare_with_code_table(table, ids, pd.Series({"310101020001": 10.0}))
    assert rep["table_committees_in_districts"] == 170  # Huangpu has 170 committees
    assert len(rep["committees_without_polygon"]) == 169
    codes = [c["code"] for c in rep["committees_without_polygon"]]
    assert all(len(c) == 12 and c.startswith("310101") for c in codes)
