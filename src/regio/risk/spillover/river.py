"""River model: downstream along a directed network of reaches, with flood-wave travel times.

The shipped network (data/rivers.json: main stems and key tributaries of the Yangtze, Yellow,
Pearl, Huai, Hai, Songhua and Liao, with the prefectures each reach crosses in flow order and an
approximate travel time) is joined with the networks users import from GeoJSON; a node id that
appears in both joins them (e.g. an imported tributary ending at "wuhan").

A flood starts at every node in the origin's prefecture, at every node within `snap_km` of the
hazard's geometry, and part-way along any reach that crosses the origin's prefecture. From there
a shortest-time search (Dijkstra over travel hours) gives each node's arrival; a reach's crossed
prefectures arrive in proportion to their place in its list. Nothing upstream is ever reached.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import shapely

from regio.risk.geography.engine import GEOD, GeographyIndex
from regio.risk.geography.enums import Level
from regio.risk.spillover.affected import Affected
from regio.risk.spillover.errors import InvalidRiverNetwork, NotOnAnyRiver
from regio.risk.spillover.places import Origin

RIVERS_FILE = Path(__file__).resolve().parent / "data" / "rivers.json"
SHIPPED = "shipped"
# How long downstream a flood is followed, by severity rank (1 highest): a grave flood is worth
# warning about ten days ahead, a minor one two.
DEFAULT_MAX_HOURS = {1: 240.0, 2: 168.0, 3: 96.0, 4: 48.0}
DEFAULT_SNAP_KM = 15.0
CONFIDENCE = (0.9, 0.35)  # at the origin, at max_hours
MAX_IMPORT_REACHES = 20_000

Namer = Callable[[str, str, str], str]  # (level, adcode, fallback name) -> name


class NoRiverNearby(Exception):
    """The origin is on no reach of the network (raised as NotOnAnyRiver when asked directly)."""


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    name: str
    lon: float
    lat: float
    adcode: str | None


@dataclass(frozen=True, slots=True)
class Reach:
    network: str
    river: str
    source: str
    target: str
    length_km: float
    travel_hours: float
    adcodes: tuple[str, ...]  # prefectures crossed, in flow order, those at the ends included
    river_en: str = ""
    source_lon: float = 0.0
    source_lat: float = 0.0
    target_lon: float = 0.0
    target_lat: float = 0.0


class RiverNetwork:
    """Nodes, reaches and the directed graph over them (one edge per node pair: the fastest reach)."""

    def __init__(self, nodes: dict[str, Node], reaches: list[Reach], names: dict[str, str]) -> None:
        self.nodes = nodes
        self.reaches = reaches
        self.names = names
        self.graph = nx.DiGraph()
        for node in nodes.values():
            self.graph.add_node(node.id)
        self.out: dict[str, list[Reach]] = {}
        for reach in reaches:
            self.out.setdefault(reach.source, []).append(reach)
            current = self.graph.get_edge_data(reach.source, reach.target)
            if current is None or current["hours"] > reach.travel_hours:
                self.graph.add_edge(reach.source, reach.target, hours=reach.travel_hours, km=reach.length_km)
        self._node_ids = list(nodes)
        self._points = shapely.points([(nodes[i].lon, nodes[i].lat) for i in self._node_ids])
        self.tree = shapely.STRtree(self._points) if self._node_ids else None

    def seat_of(self, adcode: str) -> tuple[float, float] | None:
        for node in self.nodes.values():
            if node.adcode == adcode:
                return (node.lon, node.lat)
        return None

    def near(self, geometry: shapely.Geometry, km: float) -> list[str]:
        """Ids of nodes within km of the geometry (geodesic distance to its nearest point)."""
        if self.tree is None or km <= 0:
            return []
        reach_deg = km / 111.0 / max(0.2, math.cos(math.radians(geometry.centroid.y)))
        found = []
        for position in self.tree.query(geometry, predicate="dwithin", distance=reach_deg).tolist():
            node = self.nodes[self._node_ids[position]]
            nearest = shapely.get_coordinates(shapely.shortest_line(geometry, self._points[position]))[0]
            _, _, metres = GEOD.inv(nearest[0], nearest[1], node.lon, node.lat)
            if metres <= km * 1000.0:
                found.append(node.id)
        return found


def _read_shipped() -> tuple[dict[str, Node], list[Reach], dict[str, str]]:
    data = json.loads(RIVERS_FILE.read_text(encoding="utf-8"))
    nodes = {n["id"]: Node(n["id"], n["name"], n["lon"], n["lat"], n["adcode"]) for n in data["nodes"]}
    reaches = [
        Reach(
            network=SHIPPED,
            river=r["river"],
            river_en=r["river_en"],
            source=r["from"],
            target=r["to"],
            length_km=float(r["length_km"]),
            travel_hours=float(r["travel_hours"]),
            adcodes=tuple(r["adcodes"]),
            source_lon=nodes[r["from"]].lon,
            source_lat=nodes[r["from"]].lat,
            target_lon=nodes[r["to"]].lon,
            target_lat=nodes[r["to"]].lat,
        )
        for r in data["reaches"]
    ]
    return nodes, reaches, dict(data["names"])


@lru_cache(maxsize=1)
def shipped() -> RiverNetwork:
    nodes, reaches, names = _read_shipped()
    return RiverNetwork(nodes, reaches, names)


_cache: dict[str, Any] = {"version": None, "network": None}


def cached_network(version: tuple[int, int, str]) -> RiverNetwork | None:
    """The network built for this version of the imported reaches, if it is the one in memory."""
    if version[0] == 0:
        return shipped()
    if _cache["version"] == version:
        network: RiverNetwork = _cache["network"]
        return network
    return None


def network_with(version: tuple[int, int, str], imported: Iterable[Reach]) -> RiverNetwork:
    """The shipped network joined with imported reaches; kept in memory for this version."""
    base = shipped()
    nodes = dict(base.nodes)
    reaches = list(base.reaches)
    for reach in imported:
        for node_id, lon, lat, adcode in (
            (reach.source, reach.source_lon, reach.source_lat, reach.adcodes[0] if reach.adcodes else None),
            (reach.target, reach.target_lon, reach.target_lat, reach.adcodes[-1] if reach.adcodes else None),
        ):
            if node_id not in nodes:
                nodes[node_id] = Node(node_id, node_id, lon, lat, adcode)
        reaches.append(reach)
    network = RiverNetwork(nodes, reaches, base.names)
    _cache["version"], _cache["network"] = version, network
    return network


# --- the model -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Arrival:
    hours: float
    km: float
    river: str
    river_en: str


def _offset_along(reach: Reach, position: int) -> float:
    """The share of the reach already behind its `position`-th crossed prefecture."""
    return position / (len(reach.adcodes) - 1) if len(reach.adcodes) > 1 else 0.0


def run(
    network: RiverNetwork,
    *,
    origin: Origin | None,
    start: shapely.Geometry | None,
    level: Level,
    max_hours: float,
    snap_km: float,
    name: Namer,
    strict: bool,
) -> list[Affected]:
    """Downstream prefectures (or provinces) with the flood wave's arrival, nearest first."""
    origin_prefecture = origin.prefecture if origin is not None else None
    starts: dict[str, tuple[float, float]] = {}  # node -> (hours, km) at which the flood is there

    def in_origin(adcode: str) -> bool:
        if origin is None:
            return False
        if origin_prefecture is not None and origin.level != Level.province.value:
            return adcode == origin_prefecture
        return origin.is_origin(Level.prefecture.value, adcode)

    for node in network.nodes.values():
        if node.adcode is not None and in_origin(node.adcode):
            starts[node.id] = (0.0, 0.0)
    if start is not None:
        for node_id in network.near(start, snap_km):
            starts[node_id] = (0.0, 0.0)
    arrivals: dict[str, _Arrival] = {}

    def arrive(adcode: str, hours: float, km: float, reach: Reach) -> None:
        current = arrivals.get(adcode)
        if current is None or hours < current.hours:
            arrivals[adcode] = _Arrival(hours, km, reach.river, reach.river_en or reach.river)

    # a reach crossing the origin's prefecture part-way carries the flood from there
    for reach in network.reaches:
        if reach.source in starts:
            continue
        positions = [i for i, code in enumerate(reach.adcodes) if in_origin(code)]
        if not positions:
            continue
        done = _offset_along(reach, positions[0])
        for i in range(positions[0] + 1, len(reach.adcodes)):
            share = _offset_along(reach, i) - done
            arrive(reach.adcodes[i], reach.travel_hours * share, reach.length_km * share, reach)
        left = 1.0 - done
        hours, km = reach.travel_hours * left, reach.length_km * left
        if reach.target not in starts or starts[reach.target][0] > hours:
            starts[reach.target] = (hours, km)
    if not starts:
        if strict:
            raise NotOnAnyRiver(snap_km=f"{snap_km:g}")
        raise NoRiverNearby()

    # multi-source Dijkstra with start offsets: a virtual source with an edge of the offset to each
    graph = network.graph.copy(as_view=False) if any(h > 0 for h, _ in starts.values()) else network.graph
    source = "\x00origin"
    if graph is not network.graph:
        graph.add_node(source)
        for node_id, (hours, km) in starts.items():
            graph.add_edge(source, node_id, hours=hours, km=km)
        times, paths = nx.single_source_dijkstra(graph, source, cutoff=max_hours, weight="hours")
        times.pop(source, None)
    else:
        times, paths = nx.multi_source_dijkstra(graph, set(starts), cutoff=max_hours, weight="hours")

    def path_km(path: list[str]) -> float:
        return float(sum(graph[a][b]["km"] for a, b in itertools.pairwise(path)))

    for node_id, hours in times.items():
        km = path_km(paths[node_id])
        for reach in network.out.get(node_id, []):
            for i, code in enumerate(reach.adcodes):
                share = _offset_along(reach, i)
                arrive(code, hours + reach.travel_hours * share, km + reach.length_km * share, reach)
    found = []
    near_confidence, far_confidence = CONFIDENCE
    for adcode, arrival in arrivals.items():
        if arrival.hours > max_hours or in_origin(adcode):
            continue
        confidence = near_confidence - (near_confidence - far_confidence) * arrival.hours / max_hours
        found.append((adcode, arrival, round(confidence, 3)))
    return _at_level(found, level=level, network=network, name=name)


