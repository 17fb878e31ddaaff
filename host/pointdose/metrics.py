"""What a point received: contact time, dose, time in band, peak, hold stability — one implementation.

The app, the reports, ``pointdose history`` and ``pointdose analyze`` all call :func:`compute`;
the definitions are in ``docs/metrics.md``. Plain functions over numpy arrays; no I/O, no GUI.

    >>> import numpy as np
    >>> t = np.array([0.0, 1.0, 2.0, 3.0]); p = np.array([0.0, 100.0, 100.0, 0.0])
    >>> m = compute(t, p, contact_kpa=50.0)
    >>> round(m.contact_s, 6), round(m.dose_kpa_s, 6)
    (2.25, 184.375)

Conventions
    * Pressure is linear between samples. **Contact** (the one definition the engine, training and
      the reports use too) begins when the pressure rises to ``contact_kpa`` and ends when it falls
      below the release level, ``release_kpa`` = :data:`CONTACT_RELEASE_RATIO` × ``contact_kpa``
      unless given: a threshold with hysteresis, so a probe resting near the threshold is one
      contact, not dozens. Crossings inside an interval are placed by linear interpolation.
      :func:`contact_pieces` (whole traces) and :class:`ContactTracker` (sample by sample) are its
      two forms and agree sample for sample.
    * Dose is the trapezoidal integral of the pressure itself over the contact time, kPa·s
      (and N·s from force). It is a *descriptive* number: it says how much pressure × time was
      given, not what it did.
    * Intervals are integrated only between consecutive sequence numbers of one device segment
      whose time goes forward: a gap (missing sequence numbers), a device restart or a step back
      in time (the host clock mapping corrected itself) is reported, never bridged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Iterable

import numpy as np

# 10 kPa = 1 N on a 1 cm² probe: well under any therapeutic or PPT pressure (domain notes:
# PPTs 100–600 kPa on 1 cm²) and well over a load cell's noise. A setting: stored per application.
DEFAULT_CONTACT_KPA = 10.0
# Contact ends when the pressure falls below this share of the threshold (5 kPa = 0.5 N on 1 cm² at
# the default): the hysteresis. A setting, not from a source: it must exceed the noise of a reading
# resting at the threshold (a load cell's is well under 1 kPa; an FSR's ±2 % repeatability is
# 0.2 kPa at 10 kPa, domain notes) and stay under any pressure that is meant as contact. A ratio,
# not a fixed kPa, so every threshold (the safety limits' too) gets the same definition, and the
# one number each application stores (its ``contact_kpa``) recomputes its contact exactly.
CONTACT_RELEASE_RATIO = 0.5

DOSE_LABEL = "dose (descriptive: ∫ pressure dt over contact)"

# A device stream that falls silent this long between two consecutively numbered samples (the
# device's loop stalled, so slots went by unsampled) is a gap too: the same 250 ms after which
# the session raises its stale-stream alarm. Traces without sequence numbers (a CSV) are not cut.
MAX_SILENCE_S = 0.25


@dataclass(frozen=True)
class Gap:
    """A break in the stream between two received samples: never integrated across."""

    t_before_s: float
    t_after_s: float
    seq_before: int
    seq_after: int
    missing: int | None  # samples lost; None when the device restarted (a new segment)
    time_back_s: float = 0.0  # > 0: the time stepped back this much here (host clock correction)

    @property
    def duration_s(self) -> float:
        """Time between the two samples; 0 for a step back in time (nothing to integrate, no hole)."""
        return max(0.0, self.t_after_s - self.t_before_s)

    def describe(self) -> str:
        if self.time_back_s > 0:
            return f"time stepped back {self.time_back_s:.3f} s at t={self.t_before_s:.3f} s (clock correction)"
        what = ("device restarted" if self.missing is None else
                f"{self.missing} samples missing" if self.missing else "the device fell silent")
        return f"gap {self.duration_s:.3f} s at t={self.t_before_s:.3f} s ({what})"


@dataclass
class Metrics:
    """Totals for one application (or one trace). Times in s, pressures in kPa, dose in kPa·s."""

    n_samples: int
    duration_s: float  # first to last sample, gaps included
    contact_kpa: float
    contact_s: float
    dose_kpa_s: float
    dose_n_s: float | None  # from force, when force was given
    peak_kpa: float | None
    mean_contact_kpa: float | None  # dose / contact time
    band_kpa: tuple[float, float] | None = None
    in_band_s: float | None = None
    in_band_pct: float | None = None  # of contact time
    ppt_kpa: float | None = None
    above_ppt_s: float | None = None
    contacts: int = 0  # separate contact episodes (press → release)
    gaps: list[Gap] = field(default_factory=list)
    gap_s: float = 0.0
    hold_cv: list[float | None] = field(default_factory=list)  # one per hold window, None if too short
    cycles_completed: int | None = None  # from the engine's events, when known
    contact_release_kpa: float | None = None  # contact ends below this (the hysteresis' lower level)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["gaps"] = [dict(asdict(g), duration_s=g.duration_s) for g in self.gaps]
        d["band_kpa"] = list(self.band_kpa) if self.band_kpa else None
        d["dose_label"] = DOSE_LABEL
        return d


# --------------------------------------------------------------------------- building blocks


def runs(seq: np.ndarray | None, segment: np.ndarray | None, n: int,
         t: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Index ranges ``[start, stop)`` of consecutive samples (seq steps by 1, same segment, time not
    going back; and, for a device stream with sequence numbers, no silence longer than
    :data:`MAX_SILENCE_S` between two samples)."""
    if n == 0:
        return []
    breaks = np.zeros(n - 1, dtype=bool)
    if t is not None:
        dt = np.diff(np.asarray(t, dtype=np.float64))
        breaks |= dt < 0
        if seq is not None:
            breaks |= dt > MAX_SILENCE_S
    if seq is not None:
        breaks |= np.diff(np.asarray(seq, dtype=np.int64)) != 1
    if segment is not None:
        breaks |= np.diff(np.asarray(segment, dtype=np.int64)) != 0
    cut = np.flatnonzero(breaks) + 1
    edges = np.concatenate([[0], cut, [n]])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def gaps_between(t, seq, segment, spans: list[tuple[int, int]]) -> list[Gap]:
    out = []
    for (_, stop), (start, _) in zip(spans[:-1], spans[1:]):
        i, j = stop - 1, start
        restarted = segment is not None and int(segment[i]) != int(segment[j])
        if seq is None:  # without sequence numbers: a restart or a step back in time
            s_i, s_j, missing = i, j, (None if restarted else 0)
        else:
            s_i, s_j = int(seq[i]), int(seq[j])
            missing = None if restarted else max(0, s_j - s_i - 1)
        back = float(t[i]) - float(t[j])
        out.append(Gap(float(t[i]), float(t[j]), s_i, s_j, missing, time_back_s=back if back > 0 else 0.0))
    return out


