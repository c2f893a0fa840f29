"""The river model follows floods downstream, in order, with arrival times; never upstream."""

from __future__ import annotations

import itertools

import networkx as nx
import pytest
import shapely

from regio.risk.geography.enums import Level
from regio.risk.spillover import river
from regio.risk.spillover.affected import Affected, sort_key
from regio.risk.spillover.errors import NotOnAnyRiver
from regio.risk.spillover.places import Origin


def plain(level: str, adcode: str, fallback: str) -> str:
    return fallback


def flood(
    adcode: str, *, level: str = "prefecture", max_hours: float = 240.0, start: shapely.Geometry | None = None
) -> list[Affected]:
    found = river.run(
        river.shipped(),
        origin=Origin(level, adcode),
        start=start,
        level=Level.prefecture,
        max_hours=max_hours,
        snap_km=river.DEFAULT_SNAP_KM,
        name=plain,
        strict=True,
    )
    return sorted(found, key=sort_key)


def order(found: list[Affected], *adcodes: str) -> list[float]:
    by_code = {item.adcode: item for item in found}
    missing = [code for code in adcodes if code not in by_code]
    assert not missing, missing
    return [by_code[code].eta_hours or 0.0 for code in adcodes]


def test_a_flood_at_yichang_reaches_jingzhou_then_yueyang_then_wuhan_and_never_chongqing() -> None:
    found = flood("420500")
    etas = order(found, "421000", "430600", "420100", "360400", "320100")  # … Jiujiang, Nanjing
    assert etas == sorted(etas) and etas[0] > 0
    assert len(set(etas)) == len(etas)
    codes = {item.adcode for item in found}
    assert "500000" not in codes  # Chongqing is upstream
    assert "420500" not in codes  # the origin itself
    assert "420600" not in codes  # Xiangyang is up the Han, not downstream of Yichang
    # roughly four days from Yichang to Wuhan (626 km of channel)
    wuhan = next(item for item in found if item.adcode == "420100")
    assert 60 < (wuhan.eta_hours or 0) < 130
    assert "626" in wuhan.reason_zh and wuhan.reason == "river.downstream"


def test_confidence_falls_as_the_wave_travels() -> None:
    found = flood("420500")
    confidences = [item.confidence for item in found]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 < c <= 1.0 for c in confidences)


def test_the_horizon_cuts_off_far_cities_by_severity() -> None:
    short = {item.adcode for item in flood("420500", max_hours=48)}
    assert "421000" in short and "420100" not in short


def test_a_jialing_flood_at_nanchong_joins_the_yangtze_at_chongqing() -> None:
    found = flood("511300")
    etas = order(found, "511600", "500000", "420500", "421000")  # Guang'an, Chongqing, Yichang, Jingzhou
    assert etas == sorted(etas)
    codes = {item.adcode for item in found}
    assert "510500" not in codes and "511500" not in codes  # Luzhou, Yibin: up the Yangtze


def test_a_han_flood_at_xiangyang_reaches_wuhan_through_jingmen_and_goes_on_down_the_yangtze() -> None:
    found = flood("420600")
    etas = order(found, "420800", "429004", "420900", "420100", "420700", "360400")
    assert etas == sorted(etas)
    codes = {item.adcode for item in found}
    assert not codes & {"420500", "421000", "430600", "420300"}  # main stem above Wuhan; Shiyan upstream


def test_dongting_and_poyang_tributaries_reach_the_main_stem() -> None:
    changsha = flood("430100")
    assert order(changsha, "430600", "420100") == sorted(order(changsha, "430600", "420100"))
    nanchang = flood("360100")
    assert order(nanchang, "360400", "340800") == sorted(order(nanchang, "360400", "340800"))
    assert "420100" not in {item.adcode for item in nanchang}  # Wuhan is upstream of Poyang


def test_a_yellow_river_flood_at_zhengzhou_reaches_kaifeng_jinan_dongying_in_turn() -> None:
    found = flood("410100")
    etas = order(found, "410200", "370100", "370500")
    assert etas == sorted(etas)
    assert "620100" not in {item.adcode for item in found}  # Lanzhou


def test_a_county_origin_floods_from_its_prefecture_and_never_lists_it() -> None:
    found = flood("420502", level="county")  # 西陵区, Yichang
    assert "420500" not in {item.adcode for item in found}
    assert order(found, "421000") == order(flood("420500"), "421000")


def test_a_hazard_on_a_reach_between_nodes_starts_part_way() -> None:
    # Chizhou lies on the Anqing - Tongling reach: Tongling comes before Wuhu, Anqing not at all
    found = flood("341700")
    assert order(found, "340700", "340200") == sorted(order(found, "340700", "340200"))
    assert "340800" not in {item.adcode for item in found}


def test_a_geometry_near_a_node_starts_there_and_one_far_from_every_river_is_refused() -> None:
    near_yichang = shapely.Point(111.30, 30.72)
    found = flood("999999", start=near_yichang)  # the origin code matches no node; the point does
    assert "421000" in {item.adcode for item in found}
    with pytest.raises(NotOnAnyRiver):
        flood("999999", start=shapely.Point(90.0, 35.0))


def test_answers_at_province_level_roll_up_to_the_earliest_arrival() -> None:
    found = river.run(
        river.shipped(),
        origin=Origin("prefecture", "420500"),
        start=None,
        level=Level.province,
        max_hours=240,
        snap_km=15,
        name=plain,
        strict=True,
    )
    by_code = {item.adcode: item for item in found}
    assert {"430000", "360000", "340000", "320000"} <= set(by_code)
    assert all(item.level == "province" for item in found)
    assert by_code["430000"].eta_hours == order(flood("420500"), "430600")[0]


def test_the_shipped_network_flows_one_way_and_names_every_prefecture_it_crosses() -> None:
    network = river.shipped()
    assert nx.is_directed_acyclic_graph(network.graph)
    rivers = {reach.river_en for reach in network.reaches}
    for name in ("Yangtze", "Yellow", "Huai", "Songhua", "Liao", "Han", "Jialing", "Xi", "Hai"):
        assert name in rivers
    for reach in network.reaches:
        assert reach.travel_hours > 0 and reach.length_km > 0
        assert all(code in network.names for code in reach.adcodes)
        assert reach.adcodes[0] == network.nodes[reach.source].adcode
        assert reach.adcodes[-1] == network.nodes[reach.target].adcode
    # the Yangtze's channel from Yichang to Wuhan is 626 km, from Wuhan to Wusong about 1,125 km
    path = nx.shortest_path(network.graph, "yichang", "wuhan", weight="km")
    assert sum(network.graph[a][b]["km"] for a, b in itertools.pairwise(path)) == 626
    path = nx.shortest_path(network.graph, "wuhan", "wusong", weight="km")
    assert abs(sum(network.graph[a][b]["km"] for a, b in itertools.pairwise(path)) - 1125) < 20
