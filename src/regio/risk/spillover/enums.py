"""The spill-over models, the Pasquill-Gifford stability classes and the event types each model fits."""

from __future__ import annotations

from enum import StrEnum


class Model(StrEnum):
    overlap = "overlap"  # the hazard's own area and a buffer around it
    river = "river"  # downstream along a directed river network
    plume = "plume"  # downwind: a Gaussian plume
    epidemic = "epidemic"  # along travel flows: gravity model + metapopulation SEIR


class Stability(StrEnum):
    """Pasquill-Gifford atmospheric stability: A very unstable ... D neutral ... F moderately stable."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"


# Which models a report of each event type runs besides overlap (which every report runs).
# Codes as the events subdomain publishes them (flood, dam_failure, water_pollution ...), plus a few
# synonyms other systems send.
RIVER_TYPES = frozenset(
    {"flood", "rainstorm", "dam", "dam_failure", "dam_break", "flash_flood", "water_pollution"}
)
PLUME_TYPES = frozenset(
    {
        "chemical_leak",
        "ash_plume",
        "air_pollution",
        "explosion",
        "fire",
        "wildfire",
        "wildfire_smoke",
        "gas_leak",
        "nuclear_radiation",
    }
)
EPIDEMIC_TYPES = frozenset({"epidemic", "infectious_disease", "outbreak", "pandemic"})


def models_for(event_type: str) -> tuple[Model, ...]:
    """The models a report of this type runs: overlap always, plus the one its spread follows."""
    kind = event_type.strip().lower()
    if kind in RIVER_TYPES:
        return (Model.river, Model.overlap)
    if kind in PLUME_TYPES:
        return (Model.plume, Model.overlap)
    if kind in EPIDEMIC_TYPES:
        return (Model.epidemic, Model.overlap)
    return (Model.overlap,)
