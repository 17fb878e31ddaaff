"""``pointdose app --replay APP_ID`` in one step, and the Training tab's follow drill on it.

``python run_follow_app.py DB APP_ID PNG REPORT``: runs ``pointdose app --replay APP_ID --db DB`` (the
simulated device presses as the recorded application did, looped) with only the Training tab; once
the device streams, a student is added, APP_ID is picked in the list of recorded applications and
the tab follows its curve, as a user would with the Follow button. The replayed expert is the "student", so the attempt must lie on the curve. When the
result is saved it takes a screenshot and quits; REPORT gets what the tab showed (JSON).
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

TIMEOUT_S = 120.0


def main(argv: list[str]) -> int:
    db, app_id, png, report_path = argv
    panel = TrainingPanel()
    report: dict = {"ok": False}
    state = {"stage": "connect", "t": time.monotonic(), "shot": None}
    original = panel.update

    def update(ctx):
        original(ctx)
        now = time.monotonic()
        if now - state["t"] > TIMEOUT_S:
            report["error"] = f"timed out in stage {state['stage']}"
            view.stop()
            return
        stage = state["stage"]
        if stage == "connect":
            items = dpg.get_item_configuration(T.follow_pick)["items"]
            if ctx.frame is None or not ctx.frame.streaming or not items:
                return
            report["banner"] = ctx.frame.sim_text
            report["choices"] = list(items)
            dpg.set_value(view.TAGS.tabs, panel.tab)
            dpg.set_value(T.new_student, "S-FOLLOW")
            panel._on_add_student()
            chosen = next(x for x in items if x.split(" ")[0] == app_id)  # picked in the list, as a user would
            dpg.set_value(T.follow_pick, chosen)
            panel._on_follow_pick(None, chosen)
            panel.start_follow(dpg.get_value(T.follow_app), ctx)
            state["stage"] = "follow"
        elif stage == "follow":
            run = panel.follow
            if run is None:
                report["error"] = dpg.get_value(T.message)
                view.stop()
            elif run.finished.is_set() and (panel.follow_saved or run.error):
                state["stage"], state["shot"] = "shot", now + 0.5
        elif stage == "shot" and now >= state["shot"]:
            view.request_screenshot(png)
            state["stage"] = "wait-shot"
        elif stage == "wait-shot":
            p = Path(png)
            if p.is_file() and p.stat().st_size > 0:
                run = panel.follow
                report.update({"ok": True, "phase": run.phase, "score": run.score.to_dict() if run.score else None,
                               "error": run.error, "saved": panel.follow_saved,
                               "phase_text": dpg.get_value(T.phase), "result_text": dpg.get_value(T.kr_text),
                               "target_points": len(dpg.get_value(T.follow_target)[0]),
                               "trace_points": len(dpg.get_value(T.series)[0])})
                view.stop()

    panel.update = update
    panels_mod.load_panels = lambda: [panel]
    from pointdose.cli import main as cli

    status = cli(["app", "--replay", app_id, "--db", db, "--max-fps", "60"])
    Path(report_path).write_text(json.dumps(report, indent=2))
    return status if not report.get("ok") else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
