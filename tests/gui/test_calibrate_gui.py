"""The Calibrate tab's wizard driven end to end on the simulated device, under Xvfb, with a screenshot.

``run_calibrate_app.py`` runs the real app on the real firmware (MicroPython unix port), presses the
simulated sensor through the wizard's steps, types the scale readings into the tab's entry box, and
screenshots the tab once the calibration is saved.
"""

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
from test_app_gui import colour_mask, needs_display, sim_available  # noqa: E402

pytestmark = pytest.mark.gui

GREEN = np.array([110, 220, 120])  # view.GREEN: the "Accepted" verdict
CYAN = np.array([70, 200, 255])  # view.CYAN: section headings
TAB_X0 = 446  # the tab's content starts right of the 430 px side panel


@needs_display
def test_calibration_wizard_in_the_app_on_the_simulated_device(tmp_path):
    why = sim_available()
    if why:
        pytest.skip(f"the simulated device is not available ({why})")
    png, report_path = tmp_path / "calibrate.png", tmp_path / "report.json"
    env = {**os.environ, "POINTDOSE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, str(HERE / "run_calibrate_app.py"), str(png), str(report_path)],
                          capture_output=True, text=True, timeout=150, env=env, cwd=str(tmp_path))
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    assert proc.returncode == 0, f"{report}\n{proc.stdout}\n{proc.stderr}"
    assert report["step"] == "done" and report["max_error_n"] < 0.05
    # saved, and the whole app now shows values through the new calibration
    assert report["saved_message"].startswith("Saved on this computer")
    assert report["record_id"] and report["model_record_id"] == report["record_id"]
    saved = list((tmp_path / "data" / "calibrations").rglob(f"{report['record_id']}.json"))
    assert len(saved) == 1
    record = json.loads(saved[0].read_text())
    assert record["reference"] == {"kind": "scale", "unit": "kg"} and len(record["points"]) == 7
    assert record["config"]["sensor"] == "sim"

    img = read_png(png)
    assert img.shape[:2] == (800, 1280)
    tab = img[:, TAB_X0:]
    green_rows = np.flatnonzero(colour_mask(tab, GREEN, tol=30).sum(axis=1) > 20)
    assert green_rows.size >= 8, "the green 'Accepted: largest error …' verdict is not on screen"
    assert colour_mask(tab[:120], CYAN, tol=30).sum() > 300, "the Calibrate tab is not the one shown"
    # the residuals table: rows of white text under the verdict
    below = tab[green_rows.max():, :, :3]
    white_rows = np.flatnonzero((below.min(axis=2) > 200).sum(axis=1) > 30)
    assert white_rows.size > 40, "the per-point table is missing"


@needs_display
def test_calibration_without_hardware_demo_paused_and_the_tab_presses_the_simulated_device(tmp_path):
    """`pointdose app --sim` as shipped: the demo presses are on. Starting the wizard pauses them (a
    press under way is cut to 0 N), every step's load is put on through the tab's own "Apply" button
    with the load it suggests, the calibration is accepted, and the demo presses come back after."""
    why = sim_available()
    if why:
        pytest.skip(f"the simulated device is not available ({why})")
    from pointdose.calibration.wizard import SIM_TOP_N

    png, report_path = tmp_path / "calibrate.png", tmp_path / "report.json"
    env = {**os.environ, "POINTDOSE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, str(HERE / "run_calibrate_app.py"), str(png), str(report_path), "--buttons"],
                          capture_output=True, text=True, timeout=150, env=env, cwd=str(tmp_path))
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    assert proc.returncode == 0, f"{report}\n{proc.stdout}\n{proc.stderr}"
    assert report["demo_running_before"] is True  # the demo was pressing when the wizard started
    assert report["demo_running_during"] and not any(report["demo_running_during"])
    assert report["demo_running_after"] is True
    loads = [round(SIM_TOP_N * k / 3, 1) for k in (1, 2, 3)]
    assert report["applied"] == [0.0, *loads, loads[1], loads[0], 0.0]  # the suggested loads, in the wizard's order
    assert report["step"] == "done" and report["max_error_n"] < 0.05
    assert report["sim_row_shown"] and "demo presses" in report["sim_note"]
    record = json.loads(next((tmp_path / "data" / "calibrations").rglob(f"{report['record_id']}.json")).read_text())
    assert max(p["force_n"] for p in record["points"]) == pytest.approx(SIM_TOP_N, rel=2e-3)
    img = read_png(png)
    green_rows = np.flatnonzero(colour_mask(img[:, TAB_X0:], GREEN, tol=30).sum(axis=1) > 20)
    assert green_rows.size >= 8, "the green 'Accepted' verdict is not on screen"
