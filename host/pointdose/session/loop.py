"""The one live loop: a link's ring → the one scale → the safety limits → a program → cues, events.

Protocol sessions (:class:`pointdose.session.SessionRunner`, the program is the protocol engine)
and training drills (:class:`pointdose.training.live.LiveTrainer`, the program is a sequence of
drill blocks) are two programs run by this loop. Each step, on one thread (its own, or whoever
calls :meth:`LiveLoop.step`):

1. the new rows of ``link.ring``, each exactly once (``ring.since``), become SAMPLE_DTYPE rows
   through the converter chosen by :func:`pointdose.calibration.scale.scale_for` (:class:`RowReader`);
2. the host's limits check every sample (:class:`pointdose.protocols.safety.LimitGuard`: saturation,
   calibrated range, pressure limit, continuous contact); the program gets the rows up to the one
   past a limit, then the alarm (``program_alarm``), then the rest. The protocol engine runs that
   guard itself (a session's loop has none of its own: one decision per sample);
3. the listeners get the rows the program keeps (``on_samples``) and the program's events
   (:meth:`emit`: ``events``, ``on_event`` callback, listeners' ``on_event``, the sound mixer);
4. the program's cue goes to the sound mixer, the device's LED/buzzer and ``on_cue``.

The device's own over-pressure limit (:mod:`pointdose.session.limit`) is set before anything
starts (:meth:`arm_device_limit`) and cleared at :meth:`close`. A subclass is the program: it
defines ``program_begin``, ``program_feed``, ``program_alarm``, ``program_step``,
``program_keep``, ``program_cue`` and ``program_finished``.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Sequence

import numpy as np

from pointdose import metrics, units
from pointdose.cues.device import DeviceCues
from pointdose.listeners import SAMPLE_DTYPE
from pointdose.protocols.safety import LimitGuard
from pointdose.session import convert
from pointdose.session import limit as device_limit

POLL_S = 0.02
ALARM_HOLD_S = 10.0  # after an alarm, keep the alarm cue until released (or this long)


def alarm_sounding(pressure_kpa: float | None, alarm_t: float, now: float,
                   contact_kpa: float = metrics.DEFAULT_CONTACT_KPA) -> bool:
    """After a limit alarm, whether its cue stays on: until the probe is off the point (below the
    contact's release level; an unknown pressure is not off) or :data:`ALARM_HOLD_S` have passed."""
    pressed = pressure_kpa is None or pressure_kpa >= metrics.release_level(contact_kpa)
    return pressed and now - alarm_t < ALARM_HOLD_S


def samples(raw_rows: np.ndarray, conv, probe_area_cm2: float | None) -> np.ndarray:
    """Ring rows → SAMPLE_DTYPE rows: force through ``conv``, pressure on the probe's area."""
    rows = np.zeros(len(raw_rows), dtype=SAMPLE_DTYPE)
    if len(raw_rows) == 0:
        return rows
    rows["seq"] = raw_rows["seq"]
    rows["segment"] = raw_rows["segment"]
    rows["t_s"] = raw_rows["t_dev_s"]
    rows["raw"] = raw_rows["raw"]
    rows["force_n"] = conv.force_n(raw_rows["raw"])
    rows["pressure_kpa"] = units.pressure_kpa(rows["force_n"], probe_area_cm2 or units.DEFAULT_PROBE_AREA_CM2)
    return rows


class RowReader:
    """The rows a ring received since this reader was made (or since the last :meth:`take`), each
    exactly once, as SAMPLE_DTYPE through ``conv``."""

    def __init__(self, ring, conv, probe_area_cm2: float | None) -> None:
        self.ring = ring
        self.conv = conv
        self.area = probe_area_cm2 or units.DEFAULT_PROBE_AREA_CM2
        self.seen = ring.total_appended

    def begin(self) -> None:
        """Rows from now on only."""
        self.seen = self.ring.total_appended

    def take(self) -> np.ndarray:
        self.seen, raw_rows = self.ring.since(self.seen)  # one lock: no row skipped or given twice
        return samples(raw_rows, self.conv, self.area)


class LiveLoop:
    """The loop itself; subclasses are its programs (see the module's docstring)."""

    thread_name = "pointdose-live"

    def __init__(self, link: Any, conv, probe_area_cm2: float | None, *, guard: LimitGuard | None,
                 listeners: Sequence[Any] = (), mixer=None, device: DeviceCues | None = None,
                 on_cue: Callable | None = None, on_event: Callable | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.conv = conv
        self.probe_area_cm2 = probe_area_cm2
        self.guard = guard
        self.listeners = list(listeners)
        self.mixer = mixer
        self.device = device
        self.on_cue = on_cue
        self.on_event_cb = on_event
        self.clock = clock
        self.listener_errors: list[str] = []
        self.events: list[tuple[float, str, dict]] = []
        self.alarms: list[tuple[float, str, str]] = []  # the limit alarms this loop raised (t, kind, text)
        self.device_limit: device_limit.DeviceLimit | None = None
        self.rows = RowReader(link.ring, conv, probe_area_cm2)  # from the first step on (begin())
        self._begun = False
        self._limiter: DeviceCues | None = None
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()

    # ------------------------------------------------------------------ the device's own limit

    def arm_device_limit(self, max_kpa: float, *, required: bool = True) -> device_limit.DeviceLimit | None:
        """Set the firmware's own limit for ``max_kpa`` (kPa on this probe; clamped into the sensor's
        range) and check the device took it: UserError when it cannot. Not ``required``: a device
        without the command (a test's fake) is left without one."""
        limiter = self.device or DeviceCues(self.link)
        if not required and not limiter.can_limit:
            return None
        lim = device_limit.plan(self.conv, max_kpa, self.probe_area_cm2 or units.DEFAULT_PROBE_AREA_CM2)
        limiter.arm_limit(lim)
        self._limiter, self.device_limit = limiter, lim
        return lim

    # ------------------------------------------------------------------ running

    def start_thread(self):
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        try:
            while not self._halt.is_set() and not self.loop_done():
                self.step()
                self._halt.wait(POLL_S)
        except Exception as exc:  # never leave listeners with an open application
            self.on_loop_error(exc)
            raise

    def step(self, now: float | None = None) -> None:
        with self._lock:
            if self.step_over():
                return
            now = self.clock() if now is None else now
            if not self._begun:
                self._begun = True
                self.rows.begin()
                self.program_begin(now)
            rows = self.rows.take()
            if len(rows):
                self._feed(rows)
            self.program_step(now)
            cue = self.program_cue(now)
            if cue is not None:
                self.send_cue(*cue)

    def _feed(self, rows: np.ndarray) -> None:
        sat = convert.saturated(self.conv, rows["raw"])
        hit = None
        if self.guard is not None and not self.program_finished():
            hit = self.guard.check(rows["t_s"], rows["pressure_kpa"], sat)
        if hit is None:
            self.program_feed(rows, sat)
        else:
            i, kind, text = hit
            t = float(rows["t_s"][i])
            self.program_feed(rows[: i + 1], sat[: i + 1])
            if not self.program_finished():  # the program did not stop at it by itself
                self.alarms.append((t, kind, text))
                self.program_alarm(t, kind, text)
            if i + 1 < len(rows):
                self.program_feed(rows[i + 1:], sat[i + 1:])
        keep = self.program_keep(rows)
        if keep is not None and len(keep):
            self.call("on_samples", keep)

    def emit(self, t_s: float, kind: str, data: dict, *, event=None, listeners: bool = True,
             sound: bool = True) -> None:
        """One event of the program: kept in ``events``, told to the mixer (``sound``), the
        ``on_event`` callback (``event``: the object it gets, else ``(t_s, kind, data)``) and the
        listeners."""
        self.events.append((t_s, kind, data))
        if sound and self.mixer is not None:
            self.mixer.on_event(kind, data)
        if self.on_event_cb is not None:
            self.on_event_cb(event if event is not None else (t_s, kind, data))
        if listeners:
            self.call("on_event", t_s, kind, data)

    def send_cue(self, sound_cue, device_cue, cue) -> None:
        """The cue out: sound mixer, the device's LED/buzzer, ``on_cue``."""
        if self.mixer is not None:
            self.mixer.update(sound_cue)
        if self.device is not None:
            self.device.update(device_cue)
        if self.on_cue is not None:
            self.on_cue(cue)

    def call(self, method: str, *args) -> None:
        """Every listener's ``method``; one that raises is noted in ``listener_errors``, the rest go on."""
        for listener in self.listeners:
            try:
                getattr(listener, method)(*args)
            except Exception as exc:
                self.listener_errors.append(f"{type(listener).__name__}.{method}: {exc}")

    def stop_thread(self) -> None:
        self._halt.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=3.0)

    def release_device(self) -> None:
        """Cues off and the device's limit cleared (the end of a run)."""
        if self.device is not None:
            self.device.off()
        if self.device_limit is not None and self._limiter is not None:
            self._limiter.set_limit(None)  # ``device_limit`` stays: what was armed, for the record

    # ------------------------------------------------------------------ the program

    def loop_done(self) -> bool:
        """The loop's thread stops stepping."""
        return False

    def step_over(self) -> bool:
        """A step does nothing any more."""
        return False

    def on_loop_error(self, exc: Exception) -> None:
        pass

    def program_begin(self, now: float) -> None:
        raise NotImplementedError

    def program_feed(self, rows: np.ndarray, saturated: np.ndarray) -> None:
        raise NotImplementedError

    def program_alarm(self, t_s: float, kind: str, text: str) -> None:
        raise NotImplementedError

    def program_step(self, now: float) -> None:
        raise NotImplementedError

    def program_keep(self, rows: np.ndarray) -> np.ndarray | None:
        """The rows of this step the listeners get."""
        return rows

    def program_cue(self, now: float):
        """``(sound cue, device cue, cue for on_cue)``, or None to send nothing this step."""
        raise NotImplementedError

    def program_finished(self) -> bool:
        raise NotImplementedError
