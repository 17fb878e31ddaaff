"""Raw counts → newtons for a session, in one place so the source of the scale can change.

The scale itself is chosen by :func:`pointdose.calibration.scale_for` (the wizard's calibration for
this device, else its factory scale, else none); the converter has ``force_n(raw)``,
``out_of_range(force_n, raw)``, ``range_n``, ``raw_limits`` and ``source``.
"""

from __future__ import annotations

import math

import numpy as np


def converter_for_link(link, record=None):
    """The converter for a link (or its DeviceInfo / hello dict) with ``record`` the calibration chosen
    for it (:func:`pointdose.calibration.scale_for`); UserError when the device is not calibrated."""
    from pointdose.calibration.scale import scale_for

    return scale_for(link, record).require()


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
    not part of it (give it separately: ``DeviceInfo.tare``): a re-tare is the same calibration.
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
