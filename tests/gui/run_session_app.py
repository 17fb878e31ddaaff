"""Run the app on the simulated device with the Session tab running a protocol guided by the virtual hand.

``python run_session_app.py SECONDS PNG REPORT [PROTOCOL] [PARAMS_JSON] [--stop-from=TAB] [--size=WxH]`` — a
separate process, as DearPyGui keeps one context per process. With ``--stop-from=TAB`` the app shows
TAB while the session runs, takes the screenshot there, then presses the left column's STOP. The report holds the frame statistics and what the
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
    flags = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in argv if a.startswith("--")}
    argv = [a for a in argv if not a.startswith("--")]
    seconds, png, report_path = float(argv[0]), argv[1], argv[2]
    protocol = argv[3] if len(argv) > 3 else "holds"
    params = json.loads(argv[4]) if len(argv) > 4 else {"cycles": 1, "hold_s": 60, "target": "200 kPa"}
    size = tuple(int(v) for v in flags.get("--size", "1280x800").split("x"))
    other_tab = flags.get("--stop-from")
    session_panel.SessionPanel.autostart = {"protocol": protocol, "params": params, "hand": "expert"}
    made = []
    original_init = session_panel.SessionPanel.__init__

    def keep(self):
        original_init(self)
        made.append(self)

    session_panel.SessionPanel.__init__ = keep
    controller = Controller(force_sim=True, sim_demo=False)
    summary_shown = []
    stop = {}
    from pointdose.app import view

    def on_frame(panels):  # the end-of-run summary as the tab shows it
        import dearpygui.dearpygui as dpg

        if dpg.is_item_shown(session_panel.T.summary):
            summary_shown[:] = [dpg.get_value(session_panel.T.summary)]
        runner = made[0].runner if made else None
        if other_tab and runner is not None and not runner.ended.is_set():
            tab = next((getattr(p, "tab", None) for p in panels if p.title == other_tab), None)
            if tab is not None and dpg.get_value(view.TAGS.tabs) != tab:
                dpg.set_value(view.TAGS.tabs, tab)
            if dpg.is_item_visible(view.TAGS.session_stop):
                stop["rect"] = [*dpg.get_item_rect_min(view.TAGS.session_stop),
                                *dpg.get_item_rect_max(view.TAGS.session_stop)]
            if png and Path(png).is_file() and Path(png).stat().st_size > 10_000 and "pressed" not in stop:
                stop["pressed"] = True  # the shot is taken: press the left column's STOP as a user would
                dpg.get_item_callback(view.TAGS.session_stop)()

    report = run_app(controller, seconds=seconds, screenshot=png or None, max_fps=30,
                     settings=DisplaySettings(unit="kPa"), on_frame=on_frame, size=size)
    report["summary_shown"] = summary_shown[0] if summary_shown else None
    report["left_stop"] = stop
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
