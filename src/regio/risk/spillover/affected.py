"""What every spill-over model answers: one affected jurisdiction, why, how soon and how sure.

`reason` is a stable code (e.g. `river.downstream`, `plume.extrapolated`) a program can branch on;
`reason_zh` and `reason_en` say the same to a person, with the figures behind it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Affected:
    adcode: str
    name: str
    level: str
    reason: str  # stable code: overlap.inside, overlap.buffer, river.downstream, plume.downwind, ...
    eta_hours: float | None  # hours after detection until the hazard arrives; None when unknown
    confidence: float  # 0-1
    model: str  # overlap | river | plume | epidemic
    reason_zh: str = ""
    reason_en: str = ""


def merge(results: Iterable[Affected]) -> list[Affected]:
    """One entry per jurisdiction: the earliest arrival and the highest confidence any model gave.

    The entry kept is the one with the earliest arrival (its reason and model explain that
    arrival); its confidence is raised to the best any model gave. Ordered by arrival (unknown
    last), then by confidence, then by adcode.
    """
    best: dict[tuple[str, str], Affected] = {}
    top_confidence: dict[tuple[str, str], float] = {}
    for item in results:
        key = (item.level, item.adcode)
        top_confidence[key] = max(top_confidence.get(key, 0.0), item.confidence)
        current = best.get(key)
        if current is None or _earlier(item, current):
            best[key] = item
    merged = []
    for key, item in best.items():
        confidence = top_confidence[key]
        merged.append(item if item.confidence == confidence else _with_confidence(item, confidence))
    return sorted(merged, key=sort_key)


def sort_key(item: Affected) -> tuple[float, float, str]:
    eta = item.eta_hours if item.eta_hours is not None else float("inf")
    return (eta, -item.confidence, item.adcode)


def _earlier(item: Affected, current: Affected) -> bool:
    a = item.eta_hours if item.eta_hours is not None else float("inf")
    b = current.eta_hours if current.eta_hours is not None else float("inf")
    return a < b or (a == b and item.confidence > current.confidence)


def _with_confidence(item: Affected, confidence: float) -> Affected:
    return Affected(
        adcode=item.adcode,
        name=item.name,
        level=item.level,
        reason=item.reason,
        eta_hours=item.eta_hours,
        confidence=confidence,
        model=item.model,
        reason_zh=item.reason_zh,
        reason_en=item.reason_en,
    )
