"""Calibration dicts as the records keep them: an id, a raw → N function, the stated error.

The calibration module (``pointdose.calibration``) owns what a calibration is. The records need
only: a stable id to store it under, a ``raw → N`` callable to recompute an application, and the
error the calibration states about itself (for reports). This module reads the shape it knows
(``{"model": "linear", "counts_per_n": …, "zero": …}``) and otherwise asks the calibration module.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable

import numpy as np

RawToN = Callable[[np.ndarray], np.ndarray]

# keys a calibration may state its own error under, most specific first
ERROR_KEYS = ("stated_error", "error", "uncertainty", "error_n", "error_pct", "rms_error_n", "rmse_n",
              "max_error_n", "accuracy", "residual_n")


# what a device or session says *about* a calibration's use, never part of what it is: a re-tare
# or another source of the same model must not make a "new" calibration
NOT_THE_MODEL = ("id", "record_id", "tare", "tare_raw", "shift", "source", "note", "notes", "verifications",
                 "drift_checks")


def calibration_id(cal: dict[str, Any]) -> str:
    """The calibration's own ``id`` (a ``CalibrationRecord``'s), else a hash of its model parameters
    only: never of the device's tare or the shift it causes."""
    for key in ("id", "record_id"):  # record_id: what older runners stored beside the record's shift
        if cal.get(key) not in (None, ""):
            return str(cal[key])
    model = cal.get("model")
    if isinstance(model, str) and model.lower() == "linear" and "counts_per_n" in cal:
        core: Any = {"model": "linear", "counts_per_n": float(cal["counts_per_n"]), "zero": float(cal.get("zero", 0.0))}
    else:
        core = {k: v for k, v in cal.items() if k not in NOT_THE_MODEL}
    text = json.dumps(core, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def linear_raw_to_n(counts_per_n: float, zero: float) -> RawToN:
    if not counts_per_n:
        raise ValueError("a linear calibration needs a non-zero counts_per_n")
    return lambda raw: (np.asarray(raw, dtype=np.float64) - zero) / counts_per_n


def raw_to_n(cal: dict[str, Any], tare: float | None = None) -> RawToN:
    """A raw-counts → newtons function for ``cal``; ValueError when the shape is unknown.

    Two shapes: this module's ``{"model": "linear", "counts_per_n", "zero"}`` (a device's factory
    scale) and the calibration module's record (``CalibrationRecord.to_dict()``: ``"format"``,
    ``"model": {"kind", "params"}``), the latter through its own converter. Both keep the rule of
    docs/calibration.md, "Tare and offset": ``force = model(raw − (tare − zero_raw))`` with ``tare``
    the device's tare during the application (0 or None: none taken, no shift).
    """
    tare = _float(tare) or 0.0
    model = cal.get("model")
    if isinstance(model, str) and model.lower() == "linear" and "counts_per_n" in cal:
        zero = float(cal.get("zero", 0.0))
        shift = (tare - zero) if tare else 0.0
        return linear_raw_to_n(float(cal["counts_per_n"]), zero + shift)
    if isinstance(model, dict) and "format" in cal:
        from pointdose.calibration import CalibrationRecord

        return CalibrationRecord.from_dict(cal).converter(tare=tare or None).force_n
    raise ValueError(f"calibration {calibration_id(cal)!r} (model {model!r}) cannot be applied here: "
                     "give a raw→N function instead")


UNCALIBRATED_SOURCES = ("factory", "device hello")  # a scale the device reported, never calibrated here


def stated_error(cal: dict[str, Any] | None) -> str:
    """What the calibration says about its own error, as text; says so when it states none."""
    if not cal:
        return "uncalibrated: error unknown (no calibration recorded)"
    err, fs = _float(cal.get("stated_error_n")), _float(cal.get("full_scale_n"))
    if err is not None:
        text = f"±{err:.2f} N"
        if fs:
            text += f" ({100.0 * err / fs:.1f} % of {fs:.0f} N full scale)"
        tol = _float(cal.get("tolerance_n"))
        return text + (f", tolerance ±{tol:.2f} N" if tol is not None else "")
    found = []
    for key in ERROR_KEYS:
        if key in cal and cal[key] not in (None, ""):
            value = cal[key]
            text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
            found.append(text if key == "stated_error" else f"{key}: {text}")
    if found:
        return "; ".join(found)
    if cal.get("source") in UNCALIBRATED_SOURCES:  # the factory scale or the hello's cal=: never checked here
        return "uncalibrated: error unknown"
    return "not stated by the calibration: error unknown"


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def describe(cal: dict[str, Any] | None) -> str:
    if not cal:
        return "none recorded"
    model = cal.get("model", "?")
    if isinstance(model, dict):
        model = model.get("kind", "?")
    parts = [f"{calibration_id(cal)} ({model})"]
    if model == "linear" and "counts_per_n" in cal:
        parts.append(f"{float(cal['counts_per_n']):.4g} counts/N, zero {float(cal.get('zero', 0)):.6g} counts")
    if isinstance(cal.get("model"), dict):
        params = cal["model"].get("params") or {}
        parts.append(", ".join(f"{k} {v:.6g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in params.items()))
    for key in ("created", "created_at", "device_uid"):
        if key in cal:
            parts.append(f"{key.replace('_', ' ')} {cal[key]}")
    return ", ".join(parts)
