"""Static figures for slides and printed reports (PNG): the coverage map of the area and a chart
of coverage by category against the target.

Chinese labels need a CJK font: the first installed one of :data:`CJK_FONTS` is used (found even
when matplotlib's font cache predates it). When none is installed the figures fall back to
English labels rather than draw empty boxes: a warning says so once, and the report says so
next to the figures.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lifecircle.fileio import atomic_write
from lifecircle.headline import headline
from lifecircle.i18n import t
from lifecircle.naming import ALL
from lifecircle.render.escape import plot_text

log = logging.getLogger(__name__)

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Noto Serif CJK SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Noto Sans CJK JP",
)
DPI = 150


FONT_DIRS = (  # where a CJK font is looked for when fc-list is not there
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/System/Library/Fonts",
    "/Library/Fonts",
    "C:/Windows/Fonts",
)
CJK_FILE_HINTS = ("cjk", "sourcehan", "wqy", "wenquanyi", "msyh", "simhei", "pingfang", "heiti")
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")


def system_cjk_font_files() -> list[str]:
    """Font files on this system with Chinese glyphs: what ``fc-list :lang=zh file`` lists, or
    where there is no fontconfig, files named like the fonts of :data:`CJK_FONTS` in the usual
    font folders."""
    import shutil
    import subprocess

    fc = shutil.which("fc-list")
    if fc is not None:
        try:
            done = subprocess.run(
                [fc, ":lang=zh", "file"], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.SubprocessError):
            done = None
        if done is not None and done.returncode == 0:
            files = {ln.strip().rstrip(":") for ln in done.stdout.splitlines() if ln.strip()}
            return sorted(f for f in files if f.lower().endswith(FONT_SUFFIXES))
    found: set[str] = set()
    for d in FONT_DIRS:
        root = Path(d).expanduser()
        if root.is_dir():
            for f in root.rglob("*"):
                n = f.name.lower()
                if n.endswith(FONT_SUFFIXES) and any(h in n for h in CJK_FILE_HINTS):
                    found.add(str(f))
    return sorted(found)


def _known_cjk(names: set[str]) -> str | None:
    return next((n for n in CJK_FONTS if n in names), None)


@cache
def cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs, or None.

    matplotlib lists the fonts it found when its font cache was built: a CJK font installed
    after that (``apt-get install fonts-noto-cjk``) is missing from it. When no CJK font is in
    the cache, the system's CJK font files (:func:`system_cjk_font_files`) are added to
    matplotlib's font manager for this process, so no cache needs deleting by hand.
    """
    from matplotlib import font_manager

    fm = font_manager.fontManager
    hit = _known_cjk({f.name for f in fm.ttflist})
    if hit is not None:
        return hit
    added: list[str] = []
    for path in system_cjk_font_files():
        before = len(fm.ttflist)
        try:
            fm.addfont(path)
        except (OSError, RuntimeError, ValueError):  # unreadable or not a font matplotlib reads
            continue
        added += [f.name for f in fm.ttflist[before:]]
    hit = _known_cjk(set(added)) or (added[0] if added else None)
    if hit is not None:
        log.info("CJK font %r added to matplotlib (its font cache predates the font)", hit)
    return hit


@cache
def _warn_no_cjk_font() -> None:
    """Say once per process, loudly, that Chinese figures are drawn in English."""
    log.warning(
        "no CJK font found: the figures (coverage_map.png, coverage_chart.png) are drawn with "
        "English labels while the report is in Chinese. Install one (Debian/Ubuntu: apt-get "
        "install fonts-noto-cjk) and run `lifecircle report OUT` to redraw them in Chinese."
    )


def figure_lang(lang: str) -> str:
    """The language the figures are drawn in when ``lang`` is asked for: English for Chinese
    when no CJK font is installed."""
    return "en" if lang == "zh" and cjk_font() is None else lang


def _labels(lang: str) -> tuple[str, str | None]:
    """The language the figures can be drawn in, and the font family to draw it with."""
    drawn = figure_lang(lang)
    if drawn != lang:
        _warn_no_cjk_font()
    return drawn, cjk_font() if drawn == "zh" else None


def _rc(font: str | None) -> Any:  # matplotlib types its keys as literals
    fam = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    return {"font.family": "sans-serif", "font.sans-serif": fam, "axes.unicode_minus": False}


