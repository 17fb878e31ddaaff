"""The session runner: a DeviceLink's ring → pressure → protocol engine → cues → listeners.

::

    runner = SessionRunner(link, resolve("holds"), PointContext(name="L trapezius"),
                           listeners=[store_listener], mixer=CueMixer())
    runner.start()                    # its own thread; or call runner.step() yourself
    runner.signal("release")          # keyboard, app button, virtual hand … (thread-safe)
    runner.stop("STOP key")           # ends at once, the reason is recorded; listeners still get the
                                      # rows stamped before it that arrive within one more step
    runner.wait(timeout)              # until the application has ended
    runner.close()

The runner is the protocol engine as a program of the one live loop
(:class:`pointdose.session.loop.LiveLoop`, which runs training drills too). One thread (the
runner's, or whoever calls :meth:`step`) does everything: it reads the new rows of ``link.ring``,
converts raw counts to N and kPa (:mod:`pointdose.session.convert`), checks the host's limits,
feeds the engine, hands the rows and events to every listener **in order** (``on_application_start``,
``on_samples``, ``on_event``, ``on_application_end`` of :mod:`pointdose.listeners`), drives the
sound mixer and the device's LED/buzzer, and applies the inputs queued by other threads. A
listener that raises is noted in ``listener_errors`` and the session goes on. A listener that
cannot keep the recording says so in its ``fault`` attribute (``RecordingListener``: the database
refused a write); the runner then ends the application at once with the alarm ``recording``, so
a session never goes on unrecorded without anyone knowing.

Inputs: ``signal(kind, value, t_s, source)`` with kind release / pain / rating, and ``stop(reason)``.
Device buttons arrive through ``link.on_button(t_dev_s, name)`` (names release, pain, stop,
"rating N", and up/down stepping the rating from the last one) when the link has it; their time
is the device's.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Sequence

import numpy as np

from pointdose.cues.device import DeviceCues
from pointdose.link.info import device_info
from pointdose.protocols import Engine, Event, PointContext, Protocol
from pointdose.protocols.model import PPTRecord
from pointdose.protocols.safety import check_caution_acknowledged
from pointdose.session import convert
from pointdose.session import limit as device_limit
from pointdose.session.loop import POLL_S, LiveLoop, alarm_sounding


class SessionRunner(LiveLoop):
    thread_name = "pointdose-session"

    def __init__(self, link: Any, protocol: Protocol, point: PointContext | None = None, *,
                 listeners: Sequence[Any] = (), mixer=None, device_cues: bool = True, accept_caution: bool = False,
                 calibration_record=None, point_book=None, on_cue: Callable | None = None,
                 on_event: Callable | None = None, info_extra: dict | None = None,
                 clock: Callable[[], float] = time.monotonic, max_seconds: float | None = None,
                 require_device_limit: bool = True) -> None:
        self.protocol = protocol
        self.point = point or PointContext()
        check_caution_acknowledged(self.point.region, accept_caution, protocol)  # hard refusals too
        self.calibration_record = calibration_record
        conv = convert.converter_for_link(link, calibration_record)
        top_kpa = device_limit.sensor_top_kpa(conv, self.point.probe_area_cm2)  # calibrated or raw range
        limits = protocol.limits
        if top_kpa is not None:
            limits = replace(limits, calibrated_max_kpa=top_kpa)
        self.engine = Engine(protocol, self.point, limits=limits)  # refuses unreachable / unsafe targets
        super().__init__(link, conv, self.point.probe_area_cm2,
                         guard=None,  # the engine checks its limits on every sample (protocols.safety.LimitGuard)
                         listeners=listeners,
                         mixer=mixer, device=DeviceCues(link) if device_cues else None, on_cue=on_cue,
                         on_event=on_event, clock=clock)
        # the firmware's own limit, set and confirmed before anything starts (UserError if it cannot be);
        # only a test harness without a device opts out (require_device_limit=False)
        if require_device_limit:
            self.arm_device_limit(self.engine.limits.max_kpa)
        self.point_book = point_book
        self.info_extra = dict(info_extra or {})
        self.max_seconds = max_seconds
        self.fault: str | None = None  # a listener's fault that ended the application (recording failed)
        self.ppt_saved: PPTRecord | None = None
        self.ended = threading.Event()  # the application has ended (listeners told)
        self.done = threading.Event()  # … and the after-alarm hold is over: the runner can be closed
        self.end_reason = ""
        self.summary: dict[str, Any] = {}
        self._inputs: queue.Queue = queue.Queue()
        self._t0 = None
        self._end_t = None
        self._hold_end = 0  # steps to wait before telling listeners of an end by STOP (rows in transit)
        self._cue_lock = threading.Lock()
        self._cue = self.engine.cue
        self._button_prev = None
        self._rating = 0
        if hasattr(link, "on_button"):
            self._button_prev = getattr(link, "on_button")
            link.on_button = self._on_button

    # ------------------------------------------------------------------ inputs (any thread)

    @property
    def cue(self):
        with self._cue_lock:
            return self._cue

    def signal(self, kind: str, value: Any = None, t_s: float | None = None, source: str = "app") -> None:
        """Queue a user signal; ``t_s`` defaults to now (host monotonic, the ring's time base)."""
        self._inputs.put(("signal", kind, value, self.clock() if t_s is None else float(t_s), source))

    def stop(self, reason: str = "STOP", source: str = "app") -> None:
        self._inputs.put(("stop", reason, None, self.clock(), source))

    def _on_button(self, t_dev_s: float, name: str) -> None:  # the link's reader thread
        name = str(name).strip().lower()
        if name == "stop":
            self._inputs.put(("stop", "device STOP button", None, float(t_dev_s), "device"))
        elif name in ("release", "pain"):
            self._inputs.put(("signal", name, None, float(t_dev_s), "device"))
        elif name.startswith("rating"):
            self._inputs.put(("signal", "rating", name.split()[-1], float(t_dev_s), "device"))
        elif name in ("up", "down"):  # two buttons step a 0–10 rating from the last one given
            self._rating = min(10, max(0, self._rating + (1 if name == "up" else -1)))
            self._inputs.put(("signal", "rating", self._rating, float(t_dev_s), "device"))
        if callable(self._button_prev):
            self._button_prev(t_dev_s, name)

    # ------------------------------------------------------------------ running

    def start(self) -> "SessionRunner":
        return self.start_thread()

    def loop_done(self) -> bool:
        return self.done.is_set()

    def on_loop_error(self, exc: Exception) -> None:
        self._fail(f"runner error: {exc}")

    def run(self, timeout: float | None = None) -> str:
        """Run on this thread until done (or ``timeout``); returns the end reason."""
        deadline = None if timeout is None else self.clock() + timeout
        while not self.done.is_set():
            self.step()
            if deadline is not None and self.clock() > deadline:
                self.stop("time limit")
                deadline = None
            time.sleep(POLL_S)
        return self.end_reason

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def close(self) -> None:
        if not self.ended.is_set():
            self.stop("closed")
            if self._thread is None or not self._thread.is_alive():
                for _ in range(3):  # the STOP, then the rows still in transit, then the end
                    if self.ended.is_set():
                        break
                    self.step()
            else:  # let the runner's own thread apply the STOP, so the application ends and is recorded
                self.ended.wait(timeout=2.0)
        self.stop_thread()
        self.release_device()
        if hasattr(self.link, "on_button") and getattr(self.link, "on_button") == self._on_button:
            self.link.on_button = self._button_prev

    # ------------------------------------------------------------------ the program: the protocol engine

    def program_begin(self, now: float) -> None:
        last = self.link.ring.last(1)
        self._t0 = float(last["t_dev_s"][0]) if len(last) else now
        self.engine.start(self._t0)
        info = {
            "protocol": self.protocol.name, "params": self.protocol.describe(), "title": self.protocol.title,
            "point": self.point.name, "region": self.point.region, "probe_area_cm2": self.point.probe_area_cm2,
            "ppt": self.point.ppt.as_dict() if self.point.ppt else None,
            "calibration": convert.calibration_info(self.conv, self.calibration_record),
            "tare_raw": device_info(self.link).tare,
            "device_uid": device_info(self.link).uid,
            "t_s": self._t0, "limits": {"max_kpa": self.engine.limits.max_kpa,
                                        "max_hold_s": self.engine.limits.max_hold_s,
                                        "device_limit_raw": self.device_limit.raw if self.device_limit else None,
                                        "device_limit": self.device_limit.as_dict() if self.device_limit else None},
        }
        info.update(self.info_extra)
        self.call("on_application_start", info)
        if self.device_limit is not None and self.device_limit.clamped:  # say so, and keep it with the record
            self._runner_event(self._t0, "device_limit", self.device_limit.as_dict())

    def _runner_event(self, t_s: float, kind: str, data: dict) -> None:
        """An event of the runner's own (not the engine's), told like the engine's (but not sounded)."""
        self.emit(t_s, kind, data, event=Event(t_s, kind, data), sound=False)

    def program_feed(self, rows: np.ndarray, saturated: np.ndarray) -> None:
        # after the end too: the engine keeps the pressure for the after-alarm cue
        self.engine.feed(rows["t_s"], rows["pressure_kpa"], saturated, seq=rows["seq"], segment=rows["segment"])

    def program_alarm(self, t_s: float, kind: str, text: str) -> None:
        self.engine.alarm(t_s, kind, text)

    def program_keep(self, rows: np.ndarray) -> np.ndarray | None:
        if self._end_t is not None:
            return None
        return rows if not self.engine.finished else rows[rows["t_s"] <= self.engine.t_end_s]

    def program_finished(self) -> bool:
        return self.engine.finished

    def program_step(self, now: float) -> None:
        self._apply_inputs()
        if not self.engine.finished:
            self._check_faults(now)
        if self.max_seconds is not None and not self.engine.finished and now - self._t0 > self.max_seconds:
            self.engine.stop(now, "time limit")
        self.engine.tick(now)
        self._dispatch_events()

    def program_cue(self, now: float):
        cue = self.engine.cue
        if self.engine.finished:
            cue = self._after_end(cue, now)
        with self._cue_lock:
            self._cue = cue
        return cue, cue, cue

    def _apply_inputs(self) -> None:
        while True:
            try:
                what, a, b, t_s, source = self._inputs.get_nowait()
            except queue.Empty:
                return
            if what == "stop":
                was_running = not self.engine.finished
                self.engine.stop(t_s, a)
                if was_running and self.engine.finished:
                    # samples stamped before the STOP may still be in transit: take them for one more step
                    self._hold_end = 1
            else:
                try:
                    self.engine.signal(t_s, a, b, source)
                except ValueError as exc:
                    self.events.append((t_s, "input_error", {"error": str(exc), "source": source}))

    def _dispatch_events(self, final: bool = False) -> None:
        for ev in self.engine.drain_events():
            self.emit(ev.t_s, ev.kind, ev.data, event=ev, listeners=ev.kind != "end")
        if self.engine.finished and not self.ended.is_set():
            if self._hold_end > 0 and not final:
                self._hold_end -= 1
                return
            self.summary = self.engine.summary()
            self.end_reason = self.engine.end_reason
            self._end_t = self.summary["t_end_s"]
            self._save_ppt()
            if self.listener_errors:
                self.summary["listener_errors"] = list(self.listener_errors)
            self.call("on_application_end", self._end_t, _listener_reason(self.end_reason), self.summary)
            self.ended.set()

    def _after_end(self, cue, now: float):
        """After an alarm keep sounding until the probe is off the point (or ALARM_HOLD_S)."""
        if not self.ended.is_set():  # the end is not told yet (rows in transit after a STOP)
            return cue
        if self.end_reason.startswith("alarm"):
            if alarm_sounding(cue.pressure_kpa or 0.0, self._end_t, now, self.engine.limits.contact_kpa):
                return cue
        if not self.done.is_set():
            self.done.set()
        return cue

    def _save_ppt(self) -> None:
        res = self.engine.ppt_result
        if not res or not res["complete"] or res["mean_kpa"] is None:
            return
        if res.get("measure", "threshold") != "threshold" or res.get("censored"):
            return  # a tolerance is not a PPT; a censored one ("> X") cannot be a %PPT base
        record = PPTRecord(kpa=res["mean_kpa"], probe_area_cm2=self.point.probe_area_cm2,
                           rate_kpa_s=res["rate_kpa_s"], sd_kpa=res["sd_kpa"], n=res["n"])
        if self.point_book is not None and self.point.name:
            try:
                self.point_book.set_ppt(self.point.name, record)
            except Exception as exc:
                self.listener_errors.append(f"point book: {exc}")
                return
        self.ppt_saved = record

    def _check_faults(self, now: float) -> None:
        for listener in self.listeners:
            fault = getattr(listener, "fault", None)
            if fault:
                self.fault = str(fault)
                self.engine.alarm(now, "recording", f"the recording cannot be written: {fault}")
                return

    def _fail(self, why: str) -> None:
        if not self.ended.is_set():
            try:
                self.engine.stop(self.clock(), why)
                self._dispatch_events(final=True)
            finally:
                self.done.set()


def _listener_reason(reason: str) -> str:
    """The contract's reasons: "completed", "stopped" or "alarm: …"."""
    if reason.startswith("stopped"):
        return "stopped"
    return reason
