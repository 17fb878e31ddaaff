"""Raw counts → newtons for a session, in one place so the source of the scale can change.

Uses :func:`pointdose.calibration.converter_for` (the calibration made on this computer, or the
device's factory ``cal=linear:COUNTS_PER_N:ZERO``) when that package is there; otherwise the
hello's linear scale directly (tare from ``tare=`` when non-zero). Either way the object has
``force_n(raw)``, ``out_of_range(force_n, raw)``, ``range_n``, ``raw_limits`` and ``source``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pointdose.errors import UserError


@dataclass(frozen=True)
class HelloLinear:
    """Fallback: ``force = (raw - tare) / counts_per_n`` from the hello reply."""

    counts_per_n: float
    tare: float
    raw_limits: tuple[float, float] | None = None
    range_n: tuple[float, float] = (0.0, math.inf)
    source: str = "hello"
    zero: float | None = None  # the factory scale's own zero (tare replaces it when non-zero)

    def force_n(self, raw) -> np.ndarray:
        return (np.asarray(raw, dtype=np.float64) - self.tare) / self.counts_per_n

    def out_of_range(self, force_n, raw=None) -> np.ndarray:
        flags = np.zeros(np.shape(force_n), dtype=bool)
        if raw is not None and self.raw_limits is not None:
            r = np.asarray(raw, dtype=np.float64)
            flags |= (r <= self.raw_limits[0]) | (r >= self.raw_limits[1])
        return flags


def _num(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def hello_linear(info: dict) -> HelloLinear | None:
    parts = str(info.get("cal", "none")).split(":")
    if len(parts) != 3 or parts[0].lower() != "linear":
        return None
    cpn, zero = _num(parts[1]), _num(parts[2])
    if not cpn or zero is None:
        return None
    tare = _num(info.get("tare")) or 0.0
    lo, hi = _num(info.get("raw_min")), _num(info.get("raw_max"))
    return HelloLinear(cpn, tare if tare else zero, (lo, hi) if lo is not None and hi is not None else None,
                       zero=zero)


def converter_for_link(info: dict | None, record=None):
    """The converter for a link's hello ``info``; UserError when the device is not calibrated."""
    info = info or {}
    conv = None
    try:
        from pointdose.calibration import converter_for
    except ImportError:  # calibration package not installed: the hello's scale
        converter_for = None
    if converter_for is not None:
        conv = converter_for(info, record)
    if conv is None:
        conv = hello_linear(info)
    if conv is None:
        raise UserError("the device has no calibration, so pressures cannot be guided: calibrate it first "
                        "(pointdose calibrate)")
    return conv


def saturated(conv, raw) -> np.ndarray:
    r = np.asarray(raw, dtype=np.float64)
    lim = getattr(conv, "raw_limits", None)
    if lim is None:
        return np.zeros(r.shape, dtype=bool)
    return (r <= lim[0]) | (r >= lim[1])


def calibrated_max_n(conv) -> float | None:
    top = getattr(conv, "range_n", (0.0, math.inf))[1]
    return float(top) if math.isfinite(top) else None


def raw_for_force(conv, force_n: float) -> int | None:
    """The raw reading that ``conv`` turns into ``force_n`` (bisection: any monotonic model)."""
    lim = getattr(conv, "raw_limits", None) or (-(2 ** 23), 2 ** 23 - 1)
    lo, hi = float(lim[0]), float(lim[1])
    f_lo, f_hi = float(conv.force_n(lo)), float(conv.force_n(hi))
    if not (min(f_lo, f_hi) <= force_n <= max(f_lo, f_hi)):
        return None
    rising = f_hi > f_lo
    for _ in range(64):
        mid = (lo + hi) / 2
        f = float(conv.force_n(mid))
        if (f < force_n) == rising:
            lo = mid
        else:
            hi = mid
        if hi - lo < 0.5:
            break
    return int(round((lo + hi) / 2))


def calibration_info(conv, record=None) -> dict:
    """The calibration of a session as the records keep it: recomputable, without the tare.

    A calibration record in use: its ``to_dict()`` (with its ``id``). Otherwise the device's factory
    scale ``{"model": "linear", "counts_per_n", "zero", "source": "factory"}``. The device's tare is
    not part of it (give it separately, :func:`device_tare`): a re-tare is the same calibration.
    """
    if record is not None and getattr(conv, "source", "") == "record":
        return record.to_dict()
    model = getattr(conv, "model", None)
    cpn = getattr(model, "counts_per_n", getattr(conv, "counts_per_n", None))
    zero = getattr(model, "zero_raw", getattr(conv, "zero", None))
    if cpn is None or zero is None:  # a converter of an unknown kind: say what it is, no parameters
        return {"model": getattr(model, "kind", type(conv).__name__), "source": getattr(conv, "source", "")}
    out = {"model": "linear", "counts_per_n": float(cpn), "zero": float(zero), "source": "factory"}
    limits = getattr(conv, "raw_limits", None)
    if limits is not None:
        out["raw_limits"] = [float(limits[0]), float(limits[1])]
    return out


def device_tare(info: dict | None) -> float:
    """The device's current tare from its hello (raw counts; 0 when none was taken)."""
    return _num((info or {}).get("tare")) or 0.0
