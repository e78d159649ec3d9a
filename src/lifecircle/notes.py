"""Notes of a run (caveats a planner must read), and the labels of its denominators and community
sources, in Chinese or English.

A note is made by :func:`note` from a key of :data:`NOTES` and its parameters. It *is* its English
text (a ``str``), so code that prints or logs notes keeps working, and it carries ``key`` and
``params``, so that each output renders it in its own language at the time it is written
(:func:`render_notes`).

In ``summary.json`` the notes keep the shape they always had, a list of English strings under
``"notes"``; ``"note_keys"`` holds, in the same order, ``{"key": ..., "params": {...}}`` for each
(:func:`note_keys`). A reader that knows only ``notes`` reads English; one that wants the other
language renders ``note_keys`` with :func:`render_note`. A summary without ``note_keys`` (written
by an older version) renders its English strings as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: note key -> text per language, with ``str.format`` fields named by the note's parameters
NOTES: dict[str, dict[str, str]] = {
    "grid_communities": {
        "en": "No community boundaries were given or found in the OSM input: the area is cut "
        "into a {cell_m:g} m grid.",
        "zh": "未提供社区边界,OSM 数据中也没有行政边界:研究范围按 {cell_m:g} 米网格划分为单元。",
    },
    "grid_communities_cut": {
        "en": "No community boundaries were given, and the {n} administrative boundaries in the "
        "OSM input (admin_level {levels}) are cut at the extract's edge: the area is cut into a "
        "{cell_m:g} m grid. Give community boundaries with --communities for communities.",
        "zh": "未提供社区边界,OSM 数据中的 {n} 个行政边界(admin_level {levels})"
        "在数据范围边缘被截断:研究范围按 {cell_m:g} 米网格划分为单元。"
        "如需按社区统计,请用 --communities 提供社区边界。",
    },
    "extract_clipped": {
        "en": "{outside_share:.0%} of the area buffered by the {reach_m:.0f} m walking reach lies "
        "outside the OSM extract: facilities there are unknown, so coverage near the edge may be "
        "understated.",
        "zh": "研究范围外扩 {reach_m:.0f} 米步行距离后,有 {outside_share:.0%} 落在 OSM "
        "数据范围之外:那里的设施未知,边缘处的覆盖率可能偏低。",
    },
    "uniform_residents": {
        "en": "No population input and no residential buildings in the OSM data: residents are "
        "spread evenly over the area (one point per 50 m), so coverage is a share of area.",
        "zh": "未提供人口数据,OSM 数据中也没有居住建筑:居民按每 50 米一个点均匀分布,"
        "覆盖率因此是面积占比。",
    },
    "code_table": {
        "en": "Code table: {no_polygon} committee(s) of the table have no polygon, "
        "{no_residents} have no residents, and {unknown_codes} polygon(s) carry codes the table "
        "does not know (listed in summary.json → counts.code_table).",
        "zh": "代码表核对:表中 {no_polygon} 个居委会没有边界面,{no_residents} 个没有居民,"
        "另有 {unknown_codes} 个边界面的代码不在表中(详见 summary.json → counts.code_table)。",
    },
    "empty_category": {
        "en": "Category '{category}' has no facility in the area or its buffer: coverage is 0.",
        "zh": "“{category}”类设施在研究范围及其外扩范围内一处也没有:覆盖率为 0。",
    },
    "scenario": {
        "en": "A scenario, not the facilities of the data alone: {added} facility(ies) added and "
        "{removed} removed ({categories} routed again); coverage_change.csv compares it with the "
        "analysis it started from, facility_changes.csv lists the changes.",
        "zh": "这是情景推演,不只是数据中的现状设施:新增 {added} 处、撤除 {removed} 处设施"
        "(重新计算的类别:{categories});与原分析的对比见 coverage_change.csv,"
        "设施变化见 facility_changes.csv。",
    },
    "facilities_outside_area": {
        "en": "{n} facility(ies) of {file} lie beyond the analysis area and its {reach_m:.0f} m "
        "walking reach and were left out ({ids}): nobody in the area can walk to them. If they "
        "should be inside, check their coordinates and --facilities-crs.",
        "zh": "{file} 中有 {n} 处设施在研究范围及其 {reach_m:.0f} 米步行可达范围之外,未纳入分析"
        "({ids}):范围内的居民步行到不了。如果它们应在范围内,请检查坐标及 --facilities-crs。",
    },
    "scenario_added_not_placed": {
        "en": "{n} of the {added} added facility(ies) lie beyond the area's walking reach and "
        "were not placed ({ids}): check their coordinates and --add-crs.",
        "zh": "新增的 {added} 处设施中有 {n} 处在研究范围的步行可达范围之外,未被纳入({ids}):"
        "请检查其坐标及 --add-crs。",
    },
    "scenario_added_off_network": {
        "en": "{n} of the {added} added facility(ies) are farther than {max_snap_m:g} m from any "
        "walkable way and serve no resident ({ids}): check their coordinates and --add-crs.",
        "zh": "新增的 {added} 处设施中有 {n} 处距最近的步行道路超过 {max_snap_m:g} 米,"
        "不服务任何居民({ids}):请检查其坐标及 --add-crs。",
    },
    "scenario_added_nearest_for_nobody": {
        "en": "{n} of the {added} added facility(ies) are the nearest of their kind for no "
        "resident within {minutes} minutes, so they change no one's walk ({ids}): "
        "facility_changes.csv lists each.",
        "zh": "新增的 {added} 处设施中有 {n} 处在 {minutes} 分钟内不是任何居民最近的同类设施,"
        "不改变任何居民的步行时间({ids}):逐处情况见 facility_changes.csv。",
    },
    "scenario_gates": {
        "en": "A scenario with {gates} compound gate(s) opened: the walks of the residents "
        "inside compounds are measured again (no facility moved, no category routed again); "
        "coverage_change.csv compares it with the analysis it started from.",
        "zh": "这是情景推演:新开 {gates} 个小区出入口,重新计算小区内居民的步行距离"
        "(设施未变,未重新计算任何类别的路径);与原分析的对比见 coverage_change.csv。",
    },
    "looks_gcj02": {
        "en": "--facilities {file} was read as WGS 84, but its points sit a median "
        "{median_m:.0f} m from the streets and {median_gcj02_m:.0f} m once read as GCJ-02 (the "
        "same shift in other directions gives {median_elsewhere_m:.0f} m): it looks like an "
        "Amap/Tencent (GCJ-02) list. If so, rerun with --facilities-crs gcj02.",
        "zh": "设施清单 {file} 按 WGS 84 读取,但其点位距道路的中位距离为 {median_m:.0f} 米,"
        "按 GCJ-02 读取则为 {median_gcj02_m:.0f} 米(同样距离向其他方向平移为 "
        "{median_elsewhere_m:.0f} 米):它看起来是高德/腾讯(GCJ-02)坐标。"
        "如果是,请加 --facilities-crs gcj02 重新运行。",
    },
    "looks_bd09": {
        "en": "--facilities {file} was read as WGS 84, but its points sit a median "
        "{median_m:.0f} m from the streets and {median_bd09_m:.0f} m once read as BD-09 (the "
        "same shift in other directions gives {median_elsewhere_m:.0f} m): it looks like a "
        "Baidu (BD-09) list. If so, rerun with --facilities-crs bd09.",
        "zh": "设施清单 {file} 按 WGS 84 读取,但其点位距道路的中位距离为 {median_m:.0f} 米,"
        "按 BD-09 读取则为 {median_bd09_m:.0f} 米(同样距离向其他方向平移为 "
        "{median_elsewhere_m:.0f} 米):它看起来是百度(BD-09)坐标。"
        "如果是,请加 --facilities-crs bd09 重新运行。",
    },
    "gates": {
        "en": "Compound gates: {known:,.0f} residents leave their compound through known gates "
        "and {assumed:,.0f} through assumed ones (where walkways meet the boundary); "
        "{none:,.0f} live in compounds with no gate at all and are routed as without gates "
        "({compounds} compounds). Against ignoring gates, the largest change in the share "
        "within a category's threshold is {change:+.1%} ({category}); summary.json → gates "
        "lists every category.",
        "zh": "小区出入口:{known:,.0f} 名居民经已知出入口离开小区,{assumed:,.0f} 名经推定出入口"
        "(步行道路与小区边界相交处);{none:,.0f} 名居民所在小区没有任何出入口,按不考虑出入口计算"
        "(共 {compounds} 个小区)。与不考虑出入口相比,类别阈值内覆盖率变化最大的是"
        "“{category}”:{change:+.1%};各类别见 summary.json → gates。",
    },
    "dropped_pieces": {
        "en": "pieces of network shorter than {min_component_m:g} m in total are not routed on; "
        "points nearest to them are attached to the nearest kept edge within {max_snap_m:g} m, "
        "or reported off-network",
        "zh": "总长不足 {min_component_m:g} 米的孤立路网不参与路径计算;离它们最近的点改接到 "
        "{max_snap_m:g} 米内最近的保留路段,否则计为路网外",
    },
    "walk_network": {
        "en": "Walk network: {kept} cycleway(s) kept for walking (foot=designated/yes/permissive "
        "or a sidewalk; osmnx leaves them out); {areas_joined} pedestrian area(s) (squares, "
        "concourses) joined by {links} straight link(s) inside them (joining {pieces_joined} "
        "otherwise separate piece(s) of network), {areas_unjoined} left unjoined (they touch "
        "walkable ways at fewer than two nodes); {pieces_dropped} piece(s) of network "
        "shorter than {min_component_m:g} m ({dropped_km:.2f} km) not routed on (counts in "
        "summary.json → network).",
        "zh": "步行路网:保留了 {kept} 条允许步行的自行车道(foot=designated/yes/permissive 或"
        "带人行道;osmnx 会将其剔除);{areas_joined} 处步行广场/站厅等步行区域用其内部的 "
        "{links} 条直线连接贯通(连通了 {pieces_joined} 段原本孤立的路网),"
        "另有 {areas_unjoined} 处与步行道路的接点不足两个,未作连接;"
        "{pieces_dropped} 段总长不足 {min_component_m:g} 米的孤立路网({dropped_km:.2f} 公里)"
        "不参与路径计算(数字见 summary.json → network)。",
    },
    "communities_dropped_empty": {
        "en": "{count} community(ies) of {file} had no polygon (empty, missing or without area "
        "once repaired) and were left out: {ids} (all listed in summary.json → "
        "counts.communities_dropped_empty_ids).",
        "zh": "{file} 中有 {count} 个社区没有边界面(为空、缺失或修复后面积为零),未纳入分析:"
        "{ids}(完整列表见 summary.json → counts.communities_dropped_empty_ids)。",
    },
    "category_outside_taxonomy": {
        "en": "Category '{category}' of your facility list is not in the taxonomy: it is "
        "analysed on its own and is outside the complete-life-circle basket; taxonomy keys: "
        "{keys}.",
        "zh": "设施清单中的类别“{category}”不在设施分类中:它单独分析,不计入完整生活圈;"
        "分类键为:{keys}。",
    },
    "category_outside_taxonomy_hint": {
        "en": "Category '{category}' of your facility list is not in the taxonomy: it is "
        "analysed on its own and is outside the complete-life-circle basket. Did you mean "
        "'{suggested}' ({suggested_zh})? If so, write {suggested} in the category column to "
        "count these facilities there.",
        "zh": "设施清单中的类别“{category}”不在设施分类中:它单独分析,不计入完整生活圈。"
        "是否指“{suggested}”({suggested_zh})?如果是,请在类别列中写 {suggested},"
        "这些设施才会计入该类。",
    },
    "category_outside_taxonomy_hint_basket": {
        "en": "Category '{category}' of your facility list is not in the taxonomy: it is "
        "analysed on its own and is outside the complete-life-circle basket. Did you mean "
        "'{suggested}' ({suggested_zh}), a category of the basket? If so, write {suggested} in "
        "the category column to count these facilities there.",
        "zh": "设施清单中的类别“{category}”不在设施分类中:它单独分析,不计入完整生活圈。"
        "是否指“{suggested}”({suggested_zh},属完整生活圈)?如果是,请在类别列中写 "
        "{suggested},这些设施才会计入该类。",
    },
    "population_raster_cells_ignored": {
        "en": "--population {file}: {negative} cell(s) in the area hold negative values and "
        "{nan} hold NaN without NaN being the declared nodata value; they were read as no "
        "residents. If they are nodata, declare it in the file (gdal_edit -a_nodata).",
        "zh": "--population {file}:研究范围内有 {negative} 个栅格单元为负值,{nan} 个为 NaN "
        "(而 NaN 并非声明的无数据值);这些单元按无居民处理。如果它们是无数据,请在文件中声明"
        "(gdal_edit -a_nodata)。",
    },
    "crossings": {
        "en": "Crossing delays modelled ({classes} roads): {links} crossing link(s) at {nodes} "
        "node(s), {signalised_links} of them signalised; {signalised_s:g} s at signals and "
        "{unsignalised_s:g} s elsewhere, counted as {signalised_m:.0f} m / {unsignalised_m:.0f} m "
        "of walking at {speed_m_s:g} m/s, so distances are metres-equivalent. Complete life "
        "circle at {minutes} min: {with_delays:.1%} with the delays, {without_delays:.1%} "
        "without (summary.json → crossings).",
        "zh": "已计入过街等待({classes} 道路):{nodes} 个路口节点共 {links} 条过街连接,其中 "
        "{signalised_links} 条有信号灯;有信号灯处等待 {signalised_s:g} 秒,其他处 "
        "{unsignalised_s:g} 秒,按 {speed_m_s:g} 米/秒折算为 {signalised_m:.0f} 米 / "
        "{unsignalised_m:.0f} 米步行,因此距离为等效米数。{minutes} 分钟完整生活圈覆盖率:"
        "计入等待为 {with_delays:.1%},不计为 {without_delays:.1%}(详见 summary.json → "
        "crossings)。",
    },
    "headline_warning": {
        # a warning of the headline (lifecircle.headline), which words it in every language
        "en": "{en}",
        "zh": "{zh}",
    },
    "csv_quoted": {
        "en": "{count} CSV cell(s) begin with =, +, -, @, a tab or a carriage return; they were "
        "written with a leading ' so that Excel shows them as text rather than running them as "
        "formulas (remove that one quote to get the value as it was).",
        "zh": "有 {count} 个 CSV 单元格以 =、+、-、@、制表符或回车开头;写入时在前面加了一个 ',"
        "使 Excel 把它们显示为文字而不是当作公式执行(去掉这个引号即得原值)。",
    },
    "xlsx_cleaned": {
        "en": "{count} coverage.xlsx cell(s) held control characters (such as NUL or BEL) that a "
        "workbook cannot store; they were removed there and the rest of the text kept.",
        "zh": "coverage.xlsx 中有 {count} 个单元格含有工作簿无法保存的控制字符(如 NUL、BEL);"
        "这些字符已在该文件中删除,其余文字保留。",
    },
    "gpkg_nul_removed": {
        "en": "{count} lifecircle.gpkg value(s) held NUL characters, which a GeoPackage text "
        "field cannot store; they were removed there and the rest of the text kept.",
        "zh": "lifecircle.gpkg 中有 {count} 个值含有 GeoPackage 文本字段无法保存的 NUL 字符;"
        "这些字符已在该文件中删除,其余文字保留。",
    },
    "capacity_missing": {
        "en": "'{category}': {count} facility(ies) without a capacity; capacity.csv leaves them "
        "out of the supply per 1,000 (neither zero nor unlimited), so supply is understated "
        "where they serve (their ids: summary.json → capacity).",
        "zh": "有 {count} 处“{category}”设施没有容量数据:capacity.csv 的千人供给未计入它们"
        "(既不按零也不按无限计),它们服务的地方供给因此偏低(编号见 summary.json → capacity)。",
    },
    "capacity_elderly_unknown": {
        "en": "No share of residents aged 60+ was given (--age-share): capacity.csv counts "
        "'{category}' supply per 1,000 residents of all ages, not per 1,000 older residents.",
        "zh": "未提供 60 岁及以上人口比例(--age-share):capacity.csv 中“{category}”的供给"
        "按每千名全体居民计算,而不是每千名老年人。",
    },
    "capacity_area_samples": {
        "en": "No population data: capacity.csv counts its supply per 1,000 evenly spread area "
        "samples, not people, so the figures only compare communities with one another.",
        "zh": "没有人口数据:capacity.csv 的千人供给按均匀分布的面积样本点计算,而不是按人口,"
        "因此这些数字只能用于社区之间的相互比较。",
    },
    "capacity_children_unknown": {
        "en": "The share of children is not known: capacity.csv counts '{category}' supply per "
        "1,000 residents of all ages, not per 1,000 children.",
        "zh": "儿童人口比例未知:capacity.csv 中“{category}”的供给按每千名全体居民计算,"
        "而不是每千名儿童。",
    },
    "dem_used": {
        "en": "Walking times follow the terrain of the DEM {file} (elevations {z_min:.0f}–"
        "{z_max:.0f} m; Tobler's hiking function per direction of travel, scaled so that flat "
        "ground walks at the preset's speed); {structures} bridge/tunnel edge(s) keep the "
        "elevations of their ends on the ground.",
        "zh": "步行时间按数字高程模型 {file} 的地形计算(高程 {z_min:.0f}–{z_max:.0f} 米;按"
        "行进方向分别采用 Tobler 徒步函数,平地按预设步速);{structures} 条桥梁/隧道路段"
        "不取地面高程,按两端地面高程插值。",
    },
    "dem_partial_nodata": {
        "en": "The DEM {file} has no data under {share:.1%} of the walk network: those stretches "
        "are walked as flat ground.",
        "zh": "数字高程模型 {file} 在 {share:.1%} 的步行网络下没有数据:这些路段按平地计算。",
    },
    "dem_coverage_change": {
        "en": "With the terrain, {coverage_dem:.1%} reach the complete life circle within "
        "{minutes} min, against {coverage_flat:.1%} on flat ground ({change:+.1%}); the "
        "category that changed most is '{category}': {category_dem:.1%} within its threshold "
        "against {category_flat:.1%} on flat ground.",
        "zh": "考虑地形后,{minutes} 分钟内可达完整生活圈的比例为 {coverage_dem:.1%},"
        "平地假设下为 {coverage_flat:.1%}(变化 {change:+.1%});变化最大的是“{category}”:"
        "标准内可达 {category_dem:.1%},平地为 {category_flat:.1%}。",
    },
}

#: parameters that name a facility category: shown by the category's name in the language
_CATEGORY_PARAMS = ("category",)


class Note(str):
    """A note: its English text, with the ``key`` and ``params`` it was made from."""

    key: str
    params: dict[str, Any]

    def __new__(cls, key: str, params: Mapping[str, Any]) -> Note:
        self = super().__new__(cls, _format(key, dict(params), "en"))
        self.key = key
        self.params = dict(params)
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # pickled to and from dask workers
        return (Note, (self.key, self.params))


def note(key: str, **params: Any) -> Note:
    """The note ``key`` of :data:`NOTES` with its parameters (numbers, file names, keys).

    Raises
    ------
    KeyError
        For a key that is not in the catalogue, or a parameter its text needs and was not given.
    """
    if key not in NOTES:
        raise KeyError(f"no note {key!r} in lifecircle.notes.NOTES")
    return Note(key, params)


def _format(key: str, params: dict[str, Any], lang: str, names: Mapping[str, str] | None = None):
    texts = NOTES[key]
    shown = dict(params)
    for p in _CATEGORY_PARAMS:
        if p in shown and names:
            shown[p] = names.get(str(shown[p]), shown[p])
    return texts.get(lang, texts["en"]).format(**shown)


def note_keys(notes: list[str]) -> list[dict[str, Any] | None]:
    """For ``summary.json``: ``{"key", "params"}`` of each note (None for a plain string)."""
    return [{"key": n.key, "params": n.params} if isinstance(n, Note) else None for n in notes]


def add_notes(summary: dict[str, Any], notes: list[str]) -> None:
    """Append ``notes`` to a summary's ``notes``, keeping ``note_keys`` in step with them."""
    old = list(summary.get("notes") or [])
    keys = list(summary.get("note_keys") or [])
    if len(keys) != len(old):
        keys = note_keys(old)
    summary["notes"] = [*old, *notes]
    summary["note_keys"] = [*keys, *note_keys(notes)]


