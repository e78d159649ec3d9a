"""Labels for people (maps, spreadsheets) in Chinese or English. Machine keys (CSV columns,
category keys) never change with the language."""

from __future__ import annotations

LANGS = ("zh", "en")

LABELS: dict[str, dict[str, str]] = {
    "summary": {"zh": "汇总", "en": "Summary"},
    "community_id": {"zh": "社区代码", "en": "Community code"},
    "community_name": {"zh": "社区名称", "en": "Community"},
    "demo_site": {
        "zh": "下一步:在哪里新增 5 处“{category}”设施?(lifecircle site)",
        "en": "Next: where would 5 new '{category}' facilities go? (lifecircle site)",
    },
    "note": {"zh": "说明", "en": "note"},
    "residents": {"zh": "居民数", "en": "Residents"},
    "category": {"zh": "设施类别", "en": "Category"},
    "threshold": {"zh": "标准", "en": "Threshold"},
    "coverage": {"zh": "覆盖率", "en": "Coverage"},
    "target": {"zh": "目标", "en": "Target"},
    "meets_target": {"zh": "是否达标", "en": "Meets target"},
    "yes": {"zh": "达标", "en": "yes"},
    "no": {"zh": "未达标", "en": "no"},
    "no_residents": {"zh": "无居民", "en": "no residents"},
    "no_area_samples": {"zh": "无面积样本点", "en": "no area samples"},
    "headline": {"zh": "结论", "en": "Headline"},
    "median_walk": {"zh": "未达标时:步行距离中位数", "en": "if below target: median walk"},
    "standard": {"zh": "一般步行", "en": "standard walker"},
    "elderly": {"zh": "老年人步行", "en": "elderly walker"},
    "age_weighted": {"zh": "按年龄加权", "en": "age-weighted"},
    "all": {"zh": "完整生活圈", "en": "Complete life circle"},
    "minutes": {"zh": "分钟", "en": "min"},
    "preset": {"zh": "标准预设", "en": "Preset"},
    "denominator": {"zh": "分母", "en": "Denominator"},
    "communities_meeting": {"zh": "达标社区", "en": "Communities meeting the target"},
    "area_total": {"zh": "全区合计", "en": "Whole area"},
    "below_note": {
        "zh": "红色:低于目标。覆盖率 = 步行可达居民 / 居民总数。",
        "en": "Red: below target. Coverage = residents within the walk / all residents.",
    },
    "below_note_samples": {
        "zh": "红色:低于目标。没有人口数据:"
        "覆盖率 = 步行可达的面积样本点 / 全部面积样本点(面积占比)。",
        "en": "Red: below target. No population data: coverage = area samples within the walk / "
        "all area samples (a share of area).",
    },
    "source": {"zh": "数据来源", "en": "Data"},
    "report_title": {"zh": "15分钟社区生活圈评估报告", "en": "15-minute life circle report"},
    "communities_source": {"zh": "社区边界", "en": "Communities from"},
    "communities": {"zh": "个社区", "en": "communities"},
    "by_category": {"zh": "各类设施覆盖率", "en": "Coverage by category"},
    "facilities_n": {"zh": "设施数", "en": "Facilities"},
    "unverified_note": {
        "zh": "标准值未经标准原文核实,来自二手资料。",
        "en": "value not confirmed from the standard's text (secondary source).",
    },
    "missing_title": {"zh": "未达标社区及原因", "en": "Communities below the target, and why"},
    "why": {
        "zh": "缺少的设施(按{unit}比例)",
        "en": "Missing categories (share of {unit} lacking)",
    },
    "none_missing": {"zh": "所有社区均达标。", "en": "Every community meets the target."},
    "caveats": {"zh": "数据说明与局限", "en": "Caveats"},
    "off_network": {"zh": "路网外的居民点", "en": "Resident points off the network"},
    "off_network_points": {"zh": "路网外的{unit}", "en": "Points ({unit}) off the network"},
    "dropped_pieces": {"zh": "孤立路段", "en": "Dropped pieces of network"},
    "provenance": {"zh": "数据来源与版本", "en": "Provenance"},
    "input": {"zh": "输入", "en": "Input"},
    "file": {"zh": "文件", "en": "File"},
    "timestamp": {"zh": "数据时间", "en": "data timestamp"},
    "figures": {"zh": "图", "en": "Figures"},
    "figures_in_english": {
        "zh": "注意:本机未找到中文字体,以下两图的标注为英文。安装中文字体(Debian/Ubuntu:"
        "apt-get install fonts-noto-cjk)后运行 lifecircle report 输出目录 即可重绘为中文。",
        "en": "Note: no Chinese font was found, so the figures below are labelled in English.",
    },
    "open_map": {"zh": "打开交互地图 (map.html)", "en": "Open the interactive map (map.html)"},
    "osm_completeness_samples": {
        "zh": "OSM 设施完整性:没有人口数据(面积样本点),无法计算每万居民设施数;"
        "仅来自 OSM 的类别多半有缺漏,请用本地设施清单(--facilities)补充。",
        "en": "OSM completeness: without population data (area samples) there is no rate per "
        "10,000 residents; categories from OSM only are often incomplete — add a local list "
        "(--facilities).",
    },
    "osm_completeness": {
        "zh": "OSM 设施完整性:红色行仅来自 OSM 且每万居民不足 0.5 处,多半是地图缺漏而非实地没有,"
        "请用本地设施清单(--facilities)补充。",
        "en": "OSM completeness: red rows come from OSM only with fewer than 0.5 facilities per "
        "10,000 residents — more likely unmapped than absent; add a local list (--facilities).",
    },
    "from": {"zh": "来源", "en": "Source"},
    "per_10k": {"zh": "每万居民", "en": "per 10,000 residents"},
    "layer_communities": {"zh": "社区(完整生活圈)", "en": "Communities (complete life circle)"},
    "layer_gaps": {
        "zh": "缺口:未覆盖完整生活圈的{unit} ({n})",
        "en": "Gaps: {unit} missing the complete life circle ({n})",
    },
    "tip_gaps": {
        "zh": "未覆盖完整生活圈的{unit}",
        "en": "{label} without the complete life circle",
    },
    "tip_service_area": {
        "zh": "{label}:{minutes} 分钟服务范围",
        "en": "{label}: {minutes}-minute service area",
    },
    "facility": {"zh": "设施", "en": "Facility"},
    "reached_within": {"zh": "{minutes} 分钟内覆盖{unit}", "en": "{label} ≤ {minutes} min"},
    "layer_districts": {"zh": "各区(完整生活圈)", "en": "Districts (complete life circle)"},
    "district": {"zh": "区", "en": "District"},
    "district_id": {"zh": "区代码", "en": "District code"},
    "district_residents": {"zh": "各区居民", "en": "residents of each district"},
    "district_area_samples": {
        "zh": "各区面积样本点(无人口数据)",
        "en": "area samples of each district (no population data)",
    },
    "district_mixed": {
        "zh": "各区居民,无人口数据的区为面积样本点",
        "en": "residents of each district; area samples where a district has no population data",
    },
    "open_district_map": {"zh": "打开本区地图", "en": "open the district map"},
    "status_failed": {"zh": "失败", "en": "failed"},
    "status_interrupted": {"zh": "已中断", "en": "interrupted"},
    "status_pending": {"zh": "未完成", "en": "pending"},
    "status_not_run": {"zh": "未运行", "en": "not run"},
    "status_ok": {"zh": "完成", "en": "done"},
    "missing": {"zh": "缺少", "en": "missing"},
    # ---- capacity (capacity.csv, the capacity sheet of coverage.xlsx)
    "capacity_sheet": {"zh": "容量(2SFCA)", "en": "Capacity (2SFCA)"},
    "capacity_note": {
        "zh": "两步移动搜索法(2SFCA):每处设施的容量除以其步行标准范围内的目标人群,"
        "再把居民可达各设施的比值相加;按社区居民加权平均,以每千名目标人群计。"
        "与覆盖率分开:覆盖率看“近不近”,此表看“够不够”。",
        "en": "Two-step floating catchment (2SFCA): each facility's capacity over the target "
        "group within its threshold, summed over the facilities each resident reaches; "
        "population-weighted per community, per 1,000 of the target group. Separate from "
        "coverage: coverage says near enough, this says big enough.",
    },
    "profile": {"zh": "步行人群", "en": "Walker"},
    "target_group": {"zh": "目标人群", "en": "Target group"},
    "target_basis": {"zh": "人数依据", "en": "Counted as"},
    "target_population": {"zh": "目标人群人数", "en": "Target group"},
    "supply_per_1000": {"zh": "每千人供给", "en": "Supply per 1,000"},
    "facilities_with_capacity": {
        "zh": "可达设施(有容量)",
        "en": "Facilities in reach with capacity",
    },
    "facilities_without_capacity": {
        "zh": "可达设施(无容量数据)",
        "en": "Facilities in reach without capacity",
    },
    "group_elderly": {"zh": "老年人(60岁及以上)", "en": "older residents (60+)"},
    "group_children": {"zh": "儿童", "en": "children"},
    "group_everyone": {"zh": "全体居民", "en": "everyone"},
    "basis_age_share": {"zh": "按 60 岁及以上比例", "en": "by the 60+ share"},
    "basis_everyone": {"zh": "全体居民", "en": "all residents"},
    "basis_whole_population_share_unknown": {
        "zh": "比例未知,按全体居民",
        "en": "share unknown: all residents",
    },
    "unnamed": {"zh": "(未命名)", "en": "(unnamed)"},
    "osm_attribution": {
        "zh": "地图数据 © OpenStreetMap 贡献者",
        "en": "Map data © OpenStreetMap contributors",
    },
    # ---- the headline (lifecircle.headline): {placeholders} are filled there
    "area_samples": {"zh": "面积样本点", "en": "Area samples"},
    "unit_residents": {"zh": "居民", "en": "residents"},
    "unit_area_samples": {"zh": "面积样本点", "en": "area samples"},
    "unit_mixed": {"zh": "居民(或面积样本点)", "en": "residents (or area samples)"},
    "hl_clc": {
        "zh": "完整生活圈(≤{minutes} 分钟,{profile}):"
        "{share} 的{unit}全部可达,目标 {target},{verdict}。",
        "en": "Complete life circle (≤ {minutes} min, {profile}): {share} of {unit} reach every "
        "basket category — target {target}, {verdict}.",
    },
    "hl_meets": {"zh": "达标", "en": "meets it"},
    "hl_misses": {"zh": "未达标", "en": "misses it"},
    "hl_no_data": {"zh": "无法判断(没有{unit})", "en": "no verdict (no {unit})"},
    "hl_communities": {
        "zh": "{count} / {of} 个社区达标。",
        "en": "{count} of {of} communities meet it.",
    },
    "hl_communities_some_empty": {
        "zh": "有居民的 {of} 个社区中 {count} 个达标(另有 {empty} 个社区没有居民,不参与判断)。",
        "en": "{count} of the {of} communities with residents meet it ({empty} more have no "
        "residents and are not judged).",
    },
    "hl_empty_basket": {
        "zh": "完整生活圈篮子中的 {n} 类设施在数据中一处也没有({names}),"
        "因此没有{unit}能达到完整生活圈;仅按有数据的 {m} 类计算,完整生活圈覆盖率为 {share}。",
        "en": "{n} of the basket's categories have no facility at all in the data ({names}), so "
        "no one can have the complete life circle; over the {m} basket categories with data it "
        "is {share}.",
    },
    "hl_empty_basket_all": {
        "zh": "完整生活圈篮子中的所有 {n} 类设施在数据中都没有({names})。",
        "en": "None of the basket's {n} categories has a facility in the data ({names}).",
    },
    "hl_off_network": {
        "zh": "{share} 的{unit}距最近的步行道路超过 {max_snap} 米(超过警示线 {limit}),按不可达计:"
        "请检查 OSM 数据是否覆盖该区域并包含人行道路,或调大 --max-snap-m。",
        "en": "{share} of {unit} are farther than {max_snap} m from any walkable way (more than "
        "the {limit} warning level) and count as not covered: check that the OSM extract covers "
        "the area and holds its footways, or raise --max-snap-m.",
    },
    "hl_gcj02": {
        "zh": "设施清单 {files} 按 WGS 84 读取,但看起来是高德/腾讯(GCJ-02)坐标:"
        "若是,请加 --facilities-crs gcj02 重新运行。",
        "en": "facility list(s) {files} were read as WGS 84 but look like Amap/Tencent (GCJ-02) "
        "coordinates: if so, rerun with --facilities-crs gcj02.",
    },
    "hl_area_samples": {
        "zh": "没有人口数据:覆盖率是均匀分布的面积样本点的比例(面积占比),不是居民比例。",
        "en": "No population data: coverage is the share of evenly spread area samples (a share "
        "of area), not of residents.",
    },
    "warning": {"zh": "警示", "en": "Warning"},
    "hl_short_empty": {"zh": "无设施:{names}", "en": "no facility: {names}"},
    "hl_short_off_network": {"zh": "{share} 在路网外", "en": "{share} off the network"},
    "hl_short_with_data": {
        "zh": "按有数据的 {m} 类计算:{share}",
        "en": "over the {m} basket categories with data: {share}",
    },
    "hl_short_gcj02": {"zh": "设施坐标疑为 GCJ-02", "en": "facilities look GCJ-02"},
    "hl_bd09": {
        "zh": "设施清单 {files} 按 WGS 84 读取,但看起来是百度(BD-09)坐标:"
        "若是,请加 --facilities-crs bd09 重新运行。",
        "en": "facility list(s) {files} were read as WGS 84 but look like Baidu (BD-09) "
        "coordinates: if so, rerun with --facilities-crs bd09.",
    },
    "hl_short_bd09": {"zh": "设施坐标疑为 BD-09", "en": "facilities look BD-09"},
    "hl_boundaries_cut": {
        "zh": "OSM 数据中有 {n} 个社区级行政边界(admin_level {levels})在数据范围边缘被截断、"
        "无法闭合,未纳入分析({names}):只分析了闭合的 {kept} 个社区,被截断社区的居民不在分析"
        "范围内。请用 --communities 提供完整的社区边界,或使用覆盖更大范围的 OSM 数据。",
        "en": "{n} OSM administrative boundaries (admin_level {levels}) are cut at the extract's "
        "edge and do not close, so they were left out ({names}): only the {kept} communities "
        "whose boundaries close were analysed, and residents of the cut ones are outside the "
        "area. Give whole community boundaries with --communities, or a larger extract.",
    },
    "hl_short_boundaries_cut": {"zh": "{n} 个边界被截断", "en": "{n} boundaries cut"},
    "districts_with_warnings": {
        "zh": "{n} 个区完成但有警示(见 city_summary.json → per_district → warnings)",
        "en": "{n} district(s) finished with warnings (city_summary.json → per_district → "
        "warnings)",
    },
    "within_threshold": {
        "zh": "各类设施:{unit}在其标准内可达的比例"
        "(按判定该类设施的步行人群,如养老服务按老年人步行)",
        "en": "Per category: share of {unit} within its threshold (walked as the preset judges "
        "the category, e.g. elder care by the elderly walker)",
    },
    "empty_category": {"zh": "数据中没有此类设施", "en": "no facility in the data"},
    "in_basket": {"zh": "属完整生活圈", "en": "in the basket"},
    # the workbench's printable view (POST /api/print of lifecircle serve)
    "wbp_title": {"zh": "规划工作台 — 方案打印稿", "en": "Planning workbench — scenario printout"},
    "wbp_analysis": {"zh": "分析文件夹", "en": "Analysis folder"},
    "wbp_edits": {"zh": "本方案的改动", "en": "Edits in this scenario"},
    "wbp_edit": {"zh": "改动", "en": "Edit"},
    "wbp_added": {"zh": "新增", "en": "added"},
    "wbp_removed": {"zh": "关闭", "en": "closed"},
    "wbp_no_edits": {
        "zh": "没有改动:以下为现状。",
        "en": "No edits: the figures below are the baseline.",
    },
    "wbp_shares": {
        "zh": "全区覆盖率(各类设施在其标准内)",
        "en": "Area-wide share within each category's threshold",
    },
    "wbp_before": {"zh": "现状", "en": "Before"},
    "wbp_after": {"zh": "方案", "en": "After"},
    "wbp_change": {"zh": "变化(百分点)", "en": "Change (points)"},
    "wbp_newly": {"zh": "新覆盖居民", "en": "Residents newly covered"},
    "wbp_verdict": {"zh": "结论变化", "en": "Verdict"},
    "wbp_flips": {"zh": "达标结论改变的社区", "en": "Communities whose verdict flips"},
    "wbp_now_meets": {"zh": "改为达标", "en": "now meets the target"},
    "wbp_now_misses": {"zh": "改为未达标", "en": "now misses the target"},
    "wbp_no_flips": {"zh": "没有社区的达标结论改变。", "en": "No community's verdict flips."},
    "wbp_short": {
        "zh": "仍未达标的社区(按完整生活圈差距排序)",
        "en": "Communities still short of the target, by their complete life circle shortfall",
    },
    "wbp_shortfall": {"zh": "差距(百分点)", "en": "Shortfall (points)"},
    "wbp_short_cats": {"zh": "未达标的类别(覆盖率)", "en": "Categories below the target (share)"},
    "wbp_none_short": {"zh": "所有社区均已达标。", "en": "Every community meets the target."},
    "wbp_more": {"zh": "…… 另有 {n} 个社区未列出", "en": "… and {n} more communities not listed"},
    "wbp_facility_id": {"zh": "设施编号", "en": "Facility id"},
    "wbp_name": {"zh": "名称", "en": "Name"},
    "wbp_lonlat": {"zh": "经度, 纬度", "en": "Lon, lat"},
    "wbp_footer": {
        "zh": "由 lifecircle {version} 生成。改动未写入分析文件夹;"
        "用“保存方案”并以 lifecircle scenario 复现。",
        "en": "Made by lifecircle {version}. The edits are not written to the analysis folder; "
        "save the scenario and reproduce it with lifecircle scenario.",
    },
    # how sure each verdict is (analyze --sensitivity)
    "sensitivity_band": {
        "zh": "全区完整生活圈 {cov:.1%}(区间 {low:.1%}–{high:.1%});",
        "en": "whole area {cov:.1%} (band {low:.1%}–{high:.1%}); ",
    },
    "sensitivity_line": {
        "zh": "结论可靠性:{band}{n} 个社区的达标结论在区间内不稳定,见 {file}",
        "en": "How sure: {band}{n} communities whose verdict does not hold over the band; "
        "see {file}",
    },
    "sens_title": {"zh": "结论的可靠性", "en": "How sure is each verdict"},
    "sens_intro": {
        "zh": "步行速度 ±{speed:g} m/s、吸附距离 {snap_low:g}–{snap_high:g} m、每处设施以 "
        "{dropout:.0%} 的概率缺失(重复 {runs} 次)时的覆盖率区间。下列社区的结论"
        "(完整生活圈,{profile},≤ {minutes} 分钟)在区间内会改变;地图上以虚线黑框和“?”标出。",
        "en": "Coverage when walking speeds are ±{speed:g} m/s, the snapping limit is "
        "{snap_low:g}–{snap_high:g} m and each facility is missing with probability {dropout:.0%} "
        "({runs} runs). The verdict of the communities below (complete life circle, {profile}, "
        "≤ {minutes} min) changes within that band; the map marks them with a dashed black outline "
        "and a “?”.",
    },
    "sens_area": {
        "zh": "全区:{cov} (区间 {low}–{high}),结论{stable}。",
        "en": "Whole area: {cov} (band {low}–{high}); the verdict {stable}.",
    },
    "sens_holds": {"zh": "在区间内不变", "en": "holds over the band"},
    "sens_flips": {"zh": "在区间内可能改变", "en": "may change within the band"},
    "sens_file": {
        "zh": "每个社区、类别、步行类型和分钟数的区间",
        "en": "Every community, category, walker and minutes",
    },
    "sens_none": {
        "zh": "所有社区的结论在区间内都不变。",
        "en": "Every community's verdict holds over the band.",
    },
    "coverage_low": {"zh": "区间下限", "en": "Low"},
    "coverage_high": {"zh": "区间上限", "en": "High"},
    "flipped_by": {"zh": "单独即可改变结论的因素", "en": "Changed by (alone)"},
    "speed": {"zh": "步行速度", "en": "walking speed"},
    "snap": {"zh": "吸附距离", "en": "snapping limit"},
    "dropout": {"zh": "设施缺失", "en": "missing facilities"},
    "combined": {"zh": "多因素叠加", "en": "only combined"},
    "sens_legend": {
        "zh": "? 结论不确定:覆盖率区间跨越目标",
        "en": "? verdict uncertain: the coverage band crosses the target",
    },
    "sens_popup": {
        "zh": "? 结论不确定:完整生活圈覆盖率区间 {low:.0%}–{high:.0%}",
        "en": "? verdict uncertain: complete life circle between {low:.0%} and {high:.0%}",
    },
    # ---- the workbench page (lifecircle serve) ----
    "wb_title": {"zh": "15分钟生活圈 规划工作台", "en": "15-minute life circle workbench"},
    "wb_category": {"zh": "设施类别", "en": "Facility category"},
    "wb_hint": {
        "zh": "点击地图新增设施;拖动设施以迁移;点击设施可关闭。",
        "en": "Click the map to add a facility; drag one to move it; click one to close it.",
    },
    "wb_search": {"zh": "搜索社区", "en": "Find a community"},
    "wb_shares": {"zh": "全区覆盖率(标准内)", "en": "Area-wide coverage (within threshold)"},
    "wb_baseline": {"zh": "现状", "en": "Baseline"},
    "wb_now": {"zh": "方案", "en": "Now"},
    "wb_short": {"zh": "未达标社区(按缺口排序)", "en": "Communities short of the target"},
    "wb_short_none": {"zh": "全部社区达标", "en": "Every community meets the target"},
    "wb_short_by": {"zh": "缺口 {n} 人", "en": "{n} short"},
    "wb_change": {"zh": "与现状相比", "en": "Change against the baseline"},
    "wb_no_edits": {
        "zh": "尚未编辑:点击地图新增设施。",
        "en": "No edits yet: click the map to add a facility.",
    },
    "wb_edits": {"zh": "新增 {add} 处,关闭 {remove} 处", "en": "{add} added, {remove} closed"},
    "wb_newly": {"zh": "新覆盖居民 {n} 人", "en": "{n} residents newly covered"},
    "wb_now_meets": {"zh": "转为达标", "en": "Now meet the target"},
    "wb_now_misses": {"zh": "转为未达标", "en": "Now miss the target"},
    "wb_undo": {"zh": "撤销", "en": "Undo"},
    "wb_reset": {"zh": "重置", "en": "Reset"},
    "wb_suggest": {"zh": "推荐选址", "en": "Suggest sites"},
    "wb_sites_count": {"zh": "处数", "en": "Sites"},
    "wb_sites_target": {"zh": "直至达标", "en": "until the target"},
    "wb_add": {"zh": "添加", "en": "Add"},
    "wb_add_all": {"zh": "全部添加", "en": "Add all"},
    "wb_close": {"zh": "关闭此设施", "en": "Close this facility"},
    "wb_remove_added": {"zh": "删除此新增设施", "en": "Remove this added facility"},
    "wb_added": {"zh": "新增", "en": "added"},
    "wb_moved": {"zh": "迁移", "en": "moved"},
    "wb_site": {"zh": "推荐点", "en": "site"},
    "wb_save": {"zh": "保存方案", "en": "Save scenario"},
    "wb_load": {"zh": "载入方案", "en": "Load scenario"},
    "wb_export_csv": {"zh": "导出 CSV", "en": "Export CSV"},
    "wb_export_xlsx": {"zh": "导出 XLSX", "en": "Export XLSX"},
    "wb_print": {"zh": "打印视图", "en": "Print view"},
    "wb_busy": {"zh": "计算中…", "en": "computing…"},
    "wb_failed": {"zh": "失败", "en": "failed"},
    "wb_panel": {"zh": "面板", "en": "Panel"},
    "wb_legend": {
        "zh": "{category}:标准内覆盖率,目标 {target}",
        "en": "{category}: coverage within the threshold, target {target}",
    },
    "wb_facilities": {"zh": "设施", "en": "Facilities"},
    "wb_residents_newly": {"zh": "新覆盖", "en": "newly covered"},
    "wb_layers": {"zh": "图层", "en": "Layers"},
    "wb_layer_sa": {"zh": "现状服务范围", "en": "Baseline service areas"},
    "wb_layer_sa_tiers": {
        "zh": "{category}:{minutes} 分钟(嵌套)",
        "en": "{category}: {minutes} min (nested)",
    },
    "wb_layer_gaps": {
        "zh": "现状缺口:未覆盖完整生活圈的居民",
        "en": "Baseline gaps: residents missing the complete life circle",
    },
    "wb_layer_note": {
        "zh": "现状图层:编辑后不重绘",
        "en": "Baseline layers: edits do not redraw them",
    },
}


def t(key: str, lang: str) -> str:
    """The label for ``key`` in ``lang`` (the key itself when there is none)."""
    entry = LABELS.get(key)
    if entry is None:
        return key
    return entry.get(lang, entry["en"])
