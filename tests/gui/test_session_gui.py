"""The Session tab under Xvfb: a protocol guided by the virtual hand on the simulated device, screenshot during a hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pngread import read_png  # noqa: E402

from pointdose.sim.device import micropython_executable  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.needs_unix_port]

GREEN = np.array([110, 220, 120])  # view.GREEN: the phase name and prompt when in the band
BAND_FILL = np.array([57, 87, 61])  # view.GREEN at alpha 70 over the plot's background: the target band
TRACE = np.array([70, 200, 255])  # view.CYAN


def mask(img, colour, tol=12):
    return (np.abs(img[:, :, :3].astype(int) - colour) <= tol).all(axis=2)


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run (make test does)")
@pytest.mark.skipif(micropython_executable() is None, reason="no MicroPython unix port")
def test_screenshot_during_a_hold_shows_the_band_the_phase_and_the_trace(tmp_path):
    png, report = tmp_path / "session.png", tmp_path / "report.json"
    seconds = 12.0
    out = subprocess.run([sys.executable, str(HERE / "run_session_app.py"), str(seconds), str(png), str(report)],
                         capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr[-3000:]
    rep = json.loads(report.read_text())
    assert rep["screenshot"], "no screenshot written"
    shown = rep["shown"]
    t_end = shown[-1][0]
    around_shot = [(phase, band) for t, phase, band in shown if t >= t_end - 2.0]  # the shot: 0.8 s before the end
    assert around_shot and all(p == "hold" for p, _ in around_shot), around_shot[-5:]
    assert sum(b == "in" for _, b in around_shot) > 0.8 * len(around_shot)
    kinds = [k for _, k in rep["events"]]
    assert kinds[:3] == ["phase_start", "phase_end", "phase_start"]
    # the tab records what it guided: one application, its samples, ended when the app closed
    assert len(rep["recorded"]) == 1 and rep["recorded"][0]["chunks"] > 0, rep["recorded"]

    img = read_png(png)
    right = img[:, 450:]
    header, plot = right[80:300], right[300:560]
    assert mask(header, GREEN).sum() > 1500  # "HOLD" large and "IN BAND — Hold" in green
    band = mask(plot, BAND_FILL)
    rows = np.flatnonzero(band.sum(axis=1) > 0.5 * plot.shape[1] * 0.5)
    assert len(rows) > 15  # a horizontal band across the plot
    trace = mask(plot, TRACE, tol=45)
    assert trace.sum() > 300
    trace_rows = np.flatnonzero(trace[:, -200:].any(axis=1))
    assert rows.min() <= np.median(trace_rows) <= rows.max()  # the pressure runs inside the band


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run (make test does)")
@pytest.mark.skipif(micropython_executable() is None, reason="no MicroPython unix port")
def test_a_completed_run_leaves_its_summary_on_the_tab(tmp_path):
    png, report = tmp_path / "done.png", tmp_path / "report.json"
    params = json.dumps({"cycles": 1, "hold_s": 5, "target": "200 kPa"})
    env = {**os.environ, "POINTDOSE_DB": str(tmp_path / "records.db")}
    out = subprocess.run([sys.executable, str(HERE / "run_session_app.py"), "25", str(png), str(report), "holds", params],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    rep = json.loads(report.read_text())
    assert rep["end_reason"] == "completed", rep["end_reason"]
    shown, s = rep["summary_shown"], rep["summary"]
    assert shown and shown.startswith("Ended: completed"), shown
    # the engine's numbers (pointdose.metrics), as the tab shows them
    assert f"dose {s['dose_kpa_s']:.0f} kPa·s" in shown and f"contact {s['contact_s']:.1f} s" in shown
    assert f"time in band {s['time_in_band_s']:.1f} s" in shown and "cycles 1 of 1" in shown
    assert s["time_in_band_s"] > 3.0  # the expert hand held the 5 s hold in the band


STOP_RED = np.array([190, 40, 40])  # the STOP buttons' fill


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run (make test does)")
@pytest.mark.skipif(micropython_executable() is None, reason="no MicroPython unix port")
def test_while_a_session_runs_its_stop_is_on_screen_from_another_tab_at_1024(tmp_path):
    png, report = tmp_path / "points.png", tmp_path / "report.json"
    out = subprocess.run([sys.executable, str(HERE / "run_session_app.py"), "10", str(png), str(report),
                          "--stop-from=Points", "--size=1024x768"], capture_output=True, text=True, timeout=90,
                         env={**os.environ, "POINTDOSE_DB": str(tmp_path / "records.sqlite")})
    assert out.returncode == 0, out.stderr[-3000:]
    rep = json.loads(report.read_text())
    stop = rep["left_stop"]
    x0, y0, x1, y1 = (int(v) for v in stop["rect"])
    assert x1 <= 1024 and y1 <= 400 and x1 - x0 > 200  # the left column's top part: never scrolled away
    img = read_png(png)
    assert img.shape[:2] == (768, 1024)
    assert mask(img[y0:y1, x0:x1], STOP_RED, tol=6).mean() > 0.6  # a red STOP, shown on the Points tab
    # pressing it stops the session, as the Session tab's STOP does
    assert stop["pressed"] and "STOP button (left column)" in (rep["end_reason"] or ""), rep["end_reason"]