def render_note(
    text: str, entry: Mapping[str, Any] | None, lang: str, names: Mapping[str, str] | None = None
) -> str:
    """One note in ``lang``: from its key and parameters when known, else its text as it is.

    ``names`` maps category keys to their names in ``lang``.
    """
    if not entry or entry.get("key") not in NOTES:
        return text
    try:
        return _format(str(entry["key"]), dict(entry.get("params") or {}), lang, names)
    except (KeyError, ValueError, IndexError):  # parameters from another version's summary
        return text


def render_notes(summary: Mapping[str, Any], lang: str) -> list[str]:
    """The notes of a ``summary.json`` in ``lang``."""
    texts = list(summary.get("notes") or [])
    keys = list(summary.get("note_keys") or [])
    if len(keys) != len(texts):
        keys = [None] * len(texts)
    names = {
        k: str(v.get(f"name_{lang}") or k)
        for k, v in (summary.get("categories") or {}).items()
        if isinstance(v, Mapping)
    }
    return [render_note(str(t), e, lang, names) for t, e in zip(texts, keys, strict=True)]


def dropped_pieces_text(summary: Mapping[str, Any], lang: str) -> str:
    """How pieces of network too small to use were treated, in ``lang``."""
    params = (summary.get("provenance") or {}).get("parameters") or {}
    entry = {"key": "dropped_pieces", "params": params}
    return render_note(str(summary.get("dropped_pieces_treatment", "")), entry, lang)


