"""The protocol engine: timestamped pressure in, cue state and events out. No GUI, no link.

::

    eng = Engine(protocol, PointContext(name="L trapezius", probe_area_cm2=1.0))
    eng.start(t0)
    eng.feed(t_s_array, pressure_kpa_array)       # as samples arrive (device time, seconds)
    eng.signal(t_s, "release")                    # "release", "pain", "rating" (value 0–10)
    eng.tick(now_s)                               # host time: stale-stream alarm
    eng.stop(now_s, "user pressed STOP")
    cue = eng.cue                                 # CueState: what to show/sound now
    events = eng.drain_events()                   # list[Event], in time order

Time is the samples' device time (mapped to host monotonic seconds by the link's clock). A
user signal carries its own time (a device button's device time, or the host time of a key
press) and is applied in time order with the samples: a signal newer than the newest sample
waits for the sample that passes it (or for :meth:`tick` to find it more than ``stale_s``
old), so the pressure "at the signal" is interpolated between the samples on either side.

Rate estimate (:func:`ramp_rate`): the least-squares slope of pressure against time over the
last :data:`RATE_WINDOW_S` (0.5 s) of samples, in kPa/s; undefined (None) with fewer than 3
samples or a window shorter than 0.1 s. At 50 kPa/s the 0.5 s window spans 25 kPa, well
above the sensor noise, and lags the true rate by a quarter of a second on a changing ramp.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pointdose import algometry, metrics
from pointdose.protocols.model import Limits, Phase, PointContext, Protocol, ProtocolError
from pointdose.protocols.safety import LimitGuard, limits_for

RATE_WINDOW_S = 0.5
RELEASE_MAX_S = 10.0  # a release the engine inserts (after a cap or a pain stop) waits this long at most
REACH_S = 0.2  # "reached": continuously in the band this long (a noisy crossing does not count)
SIGNALS = ("release", "pain", "rating")
BAND_STATES = ("none", "below", "in", "above")
LEVEL_FULL_FRACTION = 0.5  # level 100 when this far outside the band, as a fraction of the target


def ramp_rate(t: np.ndarray, p: np.ndarray) -> float | None:
    """Least-squares slope (kPa/s) of ``p`` against ``t``; None when under 3 points or 0.1 s."""
    if len(t) < 3 or t[-1] - t[0] < 0.1:
        return None
    tc = t - t.mean()
    denom = float(np.dot(tc, tc))
    if denom <= 0:
        return None
    return float(np.dot(tc, p - p.mean()) / denom)


@dataclass(frozen=True)
class Event:
    t_s: float
    kind: str  # phase_start, phase_end, cycle_done, step, signal, pain_rating, ppt_trial, ppt,
    #            alarm, alarm_clear, stop, end
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CueState:
    """Everything a cue needs, as plain values (kPa, s). ``band``: none/below/in/above."""

    phase: str = "off"  # ramp/hold/ease/rest while running; off before; done/stopped/alarm after
    label: str = ""
    cycle: int = 0
    cycles: int = 0
    phase_index: int = 0  # 1-based within the cycle
    phases_in_cycle: int = 0
    progress: float = 0.0  # 0 … 1 over the whole protocol (phases done / phases)
    step: int = 0
    steps: int = 0
    target_kpa: float | None = None
    band_lo_kpa: float | None = None
    band_hi_kpa: float | None = None
    pressure_kpa: float | None = None
    band: str = "none"
    deviation_kpa: float = 0.0  # signed distance outside the band (0 inside)
    level: int = 0  # 0 … 100: how far outside the band
    elapsed_s: float = 0.0
    time_left_s: float | None = None
    time_left_is_max: bool = False  # the phase ends on a signal; this is its cap
    rate_kpa_s: float | None = None
    rate_target_kpa_s: float | None = None
    rate_lo_kpa_s: float | None = None
    rate_hi_kpa_s: float | None = None
    rate_state: str = "none"  # none/slow/ok/fast
    guide_t0_s: float | None = None  # the rate guide is p(t) = guide_p0 + rate_target·(t − guide_t0)
    guide_p0_kpa: float | None = None
    waiting_for: str | None = None  # "release" or "pain"
    prompt: str = ""
    alarm: str = ""
    finished: bool = False
    end_reason: str = ""
    t_s: float = 0.0
    blinded: bool = False  # a blinded PPT: no pressure number is shown until the measurement ends


@dataclass
class _PhaseRun:
    cycle: int
    index: int  # 0-based within the cycle
    phase: Phase
    order: int  # 0-based over the whole run
    t0: float = 0.0
    target_kpa: float | None = None
    lo: float = 0.0
    hi: float = 0.0
    step: int = 0
    in_band_since: float | None = None
    time_in_band: float = 0.0
    p_sum: float = 0.0
    n: int = 0
    peak: float = -math.inf
    guide_p0: float | None = None
    ratings: list = field(default_factory=list)
    pain_capped: bool = False
    t_end: float | None = None
    reason: str | None = None


@dataclass
class _Trial:
    number: int
    t0: float
    ppt_kpa: float | None = None
    t_signal_s: float | None = None
    peak_kpa: float = -math.inf
    rate_kpa_s: float | None = None
    reason: str = ""
    samples: list = field(default_factory=list)  # (t, p) of the ramp, for its measured rate
    rate_ok: bool | None = None  # inside the rate band (None: not judged)
    censored: bool = False  # reached the ceiling before a signal: the threshold is above it
    familiarisation: bool = False  # shown how it feels; never counted

    @property
    def counted(self) -> bool:
        return not self.familiarisation and self.rate_ok is not False


# PPT trial settings a protocol's params may set (the ``ppt`` built-in has them; docs/protocols.md)
PPT_RETRIES = 2  # a trial off the rate band is repeated at most this many times (a setting)


class Engine:
    def __init__(self, protocol: Protocol, point: PointContext | None = None, *,
                 limits: Limits | None = None, dose_contact_kpa: float = metrics.DEFAULT_CONTACT_KPA) -> None:
        self.protocol = protocol
        self.point = point or PointContext()
        self.limits = limits_for(limits or protocol.limits, self.point.region)
        self._plan = [(c, i, ph) for c in range(1, protocol.repetitions + 1) for i, ph in enumerate(protocol.phases)]
        if protocol.skip_last_rest:
            while len(self._plan) > 1 and self._plan[-1][2].kind == "rest":
                self._plan.pop()
        self._targets = self._resolve_targets()
        self._events: list[Event] = []
        self._pending: list[tuple[float, str, Any, str]] = []
        self._hist: deque[tuple[float, float]] = deque()
        self._run: _PhaseRun | None = None
        self._runs: list[_PhaseRun] = []
        self._started = False
        self.finished = False
        self.end_reason = ""
        self._t = None  # newest sample time
        self._p = None
        self._t_start = None
        self._t_end = None
        self._guard = LimitGuard.for_limits(self.limits)  # the limits, decided where the live loop's are
        self._contact = self._guard.contact  # the one contact definition
        # seconds of pressure on this point this session (above contact_kpa), for the per-point cap
        self._contact_total = float(self.point.contact_s_before)
        self._capped = ""  # "point" once the per-point cap has ended the plan
        self._pain_cap_kpa: float | None = None  # after "pain now": bands stay under this
        self._stale = False
        self._alarm = ""
        self._rate: float | None = None
        self._trials: list[_Trial] = []
        self._trial: _Trial | None = None
        self._ppt_result: dict[str, Any] | None = None
        params = protocol.params or {}
        self._retries = int(params.get("retries", PPT_RETRIES))
        self._retries_used = 0
        self._familiarisation = bool(params.get("familiarisation", False))
        self._blinded = bool(params.get("blinded", False))
        self._measure = "tolerance" if params.get("measure") == "tolerance" else "threshold"
        # a PPT ramp stops at its ceiling (lowered to the sensor's range and the pressure limit): censored
        self._ppt_ceiling = algometry.ceiling_kpa(
            self.limits.calibrated_max_kpa,
            min(float(params.get("ceiling_kpa", algometry.DEFAULT_CEILING_KPA)), self.limits.max_kpa))
        # the application's samples (t, p, seq, segment), for its totals by pointdose.metrics: contact and
        # dose only over contact, never across a gap (docs/metrics.md) — the records' own definitions
        self.dose_contact_kpa = float(dose_contact_kpa)
        self._trace: list[tuple[float, float, int | None, int | None]] = []
        self._alarms: list[dict[str, Any]] = []
        self._signals: list[dict[str, Any]] = []
        self._cue = CueState(cycles=protocol.repetitions, phases_in_cycle=len(protocol.phases))

    # ----------------------------------------------------------------- set-up checks

    def _resolve_targets(self) -> dict[int, float | None]:
        """Every phase's target in kPa, checked against the limits before anything starts: finite,
        above 0, its band (with the progressive steps) under ``max_kpa`` and the sensor's
        calibrated range, an ease's band below the level it eases from."""
        out: dict[int, float | None] = {}
        lim = self.limits
        where = f" ({self.point.region} caution)" if self.point.region else ""
        before: float | None = None
        for i, ph in enumerate(self.protocol.phases):
            kpa = ph.target.kpa(self.point) if ph.target is not None else None
            top = kpa
            if kpa is not None and ph.steps and ph.step is not None:
                top = kpa + ph.steps * ph.step.kpa(self.point)
            if top is not None:
                if not (math.isfinite(top) and kpa > 0):
                    raise ProtocolError(f"phase {i + 1} ({ph.name}): the target {ph.target} is {kpa:g} kPa here, "
                                        "not a pressure above 0")
                band_top = top + self._tol(top, ph)
                if band_top > lim.max_kpa:
                    raise ProtocolError(
                        f"phase {i + 1} ({ph.name}) asks for up to {band_top:.0f} kPa (band top), above the "
                        f"maximum-pressure limit of {lim.max_kpa:.0f} kPa{where}: lower the target or the steps")
                if lim.calibrated_max_kpa is not None and band_top > lim.calibrated_max_kpa:
                    raise ProtocolError(
                        f"phase {i + 1} ({ph.name}) asks for up to {band_top:.0f} kPa (band top), beyond the sensor's calibrated "
                        f"range ({lim.calibrated_max_kpa:.0f} kPa with this probe): use a lower target, a smaller "
                        "probe, or a sensor with more range")
            if ph.kind == "ease" and kpa is not None and before is not None and kpa >= before:
                raise ProtocolError(f"phase {i + 1} ({ph.name}) eases to {kpa:.0f} kPa from {before:.0f} kPa: an ease "
                                    "must go below the level before it (inverted band)")
            if ph.kind in ("ramp", "hold") and kpa is not None:
                before = kpa
            out[i] = kpa
        return out

    def _tol(self, kpa: float, ph: Phase) -> float:
        return max(kpa * ph.tolerance_pct / 100.0, self.limits.min_band_kpa)

    # ----------------------------------------------------------------- public API

    @property
    def cue(self) -> CueState:
        return self._cue

    def drain_events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def start(self, t_s: float) -> None:
        if self._started:
            return
        self._started = True
        self._t_start = t_s
        if self._t is None:
            self._t = t_s
        self._begin(0, t_s)
        self._update_cue(t_s)

    def feed(self, t_s, pressure_kpa, saturated=None, seq=None, segment=None) -> None:
        """Samples in time order: device times (s), pressures (kPa), optional saturation flags, and
        the device's sequence numbers and segments (so the totals see gaps and restarts).

        Samples after the end with times up to it (still in transit at a STOP) still count in the
        application's totals."""
        t_arr = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        p_arr = np.atleast_1d(np.asarray(pressure_kpa, dtype=np.float64))
        sat = None if saturated is None else np.atleast_1d(np.asarray(saturated, dtype=bool))
        seq_arr = None if seq is None else np.atleast_1d(np.asarray(seq, dtype=np.int64))
        seg_arr = None if segment is None else np.atleast_1d(np.asarray(segment, dtype=np.int64))
        for k in range(len(t_arr)):
            t, p = float(t_arr[k]), float(p_arr[k])
            if not (self._t is not None and t < self._t - 1e-9 and self._started):
                self._sample(t, p, bool(sat[k]) if sat is not None else False)
            # else: out of order (a clock correction): no cue or alarm from it, but it is the application's
            if self._started and (not self.finished or t <= self._t_end + 1e-9):
                self._trace.append((t, p, None if seq_arr is None else int(seq_arr[k]),
                                    None if seg_arr is None else int(seg_arr[k])))
        if len(t_arr):
            self._update_cue(self._t)

    @property
    def t_end_s(self) -> float | None:
        """When the application ended (None while it runs)."""
        return self._t_end

    def signal(self, t_s: float, kind: str, value: Any = None, source: str = "") -> None:
        """A user signal at time ``t_s``: "release" (felt), "pain" (now), "rating" (0–10)."""
        if kind not in SIGNALS:
            raise ValueError(f"signal must be one of {', '.join(SIGNALS)}, not {kind!r}")
        if kind == "rating":
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ValueError(f"a pain rating is a whole number 0 … 10, not {value!r}") from None
            if not 0 <= value <= 10:
                raise ValueError(f"a pain rating is a whole number 0 … 10, not {value}")
        self._pending.append((float(t_s), kind, value, source))
        self._pending.sort(key=lambda s: s[0])
        if self._t is not None and self._started:
            self._apply_signals_until(self._t)
            self._update_cue(self._t)

    def tick(self, now_s: float) -> None:
        """Host time now: raises/ends on a stale stream; applies signals the samples will not reach."""
        if self.finished or not self._started:
            return
        last = self._t if self._t is not None else self._t_start
        quiet = now_s - last
        self._apply_signals_until(now_s - self.limits.stale_s)  # signals no sample will pass
        if quiet > self.limits.stale_end_s:
            self._raise_alarm(now_s, "stale", f"no samples for {quiet:.1f} s: the sensor stream stopped", end=True)
        elif quiet > self.limits.stale_s and not self._stale:
            self._stale = True
            self._raise_alarm(now_s, "stale", f"no samples for {quiet * 1000:.0f} ms: check the device", end=False)
        self._update_cue(max(now_s, last))

    def stop(self, t_s: float, reason: str = "STOP") -> None:
        """End at once, whatever the phase; ``reason`` is recorded."""
        if self.finished:
            return
        # signals given before the STOP (a pain signal, a rating) still count, in time order; the
        # pressure at them is the last one known when no sample has passed them yet
        self._apply_signals_until(t_s)
        if self.finished:
            return
        self._events.append(Event(t_s, "stop", {"reason": reason}))
        self._finish(t_s, f"stopped: {reason}", phase_reason="stop", cue_phase="stopped")

    def alarm(self, t_s: float, kind: str, text: str) -> None:
        """End at once with an alarm raised outside the engine (the recording failed, …)."""
        if not self.finished:
            self._raise_alarm(t_s, kind, text, end=True)

    # ----------------------------------------------------------------- the plan

    def _begin(self, order: int, t: float) -> None:
        cycle, index, ph = self._plan[order]
        first = False
        if ph.kind != "ease":
            # a PPT trial's peak covers its ramp and the release right after it (the hand overshoots
            # until it reacts to its own signal), never a later press in the rest or another phase
            self._trial = None
        run = _PhaseRun(cycle=cycle, index=index, phase=ph, order=order, t0=t)
        base = self._targets.get(index)  # None for a release the engine inserted (index -1)
        if ph.kind == "ramp" and ph.end == "pain":
            run.guide_p0 = max(self._p or 0.0, 0.0)
            run.target_kpa, run.lo, run.hi = None, 0.0, math.inf
            first = not self._trials
            self._trial = _Trial(number=len(self._trials) + 1, t0=t,
                                 familiarisation=self._familiarisation and not self._trials)
            self._trials.append(self._trial)
        elif base is None:  # rest, or an ease to zero: anything at or under rest_max_kpa (noise below 0 too)
            run.target_kpa, run.lo, run.hi = 0.0, -math.inf, self.limits.rest_max_kpa
        else:
            run.target_kpa = base
            self._set_band(run)
        if ph.rate_kpa_s is not None and run.guide_p0 is None:
            run.guide_p0 = max(self._p or 0.0, 0.0)
        self._run = run
        self._runs.append(run)
        self._events.append(Event(t, "phase_start", {
            "phase": ph.kind, "label": ph.name, "cycle": cycle, "index": index + 1, "target_kpa": run.target_kpa,
            "band_lo_kpa": max(run.lo, 0.0), "band_hi_kpa": None if math.isinf(run.hi) else run.hi,
            "end": ph.end, "duration_s": ph.duration_s, "max_s": ph.max_s, "rate_kpa_s": ph.rate_kpa_s}))
        if ph.kind == "ramp" and ph.end == "pain" and first and (self.protocol.params or {}).get("instructions"):
            # with the first trial: site marking, perpendicular probe, the standard instruction
            self._events.append(Event(t, "ppt_instructions", {"steps": list(self.protocol.params["instructions"])}))

    def _set_band(self, run: _PhaseRun) -> None:
        tol = self._tol(run.target_kpa, run.phase)
        run.lo, run.hi = max(0.0, run.target_kpa - tol), run.target_kpa + tol
        cap = self._pain_cap_kpa
        if cap is not None and run.hi > cap:  # "pain now" was signalled: the band stays under it
            run.pain_capped = True
            run.hi = cap
            run.target_kpa = min(run.target_kpa, cap / (1.0 + run.phase.tolerance_pct / 100.0))
            run.lo = max(0.0, min(run.target_kpa - self._tol(run.target_kpa, run.phase), cap - 2 * self.limits.min_band_kpa))

    # ----------------------------------------------------------------- caps and pain

    def _pressing(self, run: _PhaseRun | None) -> bool:
        """A phase that asks for pressure (a ramp, a hold, an ease to a level): caps and pain apply."""
        return run is not None and (run.phase.kind in ("ramp", "hold") or
                                    (run.phase.kind == "ease" and run.target_kpa is not None and run.target_kpa > 0))

    def _release_next(self, t: float, reason: str, data: dict[str, Any]) -> None:
        """End the pressing phase now and guide off the point: the plan's own ease-to-zero or rest when
        it comes next, else an inserted release and a rest of ``cap_rest_s``; then the plan goes on."""
        run = self._run
        assert run is not None
        self._events.append(Event(t, "cap" if reason.endswith("cap") else "pain_stop", dict(data, reason=reason)))
        nxt = run.order + 1
        following = self._plan[nxt][2] if nxt < len(self._plan) else None
        comes_off = following is not None and (following.kind == "rest" or (
            following.kind == "ease" and self._targets.get(self._plan[nxt][1]) is None))
        if following is not None and not comes_off:
            self._plan[nxt:nxt] = [
                (run.cycle, -1, Phase("ease", None, end="reached", max_s=RELEASE_MAX_S, label=f"Release ({reason})")),
                (run.cycle, -1, Phase("rest", None, end="time", duration_s=self.limits.cap_rest_s, label="Rest"))]
        self._end_phase(t, reason)

    def _end_at_point_cap(self, t: float) -> None:
        """The point has had its pressure for this session: guide off and end (not an alarm)."""
        run = self._run
        assert run is not None
        self._capped = "point"
        self._events.append(Event(t, "cap", {"reason": "point cap", "kind": "point", "contact_s": self._contact_total,
                                             "point_cap_s": self.limits.point_cap_s}))
        self._plan[run.order + 1:] = [(run.cycle, -1, Phase("ease", None, end="reached", max_s=RELEASE_MAX_S,
                                                             label="Release (per-point cap)"))]
        self._end_phase(t, "point cap")

    def _pain_now(self, t: float, p_at: float | None, why: str) -> None:
        """Pain signalled at ``p_at`` kPa: every band from now on stays under ``pain_cap_pct`` % of it."""
        run = self._run
        if p_at is None or not math.isfinite(p_at):
            return
        if p_at <= self.limits.contact_kpa and not self._pressing(run):
            return  # off the point: not pain from pressure (the signal itself is recorded)
        cap = max(0.0, p_at) * self.limits.pain_cap_pct / 100.0
        if self._pain_cap_kpa is not None and cap >= self._pain_cap_kpa:
            return
        self._pain_cap_kpa = cap
        if run is not None and self._pressing(run) and run.phase.end != "pain":
            if cap <= self.limits.contact_kpa:  # no pressure left to work with: guided off, the application ends
                self._events.append(Event(t, "pain_cap", {"pressure_kpa": p_at, "cap_kpa": cap, "why": why,
                                                          "ends": True}))
                self._events.append(Event(t, "stop", {"reason": f"pain at {p_at:.0f} kPa"}))
                self._finish(t, f"stopped: pain at {p_at:.0f} kPa", phase_reason="pain", cue_phase="stopped")
                return
            self._close_band_time(run, t)
            self._set_band(run)
        self._events.append(Event(t, "pain_cap", {
            "pressure_kpa": p_at, "cap_kpa": cap, "why": why,
            "target_kpa": run.target_kpa if run is not None else None,
            "band_lo_kpa": run.lo if run is not None else None,
            "band_hi_kpa": (None if math.isinf(run.hi) else run.hi) if run is not None else None}))

    def _end_phase(self, t: float, reason: str) -> None:
        run = self._run
        assert run is not None
        self._close_band_time(run, t)
        self._events.append(Event(t, "phase_end", {
            "phase": run.phase.kind, "label": run.phase.name, "cycle": run.cycle, "index": run.index + 1,
            "reason": reason, "duration_s": t - run.t0, "time_in_band_s": run.time_in_band,
            "mean_kpa": run.p_sum / run.n if run.n else None, "peak_kpa": run.peak if run.n else None,
            "step": run.step}))
        run.t_end, run.reason = t, reason
        nxt = run.order + 1
        if nxt >= len(self._plan) or self._plan[nxt][0] != run.cycle:
            self._events.append(Event(t, "cycle_done", {"cycle": run.cycle, "cycles": self.protocol.repetitions}))
        if nxt >= len(self._plan):
            self._run = None
            self._finish(t, "completed: per-point cap reached" if self._capped == "point" else "completed",
                         phase_reason=None, cue_phase="done")
        else:
            self._begin(nxt, t)

    def _close_band_time(self, run: _PhaseRun, t: float) -> None:
        if run.in_band_since is not None:
            run.time_in_band += t - run.in_band_since
            run.in_band_since = None

    def _finish(self, t: float, reason: str, *, phase_reason: str | None, cue_phase: str) -> None:
        if phase_reason is not None and self._run is not None:
            run = self._run
            self._close_band_time(run, t)
            run.t_end, run.reason = t, phase_reason
            self._events.append(Event(t, "phase_end", {
                "phase": run.phase.kind, "label": run.phase.name, "cycle": run.cycle, "index": run.index + 1,
                "reason": phase_reason, "duration_s": t - run.t0, "time_in_band_s": run.time_in_band,
                "mean_kpa": run.p_sum / run.n if run.n else None, "peak_kpa": run.peak if run.n else None,
                "step": run.step}))
        self._run = None
        self._trial = None
        self.finished = True
        self.end_reason = reason
        self._t_end = t
        if self.protocol.measure_ppt:
            self._ppt_result = self._ppt_summary()
            res = self._ppt_result
            if res["mean_kpa"] is not None:  # the records' "ppt" shape: kpa, ramp_kpa_s, repeats
                # a tolerance is no threshold: its own event, never stored as the point's PPT
                self._events.append(Event(t, "ppt" if self._measure == "threshold" else "tolerance",
                                          dict(res, kpa=res["mean_kpa"], ramp_kpa_s=res["rate_kpa_s"],
                                               repeats=[tr["ppt_kpa"] for tr in res["trials"]
                                                        if tr["ppt_kpa"] is not None])))
        self._events.append(Event(t, "end", {"reason": reason}))
        self._cue = replace(self._cue, phase=cue_phase, finished=True, end_reason=reason, band="none", level=0,
                            deviation_kpa=0.0,
                            time_left_s=None, waiting_for=None, progress=1.0 if reason.startswith("completed") else
                            self._cue.progress, prompt=self._end_prompt(cue_phase), t_s=t,
                            alarm=self._alarm if cue_phase == "alarm" else "")

    def _end_prompt(self, cue_phase: str) -> str:
        if cue_phase == "done":
            return "Done — release and rest"
        if cue_phase == "alarm":
            return "RELEASE NOW"
        return "Stopped — release"

    # ----------------------------------------------------------------- per sample

    def _sample(self, t: float, p: float, saturated: bool) -> None:
        self._t, self._p = t, p
        hist = self._hist
        hist.append((t, p))
        while hist and hist[0][0] < t - max(RATE_WINDOW_S, 2.0):
            hist.popleft()
        if self._stale:
            self._stale = False
            self._events.append(Event(t, "alarm_clear", {"kind": "stale"}))
            if self._alarm.startswith("no samples"):
                self._alarm = ""
        if self._trial is not None and self._trial.peak_kpa < p:
            self._trial.peak_kpa = p
        if self._trial is not None and self._trial.t_signal_s is None and not self._trial.censored:
            self._trial.samples.append((t, p))
        if not self._started or self.finished:
            return
        self._apply_signals_until(t)
        if self.finished:
            return
        # safety first: a PPT ramp is guided off at its ceiling (censored) before the range alarm
        lim = self.limits
        run = self._run
        if (not saturated and run is not None and run.phase.end == "pain" and self._trial is not None
                and self._trial.t_signal_s is None and p >= self._ppt_ceiling):
            self._ppt_ceiling_reached(t)
            return
        hit = self._guard.sample(t, p, saturated)
        if hit is not None:
            self._raise_alarm(t, *hit, end=True)
            return
        prev_t = self._hist[-2][0] if len(self._hist) >= 2 else None
        if self._contact.in_contact:  # contact: from contact_kpa up until below half of it (docs/metrics.md)
            if self._contact.since != t and prev_t is not None and t > prev_t:
                self._contact_total += t - prev_t
            run = self._run
            if self._pressing(run) and not self._capped:
                if self._contact_total >= lim.point_cap_s:
                    self._end_at_point_cap(t)
                    return
                if t - self._contact.since >= lim.compression_s:
                    self._release_next(t, "compression cap", {
                        "kind": "compression", "contact_s": t - self._contact.since,
                        "compression_cap_s": lim.compression_s})
                    return
        self._rate = self._estimate_rate()
        run = self._run
        if run is None:
            return
        run.n += 1
        run.p_sum += p
        run.peak = max(run.peak, p)
        inside = run.lo <= p <= run.hi
        if inside and run.in_band_since is None:
            run.in_band_since = t
        elif not inside:
            self._close_band_time(run, t)
        ph = run.phase
        elapsed = t - run.t0
        if ph.end == "time" and elapsed >= ph.duration_s:
            self._end_phase(t, "time")
        elif ph.end == "reached" and run.in_band_since is not None and t - run.in_band_since >= REACH_S:
            self._end_phase(t, "reached")
        elif ph.end != "time" and ph.max_s is not None and elapsed >= ph.max_s:
            if self._trial is not None and ph.end == "pain":
                self._trial.reason = "no pain signal before the time limit"
            self._end_phase(t, "max time")

    def _estimate_rate(self) -> float | None:
        t_new = self._t
        pts = [(t, p) for t, p in self._hist if t >= t_new - RATE_WINDOW_S]
        if len(pts) < 3:
            return None
        arr = np.asarray(pts)
        return ramp_rate(arr[:, 0], arr[:, 1])

    def _pressure_at(self, t: float) -> float | None:
        """Pressure at ``t`` interpolated from the recent samples (nearest at the ends)."""
        if not self._hist:
            return self._p
        ts = np.fromiter((h[0] for h in self._hist), float, len(self._hist))
        ps = np.fromiter((h[1] for h in self._hist), float, len(self._hist))
        return float(np.interp(t, ts, ps))

    def _apply_signals_until(self, t: float) -> None:
        """Handle the pending signals stamped at or before ``t``, oldest first."""
        while self._pending and self._pending[0][0] <= t and not self.finished:
            ts, kind, value, source = self._pending.pop(0)
            if not self._started:
                self._signals.append({"t_s": ts, "kind": kind, "value": value, "source": source, "ignored": True})
                continue
            self._handle_signal(max(ts, self._t_start), kind, value, source)

    def _handle_signal(self, t: float, kind: str, value: Any, source: str) -> None:
        run = self._run
        p_at = self._pressure_at(t)
        self._signals.append({"t_s": t, "kind": kind, "value": value, "source": source, "pressure_kpa": p_at})
        data = {"signal": kind, "source": source, "pressure_kpa": p_at,
                "phase": run.phase.kind if run else None, "label": run.phase.name if run else None}
        if kind == "rating":
            data["rating"] = data["value"] = value
            data["stage"] = "during"
            self._events.append(Event(t, "pain_rating", data))
            if run is not None:
                run.ratings.append(value)
            if value >= self.limits.pain_stop_rating and self._pressing(run) and run.phase.end != "pain":
                self._pain_now(t, p_at, f"rating {value}/10")
                if not self.finished:  # the hold ends; off the point, then the plan goes on under the cap
                    self._release_next(t, "pain rating", {"rating": value, "threshold": self.limits.pain_stop_rating,
                                                          "pressure_kpa": p_at})
            return
        self._events.append(Event(t, "signal", data))
        if run is None:
            return
        ph = run.phase
        if kind == "pain" and ph.end == "pain":
            trial = self._trial
            if trial is not None:
                trial.ppt_kpa, trial.t_signal_s, trial.reason = p_at, t, "pain signal"
                self._judge_trial(trial, ph, t)
            self._end_phase(t, "pain")
        elif kind == "pain":  # outside a PPT ramp: ease off, and stay under the pressure that hurt
            self._pain_now(t, p_at, "pain now")
        elif kind == "release" and ph.kind == "hold":
            if run.step < ph.steps and ph.step is not None:
                self._close_band_time(run, t)
                run.step += 1
                run.target_kpa += ph.step.kpa(self.point)
                self._set_band(run)
                run.t0 = t  # the hold starts again at the new level
                run.in_band_since = None
                self._events.append(Event(t, "step", {"step": run.step, "steps": ph.steps,
                                                      "target_kpa": run.target_kpa,
                                                      "band_lo_kpa": run.lo, "band_hi_kpa": run.hi}))
            elif ph.end == "release":
                self._end_phase(t, "release")

    def _judge_trial(self, trial: _Trial, ph: Phase, t: float) -> None:
        """The trial's measured ramp rate against its band; off the band: invalid, and repeated
        while retries remain (docs/protocols.md, "PPT")."""
        if trial.samples:
            arr = np.asarray(trial.samples, dtype=np.float64)
            trial.rate_kpa_s = algometry.measured_rate(arr[:, 0], arr[:, 1], t_end=t, t_start=trial.t0,
                                                       from_kpa=self.limits.contact_kpa)
        check = None
        if ph.rate_kpa_s is not None and not trial.familiarisation:
            check = algometry.check_rate(trial.rate_kpa_s, ph.rate_kpa_s, ph.rate_tolerance_pct)
            trial.rate_ok = check.valid
        data = {"trial": trial.number, "ppt_kpa": trial.ppt_kpa, "t_signal_s": trial.t_signal_s,
                "rate_kpa_s": trial.rate_kpa_s, "valid": trial.counted, "familiarisation": trial.familiarisation,
                "censored": trial.censored, "measure": self._measure, "blinded": self._blinded}
        if check is not None:
            data["rate_check"] = check.describe()
        if trial.censored:
            data["ceiling_kpa"] = self._ppt_ceiling
            data["text"] = algometry.censored_text(self._ppt_ceiling)
        self._events.append(Event(t, "ppt_trial", data))
        if check is not None and not check.valid:
            trial.reason = f"invalid: {check.describe()}"
            if self._retries_used < self._retries:
                self._retries_used += 1
                self._add_retry()
                self._events.append(Event(t, "ppt_retry", {"trial": trial.number, "retry": self._retries_used,
                                                           "retries": self._retries, "why": check.describe()}))

    def _add_retry(self) -> None:
        """One more trial at the end of the plan (a rest first when the plan does not end on one)."""
        phases = list(self.protocol.phases)
        last_cycle = self._plan[-1][0]
        extra = []
        rest = next(((i, ph) for i, ph in enumerate(phases) if ph.kind == "rest"), None)
        if self._plan[-1][2].kind != "rest" and rest is not None:
            extra.append((last_cycle, rest[0], rest[1]))
        cycle = [(last_cycle + 1, i, ph) for i, ph in enumerate(phases)]
        while len(cycle) > 1 and cycle[-1][2].kind == "rest":
            cycle.pop()
        self._plan.extend(extra + cycle)

    def _ppt_ceiling_reached(self, t: float) -> None:
        run, trial = self._run, self._trial
        assert run is not None and trial is not None
        trial.censored, trial.reason = True, f"reached the ceiling: {algometry.censored_text(self._ppt_ceiling)}"
        self._judge_trial(trial, run.phase, t)
        self._end_phase(t, "ceiling")

    def _raise_alarm(self, t: float, kind: str, text: str, *, end: bool) -> None:
        self._alarm = text
        self._alarms.append({"t_s": t, "kind": kind, "text": text, "ended": end})
        self._events.append(Event(t, "alarm", {"kind": kind, "text": text, "ends": end}))
        if end:
            self._finish(t, f"alarm: {kind}", phase_reason="alarm", cue_phase="alarm")
        else:
            self._cue = replace(self._cue, alarm=text, t_s=t)

    # ----------------------------------------------------------------- cue state

    def _update_cue(self, t: float) -> None:
        if self.finished or not self._started:
            if self.finished and self._p is not None:
                self._cue = replace(self._cue, pressure_kpa=self._p, rate_kpa_s=self._rate, t_s=t)
            return
        run = self._run
        assert run is not None
        ph = run.phase
        p = self._p
        elapsed = max(0.0, t - run.t0)
        band, dev, level = "none", 0.0, 0
        rate_target = ph.rate_kpa_s
        rate_lo = rate_hi = None
        rate_state = "none"
        if rate_target is not None:
            spread = abs(rate_target) * ph.rate_tolerance_pct / 100.0
            rate_lo, rate_hi = rate_target - spread, rate_target + spread
            if self._rate is not None:
                rate_state = "slow" if self._rate < rate_lo else "fast" if self._rate > rate_hi else "ok"
                if rate_target < 0:  # an ease: "slow" means coming down too slowly
                    rate_state = {"slow": "fast", "fast": "slow"}.get(rate_state, rate_state)
        if p is not None:
            if ph.end == "pain":  # PPT ramp: the band is the rate guide
                if rate_state in ("slow", "fast") and rate_target:
                    band = "below" if rate_state == "slow" else "above"
                    dev = self._rate - (rate_lo if band == "below" else rate_hi)
                    level = _level(abs(dev), abs(rate_target))
                elif rate_state == "ok":
                    band = "in"
            else:
                if p < run.lo:
                    band, dev = "below", p - run.lo
                elif p > run.hi:
                    band, dev = "above", p - run.hi
                else:
                    band = "in"
                ref = run.target_kpa if run.target_kpa else run.hi
                level = _level(abs(dev), ref) if band != "in" else 0
        if ph.end == "time":
            left, is_max = max(0.0, ph.duration_s - elapsed), False
        elif ph.max_s is not None:
            left, is_max = max(0.0, ph.max_s - elapsed), True
        else:
            left, is_max = None, False
        waiting = "pain" if ph.end == "pain" else "release" if (ph.end == "release" or (ph.kind == "hold" and ph.steps)) else None
        self._cue = CueState(
            phase=ph.kind, label=ph.name, cycle=run.cycle, cycles=self.protocol.repetitions + self._retries_used,
            phase_index=run.index + 1, phases_in_cycle=len(self.protocol.phases),
            progress=run.order / len(self._plan), step=run.step, steps=ph.steps,
            target_kpa=run.target_kpa, band_lo_kpa=max(run.lo, 0.0) if ph.end != "pain" else None,
            band_hi_kpa=run.hi if ph.end != "pain" else None, pressure_kpa=p, band=band, deviation_kpa=dev,
            level=level, elapsed_s=elapsed, time_left_s=left, time_left_is_max=is_max, rate_kpa_s=self._rate,
            rate_target_kpa_s=rate_target, rate_lo_kpa_s=rate_lo, rate_hi_kpa_s=rate_hi, rate_state=rate_state,
            guide_t0_s=run.t0 if rate_target is not None else None,
            guide_p0_kpa=run.guide_p0 if rate_target is not None else None,
            waiting_for=waiting, prompt=self._ppt_prompt(_prompt(ph, band, rate_state, run.pain_capped), ph),
            alarm=self._alarm if self._stale else "", t_s=t, blinded=self._blinded and self.protocol.measure_ppt)

    def _ppt_prompt(self, text: str, ph: Phase) -> str:
        """A tolerance ramp asks for the tolerance, not the first pain; a trial shows it is a trial run."""
        if ph.end != "pain":
            return text
        if self._measure == "tolerance":
            text = text.replace("signal at the first pain", "signal when you cannot take more")
        instructions = (self.protocol.params or {}).get("instructions")
        if instructions:
            text += " (probe perpendicular, on the marked site)"
            if self._trial is not None and self._trial.number == 1 and self._trial.t_signal_s is None:
                text += f" — first {instructions[-1]}"  # the standard instruction, before the first press
        if self._trial is not None and self._trial.familiarisation:
            text = "Familiarisation (not counted) — " + text[:1].lower() + text[1:]
        return text

    # ----------------------------------------------------------------- results

    def _ppt_summary(self) -> dict[str, Any]:
        counted = [tr for tr in self._trials if tr.counted]
        valid = [tr for tr in counted if tr.ppt_kpa is not None]
        vals = np.array([tr.ppt_kpa for tr in valid], dtype=float)
        planned = self.protocol.repetitions - (1 if self._familiarisation else 0)

        def row(tr: _Trial) -> dict[str, Any]:
            return {"trial": tr.number, "ppt_kpa": tr.ppt_kpa, "t_signal_s": tr.t_signal_s,
                    "peak_kpa": None if math.isinf(tr.peak_kpa) else tr.peak_kpa,
                    "rate_kpa_s": tr.rate_kpa_s, "reason": tr.reason or "stopped", "valid": tr.counted,
                    "familiarisation": tr.familiarisation, "censored": tr.censored}

        out: dict[str, Any] = {
            # "trials": the counted ones (the records read these); "all_trials" adds the familiarisation
            # trial and those off the rate band, each with why it was not counted
            "trials": [row(tr) for tr in counted], "all_trials": [row(tr) for tr in self._trials],
            "n": len(valid), "planned": planned, "complete": len(valid) >= planned,
            "censored": any(tr.censored for tr in counted), "ceiling_kpa": self._ppt_ceiling,
            "invalid": sum(1 for tr in self._trials if tr.rate_ok is False), "retries_used": self._retries_used,
            "measure": self._measure, "blinded": self._blinded,
            "probe_area_cm2": self.point.probe_area_cm2, "point": self.point.name,
            "rate_kpa_s": next((ph.rate_kpa_s for ph in self.protocol.phases if ph.end == "pain"), None),
            "mean_kpa": float(vals.mean()) if len(vals) else None,
            "sd_kpa": float(vals.std(ddof=1)) if len(vals) >= 2 else None,
            "min_kpa": float(vals.min()) if len(vals) else None,
            "max_kpa": float(vals.max()) if len(vals) else None,
        }
        peaks = [tr.peak_kpa for tr in valid if not math.isinf(tr.peak_kpa)]
        out["mean_peak_kpa"] = float(np.mean(peaks)) if peaks else None
        out["cv_pct"] = (100.0 * out["sd_kpa"] / out["mean_kpa"]) if out["sd_kpa"] is not None and out["mean_kpa"] else None
        return out

    @property
    def ppt_result(self) -> dict[str, Any] | None:
        return self._ppt_result

    def totals(self) -> metrics.Metrics:
        """Contact time, dose … of the samples so far, by :func:`pointdose.metrics.compute`."""
        if not self._trace:
            return metrics.compute([], [], contact_kpa=self.dose_contact_kpa)
        t, p, seq, seg = zip(*self._trace)
        return metrics.compute(t, p, contact_kpa=self.dose_contact_kpa,
                               seq=None if None in seq else seq, segment=None if None in seg else seg)

    def summary(self) -> dict[str, Any]:
        """The engine's totals, for listeners' ``on_application_end``."""
        phases = []
        for run in self._runs:
            phases.append({
                "phase": run.phase.kind, "label": run.phase.name, "cycle": run.cycle, "index": run.index + 1,
                "t_start_s": run.t0, "t_end_s": run.t_end, "reason": run.reason,
                "target_kpa": run.target_kpa, "band_lo_kpa": max(run.lo, 0.0),
                "band_hi_kpa": None if math.isinf(run.hi) else run.hi, "step": run.step,
                "time_in_band_s": run.time_in_band, "mean_kpa": run.p_sum / run.n if run.n else None,
                "peak_kpa": run.peak if run.n else None, "pain_ratings": list(run.ratings)})
        m = self.totals()
        cycles_done = sum(1 for r in self._runs if r.reason not in (None, "stop", "alarm")
                          and r.order + 1 < len(self._plan) and self._plan[r.order + 1][0] != r.cycle)
        if self.end_reason == "completed":
            cycles_done = self.protocol.repetitions
        return {
            "protocol": self.protocol.name, "end_reason": self.end_reason or "running",
            "t_start_s": self._t_start, "t_end_s": self._t_end,
            "duration_s": (self._t_end - self._t_start) if self._t_end is not None and self._t_start is not None else None,
            "cycles_done": cycles_done, "cycles": self.protocol.repetitions, "phases": phases,
            "time_in_band_s": sum(r.time_in_band for r in self._runs if r.phase.kind in ("hold", "ease")),
            # pointdose.metrics over this application's samples: the records' own numbers
            "contact_kpa": m.contact_kpa, "contact_s": m.contact_s, "dose_kpa_s": m.dose_kpa_s,
            "pressure_time_kpa_s": m.dose_kpa_s, "gaps": len(m.gaps), "gap_s": m.gap_s,
            "signals": list(self._signals), "alarms": list(self._alarms),
            "limits": {"max_kpa": self.limits.max_kpa, "max_hold_s": self.limits.max_hold_s},
            "ppt": self._ppt_result,
        }


def _level(dev: float, ref: float) -> int:
    full = max(ref * LEVEL_FULL_FRACTION, 1e-9)
    return int(min(100, round(100 * dev / full)))


def _prompt(ph: Phase, band: str, rate_state: str, pain_capped: bool = False) -> str:
    if pain_capped and band == "above":
        return "Pain — ease off"
    if ph.end == "pain":
        base = "Press steadily; signal at the first pain"
        return {"slow": "Faster — " + base.lower(), "fast": "Slower — " + base.lower()}.get(rate_state, base)
    if ph.kind == "rest":
        return "Rest — off the point" if band != "above" else "Rest — release the pressure"
    if ph.kind == "ease":
        return {"above": "Ease off", "below": "A little more", "in": "Stay light"}.get(band, "Ease off")
    if ph.kind == "ramp":
        return {"below": "Press — harder", "above": "Too much — ease off", "in": "There — hold"}.get(band, "Press")
    extra = "; signal when the tissue releases" if ph.end == "release" or ph.steps else ""
    return {"below": "Harder", "above": "Softer — ease off", "in": "Hold" + extra}.get(band, "Hold")
