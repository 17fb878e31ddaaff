"""Built-in protocols, with defaults from the project's domain notes; every default is a parameter.

``builtin(name, **overrides)`` builds one; ``BUILTINS[name].params`` lists its parameters with
their defaults, allowed ranges and sources. Targets are strings such as ``"200 kPa"``, ``"20 N"``
or ``"80 %PPT"`` (any unit of :mod:`pointdose.units` is accepted and converted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from pointdose import units
from pointdose.protocols.model import Limits, Phase, Protocol, ProtocolError, Target
from pointdose.protocols.values import RANGES, number


@dataclass(frozen=True)
class Param:
    key: str
    default: Any
    kind: str  # "target", "float", "int", "bool"
    help: str
    lo: float | None = None
    hi: float | None = None


def parse_target(text: Any, where: str = "target") -> Target:
    """``"200 kPa"``, ``"20 N"``, ``"80 %PPT"``, ``"2 kgf/cm2"``, or a bare number (kPa).

    The value must be a finite number above 0 and within :data:`pointdose.protocols.values.RANGES`
    for its unit (a negative, zero or NaN target would make an inverted or empty band)."""
    hint = f"write a number and a unit, e.g. \"200 kPa\", \"20 N\" or \"80 %PPT\" (units: %PPT, {', '.join(units.UNITS)})"
    if isinstance(text, bool) or not isinstance(text, (int, float, str)):
        raise ProtocolError(f"{where}: {text!r} is not a target; {hint}")
    if isinstance(text, (int, float)):
        value, unit_key = text, "kPa"
    else:
        s = str(text).strip().replace("% PPT", "%PPT").replace("%ppt", "%PPT")
        parts = s.replace("%PPT", " %PPT").split()
        if len(parts) not in (1, 2):
            raise ProtocolError(f"{where}: {text!r} is not a target; {hint}")
        value, unit_key = parts[0], (parts[1] if len(parts) == 2 else "kPa")
        try:
            float(value)
        except ValueError:
            raise ProtocolError(f"{where}: {text!r} is not a target; {hint}") from None
    if unit_key.upper() == "%PPT":
        return Target(number(value, where, RANGES["target_pct_ppt"], error=ProtocolError), "%PPT")
    try:
        u = units.unit(unit_key)
    except ValueError:
        raise ProtocolError(f"{where}: unknown unit {unit_key!r}; use %PPT or one of {', '.join(units.UNITS)}") from None
    # finite and above 0 in the unit written; then the range in the internal unit
    v = number(value, where, 0.0, 1e9, lo_open=True, error=ProtocolError)
    if u.kind == "force":
        n = v / u.per_internal
        return Target(number(n, f"{where} ({text} = {n:g} N)", RANGES["target_n"], error=ProtocolError), "N")
    kpa = v / u.per_internal
    return Target(number(kpa, f"{where} ({text} = {kpa:g} kPa)" if u.key != "kPa" else where, RANGES["target_kpa"],
                         error=ProtocolError), "kPa")


def _check(params: list[Param], name: str, given: dict[str, Any]) -> dict[str, Any]:
    known = {p.key: p for p in params}
    out = {p.key: p.default for p in params}
    for key, value in given.items():
        if key not in known:
            raise ProtocolError(f"protocol {name!r} has no parameter {key!r}; its parameters: {', '.join(known)}")
        p = known[key]
        where = f"{name}: {key}"
        if p.kind == "target":
            parse_target(value, where)
        elif p.kind == "bool":
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                    raise ProtocolError(f"{where}: {value!r} is not true or false")
                value = value.lower() in ("true", "yes", "1")
            elif not isinstance(value, bool):
                raise ProtocolError(f"{where}: {value!r} is not true or false")
        else:  # the one checker: finite, whole where it must be, in the parameter's range
            value = number(value, where, p.lo, p.hi, integer=p.kind == "int", error=ProtocolError)
        out[key] = value
    return out


@dataclass(frozen=True)
class Builtin:
    name: str
    title: str
    summary: str
    params: list[Param]
    build: Callable[[dict[str, Any]], Protocol]

    def make(self, **overrides) -> Protocol:
        values = _check(self.params, self.name, overrides)
        try:
            return self.build(values)
        except ProtocolError as exc:  # a combination of values (a target above max_kpa, an inverted band)
            raise ProtocolError(f"{self.name}: {exc}") from None


def _limits(v: dict[str, Any]) -> Limits:
    return Limits(**{p.key: v[p.key] for p in SAFETY})


def _r(key: str) -> tuple[float, float]:
    return RANGES[key].lo, RANGES[key].hi


SAFETY = [
    Param("max_kpa", 700.0, "float", "maximum-pressure alarm, kPa (just above the highest healthy PPTs, "
          "~574 kPa trapezius, Persson 2004; 482 kPa gastrocnemius, Polianskis 2001)", *_r("max_kpa")),
    Param("compression_cap_s", 90.0, "float", "one compression is guided off after this long, s (the longest "
          "hold studied: the 90 s arm, Hou 2002; 90 s beat 30 s, J Clin Physiother Res 2019)",
          *_r("compression_cap_s")),
    Param("max_hold_s", 120.0, "float", "alarm: pressing continuously this long, s (the cue to come off at the "
          "compression cap ignored for 30 s)", *_r("max_hold_s")),
    Param("point_cap_s", 120.0, "float", "pressure on this point per session, s; then the application ends "
          "(first sessions 1–2 min per point, Travell & Simons)", *_r("point_cap_s")),
    Param("pain_stop_rating", 7, "int", "a pain rating at or above this ends the hold (a setting: tolerable "
          "discomfort is ~7/10, Travell & Simons)", *_r("pain_stop_rating")),
]


def _tppr(v: dict[str, Any]) -> Protocol:
    t = parse_target(v["target"], "tppr: target")
    step = parse_target(v["step"], "tppr: step")
    phases = (
        Phase("ramp", t, end="reached", max_s=v["ramp_max_s"], tolerance_pct=v["tolerance_pct"], label="Press"),
        Phase("hold", t, end="release", max_s=v["hold_max_s"], tolerance_pct=v["tolerance_pct"],
              steps=v["steps"], step=step if v["steps"] else None, label="Hold"),
        Phase("ease", None, end="time", duration_s=v["ease_s"], rate_kpa_s=None, label="Ease off"),
        Phase("rest", None, end="time", duration_s=v["rest_s"], label="Rest"),
    )
    return Protocol("tppr", "Trigger-point pressure release", phases, repetitions=v["cycles"],
                    description="Press to the tissue barrier (resistance, not pain), hold until the tissue releases, "
                                "take up the slack, repeat (Simons, Travell & Simons 1999). The default for self-massage.",
                    limits=_limits(v), params=dict(v))


def _ischemic(v: dict[str, Any]) -> Protocol:
    t = parse_target(v["target"], "ischemic: target")
    step = parse_target(v["step"], "ischemic: step")
    phases = (
        Phase("ramp", t, end="reached", max_s=v["ramp_max_s"], tolerance_pct=v["tolerance_pct"], label="Press"),
        Phase("hold", t, end="release", max_s=v["hold_s"], tolerance_pct=v["tolerance_pct"],
              steps=v["steps"], step=step if v["steps"] else None, label="Compress"),
        Phase("ease", None, end="time", duration_s=v["release_s"], label="Slow release"),
        Phase("rest", None, end="time", duration_s=v["rest_s"], label="Rest"),
    )
    return Protocol("ischemic", "Ischemic compression", phases, repetitions=v["cycles"],
                    description="Ramp to the point's pressure-pain threshold and hold it 90 s: the threshold × 90 s "
                                "arm of Hou et al. 2002 (Arch Phys Med Rehabil 83:1406). Optionally raise the "
                                "pressure when the discomfort eases (up to 3 steps, Szajkowski 2025); release slowly "
                                "(Travell & Simons).",
                    limits=_limits(v), params=dict(v))


def _alternating(v: dict[str, Any]) -> Protocol:
    hi = parse_target(v["high"], "alternating: high")
    lo = parse_target(v["low"], "alternating: low")
    phases = (
        Phase("ramp", hi, end="reached", max_s=v["ramp_max_s"], tolerance_pct=v["tolerance_pct"], label="Press high"),
        Phase("hold", hi, end="time", duration_s=v["high_s"], tolerance_pct=v["tolerance_pct"], label="High"),
        Phase("ease", lo, end="time", duration_s=v["low_s"], tolerance_pct=v["tolerance_pct"], label="Low"),
    )
    return Protocol("alternating", "Alternating concentrated-pressure cycles", phases, repetitions=v["cycles"],
                    description="High-pressure holds alternated with a light contact, in cycles. The low level "
                                "is what lets blood flow return under the probe, so by default it is kept under "
                                "capillary pressure (~4 kPa, ~30 mmHg; Landis 1930) while the probe stays on the "
                                "point. No published standard fixes the levels: they are settings.",
                    limits=_limits(v), params=dict(v), skip_last_rest=True)


def _holds(v: dict[str, Any]) -> Protocol:
    t = parse_target(v["target"], "holds: target")
    phases = (
        Phase("ramp", t, end="reached", max_s=v["ramp_max_s"], tolerance_pct=v["tolerance_pct"], label="Press"),
        Phase("hold", t, end="time", duration_s=v["hold_s"], tolerance_pct=v["tolerance_pct"], label="Hold"),
        Phase("ease", None, end="reached", max_s=5.0, label="Release"),
        Phase("rest", None, end="time", duration_s=v["rest_s"], label="Rest"),
    )
    return Protocol("holds", "Repeated holds", phases, repetitions=v["cycles"],
                    description="Repeated short compressions with rest between: 3 × 30 s by default (settings, "
                                "no published protocol fixes them), within the 2 min per point of a first "
                                "session (Travell & Simons).",
                    limits=_limits(v), params=dict(v))


PPT_STEPS = ("mark the site (skin pen) so every trial presses the same spot",
             "hold the probe perpendicular to the skin",
             "say the standard instruction: 'tell me the moment the pressure first becomes painful'")
TOLERANCE_INSTRUCTION = "say: 'tell me the moment you cannot take any more pressure'"


def _ppt(v: dict[str, Any], measure: str = "threshold") -> Protocol:
    rate = float(v["rate_kpa_s"])
    slowest = rate * (1.0 - float(v["rate_tolerance_pct"]) / 100.0)
    ceiling = min(float(v["ceiling_kpa"]), float(v["max_kpa"]))
    tolerance = measure == "tolerance"
    phases = (
        Phase("ramp", None, end="pain", max_s=min(3600.0, ceiling / max(slowest, 1.0) + 5.0), rate_kpa_s=rate,
              rate_tolerance_pct=v["rate_tolerance_pct"], label="Ramp"),
        Phase("ease", None, end="reached", max_s=5.0, label="Release"),
        Phase("rest", None, end="time", duration_s=v["rest_s"], label="Rest"),
    )
    instructions = list(PPT_STEPS[:2] + ((TOLERANCE_INSTRUCTION,) if tolerance else PPT_STEPS[2:]))
    steps = "; ".join(instructions)
    common = (f"Before the first trial: {steps}. A trial ramped outside {rate:g} kPa/s ± "
              f"{v['rate_tolerance_pct']:g} % (measured over the press itself) is invalid and repeated, up to "
              f"{v['retries']} times; a trial reaching the ceiling ({ceiling:.0f} kPa, lowered to the sensor's "
              f"calibrated range) is recorded as censored, '> {ceiling:.0f} kPa'.")
    if tolerance:
        return Protocol("ptt", "Pressure-pain tolerance", phases,
                        repetitions=v["trials"] + (1 if v["familiarisation"] else 0), measure_ppt=True,
                        description="Ramp at a steady rate until the client cannot take more pressure: the "
                                    "pressure-pain tolerance, which Hou et al. 2002's tolerance arms press to (Arch "
                                    "Phys Med Rehabil 83:1406). Recorded as a tolerance, never as the point's PPT. "
                                    + common,
                        limits=_limits(v), params=dict(v, measure="tolerance", instructions=instructions))
    return Protocol("ppt", "Pressure-pain threshold (PPT)", phases,
                    repetitions=v["trials"] + (1 if v["familiarisation"] else 0), measure_ppt=True,
                    description="Ramp at a steady rate (50 kPa/s, DFNS QST; 98 kPa/s = 1 kgf/cm²/s, Gemmell 2008); "
                                "signal at the first pain; 3 trials, mean reported (Walton 2011). The PPT is the "
                                "pressure at the signal's device time; the peak is kept separately. " + common,
                    limits=_limits(v), params=dict(v, instructions=instructions))


def _ptt(v: dict[str, Any]) -> Protocol:
    return _ppt(v, measure="tolerance")


# The PPT ramps stop at their ceiling before the maximum-pressure alarm: its default sits above it.
PPT_SAFETY = [Param("max_kpa", 1100.0, "float", "maximum-pressure alarm, kPa (a setting: above the PPT ceiling, "
                    "so a ramp is guided off at the ceiling first)", *_r("max_kpa"))] + SAFETY[1:]


def _ppt_params(rate_help: str, what: str) -> list[Param]:
    return [Param("rate_kpa_s", 50.0, "float", rate_help, 5, 200),
            Param("rate_tolerance_pct", 20.0, "float", "rate band, ± % of the rate (a setting); a trial ramped "
                  "outside it is invalid", 5, 100),
            Param("trials", 3, "int", "trials counted (3 is standard practice, Walton 2011)", 1, 10),
            Param("retries", 2, "int", "times a trial off the rate band is repeated (a setting)", 0, 5),
            Param("ceiling_kpa", 1000.0, "float", f"the ramp stops here, lowered to the sensor's calibrated range; "
                  f"a trial reaching it is censored, '> X' (a setting: healthy infraspinatus and AC-joint {what} "
                  "average ~620–660 ± 220 kPa, Bordachar 2019)", 100, 2000),
            Param("familiarisation", False, "bool", "one trial first, to show how it feels; not counted"),
            Param("blinded", False, "bool", "blinded readout: no pressure number is shown until the measurement "
                  "ends (the rate guide stays)"),
            Param("rest_s", 30.0, "float", "rest between trials, s (a setting)", 1, 600)] + PPT_SAFETY


BUILTINS: dict[str, Builtin] = {b.name: b for b in (
    Builtin("tppr", "Trigger-point pressure release", "press to the barrier, hold until it releases, follow it",
            [Param("target", "120 kPa", "target", "the tissue barrier: resistance, not pain (below typical "
                   "cervical PPTs of 140–199 kPa, Prushansky 2004); kPa, N or %PPT"),
             Param("tolerance_pct", 15.0, "float", "band half-width, % of the target", 1, 50),
             Param("steps", 3, "int", "times the pressure follows a release (take up the slack)", 0, 3),
             Param("step", "10 kPa", "target", "how much each step adds"),
             Param("hold_max_s", 90.0, "float", "longest hold before moving on, s (Gemmell 2008: ≤ 1 min; "
                   "90 s holds gained more)", 5, 600),
             Param("ramp_max_s", 15.0, "float", "longest ramp, s", 2, 120),
             Param("ease_s", 3.0, "float", "ease-off time, s", 0.5, 60),
             Param("rest_s", 20.0, "float", "rest between cycles, s", 1, 600),
             Param("cycles", 3, "int", "repetitions", 1, 20)] + SAFETY, _tppr),
    Builtin("ischemic", "Ischemic compression", "ramp to the PPT, hold 90 s (Hou 2002), optional steps, slow release",
            [Param("target", "100 %PPT", "target", "the pressure-pain threshold (Hou 2002's threshold × 90 s arm, "
                   "Arch Phys Med Rehabil 83:1406); kPa, N or %PPT"),
             Param("tolerance_pct", 10.0, "float", "band half-width, % of the target", 1, 50),
             Param("hold_s", 90.0, "float", "longest hold, s (Hou 2002: 90 s at the threshold)", 5, 600),
             Param("steps", 0, "int", "progressive steps on 'release felt' (Szajkowski 2025: 2–3)", 0, 3),
             Param("step", "10 %PPT", "target", "amount each step adds"),
             Param("ramp_max_s", 15.0, "float", "longest ramp, s", 2, 120),
             Param("release_s", 5.0, "float", "slow release, s", 1, 60),
             Param("rest_s", 30.0, "float", "rest between cycles, s", 1, 600),
             Param("cycles", 1, "int", "repetitions", 1, 20)] + SAFETY, _ischemic),
    Builtin("alternating", "Alternating concentrated-pressure cycles", "N × (high hold, low hold)",
            [Param("high", "250 kPa", "target", "high level (no standard: a setting; kPa, N or %PPT)"),
             Param("low", "3 kPa", "target", "low level: a light contact, the probe resting on the point under "
                   "capillary pressure (~4 kPa, ~30 mmHg; Landis 1930) so blood flow can return (a setting)"),
             Param("tolerance_pct", 12.0, "float", "band half-width, % of the level", 1, 50),
             Param("high_s", 10.0, "float", "high hold, s", 1, 300),
             Param("low_s", 5.0, "float", "low hold, s", 1, 300),
             Param("ramp_max_s", 8.0, "float", "longest ramp up to the high level, s", 1, 60),
             Param("cycles", 6, "int", "cycles", 1, 50)] + SAFETY, _alternating),
    Builtin("holds", "Repeated holds", "N × hold with rest (3 × 30 s, settings)",
            [Param("target", "200 kPa", "target", "hold level; kPa, N or %PPT"),
             Param("tolerance_pct", 10.0, "float", "band half-width, % of the target", 1, 50),
             Param("hold_s", 30.0, "float", "hold, s (a setting)", 1, 600),
             Param("rest_s", 30.0, "float", "rest between holds, s", 1, 600),
             Param("ramp_max_s", 15.0, "float", "longest ramp, s", 2, 120),
             Param("cycles", 3, "int", "holds (a setting: 3 × 30 s keeps a first session within the 2 min per "
                   "point of Travell & Simons)", 1, 50)] + SAFETY, _holds),
    Builtin("ppt", "PPT measurement", "ramp at 50 kPa/s (98 selectable) until the first pain, 3 trials",
            _ppt_params("ramp rate, kPa/s (50 DFNS; 98 = 1 kgf/cm²/s)", "PPTs"), _ppt),
    Builtin("ptt", "Pressure-pain tolerance", "ramp at 50 kPa/s until the client cannot take more, 3 trials",
            _ppt_params("ramp rate, kPa/s (a setting: the PPT's 50 kPa/s)", "PPTs (tolerances lie above)"), _ptt),
)}


def builtin(name: str, **overrides) -> Protocol:
    try:
        b = BUILTINS[name]
    except KeyError:
        raise ProtocolError(f"no built-in protocol {name!r}; choose one of {', '.join(BUILTINS)} "
                            "or give a .toml file") from None
    return b.make(**overrides)
