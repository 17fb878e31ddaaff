"""Fits the screen (issue 12, item 8): at 1024×768 and 1280×720 STOP and the main controls are on screen.

Each run opens the app at that window size on one tab (on the synthetic FakeLink), takes a
screenshot and reports where DearPyGui placed the controls; the test checks each control lies
inside the window and that its pixels show it (STOP's red, the buttons' fill), not a clipped edge.
The Session tab runs with a three-line message shown, the case that once pushed STOP off screen.
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

pytestmark = pytest.mark.gui

STOP_RED = np.array([190, 40, 40])  # the session panel's STOP theme
BUTTON = np.array([51, 51, 55])  # DearPyGui's default button fill (enabled)
BUTTON_OFF = np.array([45, 45, 48])  # view.theme_disabled's fill
ERROR_RED = np.array([255, 110, 100])  # view.RED
PLOT_FRAME = np.array([51, 51, 55])  # a plot's frame around its drawing area


def run(tmp_path, width, height, tab, *flags):
    png, report = tmp_path / f"{tab}-{width}.png", tmp_path / f"{tab}-{width}.json"
    env = {**os.environ, "POINTDOSE_DB": str(tmp_path / "records.db")}
    out = subprocess.run([sys.executable, str(HERE / "run_fit_app.py"), str(width), str(height), tab, str(png),
                          str(report), *flags], capture_output=True, text=True, timeout=90, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    rep = json.loads(report.read_text())
    assert rep["screenshot"], "no screenshot written"
    return read_png(png)[:, :, :3].astype(int), rep["rects"]


def shows(img, rect, colours, share=0.6):
    """True when the control's whole rectangle is on screen and mostly painted in one of ``colours``."""
    x0, y0, x1, y1 = (int(v) for v in rect)
    h, w = img.shape[:2]
    if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        return False
    patch = img[y0:y1, x0:x1]
    hit = np.zeros(patch.shape[:2], bool)
    for c in colours:
        hit |= (np.abs(patch - c) <= 6).all(axis=2)
    return hit.mean() >= share


SIZES = [(1024, 768), (1280, 720)]


