"""What a protocol is: phases with target bands and end conditions, repeated in cycles.

Pure data (frozen dataclasses), no I/O. Pressures are kPa internally; a target may be given in
kPa, in N (turned into kPa with the probe area when a session starts) or in % of the point's
pressure-pain threshold (PPT; above 100 % allowed).

Example::

    Phase("hold", target=Target(200, "kPa"), end="time", duration_s=30)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pointdose import units
from pointdose.errors import UserError

PHASE_KINDS = ("ramp", "hold", "ease", "rest")
END_KINDS = ("time", "reached", "release", "pain")
TARGET_UNITS = ("kPa", "N", "%PPT")


class ProtocolError(UserError):
    """A protocol cannot run as asked (unresolvable target, target above a limit, bad value)."""


@dataclass(frozen=True)
class Target:
    """A pressure target: ``value`` in ``unit`` (kPa, N or %PPT)."""

    value: float
    unit: str = "kPa"

    def __post_init__(self) -> None:
        if self.unit not in TARGET_UNITS:
            raise ValueError(f"target unit must be one of {', '.join(TARGET_UNITS)}, not {self.unit!r}")

    def kpa(self, point: "PointContext") -> float:
        """This target in kPa at ``point`` (ProtocolError when a %PPT target has no valid PPT)."""
        if self.unit == "kPa":
            return float(self.value)
        if self.unit == "N":
            return float(units.pressure_kpa(self.value, point.probe_area_cm2))
        ppt = point.valid_ppt()
        return float(self.value) / 100.0 * ppt.kpa

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}"


@dataclass(frozen=True)
class PPTRecord:
    """A point's measured PPT: usable for %PPT targets only with the same probe area."""

    kpa: float
    probe_area_cm2: float
    rate_kpa_s: float | None = None
    sd_kpa: float | None = None
    n: int = 1
    measured: str = ""  # ISO date-time, informative

    def as_dict(self) -> dict[str, Any]:
        return {"kpa": self.kpa, "probe_area_cm2": self.probe_area_cm2, "rate_kpa_s": self.rate_kpa_s,
                "sd_kpa": self.sd_kpa, "n": self.n, "measured": self.measured}


@dataclass(frozen=True)
class PointContext:
    """Where the protocol is applied: the point's name, the probe in use, its PPT, its body region."""

    name: str = ""
    probe_area_cm2: float = units.DEFAULT_PROBE_AREA_CM2
    ppt: PPTRecord | None = None
    region: str | None = None

    def valid_ppt(self) -> PPTRecord:
        who = f"point {self.name!r}" if self.name else "this point"
        if self.ppt is None:
            raise ProtocolError(f"a %PPT target needs {who}'s PPT: measure it first "
                                f"(pointdose session --protocol ppt --point NAME) or give the target in kPa or N")
        if abs(self.ppt.probe_area_cm2 - self.probe_area_cm2) > 1e-6:
            raise ProtocolError(f"{who}'s PPT was measured with a {self.ppt.probe_area_cm2:g} cm² probe but this "
                                f"session uses {self.probe_area_cm2:g} cm²: a PPT is valid only with the same probe; "
                                "measure it again with this probe")
        return self.ppt


