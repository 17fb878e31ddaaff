"""A training session on a live link: blocks in turn, samples from the ring, cues out, trials saved.

::

    trainer = LiveTrainer(link, standard_plan(drill, Schedule.intermittent(2)), store=ts, student="S-01")
    trainer.run()                    # or trainer.step(now) from a render loop / thread

The trainer is a program of the one live loop (:class:`pointdose.session.loop.LiveLoop`, which
runs protocol sessions too): it reads the ring's new rows with ``since()`` through the one scale,
the host's limits check every sample (an alarm stops the drill at once, as it ends a session), and
the device's own limit is set when the device can hold one.

Every output goes through the block's feedback gate (``cue.feedback_on``): the device gets
``cue.device_cue()`` (phase "off" while hidden), the sound mixer ``cue.sound_cue()`` (no band
beeps while hidden; the phase tones — press, hold, release, rest — say only *when*, never *how
hard*), and ``on_cue`` callbacks get the cue itself (the terminal prints ``cue.terminal_line()``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable, Sequence

import numpy as np

from pointdose import metrics, units
from pointdose.protocols.safety import LimitGuard
from pointdose.session import limit as device_limit
from pointdose.session.loop import POLL_S, LiveLoop, RowReader, alarm_sounding
from pointdose.training.drill import PERSON_SURFACES
from pointdose.training.runner import Block, BlockRun, TrainingCue

STEP_S = POLL_S


def converter(link, probe_area_cm2: float | None = units.DEFAULT_PROBE_AREA_CM2) -> Any:
    """raw → N for this link: the wizard's calibration kept for this device (on it or on this computer),
    else its factory scale (:func:`pointdose.calibration.load_scale`); UserError when it has neither.
    Reads the device: call it off the GUI thread, or hand ``LiveTrainer`` a ``conv``."""
    from pointdose.calibration.scale import load_scale

    return load_scale(link, probe_area_cm2=probe_area_cm2).require()


class RingRows(RowReader):
    """New rows of a link's ring as SAMPLE_DTYPE (force and pressure through ``conv``): the live
    loop's reader, for code that takes rows itself (``train follow``)."""

    def take(self, window_s: float | None = None) -> np.ndarray:  # window_s: kept for old callers
        return super().take()


def drill_guard(blocks: Sequence[Block], conv) -> LimitGuard:
    """The host's limits for a run of drills. On a person (partner, self) the protocols' limits
    (docs/protocols.md, "Limits": 700 kPa, 120 s of continuous contact); on a pad or force plate no
    body is pressed: only the sensor's range (saturation, the calibrated top). A force drill on the
    thumb sensor has no pressure to limit."""
    from pointdose.protocols.model import Limits

    drill = blocks[0].drill
    base = Limits()
    area = drill.probe_area_cm2
    top = device_limit.sensor_top_kpa(conv, area or units.DEFAULT_PROBE_AREA_CM2)
    person = any(b.drill.surface in PERSON_SURFACES for b in blocks)
    return LimitGuard(max_kpa=base.max_kpa if person and area is not None else None,
                      max_hold_s=base.max_hold_s if person else None,
                      calibrated_max_kpa=top, contact_kpa=metrics.DEFAULT_CONTACT_KPA)


