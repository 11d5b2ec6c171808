"""Dataset scales: named sizes (ci, small, full) or any number as a factor of `small`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lablib.config import SCALES, settings, validate_scale

DEFAULT_SEED = 42
NAMED = SCALES


@dataclass(frozen=True)
class Scale:
    name: str            # "ci", "small", "full" or the number as given ("0.5")
    machines: int
    days: int            # telemetry and clickstream window (the last days of 2024)
    readings_per_day: int
    products: int
    stores: int          # physical stores (web and marketplaces come on top)
    customers: int
    orders: int
    sessions: int        # clickstream sessions (converting + browsing)

    @property
    def telemetry_rows(self) -> int:
        return self.machines * self.days * self.readings_per_day


# `small` is factor 1; `ci` is hand-sized for seconds; `full` is factor 20.
_CI = Scale("ci", machines=40, days=14, readings_per_day=96, products=200, stores=12,
            customers=2_000, orders=5_000, sessions=1_000)
_SMALL = Scale("small", machines=200, days=30, readings_per_day=96, products=1_000, stores=40,
               customers=20_000, orders=100_000, sessions=10_000)


def _factor(name: str, f: float) -> Scale:
    # dimensions grow slower than facts, as in a real company
    return Scale(
        name,
        machines=max(2, round(_SMALL.machines * f)),
        days=_SMALL.days,
        readings_per_day=_SMALL.readings_per_day,
        products=max(20, round(_SMALL.products * math.sqrt(f))),
        stores=max(2, round(_SMALL.stores * math.sqrt(f))),
        customers=max(50, round(_SMALL.customers * f)),
        orders=max(100, round(_SMALL.orders * f)),
        sessions=max(50, round(_SMALL.sessions * f)),
    )


def resolve(scale: str | float | int | Scale | None) -> Scale:
    """A Scale from a name, a number or None (LAB_SCALE, default small); anything else is the
    LabError of :func:`lablib.config.validate_scale`."""
    if isinstance(scale, Scale):
        return scale
    text = validate_scale(settings().scale if scale is None else scale)
    if text == "ci":
        return _CI
    if text == "small":
        return _SMALL
    if text == "full":
        return _factor("full", 20)
    return _factor(text, float(text))


def folder_name(scale: Scale, seed: int) -> str:
    """Folder under $LAB_HOME/data: the scale name, plus the seed when it is not the default."""
    return scale.name if seed == DEFAULT_SEED else f"{scale.name}-seed{seed}"
