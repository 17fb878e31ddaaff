"""Calibration models and the fit that every path (wizard, GUI, ``pointdose calibrate fit``) uses.

A model turns a raw reading (counts) into newtons. Two kinds:

* :class:`LinearModel` — load cells (HX711): ``F = (raw - zero_raw) / counts_per_n``; both the
  slope and the offset are fitted (least squares in newtons, the unit the pass criterion uses).
* :class:`FsrModel` — force-sensing resistors read through a voltage divider on an ADC:
  ``F = a · q^b`` with ``q = d / (S - d)``, ``d = sign · (raw - zero_raw)`` the reading above the
  unloaded one and ``S = sign · (rail - zero_raw)`` the distance to the rail the reading approaches
  as the FSR's resistance falls to nothing. For a divider, ``q`` is proportional to the FSR's
  conductance, and an FSR's conductance is roughly proportional to force (a power law, ``b``
  near 1; domain notes, "Sensors and boards", Interlink FSR 402). Two parameters, monotone by
  construction when ``b > 0``, zero at the unloaded reading. Why this model: docs/calibration.md.

:func:`fit_points` fits one of them to reference points and either returns a :class:`FitResult`
(per-point residuals, max error in N and % of the calibrated full scale, hysteresis, R²) or raises
:class:`CalibrationRefused` with a reason a therapist can act on. R² is reported, never the pass
criterion: the pass criterion is the maximum error against a tolerance the user sets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pointdose.errors import UserError

LINEAR = "linear"
FSR = "fsr"
MODEL_KINDS = (LINEAR, FSR)
LOAD = "load"
UNLOAD = "unload"

MIN_LOADS = 3  # the issue: at least 3 loads
# Default tolerances on the maximum error, % of calibrated full scale. A load cell read against a
# kitchen/bathroom scale (resolution ~0.1–1 % of a clinical full scale) fits within ~1 %; FSRs give
# ±5–25 % force accuracy with ~10 % hysteresis (domain notes, "Sensors and boards"), so 15 % is
# the default there. Both are settings.
DEFAULT_TOLERANCE_PCT = {LINEAR: 2.0, FSR: 15.0}
HX711_RAW = (-8388608, 8388607)  # signed 24-bit (docs/protocol.md, DATA)
ADC_RAW = (0, 65535)  # read_u16


class CalibrationRefused(UserError):
    """The points cannot give a calibration worth trusting; ``code`` names the kind of problem."""

    def __init__(self, code: str, reason: str, result: "FitResult | None" = None):
        super().__init__(f"calibration refused ({code.replace('_', ' ')}): {reason}")
        self.code = code
        self.reason = reason
        self.result = result  # the fit, when the refusal came after fitting (max error too large)


# --------------------------------------------------------------------------- points


@dataclass(frozen=True)
class Point:
    """One reference point: the mean raw reading while a known force was applied."""

    raw: float
    force_n: float
    direction: str = LOAD  # "load" on the way up, "unload" on the way down
    sd: float | None = None  # standard deviation of the raw reading while it was recorded, counts
    n: int | None = None  # samples averaged
    saturated: bool = False  # a sample touched the sensor's limit while recorded
    stable: bool = True

    def to_dict(self) -> dict:
        d = {"raw": _round(self.raw, 7), "force_n": _round(self.force_n, 6), "direction": self.direction}
        if self.sd is not None:
            d["sd"] = _round(self.sd, 3)
        if self.n is not None:
            d["n"] = int(self.n)
        if self.saturated:
            d["saturated"] = True
        if not self.stable:
            d["stable"] = False
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Point":
        return cls(raw=float(d["raw"]), force_n=float(d["force_n"]), direction=str(d.get("direction", LOAD)),
                   sd=None if d.get("sd") is None else float(d["sd"]), n=None if d.get("n") is None else int(d["n"]),
                   saturated=bool(d.get("saturated", False)), stable=bool(d.get("stable", True)))


def _round(x: float, digits: int) -> float:
    """``x`` to ``digits`` significant digits (JSON that stays small and readable)."""
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class LinearModel:
    """``F = (raw - zero_raw) / counts_per_n`` (counts_per_n may be negative: a cell wired the other way)."""

    counts_per_n: float
    zero_raw: float
    kind: str = field(default=LINEAR, init=False)

    def force_n(self, raw) -> np.ndarray:
        return (np.asarray(raw, dtype=np.float64) - self.zero_raw) / self.counts_per_n

    def raw_for(self, force_newtons) -> np.ndarray:
        return self.zero_raw + np.asarray(force_newtons, dtype=np.float64) * self.counts_per_n

    def slope_n_per_count(self, raw) -> np.ndarray:
        return np.full(np.shape(raw), 1.0 / self.counts_per_n)

    def params(self) -> dict:
        return {"counts_per_n": _round(self.counts_per_n, 9), "zero_raw": _round(self.zero_raw, 9)}

    def describe(self) -> str:
        return f"linear: {abs(self.counts_per_n):,.1f} counts per N, zero at {self.zero_raw:,.0f} counts"


@dataclass(frozen=True)
class FsrModel:
    """``F = a · q^b``, ``q = d / (S - d)``, ``d = sign·(raw - zero_raw)``, ``S = sign·(rail - zero_raw)``."""

    a: float
    b: float
    zero_raw: float
    rail: float
    kind: str = field(default=FSR, init=False)

    @property
    def sign(self) -> float:
        return 1.0 if self.rail > self.zero_raw else -1.0

    @property
    def span(self) -> float:
        return abs(self.rail - self.zero_raw)

    def q(self, raw) -> np.ndarray:
        d = self.sign * (np.asarray(raw, dtype=np.float64) - self.zero_raw)
        s = self.span
        d = np.clip(d, 0.0, s * (1 - 1e-6))  # below the unloaded reading is no force; at the rail, saturated
        return d / (s - d)

    def force_n(self, raw) -> np.ndarray:
        return self.a * np.power(self.q(raw), self.b)

    def raw_for(self, force_newtons) -> np.ndarray:
        f = np.maximum(np.asarray(force_newtons, dtype=np.float64), 0.0)
        q = np.power(f / self.a, 1.0 / self.b)
        d = self.span * q / (1.0 + q)
        return self.zero_raw + self.sign * d

    def slope_n_per_count(self, raw) -> np.ndarray:
        """dF/d(raw), for turning a reading's noise (counts) into newtons."""
        d = self.sign * (np.asarray(raw, dtype=np.float64) - self.zero_raw)
        s = self.span
        d = np.clip(d, 1e-9 * s, s * (1 - 1e-6))
        q = d / (s - d)
        dq = s / (s - d) ** 2
        return np.abs(self.a * self.b * np.power(q, self.b - 1) * dq)

    def params(self) -> dict:
        return {"a": _round(self.a, 9), "b": _round(self.b, 9), "zero_raw": _round(self.zero_raw, 9),
                "rail": _round(self.rail, 9)}

    def describe(self) -> str:
        return f"FSR power law: F = {self.a:.4g} N × q^{self.b:.3f} (q: divider conductance ratio)"


