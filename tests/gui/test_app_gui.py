"""The app under a real X display (Xvfb): run it for a few seconds, screenshot, check the pixels.

Run the suite under ``xvfb-run -a -s "-screen 0 1280x800x24"`` (``make test`` does). Each run is a
separate process because DearPyGui keeps one context per process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pngread import read_png  # noqa: E402

pytestmark = pytest.mark.gui

needs_display = pytest.mark.skipif(
    not os.environ.get("DISPLAY"),
    reason="no X display: run under xvfb-run -a -s '-screen 0 1280x800x24' (make test does)",
)

TRACE = np.array([70, 200, 255])  # view.CYAN
AMBER = np.array([255, 190, 40])
PLOT_X0 = 450  # the plot starts right of the 430 px side panel


def sim_available() -> str | None:
    """None when the real path (pointdose.link + simulated firmware) can run, else why not."""
    if importlib.util.find_spec("pointdose.link") is None:
        return "pointdose.link is not there yet"
    try:
        import pointdose.link as link

        if not hasattr(link, "DeviceLink"):
            return "pointdose.link has no DeviceLink yet"
        from pointdose.sim.device import firmware_dir, micropython_executable

        if not (firmware_dir() / "main.py").is_file():
            return "no firmware/main.py yet"
    except Exception as exc:  # any half-finished piece: use the synthetic source
        return f"simulated device not usable: {exc}"
    if micropython_executable() is None and shutil.which("micropython") is None:
        return "no MicroPython unix port"
    return None


def colour_mask(img: np.ndarray, colour: np.ndarray, tol: int = 45) -> np.ndarray:
    return (np.abs(img[:, :, :3].astype(int) - colour) <= tol).all(axis=2)


def run(cmd: list[str], tmp_path: Path, timeout: float = 60) -> tuple[Path, dict]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE)] + [p for p in [env.get("PYTHONPATH")] if p])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, f"app failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    report = json.loads((tmp_path / "report.json").read_text())
    return tmp_path / "shot.png", report


def check_screenshot(png: Path, report: dict, *, trace_columns_min: int, banner: bool,
                     readout_pixels_min: int = 500) -> np.ndarray:
    assert png.is_file() and png.stat().st_size > 10_000
    img = read_png(png)
    assert img.shape[:2] == (800, 1280)
    assert report["frames"] >= 2, report  # it drew (how many frames fit in the run is the machine's: make bench)
    assert report["samples_displayed"] > 0, report
    plot = img[:, PLOT_X0:]
    trace = colour_mask(plot, TRACE)
    columns = np.flatnonzero(trace.any(axis=0))
    assert columns.size >= trace_columns_min, f"trace covers only {columns.size} pixel columns"
    assert columns.max() > plot.shape[1] - 80, "the trace should reach the right edge (now)"
    # the readout (big text, top-left) is drawn: bright pixels under "Pressure now"
    readout = img[100:260, 0:430, :3]
    assert (readout.min(axis=2) > 200).sum() > readout_pixels_min, "readout area is blank"
    amber = colour_mask(img[0:110, 0:430], AMBER, tol=30).sum()
    if banner:
        assert amber > 400, "SIMULATED banner missing"
    return img


@needs_display
def test_app_on_synthetic_source_shows_trace_readout_and_banner(tmp_path):
    png, report = run([sys.executable, str(HERE / "run_fake_app.py"), "3.5", str(tmp_path / "shot.png"),
                       str(tmp_path / "report.json"), "1000", "120", "--sim-banner"], tmp_path)
    # 25 s of history at 1 kHz: most of the 30 s axis has trace on it, decimated
    check_screenshot(png, report, trace_columns_min=400, banner=True)


@needs_display
def test_app_without_a_truetype_font_still_shows_a_large_readout(tmp_path):
    png, report = run([sys.executable, str(HERE / "run_fake_app.py"), "5", str(tmp_path / "shot.png"),
                       str(tmp_path / "report.json"), "200", "120", "--no-ttf"], tmp_path)
    # the built-in font draws thin strokes: a lone "0" (the fake press is at rest a third of the
    # time) lights ~400 pixels, so count fewer here and check the height below
    img = check_screenshot(png, report, trace_columns_min=400, banner=False, readout_pixels_min=150)
    bright_rows = np.flatnonzero((img[0:200, 0:300, :3].min(axis=2) > 200).any(axis=1))
    assert bright_rows.size >= 40, "the readout digits should be tens of pixels tall"


@needs_display
def test_app_on_the_simulated_device(tmp_path):
    why = sim_available()
    if why:
        pytest.skip(f"real simulated device not available ({why}); the synthetic-source test covers the GUI")
    code = ("import argparse, sys; from pointdose.commands import app as m; p = argparse.ArgumentParser();"
            "m.add_arguments(p); sys.exit(m.run(p.parse_args(sys.argv[1:])))")
    png, report = run([sys.executable, "-c", code, "--sim", "--seconds", "10", "--screenshot",
                       str(tmp_path / "shot.png"), "--report", str(tmp_path / "report.json")], tmp_path, timeout=120)
    # the real firmware streams in real time after it boots: how much trace there is depends on how
    # long the boot took on this machine, so only that there is one
    check_screenshot(png, report, trace_columns_min=1, banner=True)


def test_no_display_is_a_user_error(monkeypatch):
    from pointdose.app import main
    from pointdose.app.controller import Controller
    from pointdose.errors import UserError

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if not sys.platform.startswith("linux"):
        pytest.skip("the display check is Linux-only")
    with pytest.raises(UserError, match="xvfb-run"):
        main.run_app(Controller(find_boards=lambda: []), seconds=1)


@pytest.mark.parametrize("argv, message", [(["--unit", "psi"], "unknown unit"),
                                           (["--probe-area", "0"], "probe-area"),
                                           (["--port", "/dev/ttyACM0", "--sim"], "either")])
def test_bad_options_are_user_errors_before_any_window(argv, message):
    import argparse

    from pointdose.commands import app
    from pointdose.errors import UserError

    parser = argparse.ArgumentParser()
    app.add_arguments(parser)
    with pytest.raises(UserError, match=message):
        app.run(parser.parse_args(argv))
