"""Running a block of trials on live samples: cue timing, the feedback gate, per-trial results.

::

    run = BlockRun(Block("practice", drill, Schedule.intermittent(2, seed=7)))
    run.start(t0)
    run.feed(rows)              # SAMPLE_DTYPE rows (pointdose.listeners), as they arrive
    run.tick(now)               # host time: moves on when the stream is silent
    run.cue                     # TrainingCue: phase, countdown, feedback_on, value (None when hidden)
    run.request("before")       # self-controlled: feedback on for the next trial
    run.request("after")        # self-controlled: show the last trial's result
    run.results                 # TrialRecord per finished trial, with its TrialScore

Time is the samples' time (device time mapped to host monotonic seconds): phases change when a
sample passes their end, so every trial is scored on the samples of its own windows. If no sample
arrives for :data:`STALL_S`, :meth:`tick` moves the clock on by host time (the trial then lacks
data and gets no outcome, and says so).

The **feedback gate**: ``cue.feedback_on`` is the one flag every channel obeys — the app's trace
and readout, the band tones (``cue.sound_cue()`` has band "none" when off), the device
(``cue.device_cue()`` is phase "off"), the terminal. ``run.feedback_log`` records each change
with its time and trial, so tests (and the records) can check it against the schedule.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pointdose.listeners import SAMPLE_DTYPE
from pointdose.training.drill import Drill
from pointdose.training.schedule import BlockPlan, Schedule
from pointdose.training.scores import BlockScore, TrialScore, score_block, score_trial

BLOCK_KINDS = ("pre-test", "practice", "post-test", "retention", "transfer")
TEST_KINDS = ("pre-test", "post-test", "retention", "transfer")  # always without feedback
READOUT_S = 0.1  # the readout (and the bandwidth decision) is the mean of the newest 0.1 s
STALL_S = 1.0
GET_READY_S = 3.0
LEVEL_FULL_FRACTION = 0.5  # level 100 when this far outside the band, as a share of the target
# training phase → the protocol engine's phase names, which the sound and device cues know
CUE_PHASE = {"ramp": "ramp", "hold": "hold", "release": "ease", "rest": "rest", "ready": "rest",
             "done": "done", "stopped": "stopped", "idle": "off"}


class BlockError(ValueError):
    pass


@dataclass(frozen=True)
class Block:
    kind: str
    drill: Drill
    schedule: Schedule = field(default_factory=Schedule.constant)
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        if self.kind not in BLOCK_KINDS:
            raise BlockError(f"unknown block {self.kind!r}: choose one of {', '.join(BLOCK_KINDS)}")
        if self.kind in TEST_KINDS and self.schedule.kind != "none":
            raise BlockError(f"a {self.kind} block runs without feedback (schedule 'none'), not {self.schedule.kind!r}")
        if self.schedule.kind == "intermittent" and self.schedule.seed is None:
            object.__setattr__(self, "schedule", self.schedule.with_seed())  # the seed is recorded
        self.plan()  # a schedule that cannot fit this block (yoked, faded series) is refused now

    def plan(self) -> BlockPlan:
        return self.schedule.plan(self.drill.trials)


def practice_blocks(drill: Drill, practice: Schedule, count: int = 1) -> list[Block]:
    """``count`` practice blocks of ``drill.trials`` each; a faded schedule fades across all of them
    (one series of ``count × trials``), an intermittent one draws per block (docs/training.md)."""
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 50:
        raise BlockError(f"practice blocks must be a whole number from 1 to 50, got {count!r}")
    if practice.kind == "faded" and practice.total is None:
        practice = replace(practice, total=count * drill.trials)
    if practice.kind == "intermittent":
        practice = practice.with_seed()
    if practice.kind == "yoked" and count > 1:
        raise BlockError("a yoked schedule replays one block of the partner's: use one practice block")
    return [Block("practice", drill, practice.for_block(k, drill.trials)) for k in range(count)]


def standard_plan(drill: Drill, practice: Schedule, *, test_trials: int = 3, transfer: Drill | None = None,
                  retention: bool = False, practice_count: int = 1) -> list[Block]:
    """Pre-test → practice (with ``practice``; ``practice_count`` practice blocks) → post-test [→ retention]
    [→ transfer] (Snodgrass 2010's design, domain notes "Training with force feedback"). Retention
    is usually run on a later day: pass ``retention=True`` only for a run that includes it."""
    test = drill.with_(trials=test_trials)
    blocks = [Block("pre-test", test, Schedule.none()), *practice_blocks(drill, practice, practice_count),
              Block("post-test", test, Schedule.none())]
    if retention:
        blocks.append(Block("retention", test, Schedule.none()))
    if transfer is not None:
        blocks.append(Block("transfer", transfer.with_(trials=test_trials), Schedule.none()))
    return blocks


@dataclass(frozen=True)
class SoundCue:
    """A cue for :class:`pointdose.cues.CueMixer`: the protocol cue's fields it reads, and a request
    for the in-band tone (training reports "in the band" aloud whenever its feedback is on)."""

    phase: str = "off"
    band: str = "none"
    level: int = 0
    alarm: str = ""
    in_band_tone: bool = True


@dataclass(frozen=True)
class TrainingCue:
    block: str = ""
    phase: str = "idle"  # idle, ready, ramp, hold, release, rest, done, stopped
    trial: int = 0  # 1-based; 0 before the first
    trials: int = 0
    time_left_s: float | None = None
    feedback_on: bool = False
    value: float | None = None  # the readout (drill quantity); None whenever feedback is off
    band: str = "none"  # below / in / above; "none" whenever feedback is off
    level: int = 0
    target: float = 0.0
    band_lo: float = 0.0
    band_hi: float = 0.0
    quantity: str = "pressure"
    kr: str = ""  # knowledge of results of the last trial, when shown
    kr_error: float | None = None
    can_request_before: bool = False
    can_request_after: bool = False
    message: str = ""
    alarm: str = ""
    t_s: float = 0.0

    def sound_cue(self) -> "SoundCue":
        """What the sound mixer plays (no band when hidden). While feedback is on the sound reports
        inside the band too (``in_band_tone``: a soft tick), so under constant feedback silence never
        stands for "in the band" — only bandwidth feedback is silent there (docs/training.md)."""
        return SoundCue(phase=CUE_PHASE.get(self.phase, "off"), band=self.band if self.feedback_on else "none",
                        level=self.level if self.feedback_on else 0, alarm=self.alarm)

    def device_cue(self):
        """… and for the device: phase "off" whenever the pressure is hidden (an alarm always shows)."""
        from pointdose.protocols import CueState

        if self.alarm:
            return CueState(phase="stopped", band="none", level=0, alarm=self.alarm)
        if not self.feedback_on:
            return CueState(phase="off", band="none", level=0)
        return CueState(phase=CUE_PHASE.get(self.phase, "off"), band=self.band, level=self.level)

    def terminal_line(self, unit: str = "") -> str:
        """One status line for the terminal; it carries no number of the pressure when hidden."""
        head = f"[{self.block} {self.trial}/{self.trials}] {self.phase.upper():8s}"
        left = f" {self.time_left_s:4.1f} s" if self.time_left_s is not None else ""
        if self.feedback_on and self.value is not None:
            arrow = {"below": "press harder", "above": "ease off", "in": "in band"}.get(self.band, "")
            return f"{head}{left}  {self.value:7.1f} {unit} ({arrow})"
        return f"{head}{left}  feedback off"


@dataclass
class TrialRecord:
    uid: str
    block_uid: str
    block: str
    number: int  # 1-based within the block
    t_start: float
    planned_feedback: bool | None
    score: TrialScore | None = None
    requested_before: bool = False
    requested_after: bool = False
    feedback_s: float = 0.0  # time with concurrent feedback on during ramp + hold + release
    kr_shown: bool = False
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, SAMPLE_DTYPE))


class BlockRun:
    def __init__(self, block: Block, *, get_ready_s: float = GET_READY_S) -> None:
        self.block = block
        self.drill = block.drill
        self.schedule = block.schedule
        self.plan = block.plan()
        self.get_ready_s = float(get_ready_s)
        self.results: list[TrialRecord] = []
        self.feedback_log: list[tuple[float, bool, int]] = []  # (t, on, trial)
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self._rows: list[np.ndarray] = []
        self._t: float | None = None  # newest sample time (the run's clock)
        self._t0: float | None = None
        self._trial_t0: float | None = None
        self._trial = 0
        self._phase = "idle"
        self._fb = False
        self._fb_since: float | None = None
        self._value: float | None = None
        self._want_before = False
        self._current: TrialRecord | None = None
        self._last_kr = ""
        self._last_kr_error: float | None = None
        self.finished = False
        self.stopped = False

    # ----------------------------------------------------------------- public
    def start(self, t_s: float) -> None:
        if self._t0 is not None:
            return
        self._t0 = self._t = float(t_s)
        self._phase_to("ready", t_s)

    def feed(self, rows: np.ndarray) -> None:
        """Samples in time order; rows at or before the newest already seen are ignored."""
        if len(rows) == 0 or self._t0 is None or self.finished:
            return
        rows = rows[rows["t_s"] > self._t] if self._rows else rows[rows["t_s"] >= self._t]
        if len(rows) == 0:
            return
        self._rows.append(np.array(rows, dtype=SAMPLE_DTYPE))
        vals = self.drill.value_of(rows["force_n"], rows["pressure_kpa"])
        times = rows["t_s"]
        self._t = float(times[-1])
        recent = times >= times[-1] - READOUT_S
        self._value = float(np.mean(vals[recent]))
        self._advance(self._t)

    def tick(self, now_s: float) -> None:
        """Host time now: when no sample has come for STALL_S, the run's clock follows the host's
        (the trial under way then lacks data and gets no outcome)."""
        if self._t0 is None or self.finished or self._t is None:
            return
        if now_s - self._t > STALL_S:
            self._t = now_s - STALL_S
            self._value = None
            self._advance(self._t)

    def request(self, moment: str, t_s: float | None = None) -> bool:
        """Self-controlled feedback: ``before`` (next trial) or ``after`` (the trial just done)."""
        t = self._t if t_s is None else t_s
        if not self.schedule.allows_request(moment):
            return False
        if moment == "before":
            if self._phase not in ("ready", "rest"):
                return False
            self._want_before = True
            self.events.append((t, "request", {"moment": "before", "trial": self._trial + 1}))
            return True
        if moment == "after":
            last = self.results[-1] if self.results else None
            if last is None or self._phase not in ("rest", "done") or last.requested_after:
                return False
            last.requested_after = True
            self.events.append((t, "request", {"moment": "after", "trial": last.number}))
            self._show_kr(last, force=True)
            return True
        raise ValueError("a feedback request is made 'before' or 'after' a trial")

    def stop(self, t_s: float | None = None, reason: str = "stopped") -> None:
        if self.finished:
            return
        t = self._t if t_s is None else t_s
        self._set_feedback(False, t)
        self.stopped = True
        self.finished = True
        self._phase = "stopped"
        self.events.append((t, "stop", {"reason": reason, "trial": self._trial}))

    @property
    def cue(self) -> TrainingCue:
        d = self.drill
        lo, hi = d.band
        fb = self._fb
        value = self._value if fb else None
        band, level = "none", 0
        if fb and value is not None:
            band = "below" if value < lo else "above" if value > hi else "in"
            dev = lo - value if band == "below" else value - hi if band == "above" else 0.0
            level = int(min(100, round(100 * dev / (LEVEL_FULL_FRACTION * d.target))))
        left = self._time_left()
        last = self.results[-1] if self.results else None
        return TrainingCue(
            block=self.block.kind, phase=self._phase, trial=self._trial, trials=d.trials, time_left_s=left,
            feedback_on=fb, value=value, band=band, level=level, target=d.target, band_lo=lo, band_hi=hi,
            quantity=d.quantity, kr=self._last_kr if self._phase in ("rest", "done") else "",
            kr_error=self._last_kr_error if self._phase in ("rest", "done") else None,
            can_request_before=self.schedule.allows_request("before") and self._phase in ("ready", "rest")
            and not self._want_before and self._trial < d.trials,
            can_request_after=self.schedule.allows_request("after") and self._phase in ("rest", "done")
            and last is not None and not last.requested_after,
            message=self._message(), t_s=self._t or 0.0)

    def block_score(self) -> BlockScore:
        return score_block([r.score for r in self.results if r.score is not None])

    # ----------------------------------------------------------------- timing
    def _phase_ends(self) -> list[tuple[float, str]]:
        """(time, next phase) boundaries of the current trial/ready period, in order."""
        d = self.drill
        if self._phase == "ready":
            return [(self._t0 + self.get_ready_s, "ramp")]
        t0 = self._trial_t0
        if t0 is None:
            return []
        ends = [(t0 + d.ramp_s, "hold"), (t0 + d.ramp_s + d.hold_s, "release"),
                (t0 + d.trial_s, "rest"), (t0 + d.trial_s + d.rest_s, "ramp")]
        order = ("ramp", "hold", "release", "rest")
        i = order.index(self._phase) if self._phase in order else len(order)
        return ends[i:]

    def _time_left(self) -> float | None:
        ends = self._phase_ends()
        if not ends or self._t is None or self.finished:
            return None
        return max(0.0, ends[0][0] - self._t)

    def _advance(self, t: float) -> None:
        while not self.finished:
            ends = self._phase_ends()
            if not ends or t < ends[0][0]:
                break
            t_b, nxt = ends[0]
            if nxt == "ramp":
                if self._phase == "rest" and self._trial >= self.drill.trials:
                    self._finish(t_b)
                    break
                self._begin_trial(t_b)
            elif nxt == "rest":
                self._end_trial(t_b)
                if self._trial >= self.drill.trials and self.drill.rest_s <= 0:
                    self._finish(t_b)
                    break
            else:
                self._phase_to(nxt, t_b)
        if not self.finished:
            self._update_feedback(t)

    def _phase_to(self, phase: str, t: float) -> None:
        self._phase = phase
        self.events.append((t, "phase_start", {"phase": CUE_PHASE.get(phase, phase), "training_phase": phase,
                                               "trial": self._trial}))

    def _begin_trial(self, t: float) -> None:
        self._trial += 1
        self._trial_t0 = t
        planned = self.plan.concurrent[self._trial - 1]
        self._current = TrialRecord(uid=str(uuid.uuid4()), block_uid=self.block.uid, block=self.block.kind,
                                    number=self._trial, t_start=t, planned_feedback=planned,
                                    requested_before=self._want_before)
        self._want_before = False
        self._last_kr, self._last_kr_error = "", None
        self._phase_to("ramp", t)
        self._update_feedback(t)

    def _end_trial(self, t: float) -> None:
        rec = self._current
        assert rec is not None
        self._set_feedback(False, t)
        d = self.drill
        rows = self._trial_rows(rec.t_start - 0.5, t)
        rec.rows = rows
        y = d.value_of(rows["force_n"], rows["pressure_kpa"])
        rec.score = score_trial(rows["t_s"], y, target=d.target, band=d.band, t_start=rec.t_start, ramp_s=d.ramp_s,
                                hold_s=d.hold_s, release_s=d.release_s, seq=rows["seq"], segment=rows["segment"],
                                contact_level=d.contact_level)
        rec.feedback_s = self._feedback_time(rec.number)
        self.results.append(rec)
        self._current = None
        self._phase_to("rest", t)
        self.events.append((t, "trial_end", {"trial": rec.number, "outcome": rec.score.outcome,
                                             "error": rec.score.error}))
        self._show_kr(rec, force=False)
        self._drop_old_rows(t)

    def _show_kr(self, rec: TrialRecord, *, force: bool) -> None:
        s = rec.score
        had = rec.feedback_s > 0
        show = force or self.schedule.kr_after(had_feedback=had, requested_after=rec.requested_after,
                                               requested_before=rec.requested_before, trial=rec.number,
                                               error=None if s is None else s.error, target=self.drill.target)
        if not show:
            self._last_kr, self._last_kr_error = "", None
            return
        rec.kr_shown = True
        if s is None or s.outcome is None:
            self._last_kr, self._last_kr_error = "no result: the hold had too few samples", None
            return
        unit = self.drill.unit
        word = "too light" if s.error < 0 else "too firm" if s.error > 0 else "on target"
        self._last_kr = (f"trial {rec.number}: {s.outcome:.1f} {unit} (target {self.drill.target:.1f}, "
                         f"{s.error:+.1f} {unit}, {word}); {s.in_band_pct:.0f} % of the hold in the band")
        self._last_kr_error = s.error
        self.events.append((self._t, "kr", {"trial": rec.number}))

    def _finish(self, t: float) -> None:
        self._set_feedback(False, t)
        self.finished = True
        self._phase = "done"
        self.events.append((t, "block_end", {"trials": len(self.results)}))

    # ----------------------------------------------------------------- the gate
    def _update_feedback(self, t: float) -> None:
        on = False
        if self._phase in ("ramp", "hold", "release") and self._current is not None:
            rec = self._current
            err = None if self._value is None else self._value - self.drill.target
            on = self.schedule.concurrent_now(rec.planned_feedback, requested_before=rec.requested_before,
                                              error=err, target=self.drill.target)
        self._set_feedback(on, t)

    def _set_feedback(self, on: bool, t: float | None) -> None:
        if on == self._fb:
            return
        self._fb = on
        t = float(t if t is not None else (self._t or 0.0))
        self.feedback_log.append((t, on, self._trial))

    def _feedback_time(self, trial: int) -> float:
        total, since = 0.0, None
        for t, on, k in self.feedback_log:
            if k != trial:
                continue
            if on:
                since = t
            elif since is not None:
                total += t - since
                since = None
        return total

    # ----------------------------------------------------------------- samples
    def _trial_rows(self, a: float, b: float) -> np.ndarray:
        if not self._rows:
            return np.zeros(0, SAMPLE_DTYPE)
        allr = np.concatenate(self._rows)
        self._rows = [allr]
        return allr[(allr["t_s"] >= a) & (allr["t_s"] <= b)].copy()

    def _drop_old_rows(self, t: float) -> None:
        if self._rows:
            allr = np.concatenate(self._rows)
            self._rows = [allr[allr["t_s"] >= t - 1.0]]

    def _message(self) -> str:
        p = self._phase
        if p == "ready":
            return "get ready: press when the cue says PRESS"
        if p == "ramp":
            return "PRESS to the target"
        if p == "hold":
            return "HOLD"
        if p == "release":
            return "RELEASE"
        if p == "rest":
            return "rest"
        if p == "done":
            return "block done"
        if p == "stopped":
            return "stopped"
        return ""
