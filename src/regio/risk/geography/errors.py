"""Refusals of the geography subdomain, each with a stable code and both languages."""

from __future__ import annotations

from regio.core.errors import Conflict, DomainError, InvalidInput, NotFound


class UnknownJurisdiction(NotFound):
    code = "unknown_jurisdiction"
    message_en = "No jurisdiction with adcode {adcode} is loaded."
    message_zh = "未找到行政区划代码为 {adcode} 的行政区。"


class UnknownCoordinationBody(NotFound):
    code = "unknown_coordination_body"
    message_en = "No coordination body called {slug}."
    message_zh = "未找到协调机构 {slug}。"


class GeographyNotLoaded(DomainError):
    status = 503
    code = "geography_not_loaded"
    message_en = "China's boundaries are not loaded yet; run `regio risk geography load`."
    message_zh = "尚未加载行政区边界数据，请先运行 `regio risk geography load`。"


class OneHazardField(InvalidInput):
    code = "one_hazard_field"
    message_en = "Give exactly one of geometry, circle, cap_polygon or adcodes (got {given})."
    message_zh = "geometry、circle、cap_polygon、adcodes 须且仅须提供一项（收到：{given}）。"


class InvalidGeometry(InvalidInput):
    code = "invalid_geometry"
    message_en = "The hazard geometry is not valid: {problem}."
    message_zh = "灾害范围几何图形无效：{problem_zh}。"


class SelfIntersecting(InvalidGeometry):
    code = "self_intersecting_geometry"
    message_en = "The hazard polygon crosses itself near {lon}, {lat}; draw its boundary without crossings."
    message_zh = "灾害范围多边形在 {lon}, {lat} 附近自相交，请重新绘制不交叉的边界。"


class UnclosedRing(InvalidGeometry):
    code = "unclosed_ring"
    message_en = "Ring {ring} of the hazard polygon is not closed: its last point must repeat its first."
    message_zh = "灾害范围多边形的第 {ring} 个环未闭合：最后一个点必须与第一个点相同。"


class CoordinatesOutOfRange(InvalidGeometry):
    code = "coordinates_out_of_range"
    message_en = (
        "Coordinate {value} is out of range: longitude must lie in -180..180 and latitude in -90..90."
    )
    message_zh = "坐标 {value} 超出范围：经度须在 -180 至 180 之间，纬度须在 -90 至 90 之间。"


class InvalidCapPolygon(InvalidGeometry):
    code = "invalid_cap_polygon"
    message_en = "The CAP polygon is not valid: {problem}. Write 'lat,lon lat,lon ...' with at least 4 pairs, the last equal to the first."
    message_zh = "CAP 多边形无效：{problem_zh}。格式为“纬度,经度 纬度,经度 …”，至少 4 个点，且首尾相同。"


class InvalidCircle(InvalidGeometry):
    code = "invalid_circle"
    message_en = "The circle is not valid: {problem}."
    message_zh = "圆形范围无效：{problem_zh}。"


class BodyExists(Conflict):
    code = "coordination_body_exists"
    message_en = "A coordination body called {slug} already exists."
    message_zh = "协调机构 {slug} 已存在。"
