"""``--lsl``: an inlet on this machine receives the pressure and the markers a session produces.

liblsl is configured for loopback only (pointdose.lsl.LOOPBACK_CONFIG: discovery on this machine,
IPv6 off, known peer 127.0.0.1). Every wait is on a count with a generous deadline; time stamps
are checked against the device times the test fed, never against the wall clock.
"""

from __future__ import annotations

import json
import time
import uuid

import numpy as np
import pytest

from pointdose.errors import UserError
from pointdose.link.info import DeviceInfo
from pointdose.link.ring import RING_DTYPE, SampleRing
from pointdose.protocols import PointContext, builtin
from pointdose.session import SessionRunner

pytest.importorskip("pylsl")  # the `lsl` extra; `.[test]` installs it, so make test runs this

CPN, ZERO = 14000.0, 42000.0
RATE = 100.0
DT = 1.0 / RATE


@pytest.fixture(scope="module")
def lsl(monkeypatch_module):
    monkeypatch_module.delenv("LSLAPICFG", raising=False)  # the tests never use a user's network config
    from pointdose import lsl as mod

    mod.load_pylsl()
    return mod


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


class FakeLink:
    """A ring the test fills with exact device times (``t0 + seq·DT``)."""

    def __init__(self):
        self.ring = SampleRing(100_000)
        self.device = DeviceInfo.from_fields({"cal": f"linear:{CPN:g}:{ZERO:g}", "tare": "0", "raw_min": "-8388608",
                                              "raw_max": "8388607", "uid": "t" + uuid.uuid4().hex[:10],
                                              "rate": f"{RATE:g}"})
        self.seq = 0
        self.on_button = None

    def push(self, t, kpa):
        t = np.atleast_1d(t)
        rows = np.zeros(len(t), RING_DTYPE)
        rows["seq"] = self.seq + np.arange(len(t))
        self.seq += len(t)
        rows["t_dev_s"] = rows["t_host_rx_s"] = t
        rows["raw"] = np.round(ZERO + np.asarray(kpa) / 10.0 * CPN)
        self.ring.append(rows)


def inlet_for(pylsl, source_id):
    streams = pylsl.resolve_byprop("source_id", source_id, 1, 30.0)
    assert streams, f"no LSL stream {source_id} found on this machine within 30 s"
    inlet = pylsl.StreamInlet(streams[0], max_buflen=60, recover=False)
    inlet.open_stream(30.0)
    return inlet, streams[0]


def pull_until(inlet, n, deadline_s=30.0, string=False):
    data, stamps = [], []
    end = time.monotonic() + deadline_s
    while len(stamps) < n and time.monotonic() < end:
        if string:
            sample, ts = inlet.pull_sample(timeout=0.5)
            if ts is not None:
                data.append(sample), stamps.append(ts)
        else:
            chunk, ts = inlet.pull_chunk(timeout=0.5)
            data.extend(chunk), stamps.extend(ts)
    return data, np.asarray(stamps)


def holds(ts):
    cyc = np.mod(ts, 6.0)
    return np.where(cyc < 1, 200 * cyc, np.where(cyc < 4, 200.0, np.where(cyc < 4.3, 200 * (4.3 - cyc) / 0.3, 0.0)))


