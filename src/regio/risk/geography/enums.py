"""Levels of China's administrative divisions and the risk categories coordination bodies organise by."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    province = "province"  # 省级: provinces, autonomous regions, municipalities, SARs
    prefecture = "prefecture"  # 地级: prefecture-level cities, leagues, autonomous prefectures
    county = "county"  # 县级: counties, districts, county-level cities

    @property
    def rank(self) -> int:
        return LEVELS.index(self)


LEVELS: tuple[Level, ...] = (Level.province, Level.prefecture, Level.county)


class RiskCategory(StrEnum):
    """The four statutory categories of 突发事件应对法, plus the emerging ones DOMAIN.md names."""

    natural_disaster = "natural_disaster"  # 自然灾害
    accident = "accident"  # 事故灾难
    public_health = "public_health"  # 公共卫生事件
    social_security = "social_security"  # 社会安全事件
    emerging_technology = "emerging_technology"  # 新兴技术风险
    cyber = "cyber"  # 网络安全风险


CATEGORY_NAMES_ZH = {
    RiskCategory.natural_disaster: "自然灾害",
    RiskCategory.accident: "事故灾难",
    RiskCategory.public_health: "公共卫生",
    RiskCategory.social_security: "社会安全",
    RiskCategory.emerging_technology: "新兴技术",
    RiskCategory.cyber: "网络安全",
}

LEVEL_NAMES_ZH = {Level.province: "省级", Level.prefecture: "地级", Level.county: "县级"}
