"""Run the app on the simulated device and drive the Calibrate tab's wizard as a user would.

``python run_calibrate_app.py PNG REPORT [--refuse]``: the script presses the simulated sensor
(``sim force``), types the scale readings into the panel, and when the calibration is saved takes a
screenshot of the tab and quits. With ``--refuse`` it types readings that disagree with the sensor
(a 10 % error at the top load) so the calibration must be refused. With ``--buttons`` the app's demo
presses are on (as ``pointdose app --sim``) and the script presses the sensor only through the tab's
own "Apply" button with the load it suggests, as a user without hardware would. ``POINTDOSE_DATA_DIR`` is set by
the test (the host cache goes there). A separate process per run: DearPyGui keeps one context per
process.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import dearpygui.dearpygui as dpg

from pointdose.app import panels as panels_mod
from pointdose.app import view
from pointdose.app.controller import Controller
from pointdose.app.main import run_app
from pointdose.app.panels.calibrate import TAGS, CalibratePanel
from pointdose.calibration import StabilityCriterion, Step, Tolerance, WizardSettings
from pointdose.units import N_PER_KGF

LOADS_N = [10.0, 30.0, 50.0]
TIMEOUT_S = 90.0


class Script:
    def __init__(self, panel: CalibratePanel, png: str, refuse: bool, buttons: bool = False):
        self.buttons = buttons
        self.applied: list[float] = []
        self.panel = panel
        self.png = png
        self.refuse = refuse
        self.started = time.monotonic()
        self.stage = "connect"
        self.last_key = None
        self.typed = set()
        self.shot_at = None
        self.report: dict = {"ok": False}

    def force_for(self, step: Step, index: int) -> float:
        if step == Step.LOAD:
            return LOADS_N[index - 1]
        if step == Step.UNLOAD:
            return LOADS_N[len(LOADS_N) - 1 - index]
        return 0.0

    def press(self, ctx, newtons: float) -> None:
        if self.buttons:  # the tab's own row: its box holds the step's suggested load; "Apply" sends it
            newtons = float(dpg.get_value(TAGS.sim_force))
            self.applied.append(round(newtons, 3))
            self.panel._on_sim_apply()
            return
        ctx.controller.submit("sim", lambda link: link.command(f"sim force {newtons:g}"))

    def __call__(self, ctx) -> None:
        panel = self.panel
        now = time.monotonic()
        if now - self.started > TIMEOUT_S:
            self.report["error"] = f"timed out in stage {self.stage}"
            self.report["wizard"] = panel.wizard.view().instruction if panel.wizard else None
            view.stop()
            return
        if self.stage == "connect":
            link = ctx.controller.link
            if link is None or panel._loaded_applied is None or ctx.frame is None or not ctx.frame.streaming:
                return
            dpg.set_value(view.TAGS.tabs, panel.tab)
            panel.start_wizard(WizardSettings(model="linear", reference="scale", unit="kg", n_loads=len(LOADS_N),
                                              tolerance=Tolerance(pct_fs=2.0),
                                              criterion=StabilityCriterion(hold_s=1.0),
                                              raw_limits=(-8388608, 8388607)))
            self.stage = "wizard"
            self.report["demo_running_before"] = getattr(ctx.controller, "sim_demo_running", None)
            return
        if self.stage == "wizard":
            wiz = panel.wizard
            item = wiz.item
            if item is not None:
                key = (item.step, item.index)
                if key != self.last_key:
                    self.last_key = key
                    self.report.setdefault("demo_running_during", []).append(ctx.controller.sim_demo_running)
                    self.press(ctx, self.force_for(item.step, item.index))
                if wiz.capture is not None and wiz.needs_entry and key not in self.typed:
                    self.typed.add(key)
                    force = self.applied[-1] if self.buttons else self.force_for(item.step, item.index)
                    if self.refuse and force == LOADS_N[-1]:
                        force *= 1.10  # the "scale" reads 10 % more than the sensor feels
                    # what a kitchen scale would show, in kg, typed into the entry box
                    dpg.set_value(TAGS.entry, f"{force / N_PER_KGF:.3f}")
                    panel._on_enter()
                return
            self.stage = "saving" if wiz.step == Step.DONE else "shot"
            return
        if self.stage == "saving":
            if panel.saved_message.startswith("Saved") and panel._loaded is not None \
                    and panel._loaded.record is not None:
                self.stage = "shot"
            return
        if self.stage == "shot":
            if self.shot_at is None:
                self.shot_at = now + 0.6  # a few frames for the texts to settle
            elif now >= self.shot_at:
                view.request_screenshot(self.png)
                self.stage = "wait-shot"
            return
        if self.stage == "wait-shot":
            p = Path(self.png)
            if p.is_file() and p.stat().st_size > 0:
                if self.report.get("written_at") is None:
                    self.report["written_at"] = now
                elif now - self.report["written_at"] > 0.3:
                    self.finish(ctx)
                    view.stop()

    def finish(self, ctx) -> None:
        panel = self.panel
        wiz = panel.wizard
        v = wiz.view()
        loaded = panel._loaded
        self.report.update({
            "ok": True, "step": v.step.value, "refusal": v.refusal,
            "max_error_n": v.result.max_error_n if v.result else None,
            "points": [p.to_dict() for p in v.points],
            "saved_message": panel.saved_message,
            "record_id": loaded.record.id if loaded and loaded.record else None,
            "record_source": loaded.source if loaded else None,
            "model_record_id": getattr(ctx.model.calibration_record, "id", None),
            "readout_unit": ctx.frame.readout_unit if ctx.frame else None,
            "applied": self.applied,
            "demo_running_after": ctx.controller.sim_demo_running,
            "sim_row_shown": dpg.is_item_shown(TAGS.sim_row),
            "sim_note": dpg.get_value(TAGS.sim_note),
        })


def main(argv: list[str]) -> int:
    png, report_path = argv[0], argv[1]
    refuse = "--refuse" in argv
    buttons = "--buttons" in argv
    panel = CalibratePanel()
    script = Script(panel, png, refuse, buttons)
    original_update = panel.update

    def update(ctx):
        original_update(ctx)
        script(ctx)

    panel.update = update
    panels_mod.load_panels = lambda: [panel]
    # run_app imports load_panels from the package when it is called, so the patch above takes effect

    controller = Controller(force_sim=True, sim_demo=buttons)
    stats = run_app(controller, seconds=None, max_fps=60)
    script.report["frames"] = stats["frames"]
    Path(report_path).write_text(json.dumps(script.report, indent=2))
    return 0 if script.report.get("ok") else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
