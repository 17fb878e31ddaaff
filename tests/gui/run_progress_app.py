"""The Training tab's "This student, block by block" plot on recorded blocks.

``python run_progress_app.py DB PNG REPORT``: DB already holds blocks for one student (the tab picks
the first student). Runs ``pointdose app --db DB`` with only the Training tab, waits until the
progress plot has been drawn from the records (read off the render thread), takes a screenshot and
quits; REPORT gets the plot's series and the plot's place on screen (JSON).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import dearpygui.dearpygui as dpg

from pointdose.app import panels as panels_mod
from pointdose.app import view
from pointdose.app.panels.training import T, TrainingPanel

TIMEOUT_S = 60.0


def main(argv: list[str]) -> int:
    db, png, report_path = argv
    panel = TrainingPanel()
    report: dict = {"ok": False}
    state = {"stage": "draw", "t": time.monotonic(), "shot": None}
    original = panel.update

    def update(ctx):
        original(ctx)
        now = time.monotonic()
        if now - state["t"] > TIMEOUT_S:
            report["error"] = f"timed out in stage {state['stage']}"
            view.stop()
            return
        stage = state["stage"]
        if stage == "draw":
            dpg.set_value(view.TAGS.tabs, panel.tab)
            series = dpg.get_item_children(T.progress_y, 1) or []
            if series and not panel._progress_data.busy():
                state["stage"], state["shot"] = "shot", now + 1.0  # a few frames to draw it
        elif stage == "shot" and now >= state["shot"]:
            view.request_screenshot(png)
            state["stage"] = "wait-shot"
        elif stage == "wait-shot":
            p = Path(png)
            if p.is_file() and p.stat().st_size > 0:
                series = dpg.get_item_children(T.progress_y, 1) or []
                report.update({"ok": True, "student": panel.student,
                               "series": [{"label": dpg.get_item_label(s), "value": dpg.get_value(s)} for s in series],
                               "plot_min": list(dpg.get_item_rect_min(T.progress_plot)),
                               "plot_size": list(dpg.get_item_rect_size(T.progress_plot)),
                               "x_limits": list(dpg.get_axis_limits(T.progress_x)),
                               "y_limits": list(dpg.get_axis_limits(T.progress_y))})
                view.stop()

    panel.update = update
    panels_mod.load_panels = lambda: [panel]
    from pointdose.cli import main as cli

    status = cli(["app", "--db", db, "--max-fps", "60"])
    Path(report_path).write_text(json.dumps(report, indent=2))
    return status if not report.get("ok") else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
