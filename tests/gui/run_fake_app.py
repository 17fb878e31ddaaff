"""Run the app on the synthetic FakeLink (no firmware needed): ``python run_fake_app.py SECONDS PNG REPORT``.

A separate process per run, as DearPyGui keeps one context per process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_link import FakeLink  # noqa: E402

from pointdose.app.controller import BoardChoice, Controller, SimHandle  # noqa: E402
from pointdose.app.main import run_app  # noqa: E402
from pointdose.app.model import DisplaySettings  # noqa: E402


def main(argv: list[str]) -> int:
    seconds, png, report_path = float(argv[0]), argv[1], argv[2]
    rate = float(argv[3]) if len(argv) > 3 else 200.0
    max_fps = float(argv[4]) if len(argv) > 4 else 120.0
    simulated = "--sim-banner" in argv
    calibrated = "--uncalibrated" not in argv
    if "--no-ttf" in argv:  # as on a machine with no TrueType font: the built-in font path
        from pointdose.app import view

        view.find_font = lambda: None
    unit = next((a.split("=", 1)[1] for a in argv if a.startswith("--unit=")), "kPa")
    controller = Controller(
        force_sim=simulated,
        find_boards=lambda: [BoardChoice(port="fake://board")],
        start_sim=lambda: SimHandle(port="fake://sim", backend_label="synthetic test source (no firmware)",
                                    close=lambda: None),
        open_link=lambda choice: FakeLink(rate_hz=rate, calibrated=calibrated, history_s=25.0),
    )
    report = run_app(controller, seconds=seconds, screenshot=png or None, max_fps=max_fps,
                     settings=DisplaySettings(unit=unit))
    Path(report_path).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
