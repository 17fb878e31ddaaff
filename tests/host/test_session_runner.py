"""The session runner on a fake link (a real SampleRing filled by the test): no device, no real time."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from pointdose.cues import CueMixer
from pointdose.errors import UserError
from pointdose.link.info import DeviceInfo
from pointdose.link.ring import RING_DTYPE, SampleRing
from pointdose.listeners import SAMPLE_DTYPE
from pointdose.protocols import PointContext, builtin
from pointdose.session import SessionRunner

CPN, ZERO = 14000.0, 42000.0  # the simulated sensor's hello cal=linear:14000:42000


class FakeLink:
    def __init__(self, with_device_cues=True, cal=f"linear:{CPN:g}:{ZERO:g}"):
        self.ring = SampleRing(10_000)
        self.device = DeviceInfo.from_fields({"cal": cal, "tare": "0", "raw_min": "-8388608", "raw_max": "8388607",
                                              "uid": "fake01"})
        self.cues, self.limits = [], []
        self.seq = 0
        if with_device_cues:
            self.send_cue = lambda phase, band, level: self.cues.append((phase, band, level))
            self.set_limit = lambda raw: self.limits.append(raw)
            self.on_button = None

    def push(self, t, kpa, raw=None):
        t = np.atleast_1d(t)
        rows = np.zeros(len(t), RING_DTYPE)
        rows["seq"] = self.seq + np.arange(len(t))
        self.seq += len(t)
        rows["t_dev_s"] = t
        rows["t_host_rx_s"] = t
        rows["raw"] = raw if raw is not None else np.round(ZERO + np.asarray(kpa) / 10.0 * CPN)
        self.ring.append(rows)


class Recorder:
    """A listener that records every call, in order."""

    def __init__(self):
        self.calls = []

    def on_application_start(self, info):
        self.calls.append(("start", info))

    def on_samples(self, rows):
        assert rows.dtype == SAMPLE_DTYPE
        self.calls.append(("samples", rows.copy()))

    def on_event(self, t_s, kind, data):
        self.calls.append(("event", t_s, kind, data))

    def on_application_end(self, t_s, reason, summary):
        self.calls.append(("end", t_s, reason, summary))


class Broken(Recorder):
    def on_samples(self, rows):
        raise RuntimeError("disk full")


def drive(runner, link, t_end, kpa_of_t, dt=0.01, chunk=5, t0=0.0, on_step=None):
    t = t0
    while t < t_end and not runner.done.is_set():
        ts = t + dt * np.arange(1, chunk + 1)
        link.push(ts, kpa_of_t(ts))
        t = ts[-1]
        if on_step:
            on_step(t)
        runner.step(now=t + 0.005)
    return t


def holds_profile(ts):
    """Press to 200 kPa in 1 s, hold, release at 4 s, rest, again from 6 s."""
    cyc = np.mod(ts, 6.0)
    return np.where(cyc < 1, 200 * cyc, np.where(cyc < 4, 200.0, np.where(cyc < 4.3, 200 * (4.3 - cyc) / 0.3, 0.0)))


def test_listeners_get_start_samples_events_end_in_order_without_gaps_or_repeats():
    link = FakeLink()
    rec, broken, after = Recorder(), Broken(), Recorder()
    link.push([0.0], [0.0])
    proto = builtin("holds", cycles=2, hold_s=2.5, rest_s=1.0)
    runner = SessionRunner(link, proto, PointContext(name="trap"), listeners=[rec, broken, after],
                           info_extra={"session_id": 7})
    drive(runner, link, 20.0, holds_profile)
    assert runner.done.is_set() and runner.end_reason == "completed"
    for r in (rec, after):  # a raising listener does not stop the others
        kinds = [c[0] for c in r.calls]
        assert kinds[0] == "start" and kinds[-1] == "end" and "samples" in kinds
        start = r.calls[0][1]
        assert start["protocol"] == "holds" and start["point"] == "trap" and start["session_id"] == 7
        assert start["probe_area_cm2"] == 1.0 and start["device_uid"] == "fake01"
        assert start["calibration"]["source"] in ("factory", "hello")
        rows = np.concatenate([c[1] for c in r.calls if c[0] == "samples"])
        assert np.all(np.diff(rows["seq"]) == 1)  # in order, none twice, none missing
        assert rows["pressure_kpa"][np.argmin(np.abs(rows["t_s"] - 2.0))] == pytest.approx(200.0, abs=0.1)
        assert rows["force_n"][np.argmin(np.abs(rows["t_s"] - 2.0))] == pytest.approx(20.0, abs=0.01)
        events = [c[2] for c in r.calls if c[0] == "event"]
        assert events[0] == "phase_start" and events.count("cycle_done") == 2 and "end" not in events
        end = r.calls[-1]
        assert end[2] == "completed" and end[3]["cycles_done"] == 2
        assert rows["t_s"][-1] <= end[1] + 1e-9  # nothing after the end
    assert any("Broken.on_samples: disk full" in e for e in runner.listener_errors)


def test_stop_from_another_thread_ends_at_once_and_says_why():
    link = FakeLink()
    rec = Recorder()
    link.push([0.0], [0.0])
    runner = SessionRunner(link, builtin("holds"), listeners=[rec])

    def press_stop(t):
        if t >= 2.0 and not runner.ended.is_set():
            threading.Thread(target=runner.stop, args=("STOP button",)).start()

    drive(runner, link, 3.0, holds_profile, on_step=press_stop)
    for _ in range(3):
        runner.step(now=3.1)
    assert runner.ended.is_set()
    stop = [c for c in rec.calls if c[0] == "event" and c[2] == "stop"][0]
    assert stop[3]["reason"] == "STOP button"
    assert rec.calls[-1][2] == "stopped" and rec.calls[-1][3]["end_reason"] == "stopped: STOP button"


def test_device_cues_limit_and_buttons_through_the_link_contract():
    link = FakeLink()
    link.push([0.0], [0.0])
    proto = builtin("tppr", target="100 kPa", steps=0, cycles=1, rest_s=1)
    runner = SessionRunner(link, proto)

    def button(t):
        if abs(t - 2.0) < 0.025:
            link.on_button(1.95, "up")
            link.on_button(1.96, "up")
            link.on_button(1.97, "down")
        if abs(t - 3.0) < 0.025:
            link.on_button(2.9, "release")  # the device's own time

    drive(runner, link, 8.0, lambda ts: np.where(ts < 1, 100 * ts, np.where(ts < 3.2, 100.0, 0.0)), on_step=button)
    assert runner.end_reason == "completed"
    assert [e[2]["value"] for e in runner.events if e[1] == "pain_rating"] == [1, 2, 1]
    sig = [e for e in runner.events if e[1] == "signal"][0]
    assert sig[0] == pytest.approx(2.9) and sig[2]["source"] == "device"
    # the firmware's own limit: 5 % above the 700 kPa alarm = 73.5 N = ZERO + 73.5 × CPN counts
    assert link.limits and link.limits[0] == pytest.approx(ZERO + 73.5 * CPN, abs=2)
    phases = [c[0] for c in link.cues]
    assert phases[0] == "press" and "hold" in phases and "ease" in phases
    assert ("press", "below", 100) in link.cues or any(c[:2] == ("press", "below") for c in link.cues)
    runner.close()
    assert link.cues[-1] == ("off", "none", 0) and link.limits[-1] is None


def test_keyboard_signals_are_stamped_with_host_time_and_pain_ratings_validated():
    link = FakeLink(with_device_cues=False)
    link.push([0.0], [0.0])
    runner = SessionRunner(link, builtin("holds", cycles=1, hold_s=3), require_device_limit=False)

    def keys(t):
        if abs(t - 2.0) < 0.025:
            runner.signal("rating", 6, t_s=2.0, source="keyboard")
            runner.signal("rating", 12, t_s=2.0, source="keyboard")

    drive(runner, link, 8.0, holds_profile, on_step=keys)
    ratings = [e for e in runner.events if e[1] == "pain_rating"]
    assert len(ratings) == 1 and ratings[0][2]["value"] == 6
    assert [e for e in runner.events if e[1] == "input_error"][0][2]["error"].startswith("a pain rating")


def test_max_pressure_alarm_keeps_alarming_until_released(tmp_path):
    link = FakeLink()
    link.push([0.0], [0.0])
    mixer = CueMixer()
    runner = SessionRunner(link, builtin("holds"), mixer=mixer)
    drive(runner, link, 2.0, lambda ts: 400 * ts)  # crosses 700 kPa at 1.75 s
    assert runner.ended.is_set() and runner.end_reason == "alarm: max_pressure"
    assert not runner.done.is_set() and runner.cue.phase == "alarm"
    assert link.cues[-1][0] == "alarm"
    drive(runner, link, 3.0, lambda ts: 0.0 * ts, t0=2.0)
    assert runner.done.is_set()


def test_ppt_result_becomes_the_clients_own_ppt_at_that_point_with_its_probe(tmp_path):
    """Recorded for client T at "trap": the records keep it as T's PPT there, and nobody else's."""
    from pointdose.records import RecordingListener, Store
    from pointdose.records.ppt import lookup

    store = Store(tmp_path / "r.sqlite")
    tid, oid = store.add_client("T"), store.add_client("O")
    listener = RecordingListener(store, session_id=store.start_session(tid), autoflush=False)
    link = FakeLink()
    link.push([0.0], [0.0])
    runner = SessionRunner(link, builtin("ppt", trials=2, rest_s=1.0), PointContext(name="trap"), listeners=[listener])
    pains = {}

    def profile(ts):
        out = np.zeros_like(ts)
        for i, t in enumerate(ts):
            cyc = t % 6.0
            out[i] = 50 * cyc if cyc < 4.0 else 0.0
        return out

    def pain(t):
        cyc = t % 6.0
        key = int(t // 6.0)
        if cyc >= 3.6 and key not in pains:
            pains[key] = t
            runner.signal("pain", t_s=t - cyc + 3.4, source="keyboard")  # stamped at 170 kPa

    drive(runner, link, 14.0, profile, on_step=pain)
    assert runner.end_reason == "completed"
    listener.close()
    found = lookup(store, store.find_point(tid, "trap"), 1.0)
    rec = found.record
    assert rec.kpa == pytest.approx(170.0, abs=0.5) and rec.probe_area_cm2 == 1.0 and rec.n == 2
    assert rec.rate_kpa_s == 50.0 and "this client" in found.line()
    assert store.find_point(oid, "trap") is None
    store.close()


def test_refusals_uncalibrated_device_and_unaccepted_caution():
    link = FakeLink(cal="none")
    with pytest.raises(UserError, match="calibrate"):
        SessionRunner(link, builtin("holds"))
    with pytest.raises(UserError, match="carotid"):
        SessionRunner(FakeLink(), builtin("ppt"), PointContext(region="anterior-neck"))
    # the runner refuses what the region never allows, even when a caller skipped the start checks
    with pytest.raises(UserError, match="no sustained compression"):
        SessionRunner(FakeLink(), builtin("holds", target="50 kPa"), PointContext(region="anterior_neck"),
                      accept_caution=True)
    runner = SessionRunner(FakeLink(), builtin("ppt"), PointContext(region="anterior-neck"), accept_caution=True)
    assert runner.engine.limits.max_kpa == 100.0 and runner.engine.limits.max_hold_s == 10.0


def test_closing_a_running_session_ends_and_records_the_application():
    """Closing the window mid-session: the runner's own thread applies the STOP, listeners hear the end."""
    link = FakeLink()
    rec = Recorder()
    t0 = time.monotonic()  # the runner's thread uses the real clock: samples arrive in real time
    link.push([t0], [0.0])
    runner = SessionRunner(link, builtin("holds"), listeners=[rec])
    runner.start()  # its own thread, as in the app
    for _ in range(20):
        time.sleep(0.01)
        ts = np.array([time.monotonic()])
        link.push(ts, holds_profile(ts - t0))
    runner.close()
    assert runner.ended.is_set()
    assert rec.calls[-1][0] == "end" and rec.calls[-1][2] == "stopped"
    assert any(c[0] == "event" and c[2] == "stop" and c[3]["reason"] == "closed" for c in rec.calls)


