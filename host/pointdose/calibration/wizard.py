"""The calibration wizard and the checks after it, as pure state machines fed with samples.

Nothing here does I/O or imports a GUI: a driver (``pointdose calibrate run`` in a terminal, the
Calibrate tab in the app, a test) feeds samples, passes on what the user types, and carries out the
one device action the wizard asks for (``pending_action == "tare"``). Both drivers therefore run
exactly the same flow:

1. FSR only — *conditioning*: press to ~110 % of the top load and release, 5 times (FlexiForce
   guidance; domain notes, "Sensors and boards"); the presses are counted from the signal.
2. *Zero*: nothing on the sensor; when steady, the device is tared (so the device's tare and the
   calibration's zero are the same reading — docs/calibration.md, "Tare and offset").
3. *Loads*: at least 3, each heavier than the last; for each, a steady reading is recorded and the
   user enters the reference (masses in g/kg, a kitchen/bathroom scale's reading in kg/lb, a gauge's
   in N) — before or after the reading is recorded, whichever suits the reference.
4. *Unloading* back through the same loads to zero (hysteresis is measured there).
5. *Fit* with the same code as ``pointdose calibrate fit``: a :class:`FitResult`, or a refusal.

Driving it::

    wiz = CalibrationWizard(WizardSettings(model="linear", reference="scale", unit="kg"))
    wiz.feed(t, raw)                        # new samples, any chunk size
    if wiz.pending_action == "tare":
        reply = link.tare(); wiz.tare_done(float(reply.fields["tare"]), float(reply.fields["sd"]))
    wiz.enter_reference("12.5")             # UserError with the reason if it does not make sense
    view = wiz.view()                       # what to show: title, instruction, stability, progress
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field

import numpy as np

from pointdose import units
from pointdose.calibration.models import (FSR, LINEAR, LOAD, MIN_LOADS, UNLOAD, CalibrationRefused, FitResult, Point,
                                          Tolerance, fit_points)
from pointdose.calibration.record import CalibrationRecord, Converter, SensorConfig, utc_now, _iso
from pointdose.calibration.stability import StabilityCriterion, StabilityDetector, StabilityStatus, robust_noise
from pointdose.errors import UserError

REFERENCES = {
    # kind: (default unit, what the user enters)
    "masses": ("kg", "the mass"),
    "scale": ("kg", "what the scale reads"),
    "gauge": ("N", "what the gauge reads"),
}


class Step(enum.Enum):
    CONDITION = "condition"
    ZERO = "zero"
    LOAD = "load"
    UNLOAD = "unload"
    END_ZERO = "end-zero"
    DONE = "done"
    REFUSED = "refused"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class WizardSettings:
    model: str = LINEAR
    reference: str = "scale"  # masses | scale | gauge
    unit: str | None = None  # the reference's unit (default by reference kind)
    n_loads: int = 4
    top_load: float | None = None  # planned top load in ``unit`` (for suggestions and conditioning)
    tolerance: Tolerance = field(default_factory=Tolerance)
    criterion: StabilityCriterion = field(default_factory=StabilityCriterion)
    raw_limits: tuple[float, float] | None = None
    conditioning_presses: int = 5
    min_step: float = 0.05  # a new load must move the reading by 5 % of its distance from zero

    def checked(self) -> "WizardSettings":
        if self.model not in (LINEAR, FSR):
            raise UserError(f"unknown model {self.model!r}: choose linear (load cell) or fsr")
        if self.reference not in REFERENCES:
            raise UserError(f"unknown reference {self.reference!r}: choose {', '.join(REFERENCES)}")
        try:
            units.reference_unit(self.unit or REFERENCES[self.reference][0])
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if not MIN_LOADS <= int(self.n_loads) <= 10:
            raise UserError(f"the number of loads must be {MIN_LOADS} to 10, not {self.n_loads}")
        if self.top_load is not None and not (math.isfinite(self.top_load) and self.top_load > 0):
            raise UserError(f"the top load must be a positive number, not {self.top_load!r}")
        if not 1 <= int(self.conditioning_presses) <= 10:
            raise UserError("conditioning presses must be 1 to 10 (4–5 is the usual advice)")
        self.tolerance.validate()
        return self

    @property
    def unit_key(self) -> str:
        return units.reference_unit(self.unit or REFERENCES[self.reference][0])


@dataclass(frozen=True)
class Capture:
    mean_raw: float
    sd_raw: float
    n: int
    t_s: float
    saturated: bool = False


@dataclass(frozen=True)
class PlanItem:
    step: Step
    index: int  # 1-based within its kind
    of: int
    direction: str


@dataclass(frozen=True)
class WizardView:
    step: Step
    title: str
    instruction: str
    progress: str  # "Step 3 of 9"
    stability: StabilityStatus | None
    criterion: str
    needs_entry: bool  # the user should type a reference value now (or may, before recording)
    entry_label: str
    entry_unit: str
    captured: bool
    entered: str  # the value entered for this step, as typed, or ""
    pending_action: str | None
    points: tuple[Point, ...]
    message: str  # the last thing that went wrong (a rejected entry) or a notice
    result: FitResult | None
    refusal: str


def parse_reference(text: str, default_unit: str) -> tuple[float, str]:
    """``"12.5"``, ``"12,5 kg"``, ``"500g"`` → (value, unit key); UserError naming what is wrong."""
    s = str(text).strip()
    m = re.fullmatch(r"([-+]?\d+(?:[.,]\d*)?|[-+]?[.,]\d+)\s*([A-Za-z]*)", s)
    if not m:
        raise UserError(f"{s!r} is not a reading: type a number, optionally with its unit "
                        f"(e.g. 12.5 or 12.5 {default_unit})")
    value = float(m.group(1).replace(",", "."))
    unit_text = m.group(2) or default_unit
    try:
        unit = units.reference_unit(unit_text)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not math.isfinite(value):
        raise UserError(f"{s!r} is not a finite number")
    return value, unit


class CalibrationWizard:
    def __init__(self, settings: WizardSettings | None = None):
        self.settings = (settings or WizardSettings()).checked()
        s = self.settings
        n = int(s.n_loads)
        plan: list[PlanItem] = []
        if s.model == FSR:
            plan.append(PlanItem(Step.CONDITION, 1, 1, LOAD))
        plan.append(PlanItem(Step.ZERO, 1, 1, LOAD))
        plan += [PlanItem(Step.LOAD, i, n, LOAD) for i in range(1, n + 1)]
        plan += [PlanItem(Step.UNLOAD, j, n - 1, UNLOAD) for j in range(1, n)]
        plan.append(PlanItem(Step.END_ZERO, 1, 1, UNLOAD))
        self.plan = plan
        self._i = 0
        self.points: list[Point] = []
        self.detector = StabilityDetector(s.criterion, raw_limits=None if s.model == FSR else s.raw_limits)
        self.capture: Capture | None = None
        self.entry_n: float | None = None
        self.entry_text = ""
        self.pending_action: str | None = None
        self.message = ""
        self.result: FitResult | None = None
        self.refusal = ""
        self.refusal_code = ""
        self.result_refused: FitResult | None = None  # the fit behind a max-error refusal
        self.final: Step | None = None
        self.zero_raw: float | None = None
        self.noise_sd: float = 1.0
        self.sign: float = 0.0  # +1 readings grow with load, -1 they fall; 0 until the first load
        self.conditioning: dict | None = None
        self._cond = _PressCounter(s.conditioning_presses, s.raw_limits)

    # ---------------------------------------------------------------- state
    @property
    def step(self) -> Step:
        if self.final is not None:
            return self.final
        return self.plan[self._i].step

    @property
    def item(self) -> PlanItem | None:
        return None if self.final is not None else self.plan[self._i]

    @property
    def finished(self) -> bool:
        return self.final is not None

    @property
    def needs_entry(self) -> bool:
        return self.final is None and self.step in (Step.LOAD, Step.UNLOAD) and self.entry_n is None

    # ---------------------------------------------------------------- inputs
    def feed(self, t, raw) -> None:
        """New samples (device time in s, raw counts), oldest first."""
        if self.final is not None or self.pending_action is not None:
            return
        t = np.asarray(t, dtype=np.float64)
        raw = np.asarray(raw, dtype=np.float64)
        if t.size == 0:
            return
        if self.step == Step.CONDITION:
            if self._cond.feed(t, raw):
                self.conditioning = {"cycles": self._cond.presses, "skipped": False}
                self._advance()
            return
        if self.capture is not None:
            return
        status = self.detector.feed(t, raw)
        if not status.stable:
            return
        moved, why = self._moved_enough(status.mean_raw)
        if not moved:
            self.message = why
            return
        self.message = ""
        wt, wr = self.detector.window()  # the samples since the steady run began
        if wt.size:
            wr = wr[wt >= wt[-1] - self.settings.criterion.hold_s]
        self.capture = Capture(mean_raw=float(wr.mean()), sd_raw=float(wr.std(ddof=1)) if wr.size > 1 else 0.0,
                               n=int(wr.size), t_s=float(t[-1]), saturated=status.saturated)
        if self.step == Step.ZERO:
            self.pending_action = "tare"
            self.noise_sd = max(1.0, self.capture.sd_raw)
        else:
            self._maybe_complete()

    def tare_done(self, tare_raw: float | None = None, sd: float | None = None) -> None:
        """The device finished the tare the wizard asked for (None: no device tare; use the reading)."""
        if self.pending_action != "tare" or self.capture is None:
            return
        self.pending_action = None
        zero = float(tare_raw) if tare_raw is not None else self.capture.mean_raw
        if sd is not None and sd > 0:
            self.noise_sd = max(1.0, float(sd))
        self.zero_raw = zero
        self.detector.reset(baseline_raw=zero)
        self.points.append(Point(raw=zero, force_n=0.0, direction=LOAD, sd=self.capture.sd_raw, n=self.capture.n))
        self._advance()

    def tare_failed(self, reason: str) -> None:
        """The tare could not be done: record the zero step again."""
        self.pending_action = None
        self.capture = None
        self.detector.reset()
        self.message = f"Tare failed ({reason}): keep the sensor unloaded; trying again."

    def enter_reference(self, text) -> float:
        """The user's reference reading for this step (a number, optionally with a unit); returns N."""
        if self.final is not None:
            raise UserError("the calibration is finished; start a new one to record more")
        if self.step not in (Step.LOAD, Step.UNLOAD):
            raise UserError("no reference is needed in this step: " + self._instruction_for(self.item).split(":")[0])
        value, unit = parse_reference(text, self.settings.unit_key)
        force = units.reference_to_n(value, unit)
        if force <= 0:
            raise UserError(f"{text!r}: the reference must be a load above zero")
        previous = self._previous_force()
        if self.step == Step.LOAD and previous is not None and force <= previous:
            raise UserError(f"{value:g} {unit} is not more than the previous load "
                            f"({self._fmt_ref(previous)}): check the reading, or add more load")
        if self.step == Step.UNLOAD and previous is not None and force >= previous:
            raise UserError(f"{value:g} {unit} is not less than the previous load "
                            f"({self._fmt_ref(previous)}): check the reading, or take some load off")
        self.entry_n = force
        self.entry_text = f"{value:g} {unit}"
        self.message = ""
        self._maybe_complete()
        return force

    def redo(self) -> None:
        """Record this step's reading again (and forget its entry)."""
        if self.final is not None:
            return
        self.capture = None
        self.entry_n = None
        self.entry_text = ""
        self.pending_action = None
        self.detector.reset()
        if self.step == Step.CONDITION:
            self._cond = _PressCounter(self.settings.conditioning_presses, self.settings.raw_limits)

    def skip_conditioning(self) -> None:
        """Go on without conditioning (recorded as skipped: expect more drift and hysteresis)."""
        if self.step == Step.CONDITION:
            self.conditioning = {"cycles": self._cond.presses, "skipped": True}
            self._advance()

    def cancel(self) -> None:
        if self.final is None:
            self.final = Step.CANCELLED

    # ---------------------------------------------------------------- results
    def make_record(self, *, device_uid: str, config: SensorConfig, created=None) -> CalibrationRecord:
        if self.result is None:
            raise UserError("there is no accepted calibration to save" + (f": {self.refusal}" if self.refusal else ""))
        reference = {"kind": self.settings.reference, "unit": self.settings.unit_key}
        return CalibrationRecord.from_fit(self.result, device_uid=device_uid, config=config, reference=reference,
                                          zero_raw=self.zero_raw, raw_limits=self.settings.raw_limits,
                                          conditioning=self.conditioning, created=created)

    def points_csv(self) -> str:
        """The recorded points as ``raw,force_n,direction,sd`` CSV (kept even when refused)."""
        lines = ["raw,force_n,direction,sd"]
        for p in self.points:
            lines.append(f"{p.raw:.3f},{p.force_n:.6g},{p.direction},{'' if p.sd is None else f'{p.sd:.3f}'}")
        return "\n".join(lines) + "\n"

    def view(self) -> WizardView:
        item = self.item
        s = self.settings
        stability = None if self.step == Step.CONDITION or self.final else self.detector.status()
        if self.final == Step.DONE:
            title, instruction = "Calibration accepted", self.result.summary() if self.result else ""
        elif self.final == Step.REFUSED:
            title, instruction = "Calibration refused", self.refusal
        elif self.final == Step.CANCELLED:
            title, instruction = "Calibration cancelled", "Nothing was saved."
        else:
            title = self._title_for(item)
            instruction = self._instruction_for(item)
        total = len(self.plan)
        progress = (f"Step {min(self._i + 1, total)} of {total}" if self.final is None else f"{total} steps done")
        unit = s.unit_key
        return WizardView(
            step=self.step, title=title, instruction=instruction, progress=progress, stability=stability,
            criterion=s.criterion.describe(), needs_entry=self.needs_entry,
            entry_label=f"{REFERENCES[s.reference][1].capitalize()} ({unit})", entry_unit=unit,
            captured=self.capture is not None, entered=self.entry_text, pending_action=self.pending_action,
            points=tuple(self.points), message=self.message, result=self.result, refusal=self.refusal)

    # ---------------------------------------------------------------- internals
    def _previous_force(self) -> float | None:
        loads = [p.force_n for p in self.points if p.force_n > 0]
        return self.points[-1].force_n if self.points and self.points[-1].force_n > 0 else (loads[-1] if loads else None)

    def _fmt_ref(self, newtons: float) -> str:
        unit = self.settings.unit_key
        return f"{units.n_to_reference(newtons, unit):g} {unit}"

    def _moved_enough(self, mean: float) -> tuple[bool, str]:
        """Has the reading moved the right way since the last point (so this is a new load)?"""
        step = self.step
        if step == Step.ZERO or not self.points:
            return True, ""
        last = self.points[-1].raw
        zero = self.zero_raw if self.zero_raw is not None else self.points[0].raw
        floor = max(30.0 * self.noise_sd, 20.0)
        need = max(self.settings.min_step * abs(last - zero), floor)
        delta = mean - last
        if step == Step.LOAD:
            if self.sign == 0:
                if abs(delta) < need:
                    return False, "The reading has not changed since the sensor was unloaded: put the first load on."
                return True, ""
            if self.sign * delta < need:
                return False, "The reading is not above the last load's yet: add more load (or press harder)."
            return True, ""
        # unloading, and the last zero
        if self.sign * delta > -need:
            return False, "The reading is not below the last load's yet: take some load off (or press less)."
        return True, ""

    def _maybe_complete(self) -> None:
        if self.capture is None or self.entry_n is None:
            return
        item = self.item
        cap = self.capture
        if item.step == Step.LOAD and self.sign == 0 and self.zero_raw is not None:
            self.sign = 1.0 if cap.mean_raw >= self.zero_raw else -1.0
        self.points.append(Point(raw=cap.mean_raw, force_n=float(self.entry_n), direction=item.direction,
                                 sd=cap.sd_raw, n=cap.n, saturated=cap.saturated))
        self._advance()

    def _advance(self) -> None:
        self.capture = None
        self.entry_n = None
        self.entry_text = ""
        self._i += 1
        self.detector.reset()
        if self._i < len(self.plan):
            # an unloaded FSR divider rests at a rail: not saturation while it is meant to be unloaded
            zero_step = self.plan[self._i].step in (Step.ZERO, Step.END_ZERO)
            self.detector.raw_limits = None if (zero_step and self.settings.model == FSR) else self.settings.raw_limits
        if self._i < len(self.plan) and self.plan[self._i].step == Step.END_ZERO:
            self.entry_n = 0.0  # nothing to type: unloaded is zero
            self.entry_text = "0 (unloaded)"
        if self._i >= len(self.plan):
            self._fit()

    def _fit(self) -> None:
        try:
            self.result = fit_points(self.points, self.settings.model, tolerance=self.settings.tolerance,
                                     raw_limits=self.settings.raw_limits)
            self.final = Step.DONE
        except CalibrationRefused as exc:
            self.refusal = exc.reason
            self.refusal_code = exc.code
            self.result_refused = exc.result
            self.final = Step.REFUSED

    def _suggest(self, fraction: float) -> str:
        top = self.settings.top_load
        if top is None:
            return ""
        return f" (about {top * fraction:.3g} {self.settings.unit_key})"

    def _title_for(self, item: PlanItem) -> str:
        return {
            Step.CONDITION: "Condition the FSR",
            Step.ZERO: "Zero: unloaded",
            Step.LOAD: f"Load {item.index} of {item.of}",
            Step.UNLOAD: f"Unloading {item.index} of {item.of}",
            Step.END_ZERO: "Back to zero",
        }[item.step]

    def _instruction_for(self, item: PlanItem) -> str:
        s = self.settings
        ref = s.reference
        unit = s.unit_key
        n = int(s.n_loads)
        if item.step == Step.CONDITION:
            top = f" (about {s.top_load * 1.1:.3g} {unit})" if s.top_load else ""
            return (f"Condition the FSR: with the real tip on a surface like the one you will press, press to "
                    f"about 110 % of your top load{top} and let go, {s.conditioning_presses} times. "
                    f"Presses counted: {self._cond.presses} of {s.conditioning_presses}.")
        if item.step == Step.ZERO:
            if self.pending_action == "tare":
                return "Zero: steady — taring the device; keep the sensor unloaded."
            return "Zero: take everything off the sensor and do not touch it until the reading is steady."
        if item.step == Step.END_ZERO:
            return "Last step: take everything off the sensor again and let it settle."
        if item.step == Step.LOAD:
            what = self._suggest(item.index / n)
            if ref == "masses":
                act = f"put a known mass on the sensor{what}, heavier than the last, and type its mass in {unit}"
            elif ref == "scale":
                act = (f"press the probe straight down onto the scale{what}, harder than last time, and hold still")
            else:
                act = f"press through the reference gauge{what}, harder than last time, and hold still"
        else:
            what = self._suggest((n - item.index) / n)
            if ref == "masses":
                act = f"take some mass off{what} and type the mass now on the sensor in {unit}"
            elif ref == "scale":
                act = f"press less hard on the scale{what} and hold still"
            else:
                act = f"press less hard through the gauge{what} and hold still"
        act = act[0].upper() + act[1:]
        if self.capture is not None and self.entry_n is None:
            reading = "the mass" if ref == "masses" else f"what the {'scale' if ref == 'scale' else 'gauge'} read"
            return f"Recorded. Now type {reading}, in {unit} (you can let go)."
        if self.entry_n is not None and self.capture is None:
            return f"{act}. Entered {self.entry_text}; waiting for a steady reading."
        if ref == "masses":
            return f"{act}."
        return f"{act}. When the reading is steady it is recorded; then type {REFERENCES[ref][1]} in {unit}."


