"""Protocol sessions and training drills are two programs of one live loop (session/loop.py).

The same samples go through a SessionRunner and a LiveTrainer on fake links (a real SampleRing the
test fills): the rows each reads, the scale, the limit alarm (its sample, kind and words), the
device's alarm cue and the device's own limit come from the loop, so they are the same.
"""

from __future__ import annotations

import numpy as np
import pytest

from pointdose.calibration.scale import scale_for
from pointdose.link.info import DeviceInfo
from pointdose.link.ring import RING_DTYPE, SampleRing
from pointdose.protocols import PointContext, builtin
from pointdose.session import SessionRunner
from pointdose.session.loop import LiveLoop
from pointdose.training import Block, Drill, Schedule
from pointdose.training.live import LiveTrainer

CPN, ZERO = 1000.0, 0.0  # counts per N; 1 cm² probe: kPa = N × 10
RATE = 200


class FakeLink:
    def __init__(self, raw_max=8_388_607):
        self.ring = SampleRing(100_000)
        self.device = DeviceInfo.from_fields({"cal": f"linear:{CPN:g}:{ZERO:g}", "tare": "0", "raw_min": "-8388608",
                                              "raw_max": str(raw_max), "uid": "fake01"})
        self.cues, self.limits = [], []
        self.seq = 0
        self.send_cue = lambda phase, band, level: self.cues.append((phase, band, level))
        self.set_limit = lambda raw, min_raw=None: self.limits.append(raw)

    def push(self, t, kpa):
        t = np.atleast_1d(t)
        rows = np.zeros(len(t), RING_DTYPE)
        rows["seq"] = self.seq + np.arange(len(t))
        self.seq += len(t)
        rows["t_dev_s"] = rows["t_host_rx_s"] = t
        rows["raw"] = np.round(ZERO + np.asarray(kpa) / 10.0 * CPN)
        self.ring.append(rows)


def drive(loop, link, pressure, seconds=6.0, chunk=7):
    """Push ``pressure(t)`` at 200 Hz in chunks and step the loop after each; the samples the loop
    handed on (its listener's rows)."""
    t_all = np.arange(0.0, seconds, 1.0 / RATE) + 100.0
    loop.step(now=100.0 - 0.01)  # the loop starts before the first sample
    for k in range(0, len(t_all), chunk):
        t = t_all[k:k + chunk]
        link.push(t, pressure(t - 100.0))
        loop.step(now=float(t[-1]))


class Rows:
    def __init__(self):
        self.rows = []

    def on_application_start(self, info):
        pass

    def on_samples(self, rows):
        self.rows.append(rows.copy())

    def on_event(self, t_s, kind, data):
        pass

    def on_application_end(self, t_s, reason, summary):
        pass


def ramp(top_kpa, over_s=4.0):
    return lambda t: np.minimum(top_kpa, top_kpa * t / over_s)


def _session(link, **kw):
    return SessionRunner(link, builtin("holds", target="200 kPa", hold_s=30.0, cycles=1), PointContext(name="trap"),
                         **kw)


def _drill(link, surface="partner", target=200.0, **kw):
    drill = Drill(target=target, surface=surface, trials=3, hold_s=30.0)
    conv = scale_for(link, None).require()
    return LiveTrainer(link, [Block("practice", drill, Schedule.constant())], conv=conv, get_ready_s=0.5, **kw)


def _alarms(loop):
    return [(t, d["kind"], d["text"], d["ends"]) for t, kind, d in loop.events if kind == "alarm"]


def test_both_programs_are_run_by_the_one_loop():
    assert issubclass(SessionRunner, LiveLoop) and issubclass(LiveTrainer, LiveLoop)
    for name in ("step", "_feed", "emit", "send_cue", "arm_device_limit", "start_thread"):
        assert getattr(SessionRunner, name) is getattr(LiveLoop, name) is getattr(LiveTrainer, name), name


