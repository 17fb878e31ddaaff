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

from pointdose import metrics, units
from pointdose.errors import UserError
from pointdose.protocols.values import RANGES, number

PHASE_KINDS = ("ramp", "hold", "ease", "rest")
END_KINDS = ("time", "reached", "release", "pain")
TARGET_UNITS = ("kPa", "N", "%PPT")


class ProtocolError(UserError, ValueError):
    """A protocol cannot run as asked (unresolvable target, target above a limit, bad value)."""


def _num(value, key: str, where: str = "", *, rng_key: str | None = None):
    """A protocol setting checked by :func:`pointdose.protocols.values.number` (ProtocolError)."""
    return number(value, f"{where}{key}", RANGES[rng_key or key], error=ProtocolError)


TARGET_RANGE_KEY = {"kPa": "target_kpa", "N": "target_n", "%PPT": "target_pct_ppt"}


@dataclass(frozen=True)
class Target:
    """A pressure target: ``value`` in ``unit`` (kPa, N or %PPT)."""

    value: float
    unit: str = "kPa"

    def __post_init__(self) -> None:
        if self.unit not in TARGET_UNITS:
            raise ProtocolError(f"target unit must be one of {', '.join(TARGET_UNITS)}, not {self.unit!r}")
        # finite and above 0: a negative or NaN target would make an inverted or empty band
        object.__setattr__(self, "value", _num(self.value, "target", rng_key=TARGET_RANGE_KEY[self.unit]))

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "kpa", _num(self.kpa, "PPT", rng_key="ppt_kpa"))
        object.__setattr__(self, "probe_area_cm2", _num(self.probe_area_cm2, "PPT probe area",
                                                        rng_key="probe_area_cm2"))

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
    # seconds of pressure (above the contact level) this point has already had in this session,
    # before this application: counted against the per-point cap (Limits.point_cap_s)
    contact_s_before: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "probe_area_cm2", _num(self.probe_area_cm2, "probe area",
                                                        rng_key="probe_area_cm2"))
        object.__setattr__(self, "contact_s_before", number(self.contact_s_before, "contact time before",
                                                            0.0, 86400.0, error=ProtocolError))

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
            raise ProtocolError(f"phase kind must be one of {', '.join(PHASE_KINDS)}, not {self.kind!r}")
        if self.end not in END_KINDS:
            raise ProtocolError(f"phase end must be one of {', '.join(END_KINDS)}, not {self.end!r}")
        # every number finite and in range: NaN would pass any comparison below and switch it off
        for key in ("duration_s", "max_s", "rate_kpa_s"):
            if getattr(self, key) is not None:
                object.__setattr__(self, key, _num(getattr(self, key), key))
        for key in ("tolerance_pct", "rate_tolerance_pct", "steps"):
            object.__setattr__(self, key, _num(getattr(self, key), key))
        if self.end == "time" and self.duration_s is None:
            raise ProtocolError(f"a {self.kind} phase that ends on time needs duration_s > 0")
        if self.end == "reached" and self.target is None and self.kind != "ease":
            raise ProtocolError(f"a {self.kind} phase that ends when the target is reached needs a target")
        if self.kind in ("ramp", "hold") and self.target is None and self.end != "pain":
            raise ProtocolError(f"a {self.kind} phase needs a target")
        if self.steps and self.step is None:
            raise ProtocolError("progressive steps need a step amount")
        if self.rate_kpa_s == 0:
            raise ProtocolError("rate_kpa_s: 0 is no rate to follow; leave it out, or give a rate (kPa/s)")
        if self.tolerance_pct >= 100:
            raise ProtocolError("tolerance_pct must be under 100: a band of ± 100 % reaches 0 and is no band")

    @property
    def name(self) -> str:
        return self.label or self.kind


COMPRESSION_ALARM_FRACTION = 0.75  # a compression is guided off by ¾ of the hold alarm's time at the latest