# --------------------------------------------------------------------------- without hardware

SIM_TOP_N = 40.0  # a setting: the simulated device's suggested top load (thumb forces reach 90–130 N, domain notes)
SIM_FORCE_RANGE_N = (-1000.0, 1000.0)  # the simulated sensor's `sim force` range (docs/firmware.md)


def sim_force_command(newtons: float, ramp_s: float = 0.0) -> str:
    """The firmware command that sets the simulated device's force (``sim force N RAMP_S``,
    docs/firmware.md); UserError when it is not a force the simulated sensor takes."""
    try:
        n, ramp = float(newtons), float(ramp_s)
    except (TypeError, ValueError):
        raise UserError(f"{newtons!r} is not a force: give newtons, e.g. 20") from None
    lo, hi = SIM_FORCE_RANGE_N
    if not (math.isfinite(n) and lo <= n <= hi):
        raise UserError(f"{newtons!r} N is not a force the simulated sensor takes: give {lo:g} to {hi:g} N")
    if not (math.isfinite(ramp) and 0.0 <= ramp <= 60.0):
        raise UserError(f"a ramp of {ramp_s!r} s: give 0 to 60 s")
    return f"sim force {n:g} {ramp:g}"


def sim_suggestion_n(wiz: "CalibrationWizard", top_n: float | None = None) -> float | None:
    """The force (N) to put on the simulated device for the wizard's current step: 0 for the zeros,
    evenly spaced loads up to ``top_n`` (the wizard's own top load if set, else SIM_TOP_N) going up,
    the same loads coming down; None when the step needs none (finished, FSR conditioning)."""
    item = wiz.item
    if item is None or item.step == Step.CONDITION:
        return None
    if item.step in (Step.ZERO, Step.END_ZERO):
        return 0.0
    s = wiz.settings
    if top_n is None:
        top_n = units.reference_to_n(s.top_load, s.unit_key) if s.top_load else SIM_TOP_N
    n = int(s.n_loads)
    k = item.index if item.step == Step.LOAD else n - item.index
    return round(top_n * k / n, 1)