def threshold_label(kind: str, value: float, lang: str) -> str:
    """A preset threshold (``minutes`` or ``metres``) with its unit in ``lang``."""
    unit = {"minutes": ("min", "分钟"), "metres": ("m", "米")}.get(kind, ("", ""))
    return f"{value:g} {unit[1] if lang == 'zh' else unit[0]}".strip()


# ---- what a run's figures are counted over, for people ------------------------------------

_DENOMINATORS: dict[str, dict[str, str]] = {
    "osm_residential_buildings_floor_area_estimate": {
        "en": "residents estimated from OSM residential buildings (floor area ÷ 35 m² a person)",
        "zh": "按 OSM 居住建筑估算的居民(建筑面积 ÷ 人均 35 平方米)",
    },
    "uniform_area_no_population_data": {
        "en": "no population data: area samples spread evenly (a share of area)",
        "zh": "无人口数据:面积样本点均匀分布(即面积占比)",
    },
    "population_raster": {
        "en": "residents from the population raster {name}",
        "zh": "人口栅格 {name}",
    },
    "population_points": {
        "en": "residents from the population points {name}",
        "zh": "人口点 {name}",
    },
}

_SOURCES: dict[str, dict[str, str]] = {
    "file": {"en": "your file {name}", "zh": "用户文件 {name}"},
    "osm_admin_level": {
        "en": "OSM administrative boundaries (admin_level {name})",
        "zh": "OSM 行政边界(admin_level {name})",
    },
    "grid": {"en": "a {name} grid (no boundaries given)", "zh": "{name}网格(未提供边界)"},
}


