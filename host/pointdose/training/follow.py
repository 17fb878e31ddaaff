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


FOLLOW_BAND_PCT = 10.0  # a setting: "in band" = within ±10 % of the expert's pressure then (the drills' default band)


def in_band_pct(t_s, kpa, curve: Curve, band_pct: float = FOLLOW_BAND_PCT) -> float | None:
    """Share (%) of the attempt's samples within ±``band_pct`` % of the expert's pressure at their time."""
    t = np.asarray(t_s, dtype=np.float64)
    y = np.asarray(kpa, dtype=np.float64)
    inside = (t >= 0) & (t <= curve.duration_s)
    if not inside.any():
        return None
    want = curve.at(t[inside])
    return float(100.0 * np.mean(np.abs(y[inside] - want) <= band_pct / 100.0 * want))


class FollowAttempt:
    """The student's attempt as samples arrive: nothing until the sensor has been seen unloaded and
    then touched (the first contact: a press already under way when the drill starts is not a start,
    it would put the student's curve out of step with the expert's), then the expert's duration from
    it (device time decides). ``feed`` returns True once the attempt is complete."""

    def __init__(self, curve: Curve, contact_kpa: float = metrics.DEFAULT_CONTACT_KPA) -> None:
        self.curve = curve
        self.contact_kpa = contact_kpa
        self.t0: float | None = None
        self.armed = False  # a sample under the contact threshold was seen
        self._rows: list[np.ndarray] = []
        self.complete = False

    def feed(self, rows) -> bool:
        """New SAMPLE_DTYPE rows (``t_s``, ``pressure_kpa`` …), oldest first."""
        if self.complete or rows is None or len(rows) == 0:
            return self.complete
        if self.t0 is None:
            on = rows["pressure_kpa"] >= self.contact_kpa
            if not self.armed:
                off = np.flatnonzero(~on)
                if not len(off):
                    return False
                self.armed = True
                rows, on = rows[off[0]:], on[off[0]:]
            hit = np.flatnonzero(on)
            if not len(hit):
                return False
            self.t0 = float(rows["t_s"][hit[0]])
            rows = rows[hit[0]:]
        self._rows.append(rows)
        if float(rows["t_s"][-1]) - self.t0 >= self.curve.duration_s:
            self.complete = True
        return self.complete

    def rows(self) -> np.ndarray:
        """The attempt's samples so far (SAMPLE_DTYPE), from the first contact."""
        if not self._rows:
            from pointdose.listeners import SAMPLE_DTYPE

            return np.zeros(0, SAMPLE_DTYPE)
        return self._rows[0] if len(self._rows) == 1 else np.concatenate(self._rows)

    def trace(self) -> tuple[np.ndarray, np.ndarray]:
        """(time from the first contact, kPa) so far."""
        r = self.rows()
        return (r["t_s"] - (self.t0 or 0.0)).astype(np.float64), r["pressure_kpa"].astype(np.float64)

    def score(self) -> FollowScore:
        return score_follow(*self.trace(), self.curve)


def follow_live(rows, curve: Curve, *, contact_kpa: float = metrics.DEFAULT_CONTACT_KPA,
                on_line: Callable[[str], None] = print, wait_s: float = 120.0, line_every_s: float = 1.0,
                should_stop: Callable[[], bool] = lambda: False,
                attempt: FollowAttempt | None = None) -> tuple[FollowScore, np.ndarray, np.ndarray]:
    """Wait for the student's first contact, then take samples for the expert's duration.

    ``rows``: a :class:`pointdose.training.live.RingRows` (``take()`` gives new SAMPLE_DTYPE rows).
    Prints a line each ``line_every_s`` of device time: the expert's pressure now and the student's.
    Returns the score and the attempt's (t from first contact, kPa); ``attempt`` (a fresh
    :class:`FollowAttempt`) keeps its samples for the caller (to save them).
    """
    attempt = attempt if attempt is not None else FollowAttempt(curve, contact_kpa)
    next_line = 0.0
    end = time.monotonic() + wait_s
    on_line(f"press when ready: follow {curve.source}, {curve.duration_s:.1f} s, peak {curve.kpa.max():.0f} kPa")
    while not should_stop():
        started = attempt.t0 is not None
        done = attempt.feed(rows.take())
        if attempt.t0 is not None:
            if not started:
                end = time.monotonic() + curve.duration_s + wait_s  # device time decides the end; this is a guard
            rel, y = attempt.trace()
            while len(rel) and next_line <= rel[-1] and next_line <= curve.duration_s:
                k = min(int(np.searchsorted(rel, next_line)), len(rel) - 1)
                want = float(curve.at(next_line))
                on_line(f"  {next_line:5.1f} s  expert {want:6.1f} kPa  you {y[k]:6.1f} kPa  ({y[k] - want:+.1f})")
                next_line += line_every_s
            if done:
                break
        if time.monotonic() > end:
            break
        time.sleep(0.02)
    if attempt.t0 is None:
        raise UserError(f"no contact (≥ {contact_kpa:g} kPa) within {wait_s:.0f} s: nothing was scored")
    t_all, y_all = attempt.trace()
    return score_follow(t_all, y_all, curve), t_all, y_all


class FollowRunner:
    """A follow attempt on its own thread, for the app: ``phase`` is "waiting" (for the first
    contact), "following", then "done", "stopped" or "no contact"; ``attempt`` holds the samples so
    far and ``score`` the result; ``on_done(runner)`` runs on the thread when it ends with a score."""

    def __init__(self, rows, curve: Curve, *, contact_kpa: float = metrics.DEFAULT_CONTACT_KPA,
                 wait_s: float = 120.0, on_done: Callable[["FollowRunner"], None] | None = None) -> None:
        self.rows = rows
        self.curve = curve
        self.attempt = FollowAttempt(curve, contact_kpa)
        self.wait_s = wait_s
        self.on_done = on_done
        self.phase = "waiting"
        self.score: FollowScore | None = None
        self.error = ""  # what went wrong saving or reading, one line
        self._halt = False
        self._thread = None
        import threading

        self.finished = threading.Event()

    def start_thread(self) -> "FollowRunner":
        import threading

        self._thread = threading.Thread(target=self._run, name="pointdose-follow", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._halt = True

    def close(self, timeout: float = 5.0) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        end = time.monotonic() + self.wait_s
        try:
            while not self._halt:
                done = self.attempt.feed(self.rows.take())
                if self.attempt.t0 is not None and self.phase == "waiting":
                    self.phase = "following"
                    end = time.monotonic() + self.curve.duration_s + self.wait_s  # a guard; device time decides
                if done:
                    break
                if time.monotonic() > end:
                    break
                time.sleep(0.02)
            if self.attempt.t0 is None:
                self.phase = "stopped" if self._halt else "no contact"
                return
            self.score = self.attempt.score()
            self.phase = "stopped" if self._halt and not self.attempt.complete else "done"
            if self.on_done is not None:
                self.on_done(self)
        except Exception as exc:  # a failed save or a device gone: said, the app stays up
            self.error = str(exc)
            if self.phase in ("waiting", "following"):
                self.phase = "stopped"
        finally:
            self.finished.set()
