"""PPT trials judged as an algometer would: the measured ramp rate, the rate band, the ceiling.

Plain functions, no I/O (docs/protocols.md, "PPT"):

* :func:`measured_rate` — a trial's ramp rate: the least-squares slope of pressure against time
  over the press itself, from the last rise through ``from_kpa`` (the contact threshold by
  default: before it the probe was not pressing) to the signal. Fitting from the ramp cue instead
  would count the seconds before the press began and report a slower ramp than was applied.
* :func:`check_rate` — inside ``target ± tolerance %`` or not. Faster ramps give higher PPTs
  (domain notes), so a trial off the rate is invalid, flagged and repeated, never saved as if it
  had been ramped at the target rate.
* :func:`ceiling_kpa` — where a PPT ramp must stop: the top of the sensor's calibrated range with
  this probe, up to :data:`DEFAULT_CEILING_KPA`. A trial that reaches it has a PPT above it, not
  at it: it is *censored*, recorded as "> X kPa" (:func:`censored_text`).

    >>> import numpy as np
    >>> t = np.arange(0.0, 6.0, 0.01); p = np.clip(t - 1.0, 0, None) * 50.0    # idle 1 s, then 50 kPa/s
    >>> round(measured_rate(t, p, t_end=5.0), 6)
    50.0
    >>> check_rate(62.0, 50.0, 20.0).state
    'fast'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pointdose import metrics

# Healthy infraspinatus and AC-joint PPTs average ~620–660 ± 220 kPa (Bordachar 2019, issue 11), so
# a ceiling under ~1000 kPa would cut off healthy values. A setting; the sensor's range lowers it.
DEFAULT_CEILING_KPA = 1000.0
MIN_FIT_S = 0.2  # a rate needs at least this much of the press
MIN_FIT_SAMPLES = 3


def measured_rate(t, p, *, t_end: float, t_start: float | None = None,
                  from_kpa: float = metrics.DEFAULT_CONTACT_KPA) -> float | None:
    """The ramp rate (kPa/s) of the press that ended at ``t_end`` (the signal, or the ceiling).

    The fit runs over the samples from the last rise through ``from_kpa`` before ``t_end`` (not
    earlier than ``t_start``, the ramp cue) to ``t_end``. None when the press is shorter than
    :data:`MIN_FIT_S` or has fewer than :data:`MIN_FIT_SAMPLES` samples."""
    t = np.asarray(t, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    keep = t <= t_end
    if t_start is not None:
        keep &= t >= t_start
    t, p = t[keep], p[keep]
    if t.size < MIN_FIT_SAMPLES:
        return None
    below = np.flatnonzero(p < from_kpa)
    first = int(below[-1]) + 1 if below.size else 0
    t, p = t[first:], p[first:]
    if t.size < MIN_FIT_SAMPLES or t[-1] - t[0] < MIN_FIT_S:
        return None
    return float(np.polyfit(t, p, 1)[0])


@dataclass(frozen=True)
class RateCheck:
    rate_kpa_s: float | None
    target_kpa_s: float
    lo_kpa_s: float
    hi_kpa_s: float

    @property
    def state(self) -> str:
        """"ok", "slow", "fast", or "unknown" (no rate could be measured)."""
        if self.rate_kpa_s is None:
            return "unknown"
        return "slow" if self.rate_kpa_s < self.lo_kpa_s else "fast" if self.rate_kpa_s > self.hi_kpa_s else "ok"

    @property
    def valid(self) -> bool:
        return self.state == "ok"

    def describe(self) -> str:
        band = f"{self.lo_kpa_s:.0f}–{self.hi_kpa_s:.0f} kPa/s"
        if self.rate_kpa_s is None:
            return f"ramp rate not measurable (too short a press); wanted {band}"
        word = {"ok": "within", "slow": "too slow for", "fast": "too fast for"}[self.state]
        return f"ramped at {self.rate_kpa_s:.0f} kPa/s, {word} {band}"


def check_rate(rate_kpa_s: float | None, target_kpa_s: float, tolerance_pct: float) -> RateCheck:
    spread = abs(target_kpa_s) * tolerance_pct / 100.0
    return RateCheck(rate_kpa_s, float(target_kpa_s), target_kpa_s - spread, target_kpa_s + spread)


def ceiling_kpa(calibrated_max_kpa: float | None, wanted_kpa: float = DEFAULT_CEILING_KPA) -> float:
    """Where a PPT ramp stops: ``wanted_kpa``, lowered to the sensor's calibrated range when known."""
    if calibrated_max_kpa is None:
        return float(wanted_kpa)
    return float(min(wanted_kpa, calibrated_max_kpa))


def censored_text(ceiling: float) -> str:
    """How a trial that reached the ceiling is shown: its PPT is above it, not at it."""
    return f"> {ceiling:.0f} kPa"