class LiveTrainer(LiveLoop):
    thread_name = "pointdose-training"

    def __init__(self, link, blocks: Sequence[Block], *, store=None, session_uid: str | None = None,
                 conv=None, get_ready_s: float = 3.0, device_cues: bool = True, mixer=None,
                 on_cue: Callable[[TrainingCue], None] | None = None,
                 on_trial: Callable[[BlockRun, Any], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, listeners: Sequence[Any] = ()) -> None:
        if not blocks:
            raise ValueError("a training session needs at least one block")
        area = blocks[0].drill.probe_area_cm2
        conv = conv if conv is not None else converter(link, area)
        device = None
        if device_cues:
            from pointdose.cues import DeviceCues

            device = DeviceCues(link, clock=clock)
        blocks = list(blocks)
        guard = drill_guard(blocks, conv)
        super().__init__(link, conv, area, guard=guard, listeners=listeners, mixer=mixer, device=device,
                         on_cue=on_cue, clock=clock)
        self.blocks = blocks
        self.store = store
        self.session_uid = session_uid
        self.get_ready_s = get_ready_s
        self.runs: list[BlockRun] = []
        self.current: BlockRun | None = None
        self.finished = False
        self.alarm = ""  # the limit alarm that stopped the drill, in words
        self._alarm_t: float | None = None
        self._alarm_sounding = False  # the alarm cue is on until the probe is off (or ALARM_HOLD_S)
        self._last_kpa: float | None = None
        self.on_trial = on_trial
        self.hand_cue = None  # what a (virtual) student perceives; read by the hand's thread
        self._saved = 0
        self._events_seen = 0
        # the device's own limit when it can hold one: at the host's limit, or the sensor's end
        top = guard.max_kpa if guard.max_kpa is not None else guard.calibrated_max_kpa
        if top is not None:
            self.arm_device_limit(top, required=False)

    # ------------------------------------------------------------------ control
    @property
    def cue(self) -> TrainingCue:
        with self._lock:
            alarm = self.alarm if self._alarm_sounding else ""
            if self.current is None:
                return TrainingCue(phase="done" if self.finished else "idle", alarm=alarm, message=self.alarm)
            cue = self.current.cue
            return replace(cue, alarm=alarm, message=self.alarm) if self.alarm else cue

    def request(self, moment: str) -> bool:
        with self._lock:
            if self.current is None:
                return False
            ok = self.current.request(moment)
            if ok and moment == "after" and self.store is not None and self.current.results:
                self.store.save_trial(self.current.results[-1])  # requested_after / kr_shown changed
            return ok

    def stop(self, reason: str = "stopped by the user") -> None:
        """End the drill now; the block under way and the session get their end and ``reason`` in the
        records (as an alarm's are), so a stopped block is not mistaken for one the app lost."""
        try:
            with self._lock:
                if self.current is not None and not self.current.finished:
                    self.current.stop(reason=reason)
                    self.finished = True  # stopped even if the records fail below
                    self._after_step()
                    if self.store is not None:
                        self.store.end_block(self.current.block.uid, reason)
                    if self.store is not None and self.session_uid is not None:
                        self.store.end_session(self.session_uid)
                self.finished = True
        finally:
            self._halt.set()

    def close(self) -> None:
        self.stop_thread()
        self.release_device()

    def run(self, timeout: float | None = None) -> bool:
        """Step until every block is done (True) or ``timeout`` passes (False)."""
        deadline = None if timeout is None else self.clock() + timeout
        while not self.finished:
            self.step()
            if deadline is not None and self.clock() > deadline:
                return False
            time.sleep(STEP_S)
        return True

    def loop_done(self) -> bool:
        return self.finished and not self._alarm_sounding

    def step_over(self) -> bool:
        return self.finished and not self._alarm_sounding

    def on_loop_error(self, exc: Exception) -> None:  # keep the stream and the app alive; the run stops cleanly
        self.stop("error in the training loop")

    # ------------------------------------------------------------------ the program: drill blocks
    def program_begin(self, now: float) -> None:
        self._next_block(now)

    def program_feed(self, rows: np.ndarray, saturated: np.ndarray) -> None:
        self._last_kpa = float(rows["pressure_kpa"][-1])
        if self.current is not None:
            self.current.feed(rows)

    def program_alarm(self, t_s: float, kind: str, text: str) -> None:
        """A limit passed: the drill stops at once, as a session ends (docs/training.md)."""
        run = self.current
        self.alarm, self._alarm_t, self._alarm_sounding = text, t_s, True
        if run is not None and not run.finished:
            run.events.append((t_s, "alarm", {"kind": kind, "text": text, "ends": True}))
            run.stop(t_s, reason=f"alarm: {kind}")
            if self.store is not None:
                self.store.end_block(run.block.uid, f"alarm: {kind}")
            self._after_step()
        if self.store is not None and self.session_uid is not None:
            self.store.end_session(self.session_uid)
        self.finished = True

    def program_finished(self) -> bool:
        return self.finished

    def program_step(self, now: float) -> None:
        if self._alarm_sounding:  # as after a session's alarm: until the probe is off the point, or ALARM_HOLD_S
            if not alarm_sounding(self._last_kpa, self._alarm_t, now):
                self._alarm_sounding = False
                self._emit(self.cue)
            return
        if self.finished or self.current is None:
            return
        self.current.tick(now)
        self._after_step()
        if self.current.finished and not self.finished:
            self._next_block(now)

    def program_cue(self, now: float):
        return None  # sent by _after_step, as each change happens

    def _next_block(self, now: float) -> None:
        if self.current is not None and self.store is not None:
            self.store.end_block(self.current.block.uid, "stopped" if self.current.stopped else "completed")
        position = len(self.runs)
        if position >= len(self.blocks):
            self.finished = True
            if self.store is not None and self.session_uid is not None:
                self.store.end_session(self.session_uid)
            self._emit(self.cue)
            return
        block = self.blocks[position]
        run = BlockRun(block, get_ready_s=self.get_ready_s)
        self.runs.append(run)
        self.current = run
        self._saved = 0
        self._events_seen = 0
        if self.store is not None and self.session_uid is not None:
            self.store.begin_block(self.session_uid, position, block)
        run.start(now)
        self._after_step()

    def _after_step(self) -> None:
        run = self.current
        if run is None:
            return
        while self._saved < len(run.results):
            rec = run.results[self._saved]
            if self.store is not None:
                self.store.save_trial(rec)
            if self.on_trial is not None:
                self.on_trial(run, rec)
            self._saved += 1
        for t, kind, data in run.events[self._events_seen:]:
            self.emit(t, kind, data)
        self._events_seen = len(run.events)
        self._emit(self.cue)

    def _emit(self, cue: TrainingCue) -> None:
        self.hand_cue = hand_view(cue)
        self.send_cue(cue.sound_cue(), cue.device_cue(), cue)


def hand_view(cue: TrainingCue):
    """What a student perceives of the cue, as the virtual hand reads it (a protocols CueState):
    the target and the timing always; the band (harder/softer) only while feedback is on."""
    from pointdose.protocols import CueState

    phase = {"ramp": "hold", "hold": "hold", "release": "ease", "rest": "rest", "ready": "rest"}.get(cue.phase, "off")
    target_kpa = cue.target if cue.quantity == "pressure" else None
    return CueState(phase=phase, cycle=cue.trial, phase_index=1, target_kpa=target_kpa,
                    band=cue.band if cue.feedback_on else "none", level=cue.level if cue.feedback_on else 0)
