"""``pointdose sim --replay``: a recorded application played through the real firmware's simulated
sensor, received over a DeviceLink as from a live (simulated) device."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from pointdose.errors import UserError
from pointdose.listeners import SAMPLE_DTYPE
from pointdose.records.store import Store
from pointdose.sim import replay as replay_mod

RATE = 200.0
AREA = 2.0  # cm²: the stored force is pressure × area / 10, so the area must round-trip
# (t s, N): press to 20 N in 1 s, hold 1 s, ease off in 1 s, rest 0.5 s
PROFILE = [(0.0, 0.0), (1.0, 20.0), (2.0, 20.0), (3.0, 0.0), (3.5, 0.0)]


def profile_n(t):
    ts, fs = zip(*PROFILE)
    return np.interp(t, ts, fs)


def record(db) -> int:
    """An application whose samples follow PROFILE exactly, stored as the app stores one."""
    t = np.arange(0, int(PROFILE[-1][0] * RATE) + 1) / RATE + 100.0  # a session's clock, not from 0
    rows = np.zeros(len(t), SAMPLE_DTYPE)
    rows["seq"] = np.arange(len(t)) + 7
    rows["t_s"] = t
    rows["force_n"] = profile_n(t - t[0])
    rows["pressure_kpa"] = rows["force_n"] * 10.0 / AREA
    rows["raw"] = np.rint(rows["force_n"] * 1000).astype(np.int32)
    with Store(db) as store:
        cid = store.add_client("C-REPLAY")
        sid = store.start_session(cid)
        point = store.point(cid, "gluteus_medius.2", "R")
        app = store.begin_application(sid, point, t_start_s=float(t[0]), probe_area_cm2=AREA)
        with store.transaction("test samples") as conn:
            Store.write_samples(conn, app, rows)
        store.end_application(app, float(t[-1]), "completed", {})
    return app


def received_forces(link, n: int, deadline_s: float = 30.0):
    """(t_dev_s, N) of the first ``n`` samples streamed after ``sim replay`` + ``start``."""
    scale = link.device.factory_scale  # the simulated sensor's factory scale (hello's cal=linear:…)
    assert scale is not None
    cpn, zero = scale.counts_per_n, scale.zero
    assert link.command("sim replay").status == 0
    total0 = link.ring.total_appended
    link.start()
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        total = link.ring.total_appended
        if total - total0 >= n:
            break
        time.sleep(0.05)
    _, rows = link.ring.since(total0)
    assert len(rows) >= n, f"only {len(rows)} samples in {deadline_s} s"
    rows = rows[:n]
    return rows["t_dev_s"], (rows["raw"].astype(float) - float(zero)) / float(cpn)


@pytest.mark.parametrize("backend,speed", [
    pytest.param("micropython-unix", 1.0, marks=pytest.mark.needs_unix_port),
    pytest.param("micropython-unix", 2.0, marks=pytest.mark.needs_unix_port),
    ("cpython-shim", 1.0),  # where there is no unix port: the same firmware modules under CPython
])
def test_recorded_application_replays_through_the_firmware(make_sim, tmp_path, backend, speed):
    from pointdose.link import DeviceLink

    db = tmp_path / "records.sqlite"
    app = record(db)
    rp = replay_mod.load(str(app), db=str(db), speed=speed)
    round_s = PROFILE[-1][0] / speed
    assert rp.source == f"application {app}" and rp.duration_s == pytest.approx(round_s)

    sim = make_sim(backend=backend, replay=rp)
    n = int(2.5 * round_s * RATE)  # two and a half rounds: the loop is seen
    with DeviceLink(sim.port) as link:
        assert link.device.sensor == "sim" and link.device.uid == "53494d30303031"  # still the simulator ("SIM0001")
        t, f = received_forces(link, n)
    # contents: each sample is the recording at its device time since the first, looped
    phase = np.mod(t - t[0], round_s) * speed
    expected = profile_n(phase)
    err = np.abs(f - expected)
    assert err.max() < 0.3, (err.max(), int(err.argmax()))
    # counts: per round about 1 s / speed of hold at exactly 20 N, noise and drift added by nothing
    on_top = int(np.isclose(f, 20.0, atol=1e-3).sum())
    want = int(np.isclose(expected, 20.0, atol=1e-3).sum())  # 2.5 rounds: 2 holds and 3/4 of one
    assert want > 2.5 * RATE / speed and abs(on_top - want) <= 6, (on_top, want)
    assert f.min() > -0.01 and f.max() < 20.01


def test_csv_replay_with_pressure_only_uses_the_probe_area(tmp_path):
    csv = tmp_path / "samples.csv"
    csv.write_text("t_s,pressure_kpa\n5,0\n5.5,50\n6,100\n")
    rp = replay_mod.load(str(csv), probe_area_cm2=2.0, speed=0.5)
    assert rp.t_s.tolist() == [0.0, 1.0, 2.0]
    assert rp.force_n.tolist() == pytest.approx([0.0, 10.0, 20.0])  # kPa × cm² / 10
    assert rp.lines() == ["0 0.0000", "1000 10.0000", "2000 20.0000"]


def test_long_recordings_are_thinned_to_what_the_firmware_holds():
    t = np.arange(200000) / 1000.0
    rp = replay_mod.from_samples(t, np.sin(t), "long", speed=1.0)
    lines = rp.lines()
    assert len(lines) <= replay_mod.MAX_POINTS and lines[0].startswith("0 ") and lines[-1].startswith("199999 ")
    ms = [int(x.split()[0]) for x in lines]
    assert all(b > a for a, b in zip(ms, ms[1:]))


def test_a_trace_in_the_wrong_time_unit_is_refused():
    with pytest.raises(UserError, match="at most 24 h"):
        replay_mod.from_samples([0, 1000, 200000], [0, 1, 0], "ms.csv")  # milliseconds in t_s
    assert replay_mod.from_samples([0, 1000, 200000], [0, 1, 0], "ms.csv", speed=10).duration_s == 20000


@pytest.mark.parametrize("args,needle", [
    (["--replay", "99"], "no application 99"),
    (["--replay", "{csv_bad}"], "no pressure_kpa column"),
    (["--replay", "{csv}", "--speed", "nan"], "--speed nan"),
    (["--replay", "{csv}", "--speed", "inf"], "--speed inf"),
    (["--replay", "{csv}", "--speed", "0"], "--speed 0"),
    (["--replay", "{csv}", "--speed", "-2"], "--speed -2"),
    (["--replay", "{csv}", "--speed", "1e12"], "--speed 1e+12"),
    (["--replay", "{csv}", "--speed", "fast"], "not a number"),
    (["--replay", "{csv}", "--sensor", "sim-hx711"], "--sensor sim"),
    (["--speed", "2"], "go with --replay"),
])
def test_bad_replay_inputs_get_one_line(tmp_path, args, needle):
    db = tmp_path / "records.sqlite"
    record(db)
    csv = tmp_path / "ok.csv"
    csv.write_text("t_s,pressure_kpa\n0,0\n1,10\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("t_s,force\n0,0\n1,1\n")
    args = [a.format(csv=csv, csv_bad=bad) for a in args]
    p = subprocess.run([sys.executable, "-m", "pointdose.cli", "sim", *args, "--db", str(db)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in p.stderr, p.stderr
