"""GUI benchmark: frames per second while streaming, and sample-to-screen latency.

Runs ``pointdose app`` for a few seconds with no frame cap and reads the statistics the render
loop gathers (``--report``): median frames per second, and for every sample the time from its
host arrival (``t_host_rx_s``, stamped by the reader thread) to the end of the frame that first
drew it (median and p99). Target: ≥ 60 fps. A bare DearPyGui window is measured first, so on a
shared or slow machine the ratio app/bare says what the app itself costs.

Source: the simulated device (real firmware, 200 Hz) when pointdose.link and the MicroPython unix
port are there, and always the synthetic 1 kHz source from tests/gui (the worst case for
decimation: 30,000 samples in the window). Needs an X display; without one it runs itself under
``xvfb-run`` at 1280×800. Run: ``.venv/bin/python bench/bench_gui.py`` or ``make bench``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUI_TESTS = ROOT / "tests" / "gui"
SECONDS = 6.0
XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"]

APP_CODE = ("import argparse, sys; from pointdose.commands import app as m; p = argparse.ArgumentParser();"
            "m.add_arguments(p); sys.exit(m.run(p.parse_args(sys.argv[1:])))")


# The same window size and a 2,000-point line with nothing else: what this machine's OpenGL can do.
BASELINE_CODE = """
import json, sys, time
import dearpygui.dearpygui as dpg
dpg.create_context()
with dpg.window(tag="w"):
    with dpg.plot(width=-1, height=-1):
        dpg.add_plot_axis(dpg.mvXAxis)
        with dpg.plot_axis(dpg.mvYAxis):
            dpg.add_line_series(list(range(2000)), [i % 100 for i in range(2000)])
dpg.create_viewport(width=1280, height=800, vsync=False)
dpg.setup_dearpygui(); dpg.show_viewport(); dpg.set_primary_window("w", True)
times = []
end = time.monotonic() + float(sys.argv[2])
while dpg.is_dearpygui_running() and time.monotonic() < end:
    dpg.render_dearpygui_frame(); times.append(time.monotonic())
dpg.destroy_context()
gaps = sorted(b - a for a, b in zip(times[10:], times[11:]))
open(sys.argv[1], "w").write(json.dumps({"fps_median": 1 / gaps[len(gaps) // 2]}))
"""


def _display_prefix() -> list[str]:
    if os.environ.get("DISPLAY"):
        return []
    if shutil.which("xvfb-run"):
        return XVFB
    raise RuntimeError("no X display and no xvfb-run: install xvfb or set DISPLAY")


def _run(cmd: list[str], report: Path, timeout: float = 120) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(GUI_TESTS)] + [p for p in [env.get("PYTHONPATH")] if p])
    proc = subprocess.run(_display_prefix() + cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"app failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
    return json.loads(report.read_text())


def _figures(label: str, report: dict) -> list[tuple[str, float, str]]:
    lat = report.get("latency_ms") or {}
    return [
        (f"{label}: frames per second (median, no cap)", report["fps_median"], "fps"),
        (f"{label}: sample-to-screen latency median", lat.get("median", float("nan")), "ms"),
        (f"{label}: sample-to-screen latency p99", lat.get("p99", float("nan")), "ms"),
        (f"{label}: samples displayed", float(report["samples_displayed"]), "samples"),
    ]


def _sim_usable() -> bool:
    try:
        import pointdose.link as link
        from pointdose.sim.device import firmware_dir, micropython_executable

        return hasattr(link, "DeviceLink") and (firmware_dir() / "main.py").is_file() \
            and micropython_executable() is not None
    except Exception:
        return False


def run() -> list[tuple[str, float, str]]:
    results: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="pointdose-bench-gui-") as tmp:
        report = Path(tmp) / "report.json"
        base = _run([sys.executable, "-c", BASELINE_CODE, str(report), "3"], report)["fps_median"]
        results.append(("bare DearPyGui window, 2,000-point line (this machine's ceiling)", base, "fps"))
        if _sim_usable():
            data = _run([sys.executable, "-c", APP_CODE, "--sim", "--seconds", str(SECONDS), "--max-fps", "0",
                         "--report", str(report)], report)
            results += _figures("simulated device 200 Hz", data)
            results.append(("simulated device 200 Hz: app fps / bare window fps", data["fps_median"] / base, "ratio"))
        data = _run([sys.executable, str(GUI_TESTS / "run_fake_app.py"), str(SECONDS), "", str(report),
                     "1000", "0"], report)
        results += _figures("synthetic 1 kHz, 30 s window", data)
        results.append(("synthetic 1 kHz: app fps / bare window fps", data["fps_median"] / base, "ratio"))
    return results


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"{name}: {value:,.6g} {unit}")
