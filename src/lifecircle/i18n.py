"""Labels for people (maps, spreadsheets) in Chinese or English. Machine keys (CSV columns,
category keys) never change with the language."""

from __future__ import annotations

LANGS = ("zh", "en")

LABELS: dict[str, dict[str, str]] = {
    "summary": {"zh": "汇总", "en": "Summary"},
    "community_id": {"zh": "社区代码", "en": "Community code"},
    "community_name": {"zh": "社区名称", "en": "Community"},
    "residents": {"zh": "居民数", "en": "Residents"},
    "category": {"zh": "设施类别", "en": "Category"},
    "threshold": {"zh": "标准", "en": "Threshold"},
    "coverage": {"zh": "覆盖率", "en": "Coverage"},
    "target": {"zh": "目标", "en": "Target"},
    "meets_target": {"zh": "是否达标", "en": "Meets target"},
    "yes": {"zh": "达标", "en": "yes"},
    "no": {"zh": "未达标", "en": "no"},
    "no_residents": {"zh": "无居民", "en": "no residents"},
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
        "zh": "缺少的设施(按居民比例)",
        "en": "Missing categories (share of residents lacking)",
    },
    "none_missing": {"zh": "所有社区均达标。", "en": "Every community meets the target."},
    "caveats": {"zh": "数据说明与局限", "en": "Caveats"},
    "off_network": {"zh": "路网外的居民点", "en": "Resident points off the network"},
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
    "osm_completeness": {
        "zh": "OSM 设施完整性:红色行仅来自 OSM 且每万居民不足 0.5 处,多半是地图缺漏而非实地没有,"
        "请用本地设施清单(--facilities)补充。",
        "en": "OSM completeness: red rows come from OSM only with fewer than 0.5 facilities per "
        "10,000 residents — more likely unmapped than absent; add a local list (--facilities).",
    },
    "from": {"zh": "来源", "en": "Source"},
    "per_10k": {"zh": "每万居民", "en": "per 10,000 residents"},
    "osm_attribution": {
        "zh": "地图数据 © OpenStreetMap 贡献者",
        "en": "Map data © OpenStreetMap contributors",
    },
}


def t(key: str, lang: str) -> str:
    """The label for ``key`` in ``lang`` (the key itself when there is none)."""
    entry = LABELS.get(key)
    if entry is None:
        return key
    return entry.get(lang, entry["en"])