def test_rows_appended_while_the_runner_reads_are_neither_skipped_nor_repeated():
    """The reader thread appends while the runner steps: every row reaches the listeners exactly once."""
    link = FakeLink()
    rec = Recorder()
    t_start = time.monotonic()  # the steps below use the real clock: samples on the same time base
    link.push([t_start], [0.0])
    runner = SessionRunner(link, builtin("holds", cycles=1, hold_s=30), listeners=[rec])
    runner.step(now=t_start)
    done = threading.Event()

    def reader():
        t = t_start
        while not done.is_set():
            ts = t + 0.001 * np.arange(1, 4)
            link.push(ts, np.full(3, 150.0))
            t = ts[-1]
            time.sleep(0.001)  # about real time: the ring never overflows, no max-hold alarm

    thread = threading.Thread(target=reader)
    thread.start()
    try:  # step until the reader has appended enough rows (a count; the deadline is only a guard)
        until = time.monotonic() + 30
        while len(link.ring) < 450 and time.monotonic() < until:
            runner.step(now=time.monotonic())
    finally:
        done.set()
        thread.join()
    runner.step(now=time.monotonic())
    runner.stop("test over")
    runner.step(now=time.monotonic())
    rows = np.concatenate([c[1] for c in rec.calls if c[0] == "samples"])
    assert len(rows) > 100
    assert np.all(np.diff(rows["seq"]) == 1), "rows skipped or given twice"