@dataclass(frozen=True)
class Limits:
    """Safety limits; a body region's caution lowers them (see :mod:`pointdose.protocols.safety`).

    Sources and defaults: docs/protocols.md, "Limits". Pressures kPa, times s. Every field is
    checked (finite, in :data:`pointdose.protocols.values.RANGES`) when a Limits is made.
    """

    max_kpa: float = 700.0  # alarm: just above the highest healthy PPTs (574 kPa, Persson 2004)
    max_hold_s: float = 120.0  # alarm: pressing continuously this long (the cue to come off was ignored)
    compression_cap_s: float = 90.0  # one compression is guided off after this (the 90 s arm, Hou 2002)
    cap_rest_s: float = 10.0  # off the point this long after a compression is capped (a setting)
    point_cap_s: float = 120.0  # pressure on one point per session (first sessions 1–2 min, Travell & Simons)
    pain_stop_rating: int = 7  # a rating at or above this ends the hold (~7/10 tolerable, Travell & Simons)
    pain_cap_pct: float = 90.0  # after "pain now" at P the band stays under this % of P (a setting)
    contact_kpa: float = metrics.DEFAULT_CONTACT_KPA  # contact threshold (hold clocks run in contact: docs/metrics.md)
    rest_max_kpa: float = 10.0  # a rest or a release to zero is "in band" at or below this
    min_band_kpa: float = 5.0  # a band is never narrower than ± this (low targets stay followable)
    stale_s: float = 0.25  # no sample for longer than this: stale-stream alarm
    stale_end_s: float = 2.0  # … and for longer than this the application ends
    calibrated_max_kpa: float | None = None  # top of the calibrated range, when known

    def __post_init__(self) -> None:
        for key in ("max_kpa", "max_hold_s", "compression_cap_s", "cap_rest_s", "point_cap_s", "pain_stop_rating",
                    "pain_cap_pct", "contact_kpa", "rest_max_kpa", "min_band_kpa", "stale_s", "stale_end_s"):
            object.__setattr__(self, key, _num(getattr(self, key), key, "limits."))
        if self.calibrated_max_kpa is not None:
            object.__setattr__(self, "calibrated_max_kpa", _num(self.calibrated_max_kpa, "calibrated_max_kpa",
                                                                "limits."))
        if not self.rest_max_kpa <= self.contact_kpa < self.max_kpa:
            raise ProtocolError(f"limits: rest_max_kpa ({self.rest_max_kpa:g}) ≤ contact_kpa ({self.contact_kpa:g}) "
                                f"< max_kpa ({self.max_kpa:g}) is needed: off the point, pressing, too much")
        if not self.stale_s < self.stale_end_s:
            raise ProtocolError(f"limits: stale_s ({self.stale_s:g}) must be under stale_end_s ({self.stale_end_s:g})")

    @property
    def compression_s(self) -> float:
        """When one compression is guided off: ``compression_cap_s``, or ¾ of ``max_hold_s`` when that
        is sooner (a caution's short hold alarm still leaves time to come off before it fires)."""
        return min(self.compression_cap_s, COMPRESSION_ALARM_FRACTION * self.max_hold_s)

    def lowered(self, max_kpa: float | None = None, max_hold_s: float | None = None) -> "Limits":
        from dataclasses import replace

        return replace(self, max_kpa=min(self.max_kpa, max_kpa) if max_kpa else self.max_kpa,
                       max_hold_s=min(self.max_hold_s, max_hold_s) if max_hold_s else self.max_hold_s)

    def describe(self) -> dict[str, Any]:
        return {"max_kpa": self.max_kpa, "max_hold_s": self.max_hold_s, "compression_cap_s": self.compression_s,
                "cap_rest_s": self.cap_rest_s, "point_cap_s": self.point_cap_s,
                "pain_stop_rating": self.pain_stop_rating, "pain_cap_pct": self.pain_cap_pct,
                "calibrated_max_kpa": self.calibrated_max_kpa}


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
            raise ProtocolError("a protocol needs at least one phase")
        object.__setattr__(self, "repetitions", _num(self.repetitions, "repetitions"))
        if self.measure_ppt and not any(p.kind == "ramp" and p.end == "pain" for p in self.phases):
            raise ProtocolError("a PPT protocol needs a ramp phase that ends on the pain signal")
        check_kpa_targets(self)

    def describe(self) -> dict[str, Any]:
        """Plain data for records and listeners."""
        return {
            "name": self.name, "title": self.title, "repetitions": self.repetitions, "source": self.source,
            "measure_ppt": self.measure_ppt, "params": dict(self.params),
            "limits": self.limits.describe(),
            "phases": [{"kind": p.kind, "label": p.name, "target": str(p.target) if p.target else None,
                        "end": p.end, "duration_s": p.duration_s, "max_s": p.max_s,
                        "tolerance_pct": p.tolerance_pct, "rate_kpa_s": p.rate_kpa_s,
                        "steps": p.steps, "step": str(p.step) if p.step else None} for p in self.phases],
        }


def band_top_kpa(kpa: float, tolerance_pct: float, limits: Limits) -> float:
    """The top of a band around ``kpa`` (the band is never narrower than ± ``min_band_kpa``)."""
    return kpa + max(kpa * tolerance_pct / 100.0, limits.min_band_kpa)


def check_kpa_targets(protocol: Protocol) -> None:
    """Targets already in kPa (with their progressive steps) must fit under ``max_kpa``, and an
    ease's level must lie below the level it eases from; targets in N or %PPT are checked when the
    probe and the PPT are known (:class:`pointdose.protocols.engine.Engine`)."""
    lim = protocol.limits
    before: Target | None = None
    for i, ph in enumerate(protocol.phases):
        t = ph.target
        if t is not None and t.unit == "kPa":
            top = t.value + (ph.steps * ph.step.value if ph.steps and ph.step is not None and ph.step.unit == "kPa"
                             else 0.0)
            if band_top_kpa(top, ph.tolerance_pct, lim) > lim.max_kpa:
                raise ProtocolError(f"phase {i + 1} ({ph.name}) asks for up to {band_top_kpa(top, ph.tolerance_pct, lim):.0f} kPa "
                                    f"(band top), above the maximum-pressure limit max_kpa = {lim.max_kpa:g} kPa: "
                                    "lower the target or the steps, or raise max_kpa")
        if ph.kind == "ease" and t is not None and before is not None and t.unit == before.unit \
                and t.value >= before.value:
            raise ProtocolError(f"phase {i + 1} ({ph.name}) eases to {t} from {before}: an ease must go below the "
                                "level before it (inverted band)")
        if ph.kind in ("ramp", "hold") and t is not None:
            before = t