def denominator_label(key: str, lang: str) -> str:
    """``summary.json``'s ``denominator`` (``osm_residential_buildings_floor_area_estimate``,
    ``population_raster:pop.tif`` …) in words of ``lang``; an unknown key as it is."""
    base, _, name = str(key).partition(":")
    entry = _DENOMINATORS.get(base)
    if entry is None:
        return str(key)
    return entry.get(lang, entry["en"]).format(name=name)


def communities_source_label(key: str, lang: str) -> str:
    """``area.communities_source`` (``file:x.gpkg``, ``osm_admin_level_8``, ``grid_500m``) in
    words of ``lang``; an unknown key as it is."""
    key = str(key)
    if key.startswith("file:"):
        base, name = "file", key[5:]
    elif key.startswith("osm_admin_level_"):
        base, name = "osm_admin_level", key[len("osm_admin_level_") :]
    elif key.startswith("grid_"):
        base, name = "grid", key[5:].replace("m", " m" if lang == "en" else " 米")
    else:
        return key
    entry = _SOURCES[base]
    return entry.get(lang, entry["en"]).format(name=name)


_INPUTS: dict[str, dict[str, str]] = {
    "osm": {"en": "OpenStreetMap data (--osm)", "zh": "OpenStreetMap 数据 (--osm)"},
    "area": {"en": "analysis area (--area)", "zh": "研究范围 (--area)"},
    "communities": {"en": "communities (--communities)", "zh": "社区边界 (--communities)"},
    "population": {"en": "residents (--population)", "zh": "人口 (--population)"},
    "code_table": {"en": "code table (--code-table)", "zh": "代码表 (--code-table)"},
    "categories": {"en": "facility taxonomy (--categories)", "zh": "设施分类 (--categories)"},
    "walk_filter": {"en": "walkable ways (--walk-filter)", "zh": "步行道路规则 (--walk-filter)"},
    "facilities": {"en": "facility list (--facilities)", "zh": "设施清单 (--facilities)"},
    "dem": {"en": "elevation model (--dem)", "zh": "数字高程模型 (--dem)"},
    "compounds": {"en": "gated compounds (--compounds)", "zh": "封闭小区边界 (--compounds)"},
    "gates": {"en": "compound gates (--gates)", "zh": "小区出入口 (--gates)"},
    "add_gate": {"en": "gates opened (--add-gate)", "zh": "新开小区出入口 (--add-gate)"},
}


def input_label(key: str, lang: str) -> str:
    """An input of ``provenance.inputs`` (``osm``, ``facilities[0]`` …) with its option."""
    entry = _INPUTS.get(str(key).split("[", 1)[0])
    return str(key) if entry is None else entry.get(lang, entry["en"])