def sim_hint(wiz: "CalibrationWizard", top_n: float | None = None) -> str:
    """One line for the terminal on the simulated device: what to type for this step."""
    force = sim_suggestion_n(wiz, top_n)
    if force is None:
        return ""
    if wiz.step in (Step.ZERO, Step.END_ZERO):
        return "simulated device: type !sim force 0 (or sim) to unload it"
    unit = wiz.settings.unit_key
    ref = units.n_to_reference(force, unit)
    return (f"simulated device: type !sim force {force:g} (or sim) to press it with {force:g} N, "
            f"then the reference {ref:.4g} {unit}")


class _PressCounter:
    """Counts presses (up past 60 % of the largest excursion seen, back below 20 %) for conditioning."""

    def __init__(self, wanted: int, raw_limits: tuple[float, float] | None):
        self.wanted = int(wanted)
        self.presses = 0
        self.baseline: float | None = None
        self.noise = 1.0
        self._first: list[np.ndarray] = []
        self._max = 0.0
        self._up = False
        span = (raw_limits[1] - raw_limits[0]) if raw_limits else 65535.0
        self._min_excursion = 0.01 * span

    def feed(self, t: np.ndarray, raw: np.ndarray) -> bool:
        if self.baseline is None:
            self._first.append(raw)
            first = np.concatenate(self._first)
            if first.size < 5:
                return False
            self.baseline = float(np.median(first[:20]))
            self.noise = max(1.0, robust_noise(first[:20]))
        exc = np.abs(raw - self.baseline)
        floor = max(self._min_excursion, 30 * self.noise)
        for e in exc:
            if e > self._max:
                self._max = float(e)
            if self._max < floor:
                continue
            if not self._up and e > 0.6 * self._max:
                self._up = True
            elif self._up and e < 0.2 * self._max:
                self._up = False
                self.presses += 1
                if self.presses >= self.wanted:
                    return True
        return False