TEXT: dict[str, dict[str, Any]] = {
    "map_title": {
        "zh": "完整生活圈覆盖率(≤{m}分钟,{p}),目标 {t:.0%}",
        "en": "Complete life circle (≤ {m} min, {p} walker), target {t:.0%}",
    },
    "chart_title": {
        "zh": "各类设施在其标准步行时间内的覆盖率\n完整生活圈:≤{m} 分钟({p})",
        "en": "Share of residents within each category's threshold\n"
        "Complete life circle: ≤ {m} min ({p} walker)",
    },
    "no_facility": {"zh": "数据中无此类设施", "en": "no facility in the data"},
    "target": {"zh": "目标 {t:.0%}", "en": "target {t:.0%}"},
    "share": {"zh": "居民覆盖率", "en": "share of residents"},
    "chart_title_samples": {
        "zh": "各类设施在其标准步行时间内的覆盖率(面积样本点)\n完整生活圈:≤{m} 分钟({p})",
        "en": "Share of area samples within each category's threshold\n"
        "Complete life circle: ≤ {m} min ({p} walker)",
    },
    "share_samples": {"zh": "面积样本点覆盖率", "en": "share of area samples"},
    "all": {"zh": "完整生活圈", "en": "Complete life circle"},
    "standard": {"zh": "一般步行", "en": "standard"},
    "elderly": {"zh": "老年人步行", "en": "elderly"},
    "classes": {
        "zh": ["远低于目标", "低于目标", "达标", "远高于目标", "无居民"],
        "en": ["well below target", "below target", "meets target", "well above", "no residents"],
    },
    "attribution": {
        "zh": "地图数据 © OpenStreetMap 贡献者 · lifecircle",
        "en": "Map data © OpenStreetMap contributors · lifecircle",
    },
}


def figure_warnings(summary: dict[str, Any], lang: str) -> list[str]:
    """The headline's warnings, short, for a figure's title (:mod:`lifecircle.headline`)."""
    hl = headline(summary)
    out = [f"{t('warning', lang)}: {w.short_text(lang)}" for w in hl.warnings]
    if hl.empty_basket and hl.coverage_with_data is not None:
        out.append(
            t("hl_short_with_data", lang).format(
                m=len(hl.basket) - len(hl.empty_basket), share=f"{hl.coverage_with_data:.1%}"
            )
        )
    return out


def coverage_map_png(
    communities: Any, summary: dict[str, Any], path: Path, *, target: float, lang: str = "zh"
) -> dict[str, Any]:
    """Communities coloured by complete-life-circle class, with legend, scale bar and
    attribution, in the analysis' metric CRS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib_scalebar.scalebar import ScaleBar

    from lifecircle.render.maps import CLASS_COLOURS, coverage_class

    lang, font = _labels(lang)
    clc = summary["complete_life_circle"]
    col = f"cov_{ALL}_{clc['profile']}_{clc['minutes']}min"
    comm = communities.to_crs(summary["area"]["crs"])
    share = comm[col].to_numpy(dtype=float) if col in comm else np.full(len(comm), np.nan)
    colours = [CLASS_COLOURS[coverage_class(s, target)] for s in share]
    with plt.rc_context(_rc(font)):
        fig, ax = plt.subplots(figsize=(8, 8), dpi=DPI)
        comm.plot(ax=ax, color=colours, edgecolor="#333", linewidth=0.4)
        ax.set_axis_off()
        title = TEXT["map_title"][lang].format(
            m=clc["minutes"], p=walker_label(clc["profile"], lang), t=target
        )
        ax.set_title("\n".join([title, *figure_warnings(summary, lang)]), fontsize=12)
        keys = ["well_below", "below", "meets", "well_above", "none"]
        ax.legend(
            handles=[
                Patch(facecolor=CLASS_COLOURS[k], edgecolor="#333", label=lbl)
                for k, lbl in zip(keys, TEXT["classes"][lang], strict=True)
            ],
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),  # below the map: it never covers a community
            ncol=5,
            fontsize=8,
            frameon=False,
        )
        ax.add_artist(ScaleBar(1.0, "m", location="lower right", box_alpha=0.8))
        ax.text(1.0, -0.06, TEXT["attribution"][lang], transform=ax.transAxes, ha="right",
                va="top", fontsize=7)  # fmt: skip
        fig.tight_layout()
        atomic_write(
            path,
            lambda p: fig.savefig(p, dpi=DPI, format="png", bbox_inches="tight", pad_inches=0.2),
        )
        plt.close(fig)
    return {"lang": lang, "font": font}


def walker_label(profile: str, lang: str) -> str:
    """A walking profile's name on a figure: ours translated, a preset's own as it is named."""
    names = TEXT.get(profile)
    return str(names[lang]) if isinstance(names, dict) and lang in names else plot_text(profile)


def _bar_label(cat: str, info: dict[str, Any], lang: str, own: bool) -> str:
    """A category's bar: its short name, and (``own``) the threshold and walker judging it."""
    name = str(info.get(f"name_{lang}") or cat)
    name = plot_text(name.split("(")[0].split("\uff08")[0].split("/")[0].strip() or cat)
    if not own or not info.get("threshold"):
        return name
    walker = info.get("judged_with_profile")
    who = f", {walker_label(walker, lang)}" if walker else ""
    return f"{name} ≤{info['threshold']}{who}"


