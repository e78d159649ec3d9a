"""Small helpers every writer of a run's records shares: values as JSON, the installed version."""

from __future__ import annotations

import math
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd


def jsonable(o: Any) -> Any:
    """``o`` with what JSON cannot hold made plain: dict keys as text, tuples as lists, numpy
    scalars as Python ones, NaN / infinity / NA as null."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [jsonable(v) for v in o]
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if o is pd.NA or o is pd.NaT:
        return None
    return o


def installed_version() -> str:
    """The version of lifecircle installed ("unknown" when run from a bare source tree)."""
    try:
        return metadata.version("lifecircle")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"