# --------------------------------------------------------------------------- after calibrating


class VerificationRun:
    """Apply a known load; compare the calibrated reading with it against the stated tolerance."""

    def __init__(self, converter: Converter, tolerance_n: float, *, unit: str = "kg",
                 criterion: StabilityCriterion | None = None):
        self.converter = converter
        self.tolerance_n = float(tolerance_n)
        self.unit = units.reference_unit(unit)
        self.detector = StabilityDetector(criterion or StabilityCriterion(), raw_limits=converter.raw_limits,
                                          baseline_raw=float(converter.model.raw_for(0.0)) + converter.shift)
        self.reading_n: float | None = None
        self.reference_n: float | None = None
        self.reference_text = ""
        self.result: dict | None = None

    def feed(self, t, raw) -> None:
        if self.reading_n is not None:
            return
        st = self.detector.feed(t, raw)
        if st.stable and st.mean_raw is not None:
            force = float(self.converter.force_n(np.array([st.mean_raw]))[0])
            if force > max(3 * (self.converter.stated_error_n or 0.0), 0.02 * self.converter.range_n[1]):
                self.reading_n = force
                self._maybe_finish()

    def enter_reference(self, text) -> float:
        value, unit = parse_reference(text, self.unit)
        force = units.reference_to_n(value, unit)
        if force <= 0:
            raise UserError("verify with a load above zero (the zero-drift check covers zero)")
        self.reference_n = force
        self.reference_text = f"{value:g} {unit}"
        self._maybe_finish()
        return force

    def _maybe_finish(self) -> None:
        if self.reading_n is None or self.reference_n is None:
            return
        err = self.reading_n - self.reference_n
        self.result = {"date": _iso(utc_now()), "reference": self.reference_text,
                       "reference_n": round(self.reference_n, 4), "reading_n": round(self.reading_n, 4),
                       "error_n": round(err, 4), "tolerance_n": round(self.tolerance_n, 4),
                       "within_tolerance": bool(abs(err) <= self.tolerance_n),
                       "in_range": not bool(self.converter.out_of_range(np.array([self.reading_n]))[0])}

    def text(self) -> str:
        if self.result:
            r = self.result
            verdict = "within" if r["within_tolerance"] else "OUTSIDE"
            return (f"Reference {r['reference_n']:.2f} N, sensor read {r['reading_n']:.2f} N: error "
                    f"{r['error_n']:+.2f} N, {verdict} the stated tolerance ±{r['tolerance_n']:.2f} N.")
        if self.reading_n is not None:
            return f"Recorded {self.reading_n:.2f} N. Type the reference ({self.unit})."
        return ("Apply a known load and hold it still; " + self.detector.status().text
                + (f" Reference entered: {self.reference_text}." if self.reference_text else ""))