def test_a_session_streams_pressure_at_the_device_rate_and_its_events_as_markers(lsl):
    import pylsl

    link = FakeLink()
    outlet = lsl.open_outlet(link)
    assert outlet.rate_hz == RATE and outlet.source_id == f"pointdose-{link.device.uid}"
    data_in, info = inlet_for(pylsl, outlet.source_id)
    markers_in, _ = inlet_for(pylsl, outlet.source_id + "-markers")
    assert info.nominal_srate() == RATE and info.channel_count() == 2 and info.type() == "Pressure"

    t0 = 1000.0 + 0.123  # device times mapped to host seconds, as the link hands them on
    link.push([t0], [0.0])
    runner = SessionRunner(link, builtin("holds", cycles=1, hold_s=2.5, rest_s=1.0), PointContext(name="trap"),
                           listeners=[outlet], require_device_limit=False)
    t, rated = t0, False
    while not runner.done.is_set() and t < t0 + 30:
        ts = t + DT * np.arange(1, 6)
        link.push(ts, holds(ts - t0))
        t = ts[-1]
        if not rated and t > t0 + 2.0:
            runner.signal("rating", 3, t_s=t)
            rated = True
        runner.step(now=t + 0.005)
    assert runner.end_reason == "completed"
    fed = link.ring.since(0)[1]
    sent = outlet.samples_pushed
    assert sent > 300

    chunk, stamps = pull_until(data_in, sent)
    assert len(stamps) == sent  # one LSL sample per device sample handed on, none more
    got = np.asarray(chunk)
    # the rows the runner handed on: the last `sent` the ring holds up to the end of the application
    first = int(np.searchsorted(fed["t_dev_s"], stamps[0] - outlet.offset_s - DT / 2))
    rows = fed[first:first + sent]
    np.testing.assert_array_equal(got[:, 1], rows["raw"])
    np.testing.assert_allclose(got[:, 0], (rows["raw"] - ZERO) / CPN * 10.0, atol=1e-9)  # kPa on 1 cm²
    assert got[:, 0].max() == pytest.approx(200.0, abs=0.01)
    # time stamps: device time + one constant offset; their steps are the device's sample interval
    np.testing.assert_allclose(stamps - rows["t_dev_s"], outlet.offset_s, atol=1e-6)
    np.testing.assert_allclose(np.diff(stamps), DT, atol=1e-6)

    n_markers = outlet.markers_pushed
    texts, mstamps = pull_until(markers_in, n_markers, string=True)
    texts = [s[0] for s in texts]
    assert len(texts) == n_markers
    kinds = [s.split(" ", 1)[0] for s in texts]
    assert kinds[0] == "application_start" and kinds[-1] == "application_end"
    assert "phase_start" in kinds and "cycle_done" in kinds
    start = json.loads(texts[0].split(" ", 1)[1])
    assert start["protocol"] == "holds" and start["point"] == "trap"
    assert json.loads(texts[-1].split(" ", 1)[1]) == {"reason": "completed"}
    by_kind = {k: (s, ts) for k, s, ts in zip(kinds, texts, mstamps)}
    assert any("rating" in s and "3" in s for s in texts)  # the pain rating
    ev_times = {kind: t for t, kind, _ in runner.events}
    for kind, (_, ts) in by_kind.items():
        if kind in ev_times:
            assert ts - outlet.offset_s == pytest.approx(ev_times[kind], abs=1e-6)
    assert np.all(np.diff(mstamps) >= 0)
    runner.close()
    outlet.close()


def test_monitor_ring_streamer_sends_every_row_with_raw_counts_and_converted_kpa(lsl):
    import pylsl

    link = FakeLink()
    outlet = lsl.open_outlet(link)
    data_in, _ = inlet_for(pylsl, outlet.source_id)
    streamer = lsl.RingStreamer(link, outlet, to_kpa=lambda raw: (raw - ZERO) / CPN * 10.0)
    n, t0 = 0, 50.0
    for k in range(40):  # 40 blocks of 7 device samples, 2 ms apart on the device
        ts = t0 + 0.002 * np.arange(n, n + 7)
        link.push(ts, np.linspace(0, 100, 7))
        n += 7
        if k % 3 == 0:
            streamer.step()
    streamer.step()  # the rest
    chunk, stamps = pull_until(data_in, n)
    assert len(stamps) == n == outlet.samples_pushed
    got = np.asarray(chunk)
    np.testing.assert_allclose(got[:, 0], np.tile(np.linspace(0, 100, 7), 40), atol=0.001)
    np.testing.assert_allclose(np.diff(stamps), 0.002, atol=1e-6)
    streamer.close()


def test_no_rate_in_hello_and_no_scale_still_stream_raw_counts(lsl):
    link = FakeLink()
    link.device = DeviceInfo.from_fields({k: v for k, v in link.device.fields.items() if k != "rate"})
    outlet = lsl.open_outlet(link)
    assert outlet.rate_hz == 0.0  # LSL's "irregular": nothing invented
    outlet.close()


def test_without_pylsl_one_clear_line_says_how_to_install_it(monkeypatch):
    import sys

    from pointdose import lsl as mod

    monkeypatch.setitem(sys.modules, "pylsl", None)
    with pytest.raises(UserError, match=r"--lsl needs pylsl .*pip install"):
        mod.load_pylsl()


def test_marker_text_is_kind_then_json():
    from pointdose.lsl import marker_text

    assert marker_text("stop") == "stop"
    assert marker_text("rating", {"value": 3}) == 'rating {"value": 3}'


class _Run:
    def __init__(self, kind):
        self.block = type("B", (), {"kind": kind})()
        self.events = []


