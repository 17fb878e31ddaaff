"""A training session on a live link: blocks in turn, samples from the ring, cues out, trials saved.

::

    trainer = LiveTrainer(link, standard_plan(drill, Schedule.intermittent(2)), store=ts, student="S-01")
    trainer.run()                    # or trainer.step(now) from a render loop / thread

Every output goes through the block's feedback gate (``cue.feedback_on``): the device gets
``cue.device_cue()`` (phase "off" while hidden), the sound mixer ``cue.sound_cue()`` (no band
beeps while hidden; the phase tones — press, hold, release, rest — say only *when*, never *how
hard*), and ``on_cue`` callbacks get the cue itself (the terminal prints ``cue.terminal_line()``).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Sequence

import numpy as np

from pointdose import units
from pointdose.listeners import SAMPLE_DTYPE
from pointdose.training.runner import Block, BlockRun, TrainingCue

STEP_S = 0.02


def converter(link, probe_area_cm2: float | None = units.DEFAULT_PROBE_AREA_CM2) -> Any:
    """raw → N for this link: the wizard's calibration kept for this device (on it or on this computer),
    else its factory scale (:func:`pointdose.calibration.load_scale`); UserError when it has neither.
    Reads the device: call it off the GUI thread, or hand ``LiveTrainer`` a ``conv``."""
    from pointdose.calibration.scale import load_scale

    return load_scale(link, probe_area_cm2=probe_area_cm2).require()


class RingRows:
    """New rows of a link's ring as SAMPLE_DTYPE (force and pressure through ``conv``)."""

    def __init__(self, ring, conv, probe_area_cm2: float | None) -> None:
        self.ring = ring
        self.conv = conv
        self.area = probe_area_cm2 or units.DEFAULT_PROBE_AREA_CM2
        self._last_t: float | None = None

    def take(self, window_s: float = 2.0) -> np.ndarray:
        w = self.ring.window(window_s)
        if self._last_t is not None:
            w = w[w["t_dev_s"] > self._last_t]
        if len(w) == 0:
            return np.zeros(0, SAMPLE_DTYPE)
        out = np.zeros(len(w), SAMPLE_DTYPE)
        out["seq"], out["segment"], out["t_s"], out["raw"] = w["seq"], w["segment"], w["t_dev_s"], w["raw"]
        out["force_n"] = self.conv.force_n(w["raw"])
        out["pressure_kpa"] = units.pressure_kpa(out["force_n"], self.area)
        self._last_t = float(w["t_dev_s"][-1])
        return out


class LiveTrainer:
    def __init__(self, link, blocks: Sequence[Block], *, store=None, session_uid: str | None = None,
                 conv=None, get_ready_s: float = 3.0, device_cues: bool = True, mixer=None,
                 on_cue: Callable[[TrainingCue], None] | None = None,
                 on_trial: Callable[[BlockRun, Any], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not blocks:
            raise ValueError("a training session needs at least one block")
        self.link = link
        self.blocks = list(blocks)
        self.store = store
        self.session_uid = session_uid
        self.clock = clock
        self.get_ready_s = get_ready_s
        area = blocks[0].drill.probe_area_cm2
        self.rows = RingRows(link.ring, conv if conv is not None else converter(link, area), area)
        self.runs: list[BlockRun] = []
        self.current: BlockRun | None = None
        self.finished = False
        self.mixer = mixer
        self.on_cue = on_cue
        self.on_trial = on_trial
        self.device = None
        if device_cues:
            from pointdose.cues import DeviceCues

            self.device = DeviceCues(link, clock=clock)
        self.hand_cue = None  # what a (virtual) student perceives; read by the hand's thread
        self._saved = 0
        self._events_seen = 0
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()

    # ------------------------------------------------------------------ control
    @property
    def cue(self) -> TrainingCue:
        with self._lock:
            return self.current.cue if self.current is not None else TrainingCue(phase="done" if self.finished else "idle")

    def request(self, moment: str) -> bool:
        with self._lock:
            if self.current is None:
                return False
            ok = self.current.request(moment)
            if ok and moment == "after" and self.store is not None and self.current.results:
                self.store.save_trial(self.current.results[-1])  # requested_after / kr_shown changed
            return ok

    def stop(self, reason: str = "stopped") -> None:
        with self._lock:
            if self.current is not None and not self.current.finished:
                self.current.stop(reason=reason)
                self._after_step()
            self.finished = True
        self._halt.set()

    def start_thread(self) -> "LiveTrainer":
        self._thread = threading.Thread(target=self._loop, name="pointdose-training", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._halt.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        if self.device is not None:
            self.device.off()

    def run(self, timeout: float | None = None) -> bool:
        """Step until every block is done (True) or ``timeout`` passes (False)."""
        deadline = None if timeout is None else self.clock() + timeout
        while not self.finished:
            self.step()
            if deadline is not None and self.clock() > deadline:
                return False
            time.sleep(STEP_S)
        return True

    def _loop(self) -> None:
        while not self._halt.is_set() and not self.finished:
            try:
                self.step()
            except Exception:  # keep the stream and the app alive; the run stops cleanly
                self.stop("error in the training loop")
                raise
            self._halt.wait(STEP_S)

    # ------------------------------------------------------------------ one step
    def step(self, now: float | None = None) -> None:
        with self._lock:
            if self.finished:
                return
            now = self.clock() if now is None else now
            if self.current is None:
                self._next_block(now)
            rows = self.rows.take()
            self.current.feed(rows)
            self.current.tick(now)
            self._after_step()
            if self.current.finished and not self.finished:
                self._next_block(now)

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
        if self.mixer is not None:
            for t, kind, data in run.events[self._events_seen:]:
                self.mixer.on_event(kind, data)
        self._events_seen = len(run.events)
        cue = run.cue
        self._emit(cue)

    def _emit(self, cue: TrainingCue) -> None:
        if self.device is not None:
            self.device.update(cue.device_cue())
        if self.mixer is not None:
            self.mixer.update(cue.sound_cue())
        self.hand_cue = hand_view(cue)
        if self.on_cue is not None:
            self.on_cue(cue)


def hand_view(cue: TrainingCue):
    """What a student perceives of the cue, as the virtual hand reads it (a protocols CueState):
    the target and the timing always; the band (harder/softer) only while feedback is on."""
    from pointdose.protocols import CueState

    phase = {"ramp": "hold", "hold": "hold", "release": "ease", "rest": "rest", "ready": "rest"}.get(cue.phase, "off")
    target_kpa = cue.target if cue.quantity == "pressure" else None
    return CueState(phase=phase, cycle=cue.trial, phase_index=1, target_kpa=target_kpa,
                    band=cue.band if cue.feedback_on else "none", level=cue.level if cue.feedback_on else 0)
