"""The calibration record: what was calibrated, how, how well; and how readings go through it.

A :class:`CalibrationRecord` belongs to one sensor configuration (:class:`SensorConfig`: sensor
kind, amplifier gain/channel, probe) on one device (its uid). It keeps the date, the reference
used, the points, the model and its parameters, the stated error (the fit's maximum error), the
calibrated range, and the verifications and zero-drift checks made later. Its dict form
(:meth:`CalibrationRecord.to_dict`) is JSON; ``id`` is a content hash that stays the same in every
copy (device flash, host cache, session records).

Tare and calibration offset (docs/calibration.md, "Tare and offset"): the record keeps
``zero_raw``, the unloaded reading when it was made (the wizard tares the device at that moment,
so the device's tare equals it). A later tare never changes the calibration: it measures how far
the unloaded reading has moved since, and readings are shifted back by that much before the model
applies::

    force_n = model(raw - (tare - zero_raw))      # tare: the device's current tare; 0 = none taken

Converting arrays (what the protocol engine and the records store call)::

    conv = record.converter(tare=link_tare)       # a hashable, immutable Converter
    force = conv.force_n(raw_array)               # newtons, numpy
    beyond = conv.out_of_range(force, raw_array)  # True where beyond the calibrated range / saturated
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from dataclasses import dataclass, replace

import numpy as np

from pointdose import units
from pointdose.calibration.models import (FSR, LINEAR, FitResult, Model, Point, model_from_dict)
from pointdose.errors import UserError

FORMAT = 1
DEVICE_BLOB_LIMIT = 1024  # bytes the device keeps (firmware contract)
DEFAULT_MAX_AGE_DAYS = 90.0
REFERENCE_KINDS = {
    "masses": "known masses",
    "scale": "kitchen/bathroom scale",
    "gauge": "reference force gauge",
    "file": "points from a file",
}


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _iso(when: _dt.datetime) -> str:
    return when.astimezone(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> _dt.datetime:
    when = _dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)


# --------------------------------------------------------------------------- configuration


def _model_for_sensor(sensor: str) -> str:
    return FSR if sensor == "adc" else LINEAR


@dataclass(frozen=True)
class SensorConfig:
    """What a calibration belongs to. ``gain``/``channel`` are None when the device does not say.

    ``probe_area_cm2`` None means the thumb sensor (force only).
    """

    sensor: str
    gain: str | None = None
    channel: str | None = None
    probe_area_cm2: float | None = units.DEFAULT_PROBE_AREA_CM2

    @property
    def probe(self) -> str:
        return units.probe_name(self.probe_area_cm2)

    @property
    def model_kind(self) -> str:
        return _model_for_sensor(self.sensor)

    @classmethod
    def from_info(cls, info: dict | None, probe_area_cm2: float | None = units.DEFAULT_PROBE_AREA_CM2) -> "SensorConfig":
        """From a device's hello (a hello dict, DeviceInfo or link; ``sensor=``, ``gain=``/``channel=``)."""
        from pointdose.link.info import device_info

        dev = device_info(info)
        return cls(sensor=dev.sensor or "unknown", gain=dev.gain, channel=dev.channel, probe_area_cm2=probe_area_cm2)

    def describe(self) -> str:
        parts = [{"hx711": "load cell (HX711)", "adc": "FSR (ADC)", "sim": "simulated load cell"}.get(self.sensor, self.sensor)]
        if self.gain:
            parts.append(f"gain {self.gain}")
        if self.channel:
            parts.append(f"channel {self.channel}")
        parts.append(self.probe)
        return ", ".join(parts)

    def differences(self, other: "SensorConfig") -> tuple[list[str], list[str]]:
        """(refusing, warning) differences of ``other`` (the device now) from this (the calibration's).

        A different sensor, gain or channel changes counts-per-newton: refused. A different probe
        changes how an FSR's film is pressed (refused for FSRs) but not a load cell's force (a warning).
        """
        refuse, warn = [], []
        if self.sensor != other.sensor:
            refuse.append(f"sensor {other.sensor}, calibrated as {self.sensor}")
        for name in ("gain", "channel"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is not None and theirs is not None and mine != theirs:
                refuse.append(f"{name} {theirs}, calibrated at {name} {mine}")
        if not _same_area(self.probe_area_cm2, other.probe_area_cm2):
            text = f"probe is {other.probe}, calibrated with {self.probe}"
            (refuse if self.model_kind == FSR else warn).append(text)
        return refuse, warn

    def to_dict(self) -> dict:
        return {"sensor": self.sensor, "gain": self.gain, "channel": self.channel,
                "probe_area_cm2": self.probe_area_cm2}

    @classmethod
    def from_dict(cls, d: dict) -> "SensorConfig":
        area = d.get("probe_area_cm2", units.DEFAULT_PROBE_AREA_CM2)
        return cls(sensor=str(d["sensor"]), gain=d.get("gain"), channel=d.get("channel"),
                   probe_area_cm2=None if area is None else float(area))


def _same_area(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) < 1e-6


# --------------------------------------------------------------------------- converter


@dataclass(frozen=True)
class Converter:
    """Raw counts → newtons through one calibration, with its range; immutable and hashable."""

    model: Model
    shift: float = 0.0  # counts subtracted first: (device tare now) - (zero when calibrated)
    range_n: tuple[float, float] = (0.0, math.inf)
    raw_limits: tuple[float, float] | None = None
    stated_error_n: float | None = None
    record_id: str | None = None
    source: str = "record"  # "record" (a calibration made here) or "factory" (hello's cal=)

    def force_n(self, raw) -> np.ndarray:
        return np.asarray(self.model.force_n(np.asarray(raw, dtype=np.float64) - self.shift), dtype=np.float64)

    def out_of_range(self, force_n, raw=None) -> np.ndarray:
        """True where a force lies beyond the calibrated range (by more than the stated error), or the
        raw reading is saturated."""
        f = np.asarray(force_n, dtype=np.float64)
        margin = self.stated_error_n or 0.0
        lo, hi = self.range_n
        flags = (f > hi + margin) | (f < lo - max(margin, 0.02 * hi if math.isfinite(hi) else 0.0))
        if raw is not None and self.raw_limits is not None:
            r = np.asarray(raw, dtype=np.float64)
            flags = flags | (r <= self.raw_limits[0]) | (r >= self.raw_limits[1])
        return flags

    def range_note(self, force_n: float, raw: float | None = None) -> str:
        """A few words for the live readout when a reading is out of range, else ""."""
        if self.raw_limits is not None and raw is not None and not (self.raw_limits[0] < raw < self.raw_limits[1]):
            return "sensor saturated"
        if bool(self.out_of_range(np.array([force_n]))[0]):
            lo, hi = self.range_n
            if force_n > hi:
                return f"above calibrated {hi:.0f} N"
            return "below zero: tare?"
        return ""


# --------------------------------------------------------------------------- record


@dataclass(frozen=True)
class CalibrationRecord:
    device_uid: str
    config: SensorConfig
    created: str  # ISO 8601, UTC
    reference: dict  # {"kind": masses|scale|gauge|file, "unit": "kg", "note": ""}
    model: Model
    points: tuple[Point, ...]
    zero_raw: float  # unloaded reading when made (= the device's tare then)
    stated_error_n: float  # the fit's maximum error
    tolerance_n: float
    full_scale_n: float
    r2: float
    hysteresis_n: float | None
    raw_limits: tuple[float, float] | None = None
    conditioning: dict | None = None  # FSR: {"cycles": 5, "skipped": False}
    verifications: tuple[dict, ...] = ()
    drift_checks: tuple[dict, ...] = ()
    id: str = ""

    # ---- building
    @classmethod
    def from_fit(cls, fit: FitResult, *, device_uid: str, config: SensorConfig, reference: dict,
                 zero_raw: float | None = None, raw_limits: tuple[float, float] | None = None,
                 conditioning: dict | None = None, created: _dt.datetime | None = None) -> "CalibrationRecord":
        if zero_raw is None:
            zeros = [p.raw for p in fit.points if p.force_n == 0]
            zero_raw = float(np.mean(zeros)) if zeros else float(fit.model.raw_for(0.0))
        # the record holds exactly what its JSON holds (rounded parameters and points), so a copy read
        # back from the device or the host cache is equal to it and converts identically
        model = model_from_dict(fit.model.kind, fit.model.params())
        points = tuple(Point.from_dict(p.to_dict()) for p in fit.points)
        rec = cls(device_uid=str(device_uid), config=config, created=_iso(created or utc_now()),
                  reference=dict(reference), model=model, points=points, zero_raw=float(zero_raw),
                  stated_error_n=float(fit.max_error_n), tolerance_n=float(fit.tolerance_n),
                  full_scale_n=float(fit.full_scale_n), r2=float(fit.r2), hysteresis_n=fit.hysteresis_n,
                  raw_limits=None if raw_limits is None else (float(raw_limits[0]), float(raw_limits[1])),
                  conditioning=conditioning)
        return replace(rec, id=rec.content_id())

    def content_id(self) -> str:
        """12 hex digits of a SHA-256 over what the calibration *is* (not its later checks)."""
        core = {"uid": self.device_uid, "config": self.config.to_dict(), "created": self.created,
                "model": self.model.kind, "params": self.model.params(), "zero_raw": self.zero_raw,
                "points": [[p.raw, p.force_n, p.direction] for p in self.points]}
        return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:12]

    # ---- properties
    @property
    def range_n(self) -> tuple[float, float]:
        return (0.0, self.full_scale_n)

    @property
    def stated_error_pct_fs(self) -> float:
        return 100.0 * self.stated_error_n / self.full_scale_n

    @property
    def hysteresis_pct_fs(self) -> float | None:
        return None if self.hysteresis_n is None else 100.0 * self.hysteresis_n / self.full_scale_n

    def created_at(self) -> _dt.datetime:
        return parse_time(self.created)

    def age_days(self, now: _dt.datetime | None = None) -> float:
        return ((now or utc_now()) - self.created_at()).total_seconds() / 86400.0

    def converter(self, tare: float | None = None) -> Converter:
        """The converter for readings now; ``tare`` is the device's current tare (None or 0: none)."""
        shift = 0.0 if not tare else float(tare) - self.zero_raw
        return Converter(model=self.model, shift=shift, range_n=self.range_n, raw_limits=self.raw_limits,
                         stated_error_n=self.stated_error_n, record_id=self.id, source="record")

    def with_verification(self, result: dict) -> "CalibrationRecord":
        return replace(self, verifications=self.verifications + (dict(result),))

    def with_drift_check(self, result: dict) -> "CalibrationRecord":
        return replace(self, drift_checks=self.drift_checks + (dict(result),))

    def describe(self) -> str:
        ref = REFERENCE_KINDS.get(self.reference.get("kind", ""), self.reference.get("kind", "?"))
        hyst = "not measured" if self.hysteresis_n is None else f"{self.hysteresis_n:.2f} N ({self.hysteresis_pct_fs:.1f} % FS)"
        lines = [
            f"Calibration {self.id} for device {self.device_uid}",
            f"  made        {self.created} with {ref}",
            f"  sensor      {self.config.describe()}",
            f"  model       {self.model.describe()}",
            f"  range       0 – {self.full_scale_n:.1f} N",
            f"  error       ±{self.stated_error_n:.2f} N ({self.stated_error_pct_fs:.1f} % of full scale; "
            f"tolerance ±{self.tolerance_n:.2f} N)",
            f"  hysteresis  {hyst}",
            f"  R²          {self.r2:.5f} (shown for reference; the pass criterion is the error)",
        ]
        if self.conditioning:
            lines.append("  conditioning " + ("skipped" if self.conditioning.get("skipped")
                                              else f"{self.conditioning.get('cycles', 0)} presses"))
        for v in self.verifications[-3:]:
            lines.append(f"  verified    {v.get('date', '?')}: {v.get('reference_n', 0):.2f} N read as "
                         f"{v.get('reading_n', 0):.2f} N (error {v.get('error_n', 0):+.2f} N, "
                         f"{'within' if v.get('within_tolerance') else 'OUTSIDE'} ±{v.get('tolerance_n', 0):.2f} N)")
        for d in self.drift_checks[-3:]:
            lines.append(f"  zero drift  {d.get('date', '?')}: {d.get('drift_n', 0):+.3f} N over "
                         f"{d.get('duration_s', 0):.0f} s ({'ok' if d.get('ok') else 'TOO MUCH'})")
        return "\n".join(lines)

    # ---- dict / JSON
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "id": self.id,
            "device_uid": self.device_uid,
            "created": self.created,
            "config": self.config.to_dict(),
            "reference": self.reference,
            "model": {"kind": self.model.kind, "params": self.model.params()},
            "zero_raw": self.zero_raw,
            "stated_error_n": self.stated_error_n,
            "tolerance_n": self.tolerance_n,
            "full_scale_n": self.full_scale_n,
            "range_n": list(self.range_n),
            "r2": self.r2,
            "hysteresis_n": self.hysteresis_n,
            "raw_limits": None if self.raw_limits is None else list(self.raw_limits),
            "conditioning": self.conditioning,
            "points": [p.to_dict() for p in self.points],
            "verifications": list(self.verifications),
            "drift_checks": list(self.drift_checks),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "CalibrationRecord":
        """Rebuild from :meth:`to_dict` output; ValueError naming what is missing or wrong."""
        if not isinstance(d, dict):
            raise ValueError("a calibration record must be a JSON object")
        fmt = d.get("format")
        if fmt != FORMAT:
            raise ValueError(f"calibration format {fmt!r} is not {FORMAT}: update pointdose to read it")
        try:
            model = model_from_dict(d["model"]["kind"], d["model"]["params"])
            limits = d.get("raw_limits")
            rec = cls(
                device_uid=str(d["device_uid"]), config=SensorConfig.from_dict(d["config"]), created=str(d["created"]),
                reference=dict(d.get("reference") or {}), model=model,
                points=tuple(Point.from_dict(p) for p in d.get("points") or ()),
                zero_raw=float(d["zero_raw"]), stated_error_n=float(d["stated_error_n"]),
                tolerance_n=float(d["tolerance_n"]), full_scale_n=float(d["full_scale_n"]),
                r2=float(d.get("r2", float("nan"))),
                hysteresis_n=None if d.get("hysteresis_n") is None else float(d["hysteresis_n"]),
                raw_limits=None if limits is None else (float(limits[0]), float(limits[1])),
                conditioning=d.get("conditioning"),
                verifications=tuple(d.get("verifications") or ()), drift_checks=tuple(d.get("drift_checks") or ()),
                id=str(d.get("id") or ""))
            parse_time(rec.created)
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"calibration record is missing {exc}") from None
        if not rec.full_scale_n > 0:
            raise ValueError("calibration record has no positive full scale")
        return rec if rec.id else replace(rec, id=rec.content_id())

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> "CalibrationRecord":
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"not valid JSON ({exc})") from None
        return cls.from_dict(data)

    def to_blob(self, limit: int = DEVICE_BLOB_LIMIT) -> bytes:
        """Compact JSON for the device's flash, at most ``limit`` bytes.

        Shrinks step by step when needed: only the newest verification and drift check, then the
        points without their spread, then no points (the fit and its figures stay). The id stays,
        so the host's full copy is recognised.
        """
        d = self.to_dict()
        steps = [
            lambda d: d,
            lambda d: {**d, "verifications": d["verifications"][-1:], "drift_checks": d["drift_checks"][-1:]},
            lambda d: {**d, "points": [{k: v for k, v in p.items() if k in ("raw", "force_n", "direction")}
                                       for p in d["points"]]},
            lambda d: {**d, "points": [], "verifications": [], "drift_checks": []},
        ]
        for step in steps:
            d = step(d)
            blob = json.dumps(d, separators=(",", ":"), allow_nan=False).encode()
            if len(blob) <= limit:
                return blob
        raise UserError(f"the calibration does not fit in the device's {limit} bytes even without its points")