def test_app_streamer_follows_the_link_and_forwards_runner_and_trainer_events(lsl):
    """The app's path: samples of whichever link is open, markers from the panels' runner/trainer."""
    import pylsl

    link = FakeLink()
    runner = type("R", (), {})()
    runner.events = [(10.0, "phase_start", {"phase": "ramp"})]
    trainer = type("T", (), {})()
    trainer.runs = [_Run("practice")]
    app = lsl.AppStreamer(lambda: link, sources=lambda: [runner, None, trainer], note=lambda s: None)
    app.step()  # opens the outlet for this link
    data_in, _ = inlet_for(pylsl, f"pointdose-{link.device.uid}")
    markers_in, _ = inlet_for(pylsl, f"pointdose-{link.device.uid}-markers")
    before = app.streamer.outlet.markers_pushed
    ts = 10.0 + DT * np.arange(50)
    link.push(ts, np.full(50, 100.0))
    runner.events.append((10.2, "pain_rating", {"value": 4}))
    trainer.runs[0].events.append((10.3, "trial_end", {"trial": 1}))
    trainer.runs.append(_Run("post-test"))
    app.step()
    app.step()  # nothing new: nothing sent twice
    chunk, stamps = pull_until(data_in, 50)
    assert len(stamps) == 50 and np.allclose(np.asarray(chunk)[:, 0], 100.0, atol=0.01)
    assert before == 2 and app.streamer.outlet.markers_pushed - before == 3  # ramp + first block; 3 new
    texts, mst = pull_until(markers_in, 3, string=True)
    texts = [t[0] for t in texts]
    assert texts == ['pain_rating {"value": 4}', 'trial_end {"trial": 1}', 'block_start {"block": "post-test"}']
    assert mst[0] - app.streamer.outlet.offset_s == pytest.approx(10.2, abs=1e-6)
    app.close()


def test_session_cli_with_lsl_on_the_simulated_device_streams_the_whole_application(lsl, tmp_path):
    """`pointdose session --sim --lsl`: the simulated device, the real link, the CLI wiring. The session
    waits for our inlets (POINTDOSE_LSL_WAIT_S, generous), so nothing before them is missed."""
    import os
    import subprocess
    import sys
    import threading

    import pylsl

    env = dict(os.environ, POINTDOSE_LSL_WAIT_S="300", POINTDOSE_DATA_DIR=str(tmp_path))
    env.pop("LSLAPICFG", None)
    proc = subprocess.Popen([sys.executable, "-m", "pointdose.cli", "session", "--protocol", "holds",
                             "--set", "cycles=1", "--set", "hold_s=2", "--set", "rest_s=1", "--sim", "--hand", "expert",
                             "--headless", "--mute", "--no-record", "--lsl", "--seconds", "40"],
                            stdin=subprocess.DEVNULL, stdout=(tmp_path / "out").open("w"),
                            stderr=(tmp_path / "err").open("w"), env=env)
    try:
        data_in, info = inlet_for(pylsl, "pointdose-53494d30303031")  # the simulated device's uid
        markers_in, _ = inlet_for(pylsl, "pointdose-53494d30303031-markers")
        got = {"data": [], "stamps": [], "markers": []}

        def drain():
            lost = [False, False]
            while not all(lost):  # until the session's process has closed both outlets
                if not lost[0]:
                    try:
                        chunk, ts = data_in.pull_chunk(timeout=0.1)
                        got["data"].extend(chunk), got["stamps"].extend(ts)
                    except pylsl.util.LostError:
                        lost[0] = True
                if not lost[1]:
                    try:
                        m, mts = markers_in.pull_sample(timeout=0.1)
                        if mts is not None:
                            got["markers"].append(m[0])
                    except pylsl.util.LostError:
                        lost[1] = True

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        proc.wait(timeout=120)
        reader.join(30)
    finally:
        proc.kill()
    out, err = (tmp_path / "out").read_text(), (tmp_path / "err").read_text()
    assert proc.returncode == 0, err
    assert "LSL: streaming pointdose-53494d30303031" in err + out
    assert "no recorder connected" not in err, err  # the session waited for our inlets
    kinds = [m.split(" ", 1)[0] for m in got["markers"]]
    assert kinds[0] == "application_start" and "phase_start" in kinds and "cycle_done" in kinds, kinds
    assert kinds[-1] == "application_end"
    data = np.asarray(got["data"])
    assert info.nominal_srate() == 200 and len(data) > 200 * 3  # seconds of the device's samples
    pressing = data[:, 0] > 50
    assert pressing.any()
    # kPa is the calibrated raw count on 1 cm² (the simulated sensor: 14000 counts/N)
    slope = np.polyfit(data[:, 1], data[:, 0], 1)[0]
    assert slope == pytest.approx(10.0 / CPN, rel=1e-6)
    assert np.all(np.diff(got["stamps"]) > 0)  # device time only moves forward


@pytest.mark.parametrize("bad", ["soon", "-1", "nan", "1e9"])
def test_a_bad_wait_setting_is_one_clear_line(monkeypatch, bad):
    from pointdose import lsl as mod

    monkeypatch.setenv("POINTDOSE_LSL_WAIT_S", bad)
    with pytest.raises(UserError, match="POINTDOSE_LSL_WAIT_S=.*0 to 3600"):
        mod.consumer_wait_s()
    monkeypatch.setenv("POINTDOSE_LSL_WAIT_S", "0.5")
    assert mod.consumer_wait_s() == 0.5
