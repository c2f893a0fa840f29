"""Refusals of the spill-over subdomain, each with a stable code and both languages."""

from __future__ import annotations

from regio.core.errors import InvalidInput, NotFound


class UnknownOrigin(NotFound):
    code = "unknown_origin"
    message_en = "No jurisdiction with adcode {adcode} is known to the spill-over models."
    message_zh = "溢出模型中未找到行政区划代码为 {adcode} 的行政区。"


class OriginRequired(InvalidInput):
    code = "origin_required"
    message_en = "Give the origin (an adcode) or the hazard's geometry (GeoJSON), or both."
    message_zh = "请提供发生地（行政区划代码）或灾害范围（GeoJSON），或两者都提供。"


class InvalidParameter(InvalidInput):
    code = "invalid_model_parameter"
    message_en = "Parameter {name} is not valid: {problem}."
    message_zh = "模型参数 {name} 无效：{problem_zh}。"


class NotOnAnyRiver(InvalidInput):
    code = "not_on_a_river"
    message_en = "No reach of the river network starts within {snap_km} km of the origin; nothing downstream to follow."
    message_zh = "发生地 {snap_km} 公里范围内没有河网河段，无法推算下游影响。"


class InvalidRiverNetwork(InvalidInput):
    code = "invalid_river_network"
    message_en = "The river network file is not valid: {problem}."
    message_zh = "河网文件无效：{problem_zh}。"


class NoCensusCity(InvalidInput):
    code = "epidemic_needs_a_city"
    message_en = "An epidemic starts in a prefecture-level city with census data; {adcode} is not one (give the city's adcode or one of its counties')."
    message_zh = (
        "疫情模型须从有人口普查数据的地级城市出发；{adcode} 不符合（请提供该城市或其所辖县区的代码）。"
    )