# --------------------------------------------------------------------------- checks for use


@dataclass(frozen=True)
class Assessment:
    usable: bool
    refusal: str  # why it cannot be used ("" when usable)
    warnings: tuple[str, ...]


def assess(record: CalibrationRecord | None, *, device_uid: str | None, config: SensorConfig,
           now: _dt.datetime | None = None, max_age_days: float = DEFAULT_MAX_AGE_DAYS) -> Assessment:
    """May ``record`` convert this device's readings now? Refusals and warnings, in plain words."""
    if record is None:
        return Assessment(False, "this device has no calibration: run the calibration (Calibrate tab, "
                                 "or pointdose calibrate run)", ())
    if device_uid is not None and record.device_uid != str(device_uid):
        return Assessment(False, f"the calibration was made on device {record.device_uid}, not this one "
                                 f"({device_uid}): calibrate this device", ())
    refuse, warn = record.config.differences(config)
    if refuse:
        return Assessment(False, "the calibration was made for another configuration (" + "; ".join(refuse)
                          + "): calibrate again for this one", tuple(warn))
    warnings = list(warn)
    age = record.age_days(now)
    if age > max_age_days:
        warnings.append(f"the calibration is {age:.0f} days old (older than {max_age_days:g} days): "
                        "verify it with a known load, or calibrate again")
    if age < -1:
        warnings.append("the calibration's date is in the future: check this computer's clock")
    return Assessment(True, "", tuple(warnings))