def _at_level(
    found: list[tuple[str, _Arrival, float]], *, level: Level, network: RiverNetwork, name: Namer
) -> list[Affected]:
    out_level = Level.province if level == Level.province else Level.prefecture
    best: dict[str, tuple[_Arrival, float]] = {}
    for adcode, arrival, confidence in found:
        key = adcode[:2] + "0000" if out_level == Level.province else adcode
        if key not in best or arrival.hours < best[key][0].hours:
            best[key] = (arrival, confidence)
    results = []
    for adcode, (arrival, confidence) in best.items():
        hours = round(arrival.hours, 2)
        results.append(
            Affected(
                adcode=adcode,
                name=name(out_level.value, adcode, network.names.get(adcode, adcode)),
                level=out_level.value,
                reason="river.downstream",
                eta_hours=hours,
                confidence=confidence,
                model="river",
                reason_zh=f"位于{arrival.river}下游，沿河约 {arrival.km:.0f} 公里，洪水波约 {hours:.0f} 小时后到达",
                reason_en=(
                    f"Downstream on the {arrival.river_en} river, about {arrival.km:.0f} km along it;"
                    f" the flood wave arrives in about {hours:.0f} h"
                ),
            )
        )
    return results


# --- importing users' networks -------------------------------------------------------------------