def release_level(contact_kpa: float, release_kpa: float | None = None) -> float:
    """The level below which contact ends: ``release_kpa``, else CONTACT_RELEASE_RATIO × threshold."""
    off = CONTACT_RELEASE_RATIO * float(contact_kpa) if release_kpa is None else float(release_kpa)
    if not (math.isfinite(off) and off <= contact_kpa):
        raise ValueError(f"the contact release level ({off:g} kPa) must be a number at or below the contact "
                         f"threshold ({contact_kpa:g} kPa)")
    return off


class ContactTracker:
    """The contact definition sample by sample (the engine's hold clock, live displays).

    ``update(t, p)`` returns whether the probe is in contact after this sample: contact starts at
    ``p >= contact_kpa`` and ends at ``p < release``. ``since`` is the time of the sample that
    started the current contact; ``contacts`` counts contacts begun.
    """

    def __init__(self, contact_kpa: float = DEFAULT_CONTACT_KPA, release_kpa: float | None = None) -> None:
        self.contact_kpa = float(contact_kpa)
        self.release_kpa = release_level(contact_kpa, release_kpa)
        self.in_contact = False
        self.since: float | None = None
        self.contacts = 0

    def update(self, t: float, p: float) -> bool:
        if not self.in_contact and p >= self.contact_kpa:
            self.in_contact, self.since = True, t
            self.contacts += 1
        elif self.in_contact and p < self.release_kpa:
            self.in_contact, self.since = False, None
        return self.in_contact


def contact_states(p: np.ndarray, contact_kpa: float, release_kpa: float, initial: bool = False) -> np.ndarray:
    """In contact after each sample (the same answers as :class:`ContactTracker`, vectorised)."""
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0:
        return np.zeros(0, dtype=bool)
    event = np.where(p >= contact_kpa, 1, np.where(p < release_kpa, 0, -1))  # -1: keeps the state
    last = np.maximum.accumulate(np.where(event >= 0, np.arange(p.size), -1))
    return np.where(last >= 0, event[np.maximum(last, 0)] == 1, initial)


