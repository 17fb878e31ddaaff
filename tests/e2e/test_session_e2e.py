"""Whole guided sessions on the simulated device (the real firmware on the unix port) with the virtual hand."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pointdose.cues import read_wav
from pointdose.link import DeviceLink
from pointdose.protocols import PointContext, builtin
from pointdose.session import SessionRunner
from pointdose.sim.virtual_hand import VirtualHand

pytestmark = pytest.mark.needs_unix_port


class Recorder:
    def __init__(self):
        self.calls = []

    def on_application_start(self, info):
        self.calls.append(("start", info))

    def on_samples(self, rows):
        self.calls.append(("samples", rows.copy()))

    def on_event(self, t_s, kind, data):
        self.calls.append(("event", t_s, kind, data))

    def on_application_end(self, t_s, reason, summary):
        self.calls.append(("end", t_s, reason, summary))


def guided(sim, protocol, point, timeout, **hand_kw):
    rec = Recorder()
    with DeviceLink(sim.port) as link:
        link.start()
        time.sleep(0.3)
        runner = SessionRunner(link, protocol, point, listeners=[rec] + hand_kw.pop("listeners", []))
        hand = VirtualHand(link, cue=lambda: runner.cue, signal=runner.signal, **hand_kw)
        runner.start()
        hand.start()
        try:
            assert runner.wait(timeout), f"not done in {timeout} s: {runner.cue}"
        finally:
            hand.stop()
            runner.close()
        window = link.ring.window(120.0)
        device = link.device
    return runner, hand, rec, window, device


def test_repeated_holds_guided_to_the_end_by_the_virtual_hand(sim):
    proto = builtin("holds", cycles=2, hold_s=4.0, rest_s=1.5, target="200 kPa")
    runner, hand, rec, _, _ = guided(sim, proto, PointContext(name="trap"), 45.0, skill="intermediate", seed=3)
    assert runner.end_reason == "completed", runner.events
    assert not hand.errors[:3] and not runner.listener_errors
    kinds = [c[0] for c in rec.calls]
    assert kinds[0] == "start" and kinds[-1] == "end" and rec.calls[-1][2] == "completed"
    rows = np.concatenate([c[1] for c in rec.calls if c[0] == "samples"])
    assert np.all(np.diff(rows["seq"]) == 1)
    holds = [p for p in rec.calls[-1][3]["phases"] if p["phase"] == "hold"]
    assert len(holds) == 2
    for h in holds:  # the hand kept most of each hold in the 180–220 kPa band
        assert h["time_in_band_s"] > 0.6 * 4.0, holds
        assert 180 < h["mean_kpa"] < 220


def test_ppt_on_the_device_is_the_pressure_at_the_signal_and_becomes_the_clients_ppt(sim, tmp_path):
    from pointdose.records import RecordingListener, Store
    from pointdose.records.ppt import lookup

    store = Store(tmp_path / "r.sqlite")
    cid = store.add_client("T")
    listener = RecordingListener(store, session_id=store.start_session(cid))
    proto = builtin("ppt", trials=2, rest_s=1.0)
    runner, hand, rec, window, device = guided(sim, proto, PointContext(name="trap"), 40.0, skill="expert",
                                             ppt_kpa=180.0, ppt_sd_kpa=5.0, listeners=[listener], seed=5)
    listener.close()
    assert runner.end_reason == "completed", runner.events
    trials = [e for e in runner.events if e[1] == "ppt_trial"]
    assert len(trials) == 2 and [s[1] for s in hand.signals] == ["pain", "pain"]
    if hand.buttons:  # the firmware has `sim button`: the signal came as a BUTTON frame, in device time
        assert [s[2] for s in hand.signals] == ["device button"] * 2
        assert [e[2]["source"] for e in runner.events if e[1] == "signal"] == ["device", "device"]
    if hasattr(DeviceLink, "set_limit"):
        assert runner.summary and runner.device_limit is not None  # the firmware's own limit was armed
    cpn, zero = device.factory_scale.counts_per_n, device.factory_scale.zero
    tare = device.tare or zero
    kpa = (window["raw"] - tare) / cpn * 10.0
    for t_s, _, data in trials:  # the engine's PPT = the recorded pressure at the signal's time
        assert data["ppt_kpa"] == pytest.approx(np.interp(t_s, window["t_dev_s"], kpa), abs=3.0)
        assert 150 < data["ppt_kpa"] < 260
    res = runner.summary["ppt"]
    assert all(tr["peak_kpa"] >= tr["ppt_kpa"] for tr in res["trials"])
    found = lookup(store, store.find_point(cid, "trap"), 1.0)
    assert found.record.kpa == pytest.approx(res["mean_kpa"]) and found.record.n == 2
    store.close()


def test_terminal_mode_headless_with_the_virtual_hand_and_a_wav(tmp_path):
    proto = tmp_path / "short.toml"
    proto.write_text('name = "short"\nrepetitions = 2\n'
                     '[[phase]]\nkind = "ramp"\ntarget = "150 kPa"\nend = "reached"\nmax_s = 8\n'
                     '[[phase]]\nkind = "hold"\ntarget = "150 kPa"\nduration_s = 2.5\n'
                     '[[phase]]\nkind = "rest"\nduration_s = 1.5\n')
    wav = tmp_path / "cues.wav"
    env = dict(os.environ, POINTDOSE_POINTS=str(tmp_path / "points.json"))
    out = subprocess.run([sys.executable, "-m", "pointdose.cli", "session", "--protocol", str(proto), "--sim",
                          "--headless", "--hand", "expert", "--wav", str(wav),
                          "--client", "C-0042", "--point", "upper_trapezius.1:R"],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env)
    assert out.returncode == 0, out.stderr + out.stdout
    text = out.stdout
    assert ">> hold (cycle 2)" in text and "== ended: completed" in text and "end: completed; 2/2 cycles" in text
    assert "IN BAND" in text and "band 135 kPa–165 kPa" in text and "s left" in text
    if "audio unavailable" in text:
        assert "libportaudio2" in text
    # the application is in the records, for that client and point, with its dose
    from pointdose.records import Store

    assert "recorded as application" in text and "kPa·s" in text
    with Store() as store:
        (point,) = store.points(store.client("C-0042")["id"])
        assert (point["location"], point["side"]) == ("upper_trapezius.1", "R")
        (app,) = store.applications(point_id=point["id"])
        assert app["end_reason"] == "completed" and len(store.samples(app["id"])) > 200
        m = store.metrics(app["id"])
        assert m["cycles_completed"] == 2 and m["dose_kpa_s"] > 150 * 2 * 2.5 * 0.8
    x, rate = read_wav(wav)
    assert len(x) / rate > 5.0
    n = int(0.075 * rate)  # half a note: some window lies wholly inside each tone
    peaks = set()
    for k in range(0, len(x) - n, n // 2):
        seg = x[k:k + n]
        if np.abs(seg).max() > 0.2:
            peaks.add(round(np.fft.rfftfreq(n, 1 / rate)[np.argmax(np.abs(np.fft.rfft(seg * np.hanning(n))))]))
    for tone_hz in (523.25, 783.99, 659.25, 392.0):  # press (C5, G5), hold (E5), rest (G4)
        assert any(abs(p - tone_hz) < 15 for p in peaks), (tone_hz, sorted(peaks))


def test_terminal_mode_refuses_a_bad_protocol_file_with_the_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[phase]]\nkind = "hold"\ntarget = "150 kPa"\nend = "later"\n')
    out = subprocess.run([sys.executable, "-m", "pointdose.cli", "session", "--protocol", str(bad), "--sim",
                          "--headless"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert out.returncode == 1
    assert out.stderr.strip() == (f"pointdose: {bad}: phase[1].end: 'later' is not allowed; "
                                  "choose one of time, reached, release, pain")