def left_column_fits(img, rects) -> bool:
    """No text of the left column's status rows touches its right edge (values once ran off it at 1024 px)."""
    right = rects["stop"][2]  # the device buttons end at the column's inner edge; text clipped there runs on
    strip = img[rects["stop"][3] + 100:rects["stop"][3] + 330, right + 3:right + 14]  # to the column's border
    return not (strip.max(axis=2) > 120).any()


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run (make test does)")
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_session_tab_keeps_stop_start_and_demo_on_screen(tmp_path, size):
    img, rects = run(tmp_path, *size, "Session")
    assert img.shape[:2] == (size[1], size[0])
    assert "ses_stop" in rects and shows(img, rects["ses_stop"], [STOP_RED]), rects
    for name in ("ses_start", "ses_demo"):
        assert name in rects and shows(img, rects[name], [BUTTON, BUTTON_OFF]), (name, rects)
    for name in ("tare", "start", "stop"):  # the left column's device buttons
        assert shows(img, rects[name], [BUTTON, BUTTON_OFF]), (name, rects)
    assert left_column_fits(img, rects)  # "Sample rate 200 Hz (measured 200 H" at 1024 px, once


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run (make test does)")
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_protocol_settings_editor_shows_a_refused_entry_inline_and_keeps_stop_on_screen(tmp_path, size):
    img, rects = run(tmp_path, *size, "Session", "--settings")
    assert "ses_stop" in rects and shows(img, rects["ses_stop"], [STOP_RED]), rects
    assert "ses_settings" in rects  # the open header (filled like a button) and shows(img, rects["ses_settings"], [BUTTON], share=0.5), rects
    # the refused entry's error, in red beside its field (hold_max_s = nan), whole within the window
    x0, y0, x1, y1 = rects["set_error"]
    assert x1 <= size[0] and y1 <= rects["ses_stop"][1], (rects["set_error"], rects["ses_stop"])  # above the pinned row
    patch = img[int(y0):int(y1), int(x0):int(x1)]
    red = (np.abs(patch - ERROR_RED) <= 40).all(axis=2)
    assert red.sum() > 150, red.sum()  # red text, not an empty line


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run (make test does)")
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_points_tab_has_the_map_and_the_device_buttons_on_screen(tmp_path, size):
    img, rects = run(tmp_path, *size, "Points")
    for name in ("tare", "start", "stop"):
        assert shows(img, rects[name], [BUTTON, BUTTON_OFF]), (name, rects)
    # the uncalibrated device's notice (bottom left): its OK button on screen (it once sat below 720 px)
    assert "notice_ok" in rects and shows(img, rects["notice_ok"], [BUTTON]), rects
    x0, y0, x1, y1 = rects["map"]
    assert 0 <= x0 and x1 <= size[0], rects["map"]  # the whole body map fits across the window
    x0, y0, x1, y1 = rects["p_session"]  # the session list: wide enough for "#4  2026-11-22 10:42"
    assert x1 <= size[0] - 10 and x1 - x0 >= 220, rects["p_session"]


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run (make test does)")
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_history_tab_keeps_its_choices_and_the_report_and_export_buttons_on_screen(tmp_path, size):
    img, rects = run(tmp_path, *size, "History", "--demo")
    for name in ("h_report", "h_export"):
        assert name in rects and shows(img, rects[name], [BUTTON, BUTTON_OFF]), (name, rects)
    for name in ("h_point", "h_folder"):  # the point's combo and the folder box end inside the window
        assert name in rects and rects[name][2] <= size[0] - 10 and rects[name][2] - rects[name][0] >= 150, rects
    assert left_column_fits(img, rects)


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run (make test does)")
def test_a_digit_typed_into_a_box_on_another_tab_is_not_a_pain_rating(tmp_path):
    png, report = tmp_path / "typing.png", tmp_path / "typing.json"
    out = subprocess.run([sys.executable, str(HERE / "run_fit_app.py"), "1024", "768", "History", str(png),
                          str(report), "--typing"], capture_output=True, text=True, timeout=90,
                         env={**os.environ, "POINTDOSE_DB": str(tmp_path / "records.db")})
    assert out.returncode == 0, out.stderr[-3000:]
    keys = json.loads(report.read_text())["keys"]
    # the Session tab's keys (0–9 ratings, R, P) are global: while the folder box has the keyboard they
    # are the user's typing; once it lets go they are signals again
    assert keys == {"typing_active": 1, "while_typing": 0, "after": 1}, keys


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run (make test does)")
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_live_and_clinical_tabs_fit(tmp_path, size):
    img, rects = run(tmp_path, *size, "Live")
    x0, y0, x1, y1 = rects["live_plot"]  # the live trace fills the rest of the window, whole
    assert x1 <= size[0] and y1 <= size[1] and x1 - x0 >= 500 and y1 - y0 >= 500, rects["live_plot"]
    for name in ("tare", "start", "stop"):
        assert shows(img, rects[name], [BUTTON, BUTTON_OFF]), (name, rects)
    assert left_column_fits(img, rects)
    img, rects = run(tmp_path, *size, "Clinical", "--demo")
    assert "clin_save" in rects and shows(img, rects["clin_save"], [BUTTON, BUTTON_OFF]), rects
    assert rects["clin_point"][2] <= size[0] - 10, rects["clin_point"]


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run (make test does)")
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_training_summary_plots_are_whole_when_scrolled_to(tmp_path, size):
    img, rects = run(tmp_path, *size, "Training", "--bottom")
    for name in ("class_plot", "progress_plot"):  # the class plot was once cut at the right edge at 1024 px
        x0, y0, x1, y1 = rects[name]
        assert 0 <= x0 and x1 <= size[0] - 10 and y1 <= size[1] and x1 - x0 >= 200 and y1 - y0 >= 200, (name, rects)
        frame = img[int(y0) + 10:int(y1) - 10, int(x1) - 12:int(x1) - 4]  # the plot's own frame at its right edge
        assert (np.abs(frame - PLOT_FRAME) <= 6).all(axis=2).mean() > 0.5, name


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run (make test does)")
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_training_and_calibrate_tabs_keep_their_start_buttons_and_the_trial_plot_on_screen(tmp_path, size):
    img, rects = run(tmp_path, *size, "Training")
    assert "drill_start" in rects and shows(img, rects["drill_start"], [BUTTON, BUTTON_OFF]), rects
    x0, y0, x1, y1 = rects["trial_plot"]
    assert x1 <= size[0] and y1 <= size[1] and x1 - x0 >= 300, rects["trial_plot"]  # the trial plot, whole
    img, rects = run(tmp_path, *size, "Calibrate")
    assert "cal_start" in rects and shows(img, rects["cal_start"], [BUTTON, BUTTON_OFF]), rects
    assert rects["cal_tolerance"][2] <= size[0], rects["cal_tolerance"]  # the last input of the setup rows
