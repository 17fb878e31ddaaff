"""The device's own over-pressure limit for a session: always set, within the sensor's raw range.

The firmware alarms by itself (LED, buzzer, ERROR frame) when a reading passes its limit, even when
the host falls silent; so a session never starts without it (docs/protocols.md, "Limits"). The
limit sits :data:`MARGIN` above the host's ``max_kpa`` (the host alarms first). When that pressure
is beyond what the sensor can read with this probe — e.g. a 10 cm² probe on a 60 kg cell — the
limit is clamped to the end of the sensor's raw range (a saturated reading fires it) and the note
says so; it is never left unset, and never set to a value no reading can pass.

::

    lim = plan(conv, max_kpa=700.0, probe_area_cm2=1.0)
    device_cues.arm_limit(lim)         # UserError when the device does not take it
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pointdose import units
from pointdose.errors import UserError
from pointdose.session import convert

MARGIN = 1.05  # the firmware's own limit sits 5 % above the host's alarm
RAW_SPAN = (-(2 ** 23), 2 ** 23 - 1)  # the firmware takes -8388608 … 8388607 (24-bit counts)


@dataclass(frozen=True)
class DeviceLimit:
    raw: int  # raw counts the device alarms past
    side: str  # "max": counts rise with force (the reference builds); "min": they fall
    kpa: float  # the pressure that reading means with this probe
    clamped: bool  # the host's limit was beyond the sensor's range: the limit is at the range's end
    note: str = ""

    def as_dict(self) -> dict:
        return {"raw": self.raw, "side": self.side, "kpa": self.kpa, "clamped": self.clamped, "note": self.note}


def sensor_top_kpa(conv, probe_area_cm2: float) -> float | None:
    """The highest pressure this sensor can read with this probe: the calibrated range's top, or
    the force at the end of the raw range, whichever is lower (None when neither is known)."""
    tops = []
    cal = convert.calibrated_max_n(conv)
    if cal is not None:
        tops.append(cal)
    lo, hi = _raw_range(conv)
    f = max(float(conv.force_n(lo)), float(conv.force_n(hi)))
    if math.isfinite(f) and f > 0:
        tops.append(f)
    return float(units.pressure_kpa(min(tops), probe_area_cm2)) if tops else None


def plan(conv, max_kpa: float, probe_area_cm2: float, margin: float = MARGIN) -> DeviceLimit:
    """The device limit for a host limit of ``max_kpa`` (kPa) with this probe, clamped into the raw range."""
    lo, hi = _raw_range(conv)
    f_lo, f_hi = float(conv.force_n(lo)), float(conv.force_n(hi))
    if not (math.isfinite(f_lo) and math.isfinite(f_hi)) or f_lo == f_hi:
        raise UserError("the sensor's scale gives no usable force range, so the device's safety limit cannot be "
                        "set: calibrate the sensor again (pointdose calibrate)")
    rising = f_hi > f_lo
    side = "max" if rising else "min"
    want_n = float(units.force_n(max_kpa * margin, probe_area_cm2))
    raw = convert.raw_for_force(conv, want_n)
    clamped = raw is None
    end = hi - 1 if rising else lo + 1  # one count inside the end: a saturated reading passes it
    if clamped or (rising and raw >= end) or (not rising and raw <= end):
        raw, clamped = int(end), True
    kpa = float(units.pressure_kpa(float(conv.force_n(raw)), probe_area_cm2))
    note = ""
    if clamped and kpa <= max_kpa:
        note = (f"the {max_kpa:.0f} kPa limit is beyond what this sensor reads with a {probe_area_cm2:g} cm² probe "
                f"(up to {kpa:.0f} kPa): the device's own limit is clamped to the sensor's end, {kpa:.0f} kPa, and "
                "the host alarms when the reading saturates; lower max_kpa or use a smaller probe to have the "
                "device alarm below it")
    elif clamped:
        note = (f"the device's own limit is clamped to the sensor's end, {kpa:.0f} kPa with a {probe_area_cm2:g} cm² "
                f"probe ({margin * 100 - 100:.0f} % above the {max_kpa:.0f} kPa limit would be beyond it)")
    return DeviceLimit(raw=int(raw), side=side, kpa=kpa, clamped=clamped, note=note)


def _raw_range(conv) -> tuple[int, int]:
    lim = getattr(conv, "raw_limits", None) or RAW_SPAN
    lo, hi = max(int(lim[0]), RAW_SPAN[0]), min(int(lim[1]), RAW_SPAN[1])
    return lo, hi

