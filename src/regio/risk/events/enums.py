"""Codes of risk reports and emergency events: categories, types, the two scales and CAP's words."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """The four statutory categories of 突发事件应对法 (art. 3) plus emerging technology / cyber risks."""

    natural_disaster = "natural_disaster"  # 自然灾害
    accident = "accident"  # 事故灾难
    public_health = "public_health"  # 公共卫生事件
    social_security = "social_security"  # 社会安全事件
    technology = "technology"  # 新兴技术与网络安全风险


class Kind(StrEnum):
    risk = "risk"  # a risk that may happen: warning level 1–4 (预警级别)
    event = "event"  # an emergency that has happened: grade I–IV (事件分级)


class MsgType(StrEnum):
    alert = "alert"
    update = "update"
    cancel = "cancel"


class Status(StrEnum):
    active = "active"  # the current version of a live report
    superseded = "superseded"  # an earlier version, replaced by an update or a cancel
    cancelled = "cancelled"  # the current version of a withdrawn report (the cancel itself)
    closed = "closed"  # the current version of a report whose emergency is over
    merged = "merged"  # a duplicate folded into another report (merged_into_id)


class Certainty(StrEnum):
    observed = "Observed"
    likely = "Likely"
    possible = "Possible"
    unlikely = "Unlikely"
    unknown = "Unknown"


class Urgency(StrEnum):
    immediate = "Immediate"
    expected = "Expected"
    future = "Future"
    past = "Past"
    unknown = "Unknown"


class Severity(StrEnum):
    extreme = "Extreme"
    severe = "Severe"
    moderate = "Moderate"
    minor = "Minor"
    unknown = "Unknown"


class Source(StrEnum):
    form = "form"
    api = "api"
    cap = "cap"


class Scope(StrEnum):
    """CAP scope: who may see the alert; only `public` ones appear in public feeds."""

    public = "public"
    restricted = "restricted"
    private = "private"


# Level 1 / grade I is the highest on both scales (DOMAIN.md, risk rule 2).
SEVERITY_BY_RANK = {1: Severity.extreme, 2: Severity.severe, 3: Severity.moderate, 4: Severity.minor}
RANK_BY_SEVERITY = {severity: rank for rank, severity in SEVERITY_BY_RANK.items()}
LEVEL_COLOURS = {1: "red", 2: "orange", 3: "yellow", 4: "blue"}
LEVEL_NAMES_ZH = {1: "红色预警", 2: "橙色预警", 3: "黄色预警", 4: "蓝色预警"}
LEVEL_NAMES_EN = {1: "Red", 2: "Orange", 3: "Yellow", 4: "Blue"}
GRADE_NUMERALS = {1: "I", 2: "II", 3: "III", 4: "IV"}
GRADE_NAMES_ZH = {1: "I级 特别重大", 2: "II级 重大", 3: "III级 较大", 4: "IV级 一般"}
GRADE_NAMES_EN = {1: "I (especially major)", 2: "II (major)", 3: "III (relatively major)", 4: "IV (general)"}

CATEGORY_NAMES_ZH = {
    Category.natural_disaster: "自然灾害",
    Category.accident: "事故灾难",
    Category.public_health: "公共卫生事件",
    Category.social_security: "社会安全事件",
    Category.technology: "新兴技术与网络安全",
}
CATEGORY_NAMES_EN = {
    Category.natural_disaster: "Natural disaster",
    Category.accident: "Accident",
    Category.public_health: "Public health",
    Category.social_security: "Social security",
    Category.technology: "Technology / cyber",
}
# CAP <category> of each category (CAP 1.2, 3.2.2: Geo Met Safety Security Rescue Fire Health Env
# Transport Infra CBRNE Other); the finer one comes from the event type below.
CAP_CATEGORY = {
    Category.natural_disaster: "Geo",
    Category.accident: "Safety",
    Category.public_health: "Health",
    Category.social_security: "Security",
    Category.technology: "Infra",
}

CERTAINTY_NAMES_ZH = {
    "Observed": "已发生",
    "Likely": "很可能",
    "Possible": "可能",
    "Unlikely": "不太可能",
    "Unknown": "未知",
}
URGENCY_NAMES_ZH = {
    "Immediate": "立即",
    "Expected": "预计一小时内",
    "Future": "将来",
    "Past": "已过去",
    "Unknown": "未知",
}
STATUS_NAMES_ZH = {
    "active": "生效",
    "superseded": "已更新",
    "cancelled": "已撤销",
    "closed": "已结束",
    "merged": "已合并",
}


class EventType:
    """One entry of the published type list: its code, category, names and CAP category."""

    __slots__ = ("cap_category", "category", "code", "name_en", "name_zh")

    def __init__(self, code: str, category: Category, name_zh: str, name_en: str, cap_category: str) -> None:
        self.code = code
        self.category = category
        self.name_zh = name_zh
        self.name_en = name_en
        self.cap_category = cap_category


# The event types a report may name. Weather types follow the signals of 气象灾害预警信号发布与传播办法
# (China Meteorological Administration order 16, 2007); the others the classification of
# 国家突发公共事件总体应急预案 (State Council, 2006) and 突发事件应对法 (2007, revised 2024).
_TYPES: tuple[tuple[str, Category, str, str, str], ...] = (
    ("typhoon", Category.natural_disaster, "台风", "Typhoon", "Met"),
    ("rainstorm", Category.natural_disaster, "暴雨", "Rainstorm", "Met"),
    ("blizzard", Category.natural_disaster, "暴雪", "Blizzard", "Met"),
    ("cold_wave", Category.natural_disaster, "寒潮", "Cold wave", "Met"),
    ("gale", Category.natural_disaster, "大风", "Gale", "Met"),
    ("sandstorm", Category.natural_disaster, "沙尘暴", "Sandstorm", "Met"),
    ("heat_wave", Category.natural_disaster, "高温", "Heat wave", "Met"),
    ("drought", Category.natural_disaster, "干旱", "Drought", "Met"),
    ("thunderstorm", Category.natural_disaster, "雷电", "Thunderstorm", "Met"),
    ("hail", Category.natural_disaster, "冰雹", "Hail", "Met"),
    ("frost", Category.natural_disaster, "霜冻", "Frost", "Met"),
    ("fog", Category.natural_disaster, "大雾", "Fog", "Met"),
    ("haze", Category.natural_disaster, "霾", "Haze", "Met"),
    ("road_icing", Category.natural_disaster, "道路结冰", "Road icing", "Met"),
    ("flood", Category.natural_disaster, "洪水", "Flood", "Met"),
    ("earthquake", Category.natural_disaster, "地震", "Earthquake", "Geo"),
    ("landslide", Category.natural_disaster, "滑坡", "Landslide", "Geo"),
    ("debris_flow", Category.natural_disaster, "泥石流", "Debris flow", "Geo"),
    ("storm_surge", Category.natural_disaster, "风暴潮", "Storm surge", "Met"),
    ("wildfire", Category.natural_disaster, "森林草原火灾", "Wildfire", "Fire"),
    ("chemical_leak", Category.accident, "危险化学品泄漏", "Chemical leak", "CBRNE"),
    ("explosion", Category.accident, "爆炸", "Explosion", "CBRNE"),
    ("fire", Category.accident, "火灾", "Fire", "Fire"),
    ("traffic_accident", Category.accident, "交通事故", "Traffic accident", "Transport"),
    ("mine_accident", Category.accident, "矿山事故", "Mine accident", "Safety"),
    ("dam_failure", Category.accident, "溃坝", "Dam failure", "Infra"),
    ("power_outage", Category.accident, "大面积停电", "Power outage", "Infra"),
    ("ash_plume", Category.accident, "烟尘扩散", "Ash plume", "Env"),
    ("air_pollution", Category.accident, "大气污染", "Air pollution", "Env"),
    ("water_pollution", Category.accident, "水污染", "Water pollution", "Env"),
    ("nuclear_radiation", Category.accident, "核与辐射事故", "Nuclear or radiation accident", "CBRNE"),
    ("epidemic", Category.public_health, "传染病疫情", "Epidemic", "Health"),
    ("food_safety", Category.public_health, "食品安全", "Food safety", "Health"),
    ("poisoning", Category.public_health, "群体性中毒", "Mass poisoning", "Health"),
    ("animal_epidemic", Category.public_health, "动物疫情", "Animal epidemic", "Health"),
    ("mass_incident", Category.social_security, "群体性事件", "Mass incident", "Security"),
    ("terrorist_attack", Category.social_security, "恐怖袭击", "Terrorist attack", "Security"),
    ("stampede", Category.social_security, "踩踏", "Crowd crush", "Safety"),
    ("cyber_attack", Category.technology, "网络攻击", "Cyber attack", "Infra"),
    ("data_breach", Category.technology, "数据泄露", "Data breach", "Security"),
    ("infrastructure_failure", Category.technology, "关键信息基础设施故障", "Critical IT failure", "Infra"),
    ("drone_incident", Category.technology, "无人机事件", "Drone incident", "Safety"),
)
EVENT_TYPES: dict[str, EventType] = {row[0]: EventType(*row) for row in _TYPES}