def test_a_stop_keeps_the_rows_and_signals_stamped_before_it():
    """Rows still in transit at STOP (times before it) reach the listeners; a rating given just before counts."""
    link = FakeLink(with_device_cues=False)
    rec = Recorder()
    now = [0.0]
    link.push([0.0], [0.0])
    runner = SessionRunner(link, builtin("holds", cycles=1, hold_s=30.0), listeners=[rec], device_cues=False,
                           clock=lambda: now[0], require_device_limit=False)
    t = drive(runner, link, 2.0, holds_profile)
    now[0] = t + 0.05
    runner.signal("rating", 5, t_s=t + 0.03)  # before the STOP, newer than any sample so far
    runner.stop("STOP button")  # stamped t + 0.05
    runner.step(now=now[0])
    assert runner.engine.finished and not runner.ended.is_set()  # ended; listeners told after the rows
    ts = t + 0.01 * np.arange(1, 11)  # in transit: 5 stamped before the STOP, 5 after
    link.push(ts, holds_profile(ts))
    runner.step(now=now[0] + 0.02)
    assert runner.ended.is_set()
    end = rec.calls[-1]
    assert end[0] == "end" and end[1] == pytest.approx(t + 0.05) and end[2] == "stopped"
    rows = np.concatenate([c[1] for c in rec.calls if c[0] == "samples"])
    assert rows["t_s"][-1] == pytest.approx(t + 0.05) and np.all(np.diff(rows["seq"]) == 1)
    ratings = [c for c in rec.calls if c[0] == "event" and c[2] == "pain_rating"]
    assert ratings and ratings[0][1] == pytest.approx(t + 0.03) and ratings[0][3]["value"] == 5
    runner.step(now=now[0] + 0.04)
    assert runner.done.is_set() and [c[0] for c in rec.calls].count("end") == 1


