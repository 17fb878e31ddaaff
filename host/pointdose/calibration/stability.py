"""Is the reading steady enough to record? A detector fed with samples, whose criterion is shown.

The criterion works in raw counts, so it needs no calibration yet (the wizard uses it before there
is one): the reading is *steady* when, over the last ``hold_s`` seconds, the means of ten equal
slices of that time differ by no more than ``rel`` of the reading's distance from the unloaded
reading — or, near zero, by no more than ``noise_factor`` times the sensor's own sample-to-sample
noise (estimated from the same samples). Slicing averages the electrical noise away; what is left
is the slow movement of a hand or a settling load, which is what spoils a calibration point.

Example::

    det = StabilityDetector(StabilityCriterion(hold_s=1.5, rel=0.01), baseline_raw=42_000)
    det.feed(t, raw)          # numpy arrays, any chunk size, in time order
    det.status().text         # "Steady: held 1.5 s within ±1 % — recording"
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

SLICES = 10


@dataclass(frozen=True)
class StabilityCriterion:
    hold_s: float = 1.5  # HX711 settles in 400 ms at 10 SPS (domain notes): 1.5 s is well past that
    rel: float = 0.01  # ±1 % of the reading above zero
    noise_factor: float = 5.0  # near zero: within 5× the sample-to-sample noise
    min_samples: int = 5

    def describe(self) -> str:
        return (f"the reading must stay within ±{self.rel * 100:g} % (or within the sensor's noise near zero) "
                f"for {self.hold_s:g} s")


@dataclass(frozen=True)
class StabilityStatus:
    stable: bool
    held_s: float  # how long the reading has kept within the band so far
    hold_s: float
    mean_raw: float | None
    sd_raw: float | None
    n: int
    spread: float | None  # counts: largest difference between slice means
    allowed: float | None  # counts
    saturated: bool
    text: str  # a sentence for the user: the criterion and where the reading stands

    @property
    def progress(self) -> float:
        return min(1.0, self.held_s / self.hold_s) if self.hold_s > 0 else 1.0


def robust_noise(r: np.ndarray) -> float:
    """Sample-to-sample noise (sd) from the median absolute first difference: a step or a spike in
    the samples does not inflate it, as it would a plain standard deviation."""
    if r.size < 3:
        return 0.0
    d = np.diff(np.asarray(r, dtype=np.float64))
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2))


class StabilityDetector:
    def __init__(self, criterion: StabilityCriterion | None = None, *, baseline_raw: float | None = None,
                 raw_limits: tuple[float, float] | None = None):
        self.criterion = criterion or StabilityCriterion()
        self.baseline_raw = baseline_raw
        self.raw_limits = raw_limits
        self._t: deque[np.ndarray] = deque()
        self._r: deque[np.ndarray] = deque()
        self._since: float | None = None
        self._status = StabilityStatus(False, 0.0, self.criterion.hold_s, None, None, 0, None, None, False,
                                       "Waiting for readings…")

    def reset(self, baseline_raw: float | None = None) -> None:
        """Forget the samples (a new step starts); optionally change the unloaded reference."""
        if baseline_raw is not None:
            self.baseline_raw = baseline_raw
        self._t.clear()
        self._r.clear()
        self._since = None
        self._status = StabilityStatus(False, 0.0, self.criterion.hold_s, None, None, 0, None, None, False,
                                       "Waiting for readings…")

    def feed(self, t, raw) -> StabilityStatus:
        t = np.asarray(t, dtype=np.float64)
        raw = np.asarray(raw, dtype=np.float64)
        if t.size:
            self._t.append(t)
            self._r.append(raw)
            if self._since is None:
                self._since = float(t[0])
            self._trim(float(t[-1]))
            self._status = self._assess()
        return self._status

    def status(self) -> StabilityStatus:
        return self._status

    def window(self) -> tuple[np.ndarray, np.ndarray]:
        """The samples the current status was judged on (since the steady run began)."""
        t, r = self._all()
        if self._since is None or t.size == 0:
            return t[:0], r[:0]
        keep = t >= self._since
        return t[keep], r[keep]

    # ---- internals
    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._t:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(list(self._t)), np.concatenate(list(self._r))

    def _trim(self, now: float) -> None:
        keep_from = now - 2.0 * self.criterion.hold_s - 0.5
        while len(self._t) > 1 and self._t[0][-1] < keep_from:
            self._t.popleft()
            self._r.popleft()

    def _judge(self, t: np.ndarray, r: np.ndarray) -> tuple[bool, float, float, float]:
        """(ok, spread, allowed, noise) over these samples."""
        c = self.criterion
        noise = robust_noise(r)
        base = self.baseline_raw if self.baseline_raw is not None else float(r[0])
        level = abs(float(r.mean()) - base)
        allowed = max(c.rel * level, c.noise_factor * max(noise, 1.0))
        edges = np.linspace(t[0], t[-1], SLICES + 1)
        which = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, SLICES - 1)
        counts = np.bincount(which, minlength=SLICES)
        sums = np.bincount(which, weights=r, minlength=SLICES)
        means = sums[counts > 0] / counts[counts > 0]
        spread = float(means.max() - means.min()) if means.size else 0.0
        return spread <= allowed, spread, allowed, noise

    def _assess(self) -> StabilityStatus:
        c = self.criterion
        t, r = self._all()
        now = float(t[-1])
        saturated = False
        if self.raw_limits is not None:
            recent = r[t >= now - c.hold_s]
            saturated = bool(((recent <= self.raw_limits[0]) | (recent >= self.raw_limits[1])).any())
        start = max(self._since if self._since is not None else t[0], now - c.hold_s)
        sel = t >= start
        ts, rs = t[sel], r[sel]
        if ts.size < 2:
            return StabilityStatus(False, 0.0, c.hold_s, float(r[-1]), None, int(ts.size), None, None, saturated,
                                   "Waiting for readings…")
        ok, spread, allowed, _ = self._judge(ts, rs)
        if not ok or saturated:
            # the run is broken: start a new one from the last quarter second
            self._since = now - 0.25
            held = 0.0
        else:
            held = now - (self._since if self._since is not None else ts[0])
        stable = ok and not saturated and held >= c.hold_s * 0.98 and ts.size >= c.min_samples
        if stable:
            # judge the hold once more (the slices then span it exactly), never reaching before the run began
            sel = t >= max(now - c.hold_s, self._since if self._since is not None else -math.inf)
            ok, spread, allowed, _ = self._judge(t[sel], r[sel])
            stable = ok
            ts, rs = t[sel], r[sel]
        mean = float(rs.mean())
        sd = float(rs.std(ddof=1)) if rs.size > 1 else 0.0
        base = self.baseline_raw if self.baseline_raw is not None else mean
        level = abs(mean - base)
        moving = spread / level * 100 if level > 0 and c.rel * level >= allowed * 0.999 else None
        if saturated:
            text = "The sensor is at its limit (saturated): use a smaller load."
        elif stable:
            text = f"Steady: held {c.hold_s:g} s within ±{c.rel * 100:g} %."
        elif ok:
            text = f"Hold still… steady for {held:.1f} of {c.hold_s:g} s (needs to stay within ±{c.rel * 100:g} %)."
        elif moving is not None:
            text = (f"Not steady yet: the reading moves {moving:.1f} % (needs under {c.rel * 100:g} % "
                    f"for {c.hold_s:g} s).")
        else:
            text = f"Not steady yet: the reading is still moving (needs to settle for {c.hold_s:g} s)."
        return StabilityStatus(stable, min(held, c.hold_s) if stable else held, c.hold_s, mean, sd, int(rs.size),
                               spread, allowed, saturated, text)
