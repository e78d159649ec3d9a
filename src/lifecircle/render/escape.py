"""Make strings from data safe inside HTML, inside the JavaScript template literals folium
emits (backticks and ``${`` would otherwise end or inject into them), and inside folium's own
templates: folium renders each element's output and then parses it again as a Jinja template,
so a ``{{ … }}`` or ``{% … %}`` in a name would be evaluated on the machine writing the map."""

from __future__ import annotations

import html


def safe_text(value: object) -> str:
    s = html.escape("" if value is None else str(value), quote=True)
    return (
        s.replace("`", "&#96;")
        .replace("$", "&#36;")
        .replace("\\", "&#92;")
        .replace("{", "&#123;")
        .replace("}", "&#125;")
    )