def chart_bars(
    area_coverage: pd.DataFrame, summary: dict[str, Any], lang: str
) -> tuple[list[str], list[str], np.ndarray]:
    """The bars of :func:`coverage_chart_png`: categories (the complete life circle last),
    their labels in ``lang`` and their shares (NaN where there are none)."""
    clc = summary["complete_life_circle"]
    judged = clc.get("within_threshold")
    own = judged is not None  # each category at its own threshold
    if judged is None:  # an older summary
        rows = area_coverage[
            (area_coverage["profile"] == clc["profile"])
            & (area_coverage["minutes"] == clc["minutes"])
        ].set_index("category")["coverage"]
        judged = {c: float(v) for c, v in rows.items()}
    cats = [c for c in summary["categories"] if c in judged]
    names = [_bar_label(c, summary["categories"][c], lang, own) for c in cats]
    names.append(f"{TEXT['all'][lang]} ≤{clc['minutes']} min")
    shares = [judged[c] for c in cats] + [clc.get("coverage")]
    vals = np.array([np.nan if v is None else float(v) for v in shares])
    return [*cats, ALL], names, vals


def coverage_chart_png(
    area_coverage: pd.DataFrame,
    summary: dict[str, Any],
    path: Path,
    *,
    target: float,
    lang: str = "zh",
) -> dict[str, Any]:
    """Horizontal bars against a line at the target: each category's share of residents within
    its own threshold, walked as the preset judges it (the figures of the headline, the report
    and the task list), and the complete life circle. ``area_coverage`` serves runs whose
    summary predates the judged shares: their bars are within the complete life circle's
    minutes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lang, font = _labels(lang)
    clc = summary["complete_life_circle"]
    cats, names, vals = chart_bars(area_coverage, summary, lang)
    empty = set(summary.get("facilities", {}).get("empty_categories", ()))
    with plt.rc_context(_rc(font)):
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(cats) + 1.6), dpi=DPI)
        colours = ["#1a9641" if v >= target else "#d7191c" for v in np.nan_to_num(vals)]
        colours[-1] = "#2b5797" if vals[-1] >= target else "#b2182b"
        y = np.arange(len(cats))[::-1]
        ax.barh(y, np.nan_to_num(vals), color=colours)
        for yi, v, c in zip(y, vals, cats, strict=True):
            if c in empty or not np.isfinite(v):
                label = TEXT["no_facility"][lang] if c in empty else "–"
                ax.text(0.01, yi, label, va="center", fontsize=8, color="#555")
            elif v > 0.8:  # inside the bar's end, clear of the target line
                ax.text(v - 0.01, yi, f"{v:.0%}", va="center", ha="right", fontsize=8, color="w")
            else:
                ax.text(v + 0.01, yi, f"{v:.0%}", va="center", fontsize=8)
        ax.axvline(target, color="#333", linestyle="--", linewidth=1)
        ax.text(target, len(cats) - 0.4, TEXT["target"][lang].format(t=target), ha="center",
                fontsize=8)  # fmt: skip
        ax.set_yticks(y, names, fontsize=9)
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        samples = headline(summary).area_samples  # not residents: say so
        ax.set_xlabel(TEXT["share_samples" if samples else "share"][lang])
        ax.set_title(
            TEXT["chart_title_samples" if samples else "chart_title"][lang].format(
                m=clc["minutes"], p=walker_label(clc["profile"], lang)
            ),
            fontsize=11,
        )
        ax.spines[["top", "right"]].set_visible(False)
        fig.text(0.99, 0.005, TEXT["attribution"][lang], ha="right", va="bottom", fontsize=6)
        fig.tight_layout()
        atomic_write(path, lambda p: fig.savefig(p, dpi=DPI, format="png"))
        plt.close(fig)
    return {"lang": lang, "font": font}


FIGURES = ("coverage_map.png", "coverage_chart.png")


def write_figures(
    folder: Path,
    *,
    communities: Any,
    area_coverage: pd.DataFrame,
    summary: dict[str, Any],
    target: float,
    lang: str = "zh",
) -> dict[str, Any]:
    """Both figures into ``folder``; returns the language and font they were drawn with."""
    a = coverage_map_png(communities, summary, folder / FIGURES[0], target=target, lang=lang)
    coverage_chart_png(area_coverage, summary, folder / FIGURES[1], target=target, lang=lang)
    return {"files": list(FIGURES), **a}