class DriftRun:
    """Zero drift: the unloaded reading watched for ``duration_s`` (a minute by default)."""

    EDGE_S = 5.0  # the drift is the mean of the last 5 s minus the mean of the first 5 s

    def __init__(self, converter: Converter, *, duration_s: float = 60.0, limit_n: float | None = None):
        if not duration_s >= 2 * self.EDGE_S:
            raise UserError(f"the drift check needs at least {2 * self.EDGE_S:g} s")
        self.converter = converter
        self.duration_s = float(duration_s)
        self.limit_n = float(limit_n if limit_n is not None else (converter.stated_error_n or 0.0) or 0.1)
        self._t: list[np.ndarray] = []
        self._f: list[np.ndarray] = []
        self.t0: float | None = None
        self.elapsed_s = 0.0
        self.result: dict | None = None

    def feed(self, t, raw) -> None:
        if self.result is not None:
            return
        t = np.asarray(t, dtype=np.float64)
        if t.size == 0:
            return
        if self.t0 is None:
            self.t0 = float(t[0])
        self._t.append(t)
        self._f.append(self.converter.force_n(raw))
        self.elapsed_s = float(t[-1]) - self.t0
        if self.elapsed_s >= self.duration_s:
            self._finish()

    def _finish(self) -> None:
        t = np.concatenate(self._t)
        f = np.concatenate(self._f)
        first = f[t <= self.t0 + self.EDGE_S]
        last = f[t >= t[-1] - self.EDGE_S]
        start, end = float(first.mean()), float(last.mean())
        drift = end - start
        loaded = abs(start) > max(3 * self.limit_n, 0.05 * self.converter.range_n[1])
        self.result = {"date": _iso(utc_now()), "duration_s": round(self.elapsed_s, 2), "start_n": round(start, 4),
                       "end_n": round(end, 4), "drift_n": round(drift, 4),
                       "max_dev_n": round(float(np.abs(f - start).max()), 4), "limit_n": round(self.limit_n, 4),
                       "ok": bool(abs(drift) <= self.limit_n and not loaded), "loaded": bool(loaded)}

    def text(self) -> str:
        if self.result:
            r = self.result
            if r["loaded"]:
                return (f"The reading started at {r['start_n']:.2f} N, not near zero: the sensor was loaded or needs "
                        "a tare. Tare it unloaded and check again.")
            verdict = "ok" if r["ok"] else "too much"
            return (f"Zero drift {r['drift_n']:+.3f} N over {r['duration_s']:.0f} s ({verdict}: limit "
                    f"±{r['limit_n']:.2f} N, the calibration's stated error).")
        return (f"Leave the sensor unloaded and untouched: {self.elapsed_s:.0f} of {self.duration_s:.0f} s.")