Model = LinearModel | FsrModel


def model_from_dict(kind: str, params: dict) -> Model:
    """Rebuild a model from ``(kind, params)`` as stored in a calibration record."""
    try:
        if kind == LINEAR:
            model = LinearModel(float(params["counts_per_n"]), float(params["zero_raw"]))
            ok = model.counts_per_n != 0 and math.isfinite(model.counts_per_n) and math.isfinite(model.zero_raw)
        elif kind == FSR:
            model = FsrModel(float(params["a"]), float(params["b"]), float(params["zero_raw"]), float(params["rail"]))
            ok = model.a > 0 and model.b > 0 and model.span > 0
        else:
            raise ValueError(f"unknown model kind {kind!r} (expected {' or '.join(MODEL_KINDS)})")
    except (KeyError, TypeError) as exc:
        raise ValueError(f"model {kind!r} is missing or has a bad parameter ({exc})") from None
    if not ok:
        raise ValueError(f"model {kind!r} has parameters that cannot convert readings: {params}")
    return model


# --------------------------------------------------------------------------- tolerance and result


@dataclass(frozen=True)
class Tolerance:
    """The largest error a calibration may have: ``n`` newtons if given, else ``pct_fs`` of full scale."""

    pct_fs: float | None = None
    n: float | None = None

    def limit_n(self, full_scale_n: float, model_kind: str = LINEAR) -> float:
        if self.n is not None:
            return float(self.n)
        pct = self.pct_fs if self.pct_fs is not None else DEFAULT_TOLERANCE_PCT[model_kind]
        return pct / 100.0 * full_scale_n

    def describe(self, full_scale_n: float, model_kind: str = LINEAR) -> str:
        limit = self.limit_n(full_scale_n, model_kind)
        if self.n is not None:
            return f"±{limit:.2f} N"
        pct = self.pct_fs if self.pct_fs is not None else DEFAULT_TOLERANCE_PCT[model_kind]
        return f"±{limit:.2f} N ({pct:g} % of {full_scale_n:.1f} N full scale)"

    def validate(self) -> "Tolerance":
        for name, value in (("tolerance %", self.pct_fs), ("tolerance N", self.n)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise UserError(f"{name} must be a positive number, not {value!r}")
        return self


@dataclass(frozen=True)
class FitResult:
    model: Model
    points: tuple[Point, ...]
    predicted_n: np.ndarray
    error_n: np.ndarray  # predicted - reference, N
    r2: float
    max_error_n: float
    full_scale_n: float  # the largest reference force: the top of the calibrated range
    hysteresis_n: float | None  # None: no unloading points to compare
    tolerance_n: float

    @property
    def max_error_pct_fs(self) -> float:
        return 100.0 * self.max_error_n / self.full_scale_n

    @property
    def hysteresis_pct_fs(self) -> float | None:
        return None if self.hysteresis_n is None else 100.0 * self.hysteresis_n / self.full_scale_n

    @property
    def range_n(self) -> tuple[float, float]:
        forces = [p.force_n for p in self.points]
        return (min(0.0, min(forces)), max(forces))

    def summary(self) -> str:
        hyst = ("not measured (no unloading points)" if self.hysteresis_n is None
                else f"{self.hysteresis_n:.2f} N ({self.hysteresis_pct_fs:.1f} % of full scale)")
        return (f"model {self.model.kind}; max error {self.max_error_n:.2f} N "
                f"({self.max_error_pct_fs:.1f} % of {self.full_scale_n:.1f} N full scale, tolerance "
                f"±{self.tolerance_n:.2f} N); hysteresis {hyst}; R² {self.r2:.5f}")

    def to_dict(self) -> dict:
        """The JSON form ``pointdose calibrate fit --json`` prints."""
        return {
            "model": self.model.kind,
            "params": self.model.params(),
            "r2": self.r2,
            "max_error_n": self.max_error_n,
            "max_error_pct_fs": self.max_error_pct_fs,
            "hysteresis_n": self.hysteresis_n,
            "hysteresis_pct_fs": self.hysteresis_pct_fs,
            "full_scale_n": self.full_scale_n,
            "range_n": list(self.range_n),
            "tolerance_n": self.tolerance_n,
            "points": [{"raw": p.raw, "force_n": p.force_n, "direction": p.direction,
                        "predicted_n": float(pred), "error_n": float(err)}
                       for p, pred, err in zip(self.points, self.predicted_n, self.error_n)],
        }


# --------------------------------------------------------------------------- checks


def _check_points(points: list[Point], raw_limits: tuple[float, float] | None, model: str = LINEAR) -> None:
    for i, p in enumerate(points, 1):
        if not (math.isfinite(p.raw) and math.isfinite(p.force_n)):
            raise CalibrationRefused("bad_point", f"point {i} has a reading or force that is not a number")
        if p.force_n < 0:
            raise CalibrationRefused("bad_point", f"point {i} has a negative force ({p.force_n:g} N): "
                                                  "references are loads pressing the sensor")
        if p.direction not in (LOAD, UNLOAD):
            raise CalibrationRefused("bad_point", f"point {i}: direction must be load or unload, not {p.direction!r}")
    loads = _distinct([p.force_n for p in points if p.force_n > 0])
    if len(loads) < MIN_LOADS:
        raise CalibrationRefused(
            "too_few_points",
            f"{len(loads)} different load{'s' if len(loads) != 1 else ''} above zero; at least {MIN_LOADS} are needed "
            "(spread over the range you will use, e.g. a third, two thirds and all of your top load)")
    if model == FSR and not any(p.force_n == 0 for p in points):
        # The model is zero force at the unloaded reading and nowhere else; the lightest load cannot
        # stand in for it: that load would read ~0 N (on a simulated divider FSR fitted that way, 0.5 N
        # read back as 0.002 N and 1 N as 0.69 N).
        raise CalibrationRefused(
            "no_zero", "the FSR model needs the reading with nothing on the sensor, and no point has force 0: "
            "add an unloaded reading (a row with force 0, probe resting free) and fit again")
    for i, p in enumerate(points, 1):
        if model == FSR and p.force_n == 0:
            continue  # an unloaded FSR divider rests at a rail: that is its zero, not saturation
        saturated = p.saturated
        if raw_limits is not None and not saturated:
            saturated = p.raw <= raw_limits[0] or p.raw >= raw_limits[1]
        if saturated:
            raise CalibrationRefused(
                "saturated", f"the reading at {p.force_n:.1f} N (point {i}) is at the sensor's limit, so the force "
                "there is unknown: use smaller loads, or a lower amplifier gain")
        if not p.stable:
            raise CalibrationRefused("unstable", f"the reading at {p.force_n:.1f} N (point {i}) was not steady when "
                                                 "it was recorded: hold the load still and record it again")


def _distinct(forces: list[float]) -> list[float]:
    """Forces that differ from each other by more than 1 % of the largest (repeats count once)."""
    out: list[float] = []
    top = max(forces, default=0.0)
    for f in sorted(forces):
        if not out or f - out[-1] > 0.01 * top:
            out.append(f)
    return out


def _direction_of(points: list[Point]) -> float:
    """+1 when readings grow with force, -1 when they fall (from a least-squares slope)."""
    f = np.array([p.force_n for p in points])
    r = np.array([p.raw for p in points])
    slope = np.polyfit(f, r, 1)[0] if np.ptp(f) > 0 else 0.0
    return 1.0 if slope >= 0 else -1.0


def _check_monotonic(points: list[Point], sign: float) -> None:
    """Within each direction, a larger force must give a reading further from zero."""
    top = max(p.force_n for p in points)
    for direction in (LOAD, UNLOAD):
        branch = sorted((p for p in points if p.direction == direction), key=lambda p: p.force_n)
        for lo, hi in zip(branch, branch[1:]):
            if hi.force_n - lo.force_n <= 0.01 * top:
                continue  # the same load twice: noise may order them either way
            if sign * (hi.raw - lo.raw) <= 0:
                raise CalibrationRefused(
                    "non_monotonic",
                    f"while {'loading' if direction == LOAD else 'unloading'}, {hi.force_n:.1f} N gave a reading "
                    f"({hi.raw:,.0f}) that is not beyond the reading at {lo.force_n:.1f} N ({lo.raw:,.0f}): check "
                    "the reference values you entered, that the probe presses only the sensor, and the wiring")


def hysteresis_n(points: list[Point], error_n: np.ndarray) -> float | None:
    """The largest loading-vs-unloading difference at the same load, N.

    At each unloading point's reference force, the loading branch's error is interpolated
    (linearly between loading points); the difference of the two errors is the difference of the
    two readings at that same load. ``None`` when there are no unloading points or no loading points
    around them.
    """
    load = [(p.force_n, e) for p, e in zip(points, error_n) if p.direction == LOAD]
    unload = [(p.force_n, e) for p, e in zip(points, error_n) if p.direction == UNLOAD]
    if len(load) < 2 or not unload:
        return None
    load.sort()
    lf = np.array([f for f, _ in load])
    le = np.array([e for _, e in load])
    # average repeated forces on the loading branch so interp sees strictly increasing x
    uf, idx = np.unique(lf, return_inverse=True)
    ue = np.bincount(idx, weights=le) / np.bincount(idx)
    diffs = [abs(e - np.interp(f, uf, ue)) for f, e in unload if uf[0] - 1e-9 <= f <= uf[-1] + 1e-9]
    return float(max(diffs)) if diffs else None


# --------------------------------------------------------------------------- fitting


def _fit_linear(points: list[Point]) -> LinearModel:
    f = np.array([p.force_n for p in points])
    r = np.array([p.raw for p in points])
    # least squares in newtons: F = c0 + c1·raw, so the residuals minimised are the errors judged
    c1, c0 = np.polyfit(r, f, 1)
    if c1 == 0 or not math.isfinite(c1):
        raise CalibrationRefused("non_monotonic", "the reading does not change with the load: is the sensor connected?")
    return LinearModel(counts_per_n=1.0 / c1, zero_raw=-c0 / c1)


def _zero_raw(points: list[Point]) -> float:
    """The unloaded reading: the mean of the force-0 points (``_check_points`` made sure there is one)."""
    return float(np.mean([p.raw for p in points if p.force_n == 0]))


def _fit_fsr(points: list[Point], sign: float, raw_limits: tuple[float, float]) -> FsrModel:
    rail = float(raw_limits[1] if sign > 0 else raw_limits[0])
    zero = _zero_raw(points)
    proto = FsrModel(1.0, 1.0, zero, rail)
    if proto.span <= 0:
        raise CalibrationRefused("bad_point", "the unloaded reading is at the sensor's limit: check the divider wiring")
    loaded = [p for p in points if p.force_n > 0]
    q = proto.q([p.raw for p in loaded])
    f = np.array([p.force_n for p in loaded])
    usable = q > 0
    if usable.sum() < 2:
        raise CalibrationRefused("non_monotonic", "the loaded readings are not above the unloaded one: is the FSR connected?")
    # start: a straight line in log–log (a power law), then Gauss–Newton on the errors in newtons
    b, log_a = np.polyfit(np.log(q[usable]), np.log(f[usable]), 1)
    a = math.exp(log_a)
    all_q = proto.q([p.raw for p in points])
    all_f = np.array([p.force_n for p in points])
    for _ in range(50):
        pred = a * np.power(all_q, b)
        resid = pred - all_f
        with np.errstate(divide="ignore"):
            logq = np.where(all_q > 0, np.log(np.where(all_q > 0, all_q, 1.0)), 0.0)
        jac = np.column_stack([np.power(all_q, b), a * np.power(all_q, b) * logq])
        step, *_ = np.linalg.lstsq(jac, -resid, rcond=None)
        if not np.all(np.isfinite(step)):
            break
        # halve the step until the squared error falls (keeps a > 0 and b > 0)
        old = float(resid @ resid)
        for _ in range(30):
            na, nb = a + step[0], b + step[1]
            if na > 0 and nb > 0:
                nres = na * np.power(all_q, nb) - all_f
                if float(nres @ nres) <= old:
                    break
            step = step / 2
        else:
            break
        a, b = na, nb
        if np.max(np.abs(step) / np.maximum(np.abs([a, b]), 1e-12)) < 1e-10:
            break
    if not (b > 0 and a > 0):
        raise CalibrationRefused("non_monotonic", "the readings do not grow with the load as an FSR's should")
    return FsrModel(a=float(a), b=float(b), zero_raw=zero, rail=rail)


def fit_points(points, model: str = LINEAR, *, tolerance: Tolerance | None = None,
               raw_limits: tuple[float, float] | None = None, stability_check: bool = True) -> FitResult:
    """Fit ``model`` ("linear" or "fsr") to ``points``; raise :class:`CalibrationRefused` when unusable.

    ``raw_limits``: the sensor's raw range (readings at either end are saturated); for the FSR model
    it also gives the rail (default 0 … 65535, the ADC's ``read_u16``). Refusals, in the order they
    are checked: a bad point, too few loads, (FSR) no unloaded point, a saturated point, an unsteady point (flagged, or a
    recorded spread ``2·sd`` wider than the tolerance), non-monotonic readings, and a maximum error
    above the tolerance.
    """
    if model not in MODEL_KINDS:
        raise UserError(f"unknown model {model!r}: choose linear (load cell) or fsr (force-sensing resistor)")
    pts = [p if isinstance(p, Point) else Point.from_dict(p) for p in points]
    tolerance = (tolerance or Tolerance()).validate()
    if raw_limits is None and model == FSR:
        raw_limits = ADC_RAW
    _check_points(pts, raw_limits, model)
    sign = _direction_of(pts)
    _check_monotonic(pts, sign)
    fitted = _fit_linear(pts) if model == LINEAR else _fit_fsr(pts, sign, raw_limits)
    raws = np.array([p.raw for p in pts])
    forces = np.array([p.force_n for p in pts])
    predicted = fitted.force_n(raws)
    error = predicted - forces
    ss_res = float(error @ error)
    ss_tot = float(((forces - forces.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    full_scale = float(forces.max())
    limit = tolerance.limit_n(full_scale, model)
    result = FitResult(model=fitted, points=tuple(pts), predicted_n=predicted, error_n=error, r2=r2,
                       max_error_n=float(np.abs(error).max()), full_scale_n=full_scale,
                       hysteresis_n=hysteresis_n(pts, error), tolerance_n=limit)
    if stability_check:
        for i, p in enumerate(pts, 1):
            if p.sd is None:
                continue
            sd_n = float(p.sd * fitted.slope_n_per_count(np.array([p.raw]))[0])
            if 2 * sd_n > limit:
                raise CalibrationRefused(
                    "unstable", f"the reading at {p.force_n:.1f} N (point {i}) wandered by ±{2 * sd_n:.2f} N while it "
                    f"was recorded, more than the ±{limit:.2f} N tolerance: hold the load still (or check for "
                    "electrical noise) and record it again", result)
    if result.max_error_n > limit:
        worst = int(np.argmax(np.abs(error)))
        raise CalibrationRefused(
            "max_error",
            f"the largest error is {result.max_error_n:.2f} N ({result.max_error_pct_fs:.1f} % of full scale, at "
            f"{pts[worst].force_n:.1f} N), above the tolerance of {tolerance.describe(full_scale, model)}: check the "
            "reference readings, record again, or (if this accuracy is enough for your use) raise the tolerance",
            result)
    return result