@dataclass(frozen=True)
class Reachability:
    ok: bool
    target_n: float | None
    limit_n: float | None  # the top of the calibrated range, N
    reason: str  # why not (or a caution when ok)


def check_reachable(calibration, *, target_kpa: float | None = None, target_n: float | None = None,
                    probe_area_cm2: float | None = units.DEFAULT_PROBE_AREA_CM2) -> Reachability:
    """Can the sensor behind ``calibration`` show this target within its calibrated range?

    ``calibration``: a :class:`CalibrationRecord`, a :class:`Converter`, or None (uncalibrated).
    Give the target as ``target_kpa`` (with the probe area in cm²; None = a thumb sensor, which has
    no fixed area) or ``target_n``. Refused, with the reason, when it is above the calibrated range,
    not positive, a pressure on a thumb sensor, or there is no calibration.
    """
    if (target_kpa is None) == (target_n is None):
        raise ValueError("give exactly one of target_kpa and target_n")
    if target_kpa is not None:
        if probe_area_cm2 is None:
            return Reachability(False, None, None, "a pressure target needs a probe of known area; "
                                "with the thumb sensor set targets in force (N, kgf or lbf). " + units.THUMB_NOTE)
        value = float(target_kpa)
        what = f"{value:g} kPa on {probe_area_cm2:g} cm²"
        target = float(units.force_n(value, probe_area_cm2)) if value > 0 else value
    else:
        target = float(target_n)
        what = f"{target:g} N"
    if not (math.isfinite(target) and target > 0):
        return Reachability(False, target, None, f"the target {what} is not a positive load")
    if calibration is None:
        return Reachability(False, target, None, "the sensor is not calibrated, so no target can be checked: "
                                                 "calibrate it first")
    if isinstance(calibration, CalibrationRecord):
        top, err = calibration.full_scale_n, calibration.stated_error_n
    else:
        top, err = calibration.range_n[1], calibration.stated_error_n or 0.0
    if target_kpa is not None:
        what = f"{what} ({target:.1f} N)"
    if target > top:
        suggestion = ("calibrate with heavier loads up to the target, or " if top >= 25 else "")
        return Reachability(False, target, top,
                            f"{what} is beyond this sensor's calibrated range (0–{top:.1f} N): it cannot be shown "
                            f"reliably; {suggestion}choose a lower target"
                            + ("" if top >= 25 else " or use a load-cell build (an FSR tops out near 20 N)"))
    caution = ""
    if err and err > 0.25 * target:
        caution = (f"caution: the calibration's stated error (±{err:.2f} N) is more than a quarter of "
                   f"the target {what}")
    return Reachability(True, target, top, caution)


def require_reachable(calibration, **kwargs) -> float:
    """:func:`check_reachable`, raising :class:`UserError` with the reason when refused; returns newtons."""
    result = check_reachable(calibration, **kwargs)
    if not result.ok:
        raise UserError(f"target refused: {result.reason}")
    return float(result.target_n)
