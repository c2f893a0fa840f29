"""Overlap and distance: the jurisdictions the hazard's area touches, and those within a buffer of it."""

from __future__ import annotations

import shapely

from regio.risk.geography.engine import GeographyIndex
from regio.risk.geography.enums import Level
from regio.risk.geography.hazards import Hazard
from regio.risk.spillover.affected import Affected

# A buffer of this many km by default, by severity rank (1 highest): the graver the event, the
# wider the ring of neighbours told to stand by.
DEFAULT_BUFFER_KM = {1: 20.0, 2: 10.0, 3: 5.0, 4: 0.0}
INSIDE_CONFIDENCE = 0.95
BUFFER_CONFIDENCE = (0.8, 0.3)  # at the hazard's edge, at the buffer's rim


def run(
    index: GeographyIndex, hazard: Hazard, *, level: Level, buffer_km: float, whole_origin: bool = False
) -> list[Affected]:
    """Touched jurisdictions arrive at once (eta 0); those within the buffer have no arrival time.

    When the hazard is the origin's whole area (no geometry was reported), its neighbours only
    touch its border: they are listed as bordering it, with no arrival time, not as covered.
    """
    found = []
    for match in index.match(hazard, level=level, buffer_km=buffer_km):
        if match.distance_km <= 0.0 and whole_origin:
            found.append(
                Affected(
                    adcode=match.adcode,
                    name=match.name,
                    level=match.level,
                    reason="overlap.border",
                    eta_hours=None,
                    confidence=BUFFER_CONFIDENCE[0],
                    model="overlap",
                    reason_zh="与发生地接壤（未报告灾害范围，按发生地全境估计）",
                    reason_en="Borders the origin (no hazard area was reported; the whole origin is assumed)",
                )
            )
            continue
        if match.distance_km <= 0.0:
            found.append(
                Affected(
                    adcode=match.adcode,
                    name=match.name,
                    level=match.level,
                    reason="overlap.inside",
                    eta_hours=0.0,
                    confidence=INSIDE_CONFIDENCE,
                    model="overlap",
                    reason_zh="灾害范围覆盖本辖区",
                    reason_en="The hazard's area reaches into this jurisdiction",
                )
            )
            continue
        near, rim = BUFFER_CONFIDENCE
        share = match.distance_km / buffer_km if buffer_km > 0 else 1.0
        found.append(
            Affected(
                adcode=match.adcode,
                name=match.name,
                level=match.level,
                reason="overlap.buffer",
                eta_hours=None,
                confidence=round(near - (near - rim) * share, 3),
                model="overlap",
                reason_zh=f"距灾害范围 {match.distance_km:.1f} 公里（缓冲区 {buffer_km:g} 公里内）",
                reason_en=f"{match.distance_km:.1f} km from the hazard's area (within the {buffer_km:g} km buffer)",
            )
        )
    return found


def origin_hazard(index: GeographyIndex, level: str, adcode: str) -> Hazard | None:
    """The origin jurisdiction's own boundary as the hazard, when no geometry was given."""
    geometry = index.geometry(Level(level), adcode)
    if geometry is None:
        return None
    return Hazard(kind="geometry", geometry=shapely.make_valid(geometry))