class RefusingLink(FakeLink):
    """A device that answers ERROR to ``limit`` (as a firmware refusing a value outside its raw range)."""

    def __init__(self, **kw):
        super().__init__(**kw)

        def refuse(raw, min_raw=None):
            raise RuntimeError("ERROR 2 limit: RAW must be within raw_min..raw_max")
        self.set_limit = refuse


def test_no_session_starts_without_a_working_device_limit():
    link = RefusingLink()
    link.push([0.0], [0.0])
    with pytest.raises(UserError, match="the device refused its safety limit .*RAW must be within"):
        SessionRunner(link, builtin("holds"))
    bare = FakeLink(with_device_cues=False)  # no limit at all
    with pytest.raises(UserError, match="cannot hold its own over-pressure limit"):
        SessionRunner(bare, builtin("holds"))
    with pytest.raises(UserError, match="cannot hold its own over-pressure limit"):
        SessionRunner(bare, builtin("holds"), device_cues=False)  # no cues does not mean no limit

    ignoring = FakeLink()
    ignoring.io = lambda: {"limit_max": "off", "limit_min": "off"}  # takes the command, does not keep it
    with pytest.raises(UserError, match="reports limit_max=off"):
        SessionRunner(ignoring, builtin("holds"))


def test_the_device_limit_is_clamped_into_the_sensor_range_never_dropped():
    from pointdose.session.limit import plan

    link = FakeLink()
    link.device = link.device.with_fields(raw_max=1000000)  # (1e6 − 42000) / 14000 = 68.4 N: 684 kPa on 1 cm²
    link.push([0.0], [0.0])
    runner = SessionRunner(link, builtin("holds", target="100 kPa"))
    assert link.limits == [999_999] and runner.device_limit.clamped  # 735 kPa would be past the range
    assert "clamped to the sensor's end, 684 kPa" in runner.device_limit.note
    assert runner.engine.limits.calibrated_max_kpa == pytest.approx(684.3, abs=0.1)  # targets above it refused
    with pytest.raises(UserError, match="beyond the sensor's calibrated range"):
        SessionRunner(link, builtin("holds", target="630 kPa"))  # band top 693
    conv = runner.conv
    inside = plan(conv, 300.0, 1.0)
    assert not inside.clamped and inside.kpa == pytest.approx(315.0, abs=0.1)
    big = plan(conv, 300.0, 10.0)  # 3150 N on 10 cm²: past the range
    assert big.clamped and big.raw == 999_999 and "with a 10 cm² probe" in big.note
