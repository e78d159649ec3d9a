"""The share of residents aged 60+ per community, for age-weighted coverage."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from lifecircle.config import Preset
from lifecircle.errors import InputError


def is_column(value: str | None) -> bool:
    """Whether ``--age-share`` names a column (anything that is not a number)."""
    if value is None:
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


def age_shares(
    value: str | None, communities: gpd.GeoDataFrame, preset: Preset
) -> pd.Series | None:
    """The share of residents aged 60+ per community: one value for all, or a column."""
    if value is None:
        return None
    if preset.elderly_profile is None or preset.elderly_profile == preset.headline_profile:
        raise InputError(
            "--age-share needs a preset with an elderly walking profile besides the headline "
            "one: a profile named 'elderly', or [roles] elderly = <profile>"
        )
    ids = communities["community_id"].astype(str)
    if not is_column(value):
        v = float(value)
        if not 0 <= v <= 1:
            raise InputError(f"--age-share {value}: a share of residents aged 60+ is in [0, 1]")
        return pd.Series(v, index=ids.to_numpy())
    if value not in communities.columns:
        have = [c for c in communities.columns if c not in ("community_id", "geometry")]
        raise InputError(
            f"--age-share {value!r}: not a number, and the communities have no such column "
            f"(they have {', '.join(have) or 'none'}; a column can only come from a "
            "--communities file); give a share such as 0.23, or the name of a column of "
            "--communities holding one per community"
        )
    s = pd.to_numeric(communities[value], errors="coerce")
    bad = ids[(s.isna() | (s < 0) | (s > 1)).to_numpy()]
    if len(bad):
        raise InputError(
            f"--age-share column {value!r}: values must be shares in [0, 1]; "
            f"check communities {', '.join(bad.head(10))}"
        )
    return pd.Series(s.to_numpy(dtype=float), index=ids.to_numpy())
