"""Map controls written here rather than fetched as plugins, so that an offline page has them:
metric scale bar, attribution, fullscreen button, community search, and the class legend."""

from __future__ import annotations

import json

from branca.element import MacroElement, Template

from lifecircle.i18n import t
from lifecircle.render.escape import safe_text

CLASS_COLOURS = {  # well below / below / meets / well above / no residents
    "well_below": "#d7191c",
    "below": "#fdae61",
    "meets": "#a6d96a",
    "well_above": "#1a9641",
    "none": "#bdbdbd",
}


def _script(js: str) -> MacroElement:
    """A MacroElement whose script runs with ``map`` bound to the parent map."""
    el = MacroElement()
    el._template = Template(
        "{% macro script(this, kwargs) %}(function(map){"
        + js
        + "})({{ this._parent.get_name() }});{% endmacro %}"
    )
    return el


def metric_scale() -> MacroElement:
    """A scale bar in metres only (folium's default adds miles and feet)."""
    return _script("L.control.scale({imperial: false, maxWidth: 160}).addTo(map);")


def attribution_control(text: str) -> MacroElement:
    return _script(f"map.attributionControl.addAttribution({json.dumps(safe_text(text))});")


def fullscreen_control() -> MacroElement:
    """A fullscreen button (the browser's Fullscreen API; no plugin to fetch)."""
    return _script(
        """
        var C = L.Control.extend({options: {position: 'topleft'}, onAdd: function() {
          var b = L.DomUtil.create('a', 'leaflet-bar lc-fullscreen');
          b.href = '#'; b.title = 'Fullscreen 全屏'; b.setAttribute('aria-label', 'Fullscreen');
          b.innerHTML = '<svg width="16" height="16" viewBox="0 0 16 16" fill="none" '
            + 'style="vertical-align:middle" stroke="#333" stroke-width="2">'
            + '<path d="M1 6V1h5M10 1h5v5M15 10v5h-5M6 15H1v-5"/></svg>';
          b.style.cssText = 'display:block;width:30px;height:30px;line-height:30px;'
            + 'text-align:center;background:#fff;font-size:18px;color:#000';
          L.DomEvent.on(b, 'click', function(e) {
            L.DomEvent.preventDefault(e);
            var el = map.getContainer();
            if (document.fullscreenElement) { document.exitFullscreen(); }
            else if (el.requestFullscreen) { el.requestFullscreen(); }
          });
          L.DomEvent.disableClickPropagation(b);
          return b;
        }});
        map.addControl(new C());
        document.addEventListener('fullscreenchange', function() { map.invalidateSize(); });
        """
    )


def search_control(layer_name: str) -> MacroElement:
    """A box that finds a community by name or id: zooms to it and opens its popup.

    Names are read from the layer's features and set as DOM properties, never parsed as HTML.
    """
    el = MacroElement()
    el._template = Template(
        """{% macro script(this, kwargs) %}
        (function(map, layer){
          var index = [];
          function text(h) {  // the escaped name as plain text: a textarea never runs markup
            var t = document.createElement('textarea'); t.innerHTML = h; return t.value; }
          layer.eachLayer(function(l){ index.push([text(l.feature.properties.q), l]); });
          var C = L.Control.extend({options: {position: 'topright'}, onAdd: function() {
            var box = L.DomUtil.create('div', 'leaflet-bar lc-search');
            box.style.cssText = 'background:#fff;padding:4px';
            var input = L.DomUtil.create('input', '', box);
            input.type = 'search'; input.placeholder = 'Find a community 查找社区';
            input.setAttribute('list', 'lc-search-list'); input.style.width = '190px';
            var list = L.DomUtil.create('datalist', '', box); list.id = 'lc-search-list';
            index.forEach(function(e){
              var o = document.createElement('option'); o.value = e[0]; list.appendChild(o);
            });
            function go() {
              var q = input.value.trim().toLowerCase(); if (!q) return;
              var hit = index.find(function(e){ return e[0].toLowerCase() === q; })
                || index.find(function(e){ return e[0].toLowerCase().indexOf(q) >= 0; });
              if (!hit) { input.style.background = '#fdd'; return; }
              input.style.background = '';
              var b = hit[1].getBounds();
              map.once('moveend', function(){  // then open its popup, as a click would
                hit[1].fire('click', {latlng: b.getCenter()}, true); });
              map.fitBounds(b, {maxZoom: 17});
            }
            L.DomEvent.on(input, 'change', go);
            L.DomEvent.on(input, 'keydown', function(e){ if (e.key === 'Enter') go(); });
            L.DomEvent.disableClickPropagation(box);
            return box;
          }});
          map.addControl(new C());
        })({{ this._parent.get_name() }}, {{ this.layer }});
        {% endmacro %}"""
    )
    el.layer = layer_name  # type: ignore[attr-defined]
    return el


SERVICE_AREA_DASH = "5 4"  # service areas: dashed outlines in the category's (cool) colour
UNSURE_DASH = "6 4"  # communities whose verdict is uncertain: a thick dashed black outline


