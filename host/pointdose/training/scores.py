"""Scores of trials and blocks (definitions in docs/training.md, "Scores"). Plain numpy, no I/O.

Per trial (values in the drill's quantity: kPa for pressure, N for force; times in s):

``outcome``
    the time-weighted mean of the trace over the hold window ``[t_hold0, t_hold1]`` (the cue's
    hold phase), the trace taken as linear between samples, the window's ends interpolated. A
    stretch of missing samples (a gap in the sequence numbers) is left out, never bridged.
``peak``
    the largest sample from the trial's start to the end of its release.
``error``
    ``outcome − target`` (signed: negative = too light).
``in_band_pct``
    % of the hold window's time with the trace inside the band ``[low, high]``.
``time_to_band_s``
    from the trial's start (the "press" cue) to the first instant the trace is inside the band
    (crossing interpolated); None if it never got there.
``overshoot``
    ``max(0, highest value from the start to the end of the hold − target)``, also as % of target.
``contacts``
    contacts from the trial's start to the end of its release, by the one contact definition
    (:func:`pointdose.metrics.contact_states`: threshold and release level, docs/metrics.md); more
    than one means the probe came off the surface during the trial, and a note says so.

Per block (the trials' outcomes x₁…xₙ, mean M, errors eᵢ = xᵢ − target), as Schmidt & Lee define
them (Motor Control and Learning, "Measures of error"; docs/training.md):

``constant_error`` CE = mean(eᵢ) = M − target (signed bias); ``abs_constant_error`` |CE|;
``absolute_error`` AE = mean(|eᵢ|);
``variable_error`` VE = √(Σ(xᵢ − M)² / n) — the SD with **n** in the denominator, so that
``total_error`` E = √(Σ eᵢ² / n) satisfies E² = CE² + VE² exactly; VE is undefined for one trial
(None, with a note); ``variable_error_n1`` = the sample SD (n − 1), kept apart and labelled so
wherever it is shown; ``cv_pct`` = 100 · VE / M.

    >>> import numpy as np
    >>> t = np.arange(0.0, 10.01, 0.01); y = np.clip(t, 0, 2) * 50      # ramp to 100 in 2 s
    >>> s = score_trial(t, y, target=100, band=(90, 110), t_start=0, ramp_s=2, hold_s=5, release_s=1)
    >>> round(s.outcome, 6), round(s.time_to_band_s, 6), s.in_band_pct
    (100.0, 1.8, 100.0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from pointdose import metrics

MIN_HOLD_COVERAGE = 0.9  # a hold with less data than this share of its window gets no outcome


@dataclass(frozen=True)
class TrialScore:
    target: float
    band: tuple[float, float]
    outcome: float | None
    peak: float | None
    error: float | None
    abs_error: float | None
    in_band_pct: float | None
    time_to_band_s: float | None
    overshoot: float | None
    overshoot_pct: float | None
    hold_coverage: float  # share of the hold window with samples on both sides
    notes: tuple[str, ...] = ()
    contacts: int | None = None  # contact episodes in the trial (None: not counted)

    @property
    def valid(self) -> bool:
        return self.outcome is not None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["band"] = list(self.band)
        d["notes"] = list(self.notes)
        return d


@dataclass(frozen=True)
class BlockScore:
    n: int  # trials with an outcome
    target: float | None
    mean_outcome: float | None
    constant_error: float | None
    absolute_error: float | None
    variable_error: float | None  # SD with n (Schmidt & Lee): E² = CE² + VE²
    cv_pct: float | None
    mean_in_band_pct: float | None
    mean_time_to_band_s: float | None
    notes: tuple[str, ...] = ()
    abs_constant_error: float | None = None  # |CE|
    total_error: float | None = None  # E = √(mean eᵢ²)
    variable_error_n1: float | None = None  # the sample SD (n − 1): labelled "SD (n−1)" where shown

    def to_dict(self) -> dict:
        d = asdict(self)
        d["notes"] = list(self.notes)
        return d


def _pieces(t: np.ndarray, seq: np.ndarray | None, segment: np.ndarray | None) -> list[tuple[int, int]]:
    return metrics.runs(seq, segment, len(t))


def _clip(t: np.ndarray, y: np.ndarray, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
    """The part of one run inside [t0, t1], ends interpolated (empty if they do not overlap)."""
    if t.size < 2 or t1 <= t[0] or t0 >= t[-1]:
        return t[:0], y[:0]
    a, b = max(t0, t[0]), min(t1, t[-1])
    inner = (t > a) & (t < b)
    return (np.concatenate([[a], t[inner], [b]]),
            np.concatenate([[np.interp(a, t, y)], y[inner], [np.interp(b, t, y)]]))


def _time_in(t: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    """Time with lo <= y <= hi, y linear between samples."""
    inside = metrics.above(t, y, lo)[0] - metrics.above(t, y, hi)[0]
    # intervals lying exactly on the top edge count as inside (above(hi) took them out)
    if t.size >= 2:
        flat = (y[:-1] == hi) & (y[1:] == hi)
        inside += float(np.diff(t)[flat].sum())
    return max(0.0, inside)


def _first_in_band(t: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float | None:
    """The first instant the linear trace is inside [lo, hi]."""
    if t.size == 0:
        return None
    if lo <= y[0] <= hi:
        return float(t[0])
    for i in range(t.size - 1):
        a, b = y[i], y[i + 1]
        if lo <= a <= hi:
            return float(t[i])
        edge = lo if a < lo <= b else hi if a > hi >= b else None
        if edge is not None:
            return float(t[i] + (edge - a) / (b - a) * (t[i + 1] - t[i]))
    return float(t[-1]) if lo <= y[-1] <= hi else None


def score_trial(t, y, *, target: float, band: tuple[float, float], t_start: float, ramp_s: float, hold_s: float,
                release_s: float = 0.0, seq=None, segment=None, contact_level: float | None = None) -> TrialScore:
    """Score one trial from its trace (``t`` ascending, s; ``y`` in the drill's quantity).

    ``contact_level``: the contact threshold in the drill's quantity (the metrics' default, as
    :attr:`Drill.contact_level` gives it); None: contacts are not counted."""
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if t.shape != y.shape:
        raise ValueError("time and values must have the same length")
    if t.size and np.any(np.diff(t) < 0):
        raise ValueError("time must not go backwards")
    lo, hi = float(band[0]), float(band[1])
    if not lo < hi:
        raise ValueError(f"the band's low end must be below its high end, got {lo}:{hi}")
    h0, h1 = t_start + ramp_s, t_start + ramp_s + hold_s
    notes: list[str] = []
    spans = _pieces(t, None if seq is None else np.asarray(seq), None if segment is None else np.asarray(segment))
    if len(spans) > 1:
        notes.append(f"{len(spans) - 1} gap(s) in the stream: not bridged")

    covered = area = in_band = 0.0
    reach: float | None = None
    top_to_hold = -math.inf
    for a, b in spans:
        wt, wy = _clip(t[a:b], y[a:b], h0, h1)
        if wt.size >= 2:
            covered += float(wt[-1] - wt[0])
            area += metrics.trapezoid(wt, wy)
            in_band += _time_in(wt, wy, lo, hi)
        rt, ry = _clip(t[a:b], y[a:b], t_start, h1)
        if rt.size:
            top_to_hold = max(top_to_hold, float(ry.max()))
            if reach is None:
                hit = _first_in_band(rt, ry, lo, hi)
                if hit is not None:
                    reach = hit - t_start
    coverage = covered / hold_s if hold_s > 0 else 0.0
    trial_mask = (t >= t_start) & (t <= h1 + release_s)
    peak = float(y[trial_mask].max()) if trial_mask.any() else None

    outcome = error = None
    if coverage >= MIN_HOLD_COVERAGE and covered > 0:
        outcome = area / covered
        error = outcome - target
    else:
        notes.append(f"samples cover {coverage:.0%} of the hold window (need {MIN_HOLD_COVERAGE:.0%}): no outcome")
    overshoot = max(0.0, top_to_hold - target) if math.isfinite(top_to_hold) else None
    contacts = None
    if contact_level is not None:
        states = metrics.contact_states(y[trial_mask], contact_level, metrics.release_level(contact_level))
        contacts = int(states[:1].sum()) + int(np.count_nonzero(states[1:] & ~states[:-1]))
        if contacts > 1:
            notes.append(f"the probe came off the surface {contacts - 1} time(s) during the trial")
    return TrialScore(
        target=float(target), band=(lo, hi), outcome=outcome, peak=peak, error=error,
        abs_error=None if error is None else abs(error),
        in_band_pct=100.0 * in_band / covered if covered > 0 else None,
        time_to_band_s=reach, overshoot=overshoot,
        overshoot_pct=None if overshoot is None or target == 0 else 100.0 * overshoot / target,
        hold_coverage=coverage, notes=tuple(notes), contacts=contacts)


def score_block(trials: Sequence[TrialScore]) -> BlockScore:
    """CE, AE, VE and CV over the trials that have an outcome (one target per block)."""
    good = [s for s in trials if s.valid]
    notes: list[str] = []
    skipped = len(trials) - len(good)
    if skipped:
        notes.append(f"{skipped} trial(s) without an outcome left out")
    targets = {round(s.target, 9) for s in good}
    if len(targets) > 1:
        raise ValueError("a block's trials must share one target to be scored together")
    if not good:
        notes.append("no trial with an outcome: nothing to score")
        return BlockScore(0, None, None, None, None, None, None, None, None, tuple(notes))
    x = np.array([s.outcome for s in good], dtype=np.float64)
    e = np.array([s.error for s in good], dtype=np.float64)
    mean = float(x.mean())
    ve = ve1 = cv = None
    if len(good) >= 2:
        ve = float(x.std(ddof=0))
        ve1 = float(x.std(ddof=1))
        cv = 100.0 * ve / mean if mean > 0 else None
    else:
        notes.append("variable error and CV are undefined for a single trial (one outcome has no spread)")
    ce = float(e.mean())
    in_band = [s.in_band_pct for s in good if s.in_band_pct is not None]
    reach = [s.time_to_band_s for s in good if s.time_to_band_s is not None]
    if len(reach) < len(good):
        notes.append(f"{len(good) - len(reach)} trial(s) never reached the band (left out of the mean time to band)")
    return BlockScore(
        n=len(good), target=good[0].target, mean_outcome=mean, constant_error=ce,
        absolute_error=float(np.abs(e).mean()), variable_error=ve, cv_pct=cv,
        mean_in_band_pct=float(np.mean(in_band)) if in_band else None,
        mean_time_to_band_s=float(np.mean(reach)) if reach else None, notes=tuple(notes),
        abs_constant_error=abs(ce), total_error=float(np.sqrt(np.mean(e * e))), variable_error_n1=ve1)