def contact_pieces(t: np.ndarray, p: np.ndarray, contact_kpa: float, release_kpa: float,
                   initial: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The contact time of one run as pieces of its intervals: ``(i, u0, u1, states)``.

    Piece k covers the fraction ``[u0[k], u1[k]]`` of the interval from sample ``i[k]`` to
    ``i[k] + 1`` (a whole interval in contact is 0…1; the interval where contact begins starts
    at the interpolated rise through the threshold, the one where it ends stops at the fall through
    the release level). ``states`` is :func:`contact_states` of the run.
    """
    t = np.asarray(t, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    s = contact_states(p, contact_kpa, release_kpa, initial)
    if p.size < 2:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty, empty, s
    a, b = p[:-1], p[1:]
    sa, sb = s[:-1], s[1:]
    whole, down, up = sa & sb, sa & ~sb, ~sa & sb
    idx = np.flatnonzero(whole | down | up)
    u0 = np.zeros(idx.size)
    u1 = np.ones(idx.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        # down: a >= release > b; up: a < threshold <= b — both denominators are > 0 there
        d = down[idx]
        u1[d] = (a[idx][d] - release_kpa) / (a[idx][d] - b[idx][d])
        u_ = up[idx]
        u0[u_] = (contact_kpa - a[idx][u_]) / (b[idx][u_] - a[idx][u_])
    return idx, np.clip(u0, 0.0, 1.0), np.clip(u1, 0.0, 1.0), s


def _at(y: np.ndarray, idx: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The linear value at fraction ``u`` of interval ``idx``."""
    return y[idx] + (y[idx + 1] - y[idx]) * u


def _segments_above(t0, y0, t1, y1, level: float) -> tuple[float, float]:
    """Time with ``y >= level`` and ∫ y dt over it, over linear segments (t0,y0)→(t1,y1)."""
    dt = t1 - t0
    ia, ib = y0 >= level, y1 >= level
    both = ia & ib
    time = float(dt[both].sum())
    area = float((0.5 * (y0[both] + y1[both]) * dt[both]).sum())
    # one end above: the part from the crossing to that end, a trapezoid from `level` to it
    for up_end, hi, lo in ((ia & ~ib, y0, y1), (~ia & ib, y1, y0)):
        if up_end.any():
            frac = (hi[up_end] - level) / (hi[up_end] - lo[up_end])
            part = frac * dt[up_end]
            time += float(part.sum())
            area += float((0.5 * (hi[up_end] + level) * part).sum())
    return time, area


def above(t: np.ndarray, y: np.ndarray, level: float) -> tuple[float, float]:
    """Time with ``y >= level`` and ∫ y dt over that time, y linear between samples (one run)."""
    if len(t) < 2:
        return 0.0, 0.0
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return _segments_above(t[:-1], y[:-1], t[1:], y[1:], level)


def trapezoid_pieces(t0, y0, t1, y1) -> float:
    """∫ y dt over linear pieces (t0,y0)→(t1,y1)."""
    return float((0.5 * (y0 + y1) * (t1 - t0)).sum())


def trapezoid(t: np.ndarray, y: np.ndarray) -> float:
    if len(t) < 2:
        return 0.0
    return float((0.5 * (y[1:] + y[:-1]) * np.diff(t)).sum())


def coefficient_of_variation(t: np.ndarray, y: np.ndarray) -> float | None:
    """Time-weighted SD / mean of ``y`` (linear between samples) over one run; None if undefined."""
    if len(t) < 3 or t[-1] <= t[0]:
        return None
    span = t[-1] - t[0]
    mean = trapezoid(t, y) / span
    if mean <= 0:
        return None
    # ∫ (linear)² over each interval = dt·(a² + ab + b²)/3
    a, b, dt = y[:-1], y[1:], np.diff(t)
    mean_sq = float((dt * (a * a + a * b + b * b) / 3.0).sum()) / span
    var = max(0.0, mean_sq - mean * mean)
    return math.sqrt(var) / mean


def _window(t, y, t0, t1):
    """Samples in [t0, t1] with the ends interpolated in (one run)."""
    if len(t) == 0 or t1 <= t[0] or t0 >= t[-1]:
        return t[:0], y[:0]
    t0, t1 = max(t0, t[0]), min(t1, t[-1])
    inner = (t > t0) & (t < t1)
    tt = np.concatenate([[t0], t[inner], [t1]])
    yy = np.concatenate([[np.interp(t0, t, y)], y[inner], [np.interp(t1, t, y)]])
    return tt, yy


# --------------------------------------------------------------------------- the one entry point


def compute(t_s, pressure_kpa, *, contact_kpa: float = DEFAULT_CONTACT_KPA, release_kpa: float | None = None,
            force_n=None, seq=None,
            segment=None, band_kpa: tuple[float, float] | None = None, ppt_kpa: float | None = None,
            holds: Iterable[tuple[float, float]] = (), cycles_completed: int | None = None) -> Metrics:
    """All metrics of one trace. ``t_s`` in time order (s); ``pressure_kpa`` (kPa); ``seq``/``segment``
    (optional) reveal gaps; ``holds``: (t_start, t_end) windows for hold stability (CV);
    ``release_kpa``: where contact ends (default :data:`CONTACT_RELEASE_RATIO` × ``contact_kpa``).
    Contact carries across a gap (the probe pressing before and after is one contact), but no
    time across it is counted.

    A step back in ``t_s`` (the host's clock mapping corrected itself) never raises: it is a gap,
    reported and not integrated across."""
    t = np.asarray(t_s, dtype=np.float64)
    p = np.asarray(pressure_kpa, dtype=np.float64)
    if t.shape != p.shape:
        raise ValueError("time and pressure must have the same length")
    if not math.isfinite(contact_kpa):
        raise ValueError("the contact threshold must be a number of kPa")
    release = release_level(contact_kpa, release_kpa)
    if band_kpa is not None:
        lo, hi = float(band_kpa[0]), float(band_kpa[1])
        if not lo < hi:
            raise ValueError(f"the band's low end must be below its high end, got {lo}:{hi} kPa")
    f = None if force_n is None else np.asarray(force_n, dtype=np.float64)
    n = int(t.size)
    if seq is not None:
        seq = np.asarray(seq, dtype=np.int64)
    spans = runs(seq, segment, n, t)
    gaps = gaps_between(t, seq, segment, spans) if len(spans) > 1 else []

    contact_s = dose = 0.0
    dose_n = 0.0 if f is not None else None
    in_band = 0.0 if band_kpa is not None else None
    above_ppt = 0.0 if ppt_kpa is not None else None
    state = False
    contacts = 0
    for a, b in spans:
        ts, ps = t[a:b], p[a:b]
        idx, u0, u1, states = contact_pieces(ts, ps, contact_kpa, release, initial=state)
        if states.size:
            contacts += int(states[0] and not state) + int(np.count_nonzero(states[1:] & ~states[:-1]))
            state = bool(states[-1])
        t0, t1 = _at(ts, idx, u0), _at(ts, idx, u1)
        p0, p1 = _at(ps, idx, u0), _at(ps, idx, u1)
        contact_s += float((t1 - t0).sum())
        dose += trapezoid_pieces(t0, p0, t1, p1)
        if f is not None:
            fs = f[a:b]
            dose_n += trapezoid_pieces(t0, _at(fs, idx, u0), t1, _at(fs, idx, u1))
        if band_kpa is not None:
            # in the band and in contact: the band measured over the contact pieces only
            in_band += _segments_above(t0, p0, t1, p1, band_kpa[0])[0] - _segments_above(t0, p0, t1, p1, band_kpa[1])[0]
            # a stretch sitting exactly on the top edge is in the band
            flat = (p0 == band_kpa[1]) & (p1 == band_kpa[1])
            in_band += float((t1 - t0)[flat].sum())
        if ppt_kpa is not None:
            above_ppt += above(ts, ps, ppt_kpa)[0]

    cvs: list[float | None] = []
    for h0, h1 in holds:
        best = None
        for a, b in spans:  # a hold split by a gap: the longest piece
            wt, wy = _window(t[a:b], p[a:b], float(h0), float(h1))
            if wt.size and (best is None or wt[-1] - wt[0] > best[0][-1] - best[0][0]):
                best = (wt, wy)
        cvs.append(coefficient_of_variation(*best) if best is not None else None)

    return Metrics(
        n_samples=n,
        duration_s=float(t.max() - t.min()) if n else 0.0,
        contact_kpa=float(contact_kpa),
        contact_s=contact_s,
        dose_kpa_s=dose,
        dose_n_s=dose_n,
        peak_kpa=float(p.max()) if n else None,
        mean_contact_kpa=dose / contact_s if contact_s > 0 else None,
        band_kpa=(float(band_kpa[0]), float(band_kpa[1])) if band_kpa is not None else None,
        in_band_s=in_band,
        in_band_pct=(100.0 * in_band / contact_s if contact_s > 0 else 0.0) if in_band is not None else None,
        ppt_kpa=ppt_kpa,
        above_ppt_s=above_ppt,
        contacts=contacts,
        gaps=gaps,
        gap_s=float(sum(g.duration_s for g in gaps)),
        hold_cv=cvs,
        cycles_completed=cycles_completed,
        contact_release_kpa=release,
    )