class ZeroCheck:
    """At connect: after the warm-up, does the unloaded reading come near zero? If it never does and
    sits steady away from zero, offer a tare (once)."""

    def __init__(self, tolerance_n: float, *, warmup_s: float = 2.0, watch_s: float = 10.0):
        self.tolerance_n = float(tolerance_n)
        self.warmup_s = warmup_s
        self.watch_s = watch_s
        self.t0: float | None = None
        self.state = "warming"  # warming | checking | ok | offer | closed
        self.offset_n: float | None = None
        self._recent: list[tuple[float, float]] = []

    def feed(self, t, force_n) -> str:
        t = np.asarray(t, dtype=np.float64)
        f = np.asarray(force_n, dtype=np.float64)
        if self.state in ("ok", "offer", "closed") or t.size == 0:
            return self.state
        if self.t0 is None:
            self.t0 = float(t[0])
        keep = t >= self.t0 + self.warmup_s
        if not keep.any():
            return self.state
        self.state = "checking"
        t, f = t[keep], f[keep]
        # 0.2 s means: a near-zero moment counts only if it lasts (not a noise spike)
        bins = np.floor((t - self.t0) / 0.2)
        for b in np.unique(bins):
            m = float(f[bins == b].mean())
            self._recent.append((float(t[bins == b][-1]), m))
            if abs(m) <= self.tolerance_n:
                self.state = "ok"
                return self.state
        self._recent = [(tt, m) for tt, m in self._recent if tt >= self._recent[-1][0] - 1.0]
        if float(t[-1]) - self.t0 >= self.warmup_s + self.watch_s and len(self._recent) >= 3:
            means = np.array([m for _, m in self._recent])
            if np.ptp(means) <= max(self.tolerance_n, 0.02 * abs(means.mean())):
                self.offset_n = float(means.mean())
                self.state = "offer"
        return self.state

    def close(self) -> None:
        self.state = "closed"

    def text(self) -> str:
        if self.state == "offer" and self.offset_n is not None:
            return (f"With nothing pressing it, the sensor should read 0 N, but it reads {self.offset_n:.2f} N. "
                    "If nothing touches the sensor, tare it now.")
        return ""


def zero_tolerance_n(converter: Converter | None) -> float:
    """How far from zero an unloaded reading may sit before a tare is offered."""
    if converter is None:
        return 0.5
    top = converter.range_n[1] if math.isfinite(converter.range_n[1]) else 100.0
    return max(0.2, 2 * (converter.stated_error_n or 0.0), 0.01 * top)
