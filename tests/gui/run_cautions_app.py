"""The Session tab before Start, for a client picked on the body map: their PPT, the point's cautions, their screening.

``python run_cautions_app.py SECONDS PNG REPORT MODE`` — a separate process (one DearPyGui context per
process), on the simulated device, with the records database given by $POINTDOSE_DB. The test has put
in it client "Test" (screened: anticoagulants) with a PPT at upper trapezius TrP1 (L); the user picks
that point on the Points tab. MODE ``preview`` only shows the tab (for the
screenshot), ``relative`` ticks "targets as % of the PPT", ``points`` shows the Points tab; ``start``
presses Start as a user would: first without the boxes, then with them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import dearpygui.dearpygui as dpg

from pointdose.app import view
from pointdose.app.controller import Controller
from pointdose.app.main import run_app
from pointdose.app.model import DisplaySettings
from pointdose.app.panels import session as session_panel
from pointdose.records import selection


def main(argv: list[str]) -> int:
    seconds, png, report_path, mode = float(argv[0]), argv[1], argv[2], argv[3]
    from pointdose import bodymap
    from pointdose.app.panels import records

    report: dict = {"messages": []}
    T = session_panel.T

    class Picking(records.BodyMapPanel):
        """The user picks upper trapezius TrP1 (L) of client Test on the body map."""
        frames = 0

        def update(self, ctx):
            super().update(ctx)
            Picking.frames += 1
            if Picking.frames == 3:
                dpg.set_value(records.TAGS.client, "Test")
                self._select_client("Test")
                x, y = bodymap.location("upper_trapezius.1").xy("L")
                self.pick_at("back", x, y)
                report["selection"] = selection.current().__dict__
                if mode == "points":
                    dpg.set_value(view.TAGS.tabs, self.tab)
            if Picking.frames == 6 and mode == "points":  # the user ticks a screening item and saves it
                dpg.set_value(records.screen_tag("varicose_veins"), True)
                self._on_save_screening()
                report["after_save"] = selection.current().__dict__

    records.BodyMapPanel = Picking

    class Pressing(session_panel.SessionPanel):
        frames = 0

        def update(self, ctx):
            Pressing.frames += 1
            if Pressing.frames == 2 and mode != "points":
                dpg.set_value(view.TAGS.tabs, self._tab)
                dpg.set_value(T.protocol, "holds")
            if Pressing.frames == 10 and mode in ("relative", "start"):
                dpg.set_value(T.relative, True)  # the user takes the %PPT target offered
            super().update(ctx)
            if Pressing.frames == 20:
                report["lines"] = self.prepared.lines() if self.prepared else [self.precheck_error]
                report["shown"] = {name: dpg.is_item_shown(getattr(T, name)) for name in ("ack", "confirm", "relative")}
                report["refusal"] = dpg.get_value(T.refusal)
            if mode != "start" or ctx.controller.link is None or self.runner is not None or Pressing.frames < 40:
                return
            dpg.set_value(T.relative, False)
            self.start(hand="expert")  # holds at its 200 kPa default: refused under anticoagulants' 200 kPa
            report["messages"].append(self.message)
            dpg.set_value(T.relative, True)
            self.start(hand="expert")  # 80 %PPT: fits, but the caution is not acknowledged yet
            report["messages"].append(self.message)
            dpg.set_value(T.ack, True)
            self.start(hand="expert")
            report["messages"].append(self.message)
            report["started"] = self.runner is not None
            if self.runner is not None:
                report["limits"] = {"max_kpa": self.runner.engine.limits.max_kpa,
                                    "max_hold_s": self.runner.engine.limits.max_hold_s}
                report["target"] = str(self.runner.protocol.phases[1].target)
                report["caution_text"] = dpg.get_value(T.caution)

    session_panel.SessionPanel = Pressing
    controller = Controller(force_sim=True, sim_demo=False)
    stats = run_app(controller, seconds=seconds, screenshot=png or None, max_fps=30,
                    settings=DisplaySettings(unit="kPa"))
    report["screenshot"] = stats.get("screenshot")
    Path(report_path).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