def _bad(problem: str, problem_zh: str) -> InvalidRiverNetwork:
    return InvalidRiverNetwork(problem=problem, problem_zh=problem_zh)


def _text(value: Any, field: str, where: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise _bad(f"{where}: property '{field}' is missing or empty", f"{where}：缺少属性 {field}")
    text = str(value).strip()
    if len(text) > 100:
        raise _bad(
            f"{where}: property '{field}' is longer than 100 characters",
            f"{where}：属性 {field} 超过 100 字符",
        )
    return text


def _finite(value: float) -> bool:
    """A finite number; an integer too big for a float (a JSON literal of 400 digits) is not."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _lon_lat(value: Any, where: str) -> tuple[float, float]:
    if isinstance(value, list) and len(value) >= 2:
        lon, lat = value[0], value[1]
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) and _finite(v) for v in (lon, lat)
        )
        if numbers and -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0:
            return float(lon), float(lat)
    raise _bad(
        f"{where} is not a [longitude, latitude] position in range", f"{where} 不是有效的 [经度, 纬度]"
    )


def _positive(value: Any, field: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value) or value <= 0:
        raise _bad(f"{where}: '{field}' must be a positive number", f"{where}：{field} 须为正数")
    return float(value)


def _crossed(index: GeographyIndex | None, line: shapely.LineString) -> tuple[str, ...]:
    """The prefectures the line crosses, in the order the water meets them."""
    if index is None or index.levels.get(Level.prefecture) is None:
        return ()
    level_index = index.levels[Level.prefecture]
    hits = level_index.hits(line)
    order = []
    for position in hits.tolist():
        piece = shapely.intersection(line, level_index.geometries[position])
        coords = shapely.get_coordinates(piece)
        if not len(coords):
            continue
        entry = float(np.min(shapely.line_locate_point(line, shapely.points(coords))))
        order.append((entry, level_index.entries[position].adcode))
    return tuple(adcode for _, adcode in sorted(order))


def parse_geojson(value: Any, *, network: str, index: GeographyIndex | None) -> list[Reach]:
    """Reaches from a GeoJSON FeatureCollection of LineStrings drawn in the direction of flow.

    Properties: `from` and `to` (node ids; reuse a shipped id such as "wuhan" to join the shipped
    network), `name` (the river), and `travel_hours` or `speed_kmh` (flood-wave celerity); optional
    `length_km` (else the line's geodesic length) and `adcodes` (else the prefectures the line
    crosses, from the loaded boundaries).
    """
    if not isinstance(value, dict) or value.get("type") != "FeatureCollection":
        raise _bad("it is not a GeoJSON FeatureCollection", "不是 GeoJSON FeatureCollection")
    features = value.get("features")
    if not isinstance(features, list) or not features:
        raise _bad("it has no features", "不含任何要素")
    if len(features) > MAX_IMPORT_REACHES:
        raise _bad(f"more than {MAX_IMPORT_REACHES} features", f"要素超过 {MAX_IMPORT_REACHES} 个")
    reaches = []
    for number, feature in enumerate(features, start=1):
        where = f"feature {number}"
        if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
            raise _bad(f"{where} is not a Feature with a geometry", f"第 {number} 个要素不是带几何的 Feature")
        geometry, props = feature["geometry"], feature.get("properties") or {}
        if geometry.get("type") != "LineString":
            raise _bad(f"{where} is not a LineString", f"第 {number} 个要素不是 LineString")
        coordinates = geometry.get("coordinates")
        if not isinstance(coordinates, list) or len(coordinates) < 2:
            raise _bad(f"{where} needs at least two positions", f"第 {number} 个要素至少需要两个点")
        points = [_lon_lat(item, f"{where} coordinates[{i}]") for i, item in enumerate(coordinates)]
        if not isinstance(props, dict):
            raise _bad(f"{where}: properties must be an object", f"第 {number} 个要素的 properties 须为对象")
        source = _text(props.get("from"), "from", where)
        target = _text(props.get("to"), "to", where)
        if source == target:
            raise _bad(f"{where}: 'from' and 'to' are the same node", f"第 {number} 个要素的起止节点相同")
        river = _text(props.get("name"), "name", where)
        line = shapely.LineString(points)
        lons, lats = zip(*points, strict=True)
        length = (
            _positive(props["length_km"], "length_km", where)
            if props.get("length_km") is not None
            else GEOD.line_length(lons, lats) / 1000.0
        )
        if length <= 0:
            raise _bad(f"{where} has no length", f"第 {number} 个要素长度为零")
        if props.get("travel_hours") is not None:
            hours = _positive(props["travel_hours"], "travel_hours", where)
        elif props.get("speed_kmh") is not None:
            hours = length / _positive(props["speed_kmh"], "speed_kmh", where)
        else:
            raise _bad(
                f"{where}: give travel_hours or speed_kmh",
                f"第 {number} 个要素须提供 travel_hours 或 speed_kmh",
            )
        given = props.get("adcodes")
        if given is not None:
            if not isinstance(given, list) or not all(
                isinstance(c, str) and len(c) == 6 and c.isdigit() for c in given
            ):
                raise _bad(
                    f"{where}: adcodes must be six-digit codes", f"第 {number} 个要素的 adcodes 须为六位代码"
                )
            adcodes = tuple(given)
        else:
            adcodes = _crossed(index, line)
        reaches.append(
            Reach(
                network=network,
                river=river,
                river_en=river,
                source=source,
                target=target,
                length_km=round(length, 3),
                travel_hours=round(hours, 3),
                adcodes=adcodes,
                source_lon=points[0][0],
                source_lat=points[0][1],
                target_lon=points[-1][0],
                target_lat=points[-1][1],
            )
        )
    return reaches
