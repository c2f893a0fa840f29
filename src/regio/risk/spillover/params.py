"""The parameters each model takes, checked: an absurd one is refused by name, never computed with."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from regio.risk.spillover.enums import Model, Stability
from regio.risk.spillover.errors import InvalidParameter


@dataclass(frozen=True)
class Spec:
    low: float
    high: float
    low_inclusive: bool = True
    integer: bool = False
    zh: str = ""


# name -> allowed range; a bound is inclusive unless low_inclusive says otherwise
NUMBERS: dict[Model, dict[str, Spec]] = {
    Model.overlap: {"buffer_km": Spec(0.0, 500.0)},
    Model.river: {"max_hours": Spec(0.0, 2000.0, low_inclusive=False), "snap_km": Spec(0.0, 100.0)},
    Model.plume: {
        "wind_speed_ms": Spec(0.0, 60.0, low_inclusive=False),
        "wind_from_deg": Spec(0.0, 360.0),
        "source_g_s": Spec(0.0, 1e9, low_inclusive=False),
        "threshold_mg_m3": Spec(0.0, 1e6, low_inclusive=False),
        "release_height_m": Spec(0.0, 2000.0),
        "max_km": Spec(0.0, 1000.0, low_inclusive=False),
    },
    Model.epidemic: {
        "initial_cases": Spec(0.0, 1e8, low_inclusive=False),
        "days": Spec(1, 365, integer=True),
        "r0": Spec(0.0, 30.0, low_inclusive=False),
        "latent_days": Spec(0.0, 60.0, low_inclusive=False),
        "infectious_days": Spec(0.0, 120.0, low_inclusive=False),
        "travel_fraction": Spec(0.0, 0.5),
        "gravity_gamma": Spec(0.0, 5.0, low_inclusive=False),
        "first_case_threshold": Spec(0.0, 1e6, low_inclusive=False),
    },
}
CHOICES: dict[Model, dict[str, tuple[str, ...]]] = {
    Model.plume: {"stability": tuple(s.value for s in Stability)},
}


def known(model: Model) -> set[str]:
    return set(NUMBERS.get(model, {})) | set(CHOICES.get(model, {}))


def _finite(value: float) -> bool:
    """A finite number; an integer too big for a float (a JSON literal of 400 digits) is not."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def check(model: Model, params: Mapping[str, Any], *, strict: bool) -> dict[str, Any]:
    """The model's parameters from `params`, checked; unknown names are refused when strict."""
    allowed = known(model)
    if strict:
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise InvalidParameter(
                name=unknown[0],
                problem=f"not a parameter of the {model.value} model (it takes {', '.join(sorted(allowed)) or 'none'})",
                problem_zh=f"{model.value} 模型没有此参数（可用：{'、'.join(sorted(allowed)) or '无'}）",
            )
    checked: dict[str, Any] = {}
    for name, spec in NUMBERS.get(model, {}).items():
        if params.get(name) is None:
            continue
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            raise InvalidParameter(name=name, problem="not a finite number", problem_zh="不是有限数值")
        if spec.integer and value != int(value):
            raise InvalidParameter(name=name, problem="not a whole number", problem_zh="须为整数")
        too_low = value < spec.low or (value == spec.low and not spec.low_inclusive)
        if too_low or value > spec.high:
            bracket = "[" if spec.low_inclusive else "("
            raise InvalidParameter(
                name=name,
                problem=f"{value:g} lies outside {bracket}{spec.low:g}, {spec.high:g}]",
                problem_zh=f"{value:g} 超出允许范围 {bracket}{spec.low:g}, {spec.high:g}]",
            )
        checked[name] = int(value) if spec.integer else float(value)
    for name, options in CHOICES.get(model, {}).items():
        if params.get(name) is None:
            continue
        value = params[name]
        if not isinstance(value, str) or value.upper() not in options:
            raise InvalidParameter(
                name=name,
                problem=f"must be one of {', '.join(options)}",
                problem_zh=f"须为 {'、'.join(options)} 之一",
            )
        checked[name] = value.upper()
    return checked
