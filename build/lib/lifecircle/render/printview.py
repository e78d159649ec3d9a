"""The workbench's printable view (``POST /api/print`` of ``lifecircle serve``): one standalone
HTML page for a planning meeting's minutes — the edits, the area-wide shares before and after
per category and for the complete life circle, the communities whose verdict flips, and the
communities still short of the target, sorted by shortfall.

The page is static: no script (its Content-Security-Policy allows none), no file or address it
loads, A4 print CSS (tables repeat their header on every page; rows are not split). Every name
from the data goes through :func:`lifecircle.render.escape.html_text`; labels are from
:mod:`lifecircle.i18n`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lifecircle._records import installed_version
from lifecircle.i18n import t
from lifecircle.naming import ALL
from lifecircle.render.escape import html_text

MAX_SHORT_ROWS = 300  # communities listed as still short; the rest are counted

CSS = """
@page { size: A4 portrait; margin: 14mm 12mm 16mm 12mm; }
* { box-sizing: border-box; }
body { font: 11pt/1.45 "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei",
  "PingFang SC", system-ui, sans-serif; color: #111; margin: 0 auto; max-width: 190mm;
  padding: 8mm 4mm; background: #fff; }
h1 { font-size: 18pt; margin: 0 0 2mm; }
h2 { font-size: 13.5pt; margin: 7mm 0 2mm; border-bottom: 1.5px solid #333; padding-bottom: 1mm;
  break-after: avoid; page-break-after: avoid; }
p.meta { margin: 0 0 1mm; color: #333; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 2mm; font-size: 10pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 1px solid #888; padding: 1.2mm 2mm; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
th { overflow-wrap: normal; hyphens: auto; }
th { background: #e4e9f2; font-weight: 600; }
td.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.all td { font-weight: 700; background: #f3f3f3; }
.up { color: #0b5d1e; } .down { color: #a11d1d; }
.meets { background: #dcebf7; } .misses { background: #f8ddd0; }
.small { font-size: 9pt; color: #444; }
footer { margin-top: 8mm; font-size: 9pt; color: #444; border-top: 1px solid #aaa;
  padding-top: 2mm; }
@media print { body { padding: 0; max-width: none; } }
"""


@dataclass(frozen=True)
class PrintState:
    """What the page shows: the workbench's summary (categories, target, folder), the change
    and the facilities of an answer of :meth:`~lifecircle.workbench.Workbench.evaluate`, the
    state's coverage table and, per category, the (profile, minutes) row that judges it."""

    summary: dict[str, Any]
    change: dict[str, Any]
    facilities: list[dict[str, Any]]
    coverage: pd.DataFrame
    judged: dict[str, tuple[str, int]]


def _e(value: object) -> str:
    return html_text(value)


def _pct(v: float | None) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.1%}"


def _points(v: float | None) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    cls = "up" if v > 0.00005 else "down" if v < -0.00005 else ""
    return f'<span class="{cls}">{v * 100:+.1f}</span>'


def _labels(state: PrintState, lang: str) -> dict[str, str]:
    names = {c["category"]: c[f"name_{lang}"] or c["category"] for c in state.summary["categories"]}
    return names | {ALL: t("all", lang)}


def _table(head: list[str], rows: list[str], widths: list[int]) -> str:
    """A table with its header repeated on every printed page; ``widths`` in percent of the
    page, so that a long name wraps in its own column instead of squeezing the others."""
    cols = "".join(f'<col style="width:{w}%">' for w in widths)
    th = "".join(f"<th>{h}</th>" for h in head)
    return (
        f"<table><colgroup>{cols}</colgroup><thead><tr>{th}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _edits(state: PrintState, lang: str) -> str:
    if not state.facilities:
        return f"<p>{_e(t('wbp_no_edits', lang))}</p>"
    names = _labels(state, lang)
    rows = []
    for f in state.facilities:
        what = t("wbp_added" if f.get("change") == "added" else "wbp_removed", lang)
        name = f.get("name") or t("unnamed", lang)
        cat = names.get(str(f.get("category")), str(f.get("category")))
        where = f"{f['lon']:.6f}, {f['lat']:.6f}" if f.get("lon") is not None else "–"
        rows.append(
            f"<tr><td>{_e(what)}</td><td>{_e(cat)}</td><td>{_e(name)}</td>"
            f"<td>{_e(f.get('facility_id'))}</td><td class=n>{_e(where)}</td></tr>"
        )
    head = [t("wbp_edit", lang), t("category", lang), t("wbp_name", lang)]
    head += [t("wbp_facility_id", lang), t("wbp_lonlat", lang)]
    return _table([_e(h) for h in head], rows, [11, 24, 27, 19, 19])


def _shares(state: PrintState, lang: str) -> str:
    per = state.change["per_category"]
    rows = []
    for c in state.summary["categories"]:
        v = per.get(c["category"], {})
        b, a = v.get("coverage_before"), v.get("coverage_after")
        newly = v.get("residents_newly_covered")
        d = None if a is None or b is None else a - b
        label = c[f"name_{lang}"] or c["category"]
        rows.append(
            f"<tr><td>{_e(label)}</td><td>{_e(c['threshold'])}</td><td class=n>{_pct(b)}</td>"
            f"<td class=n>{_pct(a)}</td><td class=n>{_points(d)}</td>"
            f"<td class=n>{'–' if newly is None else f'{newly:+,.0f}'}</td></tr>"
        )
    clc = state.change["complete_life_circle"]
    cb, ca = clc["coverage_before"], clc["coverage_after"]
    head = state.summary["complete_life_circle"]
    rows.append(
        f"<tr class=all><td>{_e(t('all', lang))}</td>"
        f"<td>{_e(t(head['profile'], lang))} ≤{head['minutes']} {_e(t('minutes', lang))}</td>"
        f"<td class=n>{_pct(cb)}</td><td class=n>{_pct(ca)}</td>"
        f"<td class=n>{_points(None if cb is None or ca is None else ca - cb)}</td>"
        "<td class=n>–</td></tr>"
    )
    cols = ["category", "threshold", "wbp_before", "wbp_after", "wbp_change", "wbp_newly"]
    meeting = (
        f"<p>{_e(t('communities_meeting', lang))} ({_e(t('all', lang))}): "
        f"<b>{clc['communities_meeting_before']} → {clc['communities_meeting_after']}</b></p>"
    )
    return _table([_e(t(k, lang)) for k in cols], rows, [32, 16, 11, 11, 13, 17]) + meeting


def _flips(state: PrintState, lang: str) -> str:
    names = _labels(state, lang)
    rows = []
    for kind, cls in (("now_meets", "meets"), ("now_misses", "misses")):
        for f in state.change["flips"][kind]:
            cat = names.get(str(f["category"]), str(f["category"]))
            rows.append(
                f"<tr class={cls}><td>{_e(f['community_name'])}</td><td>{_e(f['community_id'])}"
                f"</td><td>{_e(cat)}</td><td>{_e(t('wbp_' + kind, lang))}</td></tr>"
            )
    if not rows:
        return f"<p>{_e(t('wbp_no_flips', lang))}</p>"
    head = ["community_name", "community_id", "category", "wbp_verdict"]
    return _table([_e(t(k, lang)) for k in head], rows, [34, 18, 28, 20])


def short_communities(
    coverage: pd.DataFrame, judged: dict[str, tuple[str, int]], *, target: float
) -> pd.DataFrame:
    """Communities with residents that are below ``target`` at any row that judges a category
    or the complete life circle: their complete life circle share and shortfall (``target``
    less the share, 0 when it is met) and their categories below the target, sorted by the
    shortfall (largest first), then by the number of categories short."""
    keyed = coverage[coverage["residents"].astype(float) > 0]
    parts = []
    for cat, (profile, minutes) in judged.items():
        at = (keyed["profile"] == profile) & (keyed["minutes"] == minutes)
        parts.append(keyed[(keyed["category"] == cat) & at])
    rows = pd.concat(parts, ignore_index=True) if parts else keyed.iloc[:0]
    out = []
    for (cid, name), g in rows.groupby(["community_id", "community_name"], sort=False):
        cov = g.set_index("category")["coverage"].astype(float)
        below = [(str(c), float(v)) for c, v in cov.items() if c != ALL and v < target]
        short = sorted(below, key=lambda cv: cv[1])  # the worst first
        clc = float(cov.get(ALL, np.nan))
        if not short and not (clc < target):
            continue
        out.append(
            {
                "community_id": cid,
                "community_name": name,
                "residents": float(g["residents"].iloc[0]),
                "clc": clc,
                "shortfall": max(0.0, target - clc) if np.isfinite(clc) else np.nan,
                "short": short,
            }
        )
    df = pd.DataFrame(out, columns=["community_id", "community_name", "residents", "clc",
                                    "shortfall", "short"])  # fmt: skip
    if not len(df):
        return df
    df["n_short"] = df["short"].map(len)
    df = df.sort_values(["shortfall", "n_short", "community_id"], ascending=[False, False, True])
    return df.drop(columns="n_short").reset_index(drop=True)


def _short(state: PrintState, lang: str) -> str:
    target = float(state.summary["target"])
    df = short_communities(state.coverage, state.judged, target=target)
    if not len(df):
        return f"<p>{_e(t('wbp_none_short', lang))}</p>"
    names = _labels(state, lang)
    rows = []
    records: list[dict[Any, Any]] = df.head(MAX_SHORT_ROWS).to_dict("records")
    for r in records:
        cats = "; ".join(f"{_e(names.get(str(c), str(c)))} {_pct(v)}" for c, v in r["short"])
        gap = float(r["shortfall"])
        rows.append(
            f"<tr><td>{_e(r['community_name'])}<br><span class=small>{_e(r['community_id'])}"
            f"</span></td><td class=n>{float(r['residents']):,.0f}</td>"
            f"<td class=n>{_pct(float(r['clc']))}</td>"
            f"<td class=n>{'–' if not np.isfinite(gap) else f'{gap * 100:.1f}'}</td>"
            f"<td>{cats}</td></tr>"
        )
    head = ["community_name", "residents", "all", "wbp_shortfall", "wbp_short_cats"]
    more = len(df) - MAX_SHORT_ROWS
    tail = f"<p class=small>{_e(t('wbp_more', lang).format(n=more))}</p>" if more > 0 else ""
    return _table([_e(t(k, lang)) for k in head], rows, [27, 10, 13, 12, 38]) + tail


def render_print(state: PrintState, *, lang: str) -> str:
    """The printable page (a complete HTML document) of ``state`` in ``lang``."""
    s = state.summary
    preset = s.get("preset") or {}
    n_fac = len(state.facilities)
    meta = [
        f"{_e(t('wbp_analysis', lang))}: {_e(s.get('folder') or '–')}",
        f"{_e(t('preset', lang))}: {_e(preset.get('name', ''))} — {_e(preset.get('title', ''))}",
        f"{_e(t('target', lang))}: {_pct(float(s['target']))} · {_e(t('residents', lang))}: "
        f"{float(s['residents']['total']):,.0f}",
    ]
    body = [
        f"<h1>{_e(t('wbp_title', lang))}</h1>",
        *(f"<p class=meta>{m}</p>" for m in meta),
        f"<h2>{_e(t('wbp_edits', lang))} ({n_fac})</h2>",
        _edits(state, lang),
        f"<h2>{_e(t('wbp_shares', lang))}</h2>",
        _shares(state, lang),
        f"<h2>{_e(t('wbp_flips', lang))}</h2>",
        _flips(state, lang),
        f"<h2>{_e(t('wbp_short', lang))}</h2>",
        _short(state, lang),
        f"<footer>{_e(t('wbp_footer', lang).format(version=installed_version()))}</footer>",
    ]
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return (
        f'<!doctype html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        f'<meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{csp}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(t('wbp_title', lang))}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