def class_labels(target: float, unit: str, lang: str) -> list[tuple[str, str]]:
    """The coverage classes of the maps' legend, in order, as (class key, plain-text label in
    ``lang``); ``unit`` is what the weights count (residents, area samples). The colour of each
    key is :data:`CLASS_COLOURS`; the workbench page shows the same rows."""
    zh = lang == "zh"
    return [
        ("well_below", f"远低于目标 (< {target - 0.15:.0%})" if zh else
         f"well below target (< {target - 0.15:.0%})"),
        ("below", f"低于目标 (< {target:.0%})" if zh else f"below target (< {target:.0%})"),
        ("meets", f"达到目标 (≥ {target:.0%})" if zh else f"meets target (≥ {target:.0%})"),
        ("well_above", f"远高于目标 (≥ {target + (1 - target) / 2:.0%})" if zh else
         f"well above (≥ {target + (1 - target) / 2:.0%})"),
        ("none", f"无{unit} / 未分析" if zh else f"no {unit} / not analysed"),
    ]  # fmt: skip


def _legend_rows(target: float, unit: str, zh: bool, service_areas: bool, uncertain: str) -> str:
    """The legend's rows: a swatch per class, then the service-area and uncertain outlines."""
    swatch = (
        '<span style="background:{c};width:14px;height:14px;display:inline-block;'
        'margin-right:6px;border:1px solid #555;vertical-align:-2px"></span>'
    )
    lang = "zh" if zh else "en"
    classes = [(k, lb.replace("<", "&lt;")) for k, lb in class_labels(target, unit, lang)]
    rows = "".join(f"<div>{swatch.format(c=CLASS_COLOURS[k])}{label}</div>" for k, label in classes)
    if service_areas:
        what = (
            "类别图层的服务范围(按分钟嵌套)"
            if zh
            else "service area of a category layer (nested, by minutes)"
        )
        rows += (
            '<div style="margin-top:3px"><span style="width:14px;height:10px;'
            "display:inline-block;margin-right:6px;border:2px dashed #3f51b5;"
            f'vertical-align:-1px"></span>{what}</div>'
        )
    if uncertain:
        rows += (
            '<div style="margin-top:3px"><span style="width:14px;height:10px;'
            "display:inline-block;margin-right:6px;border:2px dashed #000;"
            f'vertical-align:-1px"></span>{safe_text(uncertain)}</div>'
        )
    return rows


def _legend_text(
    target: float, denominator: str, profile: str, minutes: int | None, lang: str, unit: str
) -> tuple[str, str, str]:
    """The legend's title, its sentence on the complete life circle, and its denominator line."""
    zh = lang == "zh"
    walker = safe_text(t(profile, lang))
    if zh:
        within = f",≤ {minutes} 分钟" if minutes else ""
        title = "完整生活圈"
        body = (
            f"在各类设施的标准内到达基本设施组合中每一类的{unit}比例"
            f"({walker}{within})。目标 {target:.0%}。"
        )
        denom = f"分母:{safe_text(denominator)}"
    else:
        within = f", ≤ {minutes} min" if minutes else ""
        title = "Complete life circle"
        body = (
            f"share of {unit} reaching every basket category within its threshold "
            f"({walker}{within}). Target {target:.0%}."
        )
        denom = f"Denominator: {safe_text(denominator)}"
    return title, body, denom


def _legend_top(headline: str, warnings: tuple[str, ...]) -> str:
    """The run's headline and warnings above the legend, with a rule below them (or nothing)."""
    top = f'<div class="lc-headline"><b>{safe_text(headline)}</b></div>' if headline else ""
    top += "".join(
        f'<div class="lc-warning" style="color:#8a4b00;margin-top:3px">⚠ {safe_text(w)}</div>'
        for w in warnings
    )
    if top:
        top += '<hr style="margin:5px 0">'
    return top


def legend(
    target: float,
    denominator: str,
    profile: str,
    minutes: int | None,
    lang: str = "en",
    *,
    headline: str = "",
    warnings: tuple[str, ...] = (),
    unit: str = "",
    service_areas: bool = False,
    uncertain: str = "",
) -> MacroElement:
    """The class legend in ``lang``; states the target and the denominator (a label for people,
    see :func:`lifecircle.notes.denominator_label`), and above them the run's headline and its
    warnings. Every text argument is plain text, escaped here; ``unit`` is what the weights
    count in running text of ``lang`` (residents, area samples).

    A Leaflet control in the bottom-left corner, so Leaflet stacks it above the scale bar
    rather than over it. With ``service_areas``, a last row explains the dashed outlines that a
    category layer draws; with ``uncertain`` (its text), a row for the dashed black outline of
    communities whose verdict is uncertain (``analyze --sensitivity``).
    """
    zh = lang == "zh"
    unit = safe_text(unit or ("居民" if zh else "residents"))
    rows = _legend_rows(target, unit, zh, service_areas, uncertain)
    title, body, denom = _legend_text(target, denominator, profile, minutes, lang, unit)
    top = _legend_top(headline, warnings)
    html = f"{top}<b>{title}</b><br>{body}<br><i>{denom}</i>{rows}"
    return _script(
        """
        var C = L.Control.extend({options: {position: 'bottomleft'}, onAdd: function() {
          var d = L.DomUtil.create('div', 'lc-legend');
          d.style.cssText = 'background:#fff;padding:8px 10px;border:1px solid #888;'
            + 'border-radius:4px;font:12px sans-serif;max-width:280px;line-height:1.35';
          d.innerHTML = """
        + json.dumps(html)
        + """;
          L.DomEvent.disableClickPropagation(d);
          L.DomEvent.disableScrollPropagation(d);
          return d;
        }});
        map.addControl(new C());
        """
    )
