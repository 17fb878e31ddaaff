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


def calibration_id(cal: dict[str, Any]) -> str:
    """The calibration's own ``id`` when it has one, else a hash of its canonical JSON."""
    if cal.get("id") not in (None, ""):
        return str(cal["id"])
    text = json.dumps(cal, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def linear_raw_to_n(counts_per_n: float, zero: float) -> RawToN:
    if not counts_per_n:
        raise ValueError("a linear calibration needs a non-zero counts_per_n")
    return lambda raw: (np.asarray(raw, dtype=np.float64) - zero) / counts_per_n


def raw_to_n(cal: dict[str, Any]) -> RawToN:
    """A raw-counts → newtons function for ``cal``; ValueError when the shape is unknown."""
    model = str(cal.get("model", "")).lower()
    if model == "linear" and "counts_per_n" in cal:
        return linear_raw_to_n(float(cal["counts_per_n"]), float(cal.get("zero", 0.0)))
    try:  # the calibration module's own records, once it exists
        import pointdose.calibration as calibration_module
    except ImportError:
        calibration_module = None
    for name in ("raw_to_n", "converter", "from_dict"):
        fn = getattr(calibration_module, name, None) if calibration_module else None
        if fn is None:
            continue
        made = fn(cal)
        if callable(made):
            return made
        for attr in ("raw_to_n", "force_n", "to_newtons"):
            if callable(getattr(made, attr, None)):
                return getattr(made, attr)
    raise ValueError(f"calibration {calibration_id(cal)!r} (model {cal.get('model')!r}) cannot be applied here: "
                     "give a raw→N function instead")


def from_hello(info: dict[str, Any] | None) -> dict[str, Any] | None:
    """The device's own ``cal=linear:COUNTS_PER_N:ZERO`` (hello) as a calibration dict, or None."""
    text = str((info or {}).get("cal", "none")).strip().split(":")
    if len(text) != 3 or text[0].lower() != "linear":
        return None
    try:
        counts, zero = float(text[1]), float(text[2])
    except ValueError:
        return None
    if counts == 0:
        return None
    return {"model": "linear", "counts_per_n": counts, "zero": zero, "source": "device hello"}


def stated_error(cal: dict[str, Any] | None) -> str:
    """What the calibration says about its own error, as text; says so when it states none."""
    if not cal:
        return "no calibration recorded"
    found = []
    for key in ERROR_KEYS:
        if key in cal and cal[key] not in (None, ""):
            value = cal[key]
            found.append(f"{key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    return "; ".join(found) if found else "the calibration states no error"


def describe(cal: dict[str, Any] | None) -> str:
    if not cal:
        return "none recorded"
    model = cal.get("model", "?")
    parts = [f"{calibration_id(cal)} ({model})"]
    if model == "linear" and "counts_per_n" in cal:
        parts.append(f"{float(cal['counts_per_n']):.4g} counts/N, zero {float(cal.get('zero', 0)):.6g} counts")
    for key in ("created_at", "date", "reference", "load_cell"):
        if key in cal:
            parts.append(f"{key} {cal[key]}")
    return ", ".join(parts)
