"""Run the app on the simulated device with the Session tab running a protocol guided by the virtual hand.

``python run_session_app.py SECONDS PNG REPORT [PROTOCOL] [PARAMS_JSON]`` — a separate process, as
DearPyGui keeps one context per process. The report holds the frame statistics and what the
session panel showed on each frame (phase, band), so the test can tell what the screenshot shows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pointdose.app.controller import Controller
from pointdose.app.main import run_app
from pointdose.app.model import DisplaySettings
from pointdose.app.panels import session as session_panel


def main(argv: list[str]) -> int:
    seconds, png, report_path = float(argv[0]), argv[1], argv[2]
    protocol = argv[3] if len(argv) > 3 else "holds"
    params = json.loads(argv[4]) if len(argv) > 4 else {"cycles": 1, "hold_s": 60, "target": "200 kPa"}
    session_panel.SessionPanel.autostart = {"protocol": protocol, "params": params, "hand": "expert"}
    made = []
    original_init = session_panel.SessionPanel.__init__

    def keep(self):
        original_init(self)
        made.append(self)

    session_panel.SessionPanel.__init__ = keep
    controller = Controller(force_sim=True, sim_demo=False)
    summary_shown = []

    def on_frame(panels):  # the end-of-run summary as the tab shows it
        import dearpygui.dearpygui as dpg

        if dpg.is_item_shown(session_panel.T.summary):
            summary_shown[:] = [dpg.get_value(session_panel.T.summary)]

    report = run_app(controller, seconds=seconds, screenshot=png or None, max_fps=30,
                     settings=DisplaySettings(unit="kPa"), on_frame=on_frame)
    report["summary_shown"] = summary_shown[0] if summary_shown else None
    panel = made[0]
    report["shown"] = panel.shown
    report["end_reason"] = panel.runner.end_reason if panel.runner else None
    report["summary"] = panel.runner.summary if panel.runner else None
    report["events"] = [(t, k) for t, k, _ in panel.runner.events] if panel.runner else []
    from pointdose.records import Store

    with Store() as store:  # $POINTDOSE_DB: the test's own file
        report["recorded"] = store.query("SELECT a.id, a.protocol, a.end_reason, COUNT(s.id) AS chunks "
                                         "FROM applications a LEFT JOIN sample_chunks s ON s.application_id = a.id GROUP BY a.id")
    Path(report_path).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
