"""One place that builds every output column name from (kind, category, profile, minutes), so
names are predictable. Units live in the names."""

from __future__ import annotations

ALL = "all"  # the complete life circle


def dist_col(category: str) -> str:
    """Metres to the nearest facility of the category, legs included."""
    return f"dist_m_{category}"


def time_col(category: str, profile: str) -> str:
    """Minutes to the nearest facility of the category at the profile's speed."""
    return f"time_min_{category}_{profile}"


def coverage_col(category: str, profile: str, minutes: int) -> str:
    """Share of residents within ``minutes`` of the category at the profile's speed."""
    return f"cov_{category}_{profile}_{minutes}min"


def median_dist_col(category: str) -> str:
    """Population-weighted median of the residents' walking distance (m) to the category."""
    return f"median_dist_m_{category}"


def limit_m(minutes: float, speed_m_s: float) -> float:
    """Metres walked in ``minutes`` at ``speed_m_s``."""
    return minutes * 60.0 * speed_m_s