@dataclass(frozen=True)
class Phase:
    """One step of a protocol.

    ``kind``: ramp (rise to the band), hold (stay in the band), ease (come down to a lower band, or
    off), rest (off the point). ``end``: ``time`` (after ``duration_s``), ``reached`` (in the band
    for :data:`REACH_S`), ``release`` (the user signals "release felt"), ``pain`` (the user signals
    the first pain; PPT ramps). ``max_s`` caps every phase whose end is not ``time``.
    ``rate_kpa_s``: a guided rate for ramps (negative for eases), shown with its tolerance band.
    ``steps``/``step``: progressive steps — on "release felt" during a hold the target rises by
    ``step`` (at most ``steps`` times) and the hold starts again; after the last step a release
    signal ends a ``release`` hold.
    """

    kind: str
    target: Target | None = None
    end: str = "time"
    duration_s: float | None = None
    max_s: float | None = None
    tolerance_pct: float = 10.0
    rate_kpa_s: float | None = None
    rate_tolerance_pct: float = 20.0
    steps: int = 0
    step: Target | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if self.kind not in PHASE_KINDS:
            raise ValueError(f"phase kind must be one of {', '.join(PHASE_KINDS)}, not {self.kind!r}")
        if self.end not in END_KINDS:
            raise ValueError(f"phase end must be one of {', '.join(END_KINDS)}, not {self.end!r}")
        if self.end == "time" and not (self.duration_s and self.duration_s > 0):
            raise ValueError(f"a {self.kind} phase that ends on time needs duration_s > 0")
        if self.end == "reached" and self.target is None and self.kind != "ease":
            raise ValueError(f"a {self.kind} phase that ends when the target is reached needs a target")
        if self.kind in ("ramp", "hold") and self.target is None and self.end != "pain":
            raise ValueError(f"a {self.kind} phase needs a target")
        if not 0 <= self.steps <= 3:
            raise ValueError("steps must be 0 … 3 (Szajkowski 2025: PPT rose with 2–3 steps)")
        if self.steps and self.step is None:
            raise ValueError("progressive steps need a step amount")
        if not 0 < self.tolerance_pct <= 100:
            raise ValueError("tolerance_pct must be in (0, 100]")
        if not 0 < self.rate_tolerance_pct <= 100:
            raise ValueError("rate_tolerance_pct must be in (0, 100]")

    @property
    def name(self) -> str:
        return self.label or self.kind


@dataclass(frozen=True)
class Limits:
    """Safety limits; a body region's caution lowers them (see :mod:`pointdose.protocols.safety`)."""

    max_kpa: float = 700.0
    max_hold_s: float = 120.0
    contact_kpa: float = 20.0  # above this the probe is pressing (continuous-hold clock runs)
    rest_max_kpa: float = 10.0  # a rest or a release to zero is "in band" at or below this
    min_band_kpa: float = 5.0  # a band is never narrower than ± this (low targets stay followable)
    stale_s: float = 0.25  # no sample for longer than this: stale-stream alarm
    stale_end_s: float = 2.0  # … and for longer than this the application ends
    calibrated_max_kpa: float | None = None  # top of the calibrated range, when known

    def lowered(self, max_kpa: float | None = None, max_hold_s: float | None = None) -> "Limits":
        from dataclasses import replace

        return replace(self, max_kpa=min(self.max_kpa, max_kpa) if max_kpa else self.max_kpa,
                       max_hold_s=min(self.max_hold_s, max_hold_s) if max_hold_s else self.max_hold_s)


@dataclass(frozen=True)
class Protocol:
    name: str
    title: str
    phases: tuple[Phase, ...]
    repetitions: int = 1
    description: str = ""
    skip_last_rest: bool = True  # no rest after the last cycle
    measure_ppt: bool = False  # PPT measurement: each ramp is a trial ended by "pain now"
    limits: Limits = field(default_factory=Limits)
    params: dict[str, Any] = field(default_factory=dict)  # the parameter values that built it
    source: str = "built-in"

    def __post_init__(self) -> None:
        if not self.phases:
            raise ValueError("a protocol needs at least one phase")
        if not 1 <= self.repetitions <= 100:
            raise ValueError("repetitions must be 1 … 100")
        if self.measure_ppt and not any(p.kind == "ramp" and p.end == "pain" for p in self.phases):
            raise ValueError("a PPT protocol needs a ramp phase that ends on the pain signal")

    def describe(self) -> dict[str, Any]:
        """Plain data for records and listeners."""
        return {
            "name": self.name, "title": self.title, "repetitions": self.repetitions, "source": self.source,
            "measure_ppt": self.measure_ppt, "params": dict(self.params),
            "limits": {"max_kpa": self.limits.max_kpa, "max_hold_s": self.limits.max_hold_s},
            "phases": [{"kind": p.kind, "label": p.name, "target": str(p.target) if p.target else None,
                        "end": p.end, "duration_s": p.duration_s, "max_s": p.max_s,
                        "tolerance_pct": p.tolerance_pct, "rate_kpa_s": p.rate_kpa_s,
                        "steps": p.steps, "step": str(p.step) if p.step else None} for p in self.phases],
        }
