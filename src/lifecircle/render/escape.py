"""Make strings from data safe inside HTML and inside the JavaScript template literals folium
emits (backticks and ``${`` would otherwise end or inject into them)."""

from __future__ import annotations

import html


def safe_text(value: object) -> str:
    s = html.escape("" if value is None else str(value), quote=True)
    return s.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")
