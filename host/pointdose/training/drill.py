"""Drills: a target (pressure or force), a tolerance band, a trial structure, a practice surface.

A trial is cue-timed: **ramp** (press up to the target, ``ramp_s``) → **hold** (``hold_s``) →
**release** (``release_s``) → **rest** (``rest_s``) before the next one. The hold window that the
scores use is the cue's hold phase, ``[t_trial + ramp_s, t_trial + ramp_s + hold_s]``: the same
window whether or not the student could see their pressure (docs/training.md, "Scores").

Presets come from what therapists actually apply: deep friction massage by 40 physiotherapists,
P25 1.0, median 2.3, P75 4.2 kgf/cm² (Chaves 2020, Appl Sci 10:2705; the project's domain notes,
"Trigger-point pressure protocols")::

    >>> d = preset("moderate")
    >>> round(d.target, 1), d.quantity
    (225.6, 'pressure')

Internal units: kPa for pressure targets, N for force targets, seconds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from pointdose import metrics, units

QUANTITIES = ("pressure", "force")
INTERNAL_UNIT = {"pressure": "kPa", "force": "N"}

# Practice surfaces: where the trials are pressed. "person" surfaces get the PPT warning.
SURFACES: dict[str, str] = {
    "pad": "foam pad or practice block",
    "force-plate": "force plate / bench scale",
    "partner": "a partner's muscle",
    "self": "own muscle",
}
PERSON_SURFACES = ("partner", "self")

# Chaves 2020 (Appl Sci 10:2705): pressure 40 physiotherapists applied in deep friction massage.
CHAVES_2020_KGF_CM2 = {"light": 1.0, "moderate": 2.3, "deep": 4.2}  # P25, median, P75
PRESET_SOURCE = "Chaves 2020, Appl Sci 10:2705: P25 1.0 / median 2.3 / P75 4.2 kgf/cm² (deep friction, 40 physiotherapists)"

# Typical pressure-pain thresholds (domain notes, "Pressure-pain threshold"): cervical sites
# 140–199 kPa (Prushansky 2004); trapezius in healthy women 88–574 kPa (Persson 2004); trigger
# points ~105 kPa lower than healthy tissue (Geri 2022). A setting, warned against on a person:
# the low end of the cervical range, so most sites would already hurt above it.
TYPICAL_PPT_KPA = 140.0
PPT_SOURCE = "typical PPTs: cervical sites 140–199 kPa (Prushansky 2004), trapezius 88–574 kPa (Persson 2004)"

DEFAULT_TOLERANCE_PCT = 10.0
DEFAULT_RAMP_S = 2.0
DEFAULT_HOLD_S = 5.0
DEFAULT_RELEASE_S = 1.0
DEFAULT_REST_S = 3.0
DEFAULT_TRIALS = 6


class DrillError(ValueError):
    """A drill setting that cannot be used; the message names it and what is allowed."""


@dataclass(frozen=True)
class Drill:
    """One drill. ``target`` is in kPa (pressure) or N (force); ``tolerance_pct`` of the target
    gives the band ``target ± tolerance``; ``probe_area_cm2`` (None: thumb sensor) links the two."""

    target: float
    quantity: str = "pressure"
    tolerance_pct: float = DEFAULT_TOLERANCE_PCT
    ramp_s: float = DEFAULT_RAMP_S
    hold_s: float = DEFAULT_HOLD_S
    release_s: float = DEFAULT_RELEASE_S
    rest_s: float = DEFAULT_REST_S
    trials: int = DEFAULT_TRIALS
    surface: str = "pad"
    probe_area_cm2: float | None = units.DEFAULT_PROBE_AREA_CM2
    name: str = ""

    def __post_init__(self) -> None:
        check(self)

    # ---- derived
    @property
    def unit(self) -> str:
        return INTERNAL_UNIT[self.quantity]

    @property
    def tolerance(self) -> float:
        return self.target * self.tolerance_pct / 100.0

    @property
    def band(self) -> tuple[float, float]:
        return (max(0.0, self.target - self.tolerance), self.target + self.tolerance)

    @property
    def trial_s(self) -> float:
        """Ramp + hold + release (the rest follows)."""
        return self.ramp_s + self.hold_s + self.release_s

    @property
    def target_kpa(self) -> float | None:
        """The target as a pressure (None for a force target on the thumb sensor)."""
        if self.quantity == "pressure":
            return self.target
        if self.probe_area_cm2 is None:
            return None
        return float(units.pressure_kpa(self.target, self.probe_area_cm2))

    @property
    def contact_level(self) -> float:
        """The contact threshold (pointdose.metrics, docs/metrics.md) in the drill's quantity."""
        if self.quantity == "pressure":
            return metrics.DEFAULT_CONTACT_KPA
        return float(units.force_n(metrics.DEFAULT_CONTACT_KPA, self.probe_area_cm2 or units.DEFAULT_PROBE_AREA_CM2))

    def value_of(self, force_n, pressure_kpa):
        """The drill's quantity from a sample's force and pressure."""
        return pressure_kpa if self.quantity == "pressure" else force_n

    def describe(self, unit_key: str | None = None) -> str:
        key = unit_key or self.unit
        shown = display(self.target, self, key)
        lo, hi = (display(v, self, key) for v in self.band)
        sym = units.unit(key).symbol
        return (f"{units.format_value(shown, key)} {sym} (band {units.format_value(lo, key)}–"
                f"{units.format_value(hi, key)}), ramp {self.ramp_s:g} s → hold {self.hold_s:g} s → release, "
                f"{self.trials} trials on {SURFACES.get(self.surface, self.surface)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Drill":
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DrillError(f"unknown drill setting(s) {', '.join(unknown)}: allowed are {', '.join(sorted(known))}")
        return cls(**data)

    def with_(self, **changes) -> "Drill":
        return replace(self, **changes)


def check(d: Drill) -> None:
    """Raise DrillError naming the first setting that is out of range."""
    if d.quantity not in QUANTITIES:
        raise DrillError(f"quantity must be 'pressure' or 'force', not {d.quantity!r}")
    # every number through the one checker shared with protocols (finite, in range: values.RANGES)
    from pointdose.protocols.values import RANGES, number

    number(d.target, "target", RANGES["drill_target_kpa" if d.quantity == "pressure" else "drill_target_n"],
           error=DrillError)
    for name in ("tolerance_pct", "ramp_s", "hold_s", "release_s", "rest_s", "trials"):
        number(getattr(d, name), name, RANGES[f"drill_{name}"], error=DrillError)
    if not isinstance(d.trials, int) or isinstance(d.trials, bool):
        raise DrillError(f"trials must be a whole number from 1 to 200, got {d.trials!r}")
    if d.surface not in SURFACES:
        raise DrillError(f"unknown practice surface {d.surface!r}: choose one of {', '.join(SURFACES)}")
    if d.probe_area_cm2 is not None:
        number(d.probe_area_cm2, "probe_area_cm2 (None for the thumb sensor)", RANGES["probe_area_cm2"],
               error=DrillError)
    if d.quantity == "pressure" and d.probe_area_cm2 is None:
        raise DrillError("a pressure target needs a probe area: the thumb sensor measures force only "
                         "(use quantity 'force', or choose a probe)")


def display(value: float, drill: Drill, unit_key: str) -> float:
    """A value in the drill's internal unit (kPa or N) shown in ``unit_key``."""
    area = drill.probe_area_cm2 or units.DEFAULT_PROBE_AREA_CM2
    force = units.force_n(value, area) if drill.quantity == "pressure" else value
    return float(units.to_display(force, unit_key, area))


def from_user(value: float, unit_key: str, quantity: str, probe_area_cm2: float | None) -> float:
    """A value the user typed in ``unit_key`` in the drill's internal unit (kPa or N)."""
    u = units.unit(unit_key)
    area = probe_area_cm2 or units.DEFAULT_PROBE_AREA_CM2
    if u.kind == "pressure" and probe_area_cm2 is None:
        raise DrillError(f"{u.symbol} is a pressure: the thumb sensor has no fixed contact area; give the target in N, kgf or lbf")
    force = float(units.from_display(value, u.key, area))
    return float(units.pressure_kpa(force, area)) if quantity == "pressure" else force


PRESETS = tuple(CHAVES_2020_KGF_CM2)


def preset(name: str, **overrides) -> Drill:
    """A drill at the Chaves 2020 light (P25) / moderate (median) / deep (P75) pressure."""
    key = name.strip().lower()
    if key not in CHAVES_2020_KGF_CM2:
        raise DrillError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    kpa = CHAVES_2020_KGF_CM2[key] * units.KPA_PER_KGF_PER_CM2
    fields = {"target": kpa, "quantity": "pressure", "name": key}
    fields.update(overrides)
    if fields.get("quantity") == "force" and "target" not in overrides:
        area = fields.get("probe_area_cm2", units.DEFAULT_PROBE_AREA_CM2) or units.DEFAULT_PROBE_AREA_CM2
        fields["target"] = float(units.force_n(kpa, area))
    return Drill(**fields)


@dataclass(frozen=True)
class Warning_:
    code: str
    text: str


def warnings(d: Drill, *, typical_ppt_kpa: float = TYPICAL_PPT_KPA) -> list[Warning_]:
    """What to tell the instructor before the drill starts (empty when nothing to say)."""
    out: list[Warning_] = []
    if d.surface in PERSON_SURFACES:
        top_kpa = d.target_kpa
        if top_kpa is None:
            out.append(Warning_("ppt-unknown", "the target is a force on the thumb sensor, so it cannot be checked "
                                               f"against typical pressure-pain thresholds ({PPT_SOURCE}); "
                                               "ask the partner to say when it hurts"))
        elif top_kpa + (top_kpa * d.tolerance_pct / 100.0) > typical_ppt_kpa:
            out.append(Warning_("above-ppt",
                                f"the target ({top_kpa:.0f} kPa, band up to {top_kpa * (1 + d.tolerance_pct / 100):.0f} kPa) "
                                f"exceeds typical pressure-pain thresholds ({typical_ppt_kpa:.0f} kPa; {PPT_SOURCE}) "
                                f"and the surface is {SURFACES[d.surface]}: it will hurt at many sites — agree a stop "
                                "signal with the person, avoid the neck's front and the back of the knee, or practise on a pad"))
    return out
