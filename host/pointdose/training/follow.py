"""Follow an expert's curve: the target is a recorded application's pressure trace.

The expert's trace is taken from its first to its last contact (``contact_kpa``, the one contact
threshold, docs/metrics.md), its time from 0. The student's attempt starts at their first contact
and lasts as long as the expert's. Each student sample at time tᵢ has the error
eᵢ = yᵢ − target(tᵢ) (the expert's trace interpolated), and the attempt is scored with the same
measures as a block of trials (Schmidt & Lee, docs/training.md), the eᵢ in place of the trials'
errors: CE = mean(eᵢ), |CE|, AE = mean(|eᵢ|), VE = √(Σ(eᵢ − CE)²/n) (n in the denominator, so
E² = CE² + VE² with E = √(Σeᵢ²/n)). With one constant target this is exactly the block formula
over the samples.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from pointdose import metrics
from pointdose.errors import UserError

MAX_GAP_S = 0.1  # samples further apart than this are a gap: that stretch counts as not covered


@dataclass(frozen=True)
class Curve:
    """The target: times (s, from 0) and pressures (kPa)."""

    t_s: np.ndarray
    kpa: np.ndarray
    source: str

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1])

    def at(self, t) -> np.ndarray:
        return np.interp(t, self.t_s, self.kpa)


@dataclass(frozen=True)
class FollowScore:
    n: int
    duration_s: float
    coverage: float  # share of the expert's duration with student samples (gaps left out)
    constant_error: float | None
    abs_constant_error: float | None
    absolute_error: float | None
    variable_error: float | None
    total_error: float | None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["notes"] = list(self.notes)
        return d


def curve_from_trace(t_s, kpa, source: str, contact_kpa: float = metrics.DEFAULT_CONTACT_KPA) -> Curve:
    """The trace from its first to its last sample at or above ``contact_kpa``, time from 0."""
    t = np.asarray(t_s, dtype=np.float64)
    y = np.asarray(kpa, dtype=np.float64)
    on = np.flatnonzero(y >= contact_kpa)
    if len(on) < 2 or t[on[-1]] - t[on[0]] < 0.5:
        raise UserError(f"{source} has no contact of 0.5 s or more at {contact_kpa:g} kPa: choose an application "
                        "where the probe pressed")
    a, b = on[0], on[-1] + 1
    tt, yy = t[a:b], y[a:b]
    keep = np.concatenate(([True], np.diff(tt) > 0))
    return Curve(tt[keep] - tt[0], yy[keep], source)


def curve_from_records(store, app_id: int, contact_kpa: float | None = None) -> Curve:
    """An application's pressure trace; its own contact threshold unless ``contact_kpa`` is given."""
    app = store.application(app_id)  # "there is no application N in the records"
    rows = store.samples(app_id)
    c = contact_kpa if contact_kpa is not None else (app.get("contact_kpa") or metrics.DEFAULT_CONTACT_KPA)
    return curve_from_trace(rows["t_s"], rows["pressure_kpa"], f"application {app_id}", c)


def score_follow(t_s, kpa, curve: Curve) -> FollowScore:
    """Score an attempt whose times are from the student's first contact (0) on."""
    t = np.asarray(t_s, dtype=np.float64)
    y = np.asarray(kpa, dtype=np.float64)
    inside = (t >= 0) & (t <= curve.duration_s)
    t, y = t[inside], y[inside]
    notes: list[str] = []
    dur = curve.duration_s
    if len(t) >= 2:
        dt = np.diff(t)
        covered = float(dt[dt <= MAX_GAP_S].sum())
    else:
        covered = 0.0
    coverage = min(1.0, covered / dur) if dur > 0 else 0.0
    if coverage < 0.9:
        notes.append(f"samples cover {100 * coverage:.0f} % of the expert's {dur:.1f} s")
    if len(t) == 0:
        notes.append("no samples during the expert's curve: nothing to score")
        return FollowScore(0, dur, coverage, None, None, None, None, None, tuple(notes))
    e = y - curve.at(t)
    ce = float(e.mean())
    return FollowScore(n=len(e), duration_s=dur, coverage=coverage, constant_error=ce, abs_constant_error=abs(ce),
                       absolute_error=float(np.abs(e).mean()), variable_error=float(e.std(ddof=0)),
                       total_error=float(math.sqrt(float(np.mean(e * e)))), notes=tuple(notes))


def follow_live(rows, curve: Curve, *, contact_kpa: float = metrics.DEFAULT_CONTACT_KPA,
                on_line: Callable[[str], None] = print, wait_s: float = 120.0, line_every_s: float = 1.0,
                should_stop: Callable[[], bool] = lambda: False) -> tuple[FollowScore, np.ndarray, np.ndarray]:
    """Wait for the student's first contact, then take samples for the expert's duration.

    ``rows``: a :class:`pointdose.training.live.RingRows` (``take()`` gives new SAMPLE_DTYPE rows).
    Prints a line each ``line_every_s`` of device time: the expert's pressure now and the student's.
    Returns the score and the attempt's (t from first contact, kPa).
    """
    t_parts: list[np.ndarray] = []
    y_parts: list[np.ndarray] = []
    t0: float | None = None
    next_line = 0.0
    end = time.monotonic() + wait_s
    on_line(f"press when ready: follow {curve.source}, {curve.duration_s:.1f} s, peak {curve.kpa.max():.0f} kPa")
    while not should_stop():
        new = rows.take()
        if len(new):
            t, y = new["t_s"], new["pressure_kpa"]
            if t0 is None:
                hit = np.flatnonzero(y >= contact_kpa)
                if len(hit):
                    t0 = float(t[hit[0]])
                    t, y = t[hit[0]:], y[hit[0]:]
                    end = time.monotonic() + curve.duration_s + wait_s  # device time decides the end; this is a guard
            if t0 is not None and len(t):
                rel = t - t0
                t_parts.append(rel)
                y_parts.append(y)
                while next_line <= rel[-1] and next_line <= curve.duration_s:
                    k = int(np.searchsorted(rel, next_line))
                    k = min(k, len(rel) - 1)
                    want = float(curve.at(next_line))
                    on_line(f"  {next_line:5.1f} s  expert {want:6.1f} kPa  you {y[k]:6.1f} kPa  ({y[k] - want:+.1f})")
                    next_line += line_every_s
                if rel[-1] >= curve.duration_s:
                    break
        if time.monotonic() > end:
            break
        time.sleep(0.02)
    if t0 is None:
        raise UserError(f"no contact (≥ {contact_kpa:g} kPa) within {wait_s:.0f} s: nothing was scored")
    t_all = np.concatenate(t_parts) if t_parts else np.zeros(0)
    y_all = np.concatenate(y_parts) if y_parts else np.zeros(0)
    return score_follow(t_all, y_all, curve), t_all, y_all
