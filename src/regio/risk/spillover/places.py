"""Where a spill-over starts, and which jurisdictions count as the origin itself (never listed).

Containment follows the GB/T 2260 codes: a province contains every code sharing its first two
digits, a prefecture every code sharing its first four (a municipality's prefecture 110100 its
districts 1101xx; Chongqing's 500000 every 50xxxx), and a province-administered county-level city
(429004 仙桃市, standing both as a prefecture and as its own county) only itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from regio.risk.geography.enums import Level

_RANK = {Level.province.value: 0, Level.prefecture.value: 1, Level.county.value: 2}


def _contains(outer_level: str, outer: str, inner_level: str, inner: str) -> bool:
    if _RANK[outer_level] >= _RANK[inner_level]:
        return False
    if outer_level == Level.province.value or outer.endswith("0000"):
        return inner[:2] == outer[:2]
    if outer[2:4] == "90":  # province-administered: the prefecture is the county
        return inner == outer
    return inner[:4] == outer[:4]


def prefecture_of(level: str, adcode: str) -> str | None:
    """The prefecture-level code containing (or being) this jurisdiction; None for a province."""
    if level == Level.province.value:
        return None
    if level == Level.prefecture.value or adcode[2:4] == "90":
        return adcode
    if adcode[:2] in ("11", "12", "31"):
        return adcode[:2] + "0100"
    if adcode[:2] == "50":
        return "500000"
    return adcode[:4] + "00"


@dataclass(frozen=True)
class Origin:
    level: str
    adcode: str

    def is_origin(self, level: str, adcode: str) -> bool:
        """The origin itself, a jurisdiction containing it, or one inside it: none of them is 'another' place."""
        if adcode == self.adcode:
            return True
        return _contains(level, adcode, self.level, self.adcode) or _contains(
            self.level, self.adcode, level, adcode
        )

    @property
    def prefecture(self) -> str | None:
        return prefecture_of(self.level, self.adcode)