def test_a_pressure_limit_alarm_fires_identically_in_a_session_and_a_drill_on_a_person():
    """Pressing past 700 kPa (docs/protocols.md, "Limits") on a partner: the same sample, the same
    words, the drill stopped at once as the session ends, and the device shows the alarm."""
    results = {}
    for name, make in (("session", _session), ("drill", _drill)):
        link = FakeLink()
        loop = make(link, listeners=[Rows()])
        drive(loop, link, ramp(800.0))
        results[name] = (loop, link)
    (session, s_link), (drill, d_link) = results["session"], results["drill"]
    s_alarm, d_alarm = _alarms(session), _alarms(drill)
    assert len(s_alarm) == 1 and s_alarm == d_alarm
    t, kind, text, ends = s_alarm[0]
    assert kind == "max_pressure" and ends and "over the 700 kPa limit: release" in text
    assert 3.5 < t - 100.0 < 3.6  # the first sample over 700 kPa of a 0 → 800 kPa ramp over 4 s
    assert session.end_reason == "alarm: max_pressure"
    assert drill.finished and drill.runs[0].stopped and drill.cue.alarm == text
    assert ("stop", "alarm: max_pressure") in [(k, d.get("reason")) for _, k, d in drill.runs[0].events]
    assert s_link.cues[-1][0] == d_link.cues[-1][0] == "alarm"
    # the listeners got the same rows, up to the alarm (the loop reads the ring with since(), once each)
    s_rows = np.concatenate(session.listeners[0].rows)
    d_rows = np.concatenate(drill.listeners[0].rows)
    assert s_rows["t_s"][-1] == pytest.approx(t) and len(np.unique(s_rows["seq"])) == len(s_rows)
    np.testing.assert_array_equal(d_rows["seq"][:len(s_rows)], s_rows["seq"])
    np.testing.assert_allclose(d_rows["pressure_kpa"][:len(s_rows)], s_rows["pressure_kpa"])
    # the device's own limit: set for both, at the same raw count (5 % above 700 kPa)
    assert s_link.limits[0] == d_link.limits[0] == 73500
    session.close()
    drill.close()
    assert s_link.limits[-1] is None and d_link.limits[-1] is None  # cleared at the end


def test_a_saturated_sensor_alarms_identically_in_a_session_and_a_pad_drill():
    """On a pad no body is pressed (no 700 kPa limit), but a reading at the end of the sensor's range
    stops the drill exactly as it ends a session."""
    results = {}
    for name, make in (("session", _session), ("drill", lambda link, **kw: _drill(link, surface="pad", **kw))):
        link = FakeLink(raw_max=60_000)  # the sensor reads up to 60 N: 600 kPa on 1 cm²
        loop = make(link)
        drive(loop, link, ramp(900.0))
        results[name] = loop
    s_alarm, d_alarm = _alarms(results["session"]), _alarms(results["drill"])
    assert [a[1] for a in s_alarm] == ["out_of_range"] or [a[1] for a in s_alarm] == ["saturation"]
    assert s_alarm == d_alarm


def test_a_pad_drill_above_the_persons_limit_runs_on():
    """900 kPa on a foam pad is a drill, not a danger: no alarm, the trials are scored."""
    link = FakeLink()
    drill = _drill(link, surface="pad", target=900.0)
    drive(drill, link, lambda t: np.full_like(t, 900.0), seconds=4.0)
    assert _alarms(drill) == [] and not drill.runs[0].stopped and drill.alarm == ""


def test_after_a_drills_alarm_the_alarm_cue_lasts_until_the_probe_is_off():
    """As after a session's alarm: the device and the sound keep the alarm until the pressure is
    released, then it goes off by itself (the trainer is not left buzzing until closed)."""
    link = FakeLink()
    drill = _drill(link)
    drive(drill, link, lambda t: np.where(t < 4.5, np.minimum(800.0, 200.0 * t), 0.0), seconds=6.0)
    phases = [c[0] for c in link.cues]
    first = phases.index("alarm")
    assert "alarm" not in phases[first:][phases[first:].index("off"):]  # alarm, then off, and it stays off
    assert drill.alarm and drill.cue.alarm == "" and drill.cue.message == drill.alarm
    assert drill.loop_done() and drill.step_over()


def test_a_ppt_ramp_reaching_its_ceiling_in_a_session_is_censored_as_by_the_engine_alone():
    """The limits are decided in one place (protocols.safety.LimitGuard, run by the engine): a PPT
    ramp whose ceiling is the pressure limit is guided off at the ceiling (censored), not ended by
    a second check in the loop that disagreed with the engine (it raised max_pressure)."""
    from dataclasses import replace

    proto = builtin("ppt", trials=1, rest_s=1.0, retries=0)
    proto = replace(proto, limits=replace(proto.limits, max_kpa=500.0))
    link = FakeLink()
    runner = SessionRunner(link, proto, PointContext(name="trap"), listeners=[Rows()])
    assert runner.engine._ppt_ceiling == 500.0
    # 150 kPa/s: 499.5 kPa, then 500.25 kPa (the first sample past the ceiling and the limit), then off
    drive(runner, link, lambda t: np.where(t < 3.3375, 150.0 * t, 0.0), seconds=6.0)
    assert _alarms(runner) == []
    (trial,) = [d for _, k, d in runner.events if k == "ppt_trial"]
    assert trial["censored"] and trial["text"] == "> 500 kPa"
    assert runner.end_reason == "completed"
    runner.close()
