"""Service areas as encoded polylines: the biggest layers of a map, about a fifth of their
GeoJSON size.

Each ring is written with Google's encoded-polyline algorithm (coordinate deltas at 1e-5 degree,
about 1 m, as printable characters) and decoded by a few lines of script in the page, which
builds one Leaflet polygon per service area. GeoJSON spends about 23 bytes on a vertex; this
spends 4 to 6.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import shapely
from branca.element import MacroElement, Template

FACTOR = 1e5  # the encoding's precision: 1e-5 degree


def encode_ring(lonlat: np.ndarray) -> str:
    """Encode one ring of (lon, lat) vertices, latitude first as the algorithm defines."""
    if not len(lonlat):
        return ""
    return _encode(np.asarray(lonlat, dtype=float), np.zeros(len(lonlat), dtype=np.int64))[0]


def _encode(lonlat: np.ndarray, ring: np.ndarray) -> list[str]:
    """Encode the vertices of many rings at once: ``ring`` numbers each vertex's ring (0, 1, …,
    in order, none empty); returns one string per ring, as :func:`encode_ring` gives it."""
    q = np.round(lonlat[:, ::-1] * FACTOR).astype(np.int64)
    first = np.r_[True, ring[1:] != ring[:-1]]  # a ring's first vertex is taken from zero
    prev = np.vstack([np.zeros((1, 2), dtype=np.int64), q[:-1]])
    prev[first] = 0
    d = (q - prev).ravel()
    z = np.where(d < 0, ~(d << 1), d << 1)  # zigzag: the sign in the lowest bit
    chunks = np.stack([(z >> (5 * k)) & 31 for k in range(7)], axis=1)
    more = np.stack([(z >> (5 * (k + 1))) > 0 for k in range(7)], axis=1)
    used = np.concatenate([np.ones((len(z), 1), dtype=bool), more[:, :-1]], axis=1)
    chars = (chunks | np.where(more, 0x20, 0)) + 63
    text = chars[used].astype(np.uint8).tobytes().decode("ascii")
    per_ring = np.bincount(np.repeat(ring, 2), weights=used.sum(axis=1), minlength=ring.max() + 1)
    ends = np.cumsum(per_ring.astype(np.int64))
    return [text[a:b] for a, b in zip(np.r_[0, ends[:-1]], ends, strict=True)]


def decode_ring(text: str) -> np.ndarray:
    """The inverse of :func:`encode_ring` (for tests): (lon, lat) vertices."""
    values, shift, acc = [], 0, 0
    for ch in text.encode("ascii"):
        b = ch - 63
        acc |= (b & 31) << shift
        shift += 5
        if b < 0x20:
            values.append(~(acc >> 1) if acc & 1 else acc >> 1)
            shift, acc = 0, 0
    latlon = np.cumsum(np.array(values, dtype=np.int64).reshape(-1, 2), axis=0) / FACTOR
    return latlon[:, ::-1]


def encode_polygons(geom: shapely.Geometry) -> list[list[str]]:
    """A (multi)polygon as a list of polygons, each a list of encoded rings (outer first)."""
    polys = [p for p in shapely.get_parts(geom) if not p.is_empty and p.geom_type == "Polygon"]
    if not polys:
        return []
    rings, owner = shapely.get_rings(np.array(polys, dtype=object), return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    texts = _encode(coords, ring)
    out: list[list[str]] = [[] for _ in polys]
    for k, text in zip(owner, texts, strict=True):
        out[k].append(text)
    return out


DECODER = """
function lcDecodeRing(s) {
  var pts = [], lat = 0, lng = 0, i = 0;
  while (i < s.length) {
    var v = [0, 0];
    for (var k = 0; k < 2; k++) {
      var b, shift = 0, acc = 0;
      do { b = s.charCodeAt(i++) - 63; acc |= (b & 31) << shift; shift += 5; } while (b >= 32);
      v[k] = (acc & 1) ? ~(acc >> 1) : (acc >> 1);
    }
    lat += v[0]; lng += v[1];
    pts.push([lat / 1e5, lng / 1e5]);
  }
  return pts;
}
"""


class EncodedAreas(MacroElement):
    """One service area drawn from encoded rings into the parent layer group."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function(group){
          var polys = {{ this.polys_js }}.map(function(p){ return p.map(lcDecodeRing); });
          var p = L.polygon(polys, {{ this.style|tojson }});
          {% if this.tooltip %}p.bindTooltip({{ this.tooltip|tojson }}, {sticky: true});{% endif %}
          p.addTo(group);
        })({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(
        self, geom: shapely.Geometry, *, style: dict[str, Any], tooltip: str | None = None
    ) -> None:
        super().__init__()
        self._name = "EncodedAreas"
        self.polys = encode_polygons(geom)
        # braces escaped: folium parses every rendered element again as a Jinja template
        self.polys_js = json.dumps(self.polys).replace("{", "\\u007b").replace("}", "\\u007d")
        self.style = style
        self.tooltip = tooltip


class Decoder(MacroElement):
    """The decoding function, once per page (in the header, before any layer uses it)."""

    _template = Template(
        "{% macro header(this, kwargs) %}<script>" + DECODER + "</script>{% endmacro %}"
    )
