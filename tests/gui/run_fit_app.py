"""Open the app at a given window size on one tab, for the fits-the-screen screenshots.

``python run_fit_app.py WIDTH HEIGHT TAB PNG REPORT`` — TAB is a tab's title (``Live``, ``Session``,
``Points``...). On the synthetic FakeLink (no firmware). On the Session tab a three-line message is
shown before Start, the case that once pushed STOP off a 720 px screen; ``--settings`` opens the
protocol settings with one entry refused (hold_max_s = nan) and one accepted (cycles = 2). The report holds the frame
statistics and the screen rectangles of the main controls (from DearPyGui), so the test can find
them in the PNG.
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

THREE_LINES = ("Cautions for this point: varicose veins nearby, press gently.\n"
               "PPT before: 310 kPa (taken 2 minutes ago).\n"
               "Targets as % of the PPT are offered below.")


def main(argv: list[str]) -> int:
    width, height, tab, png, report_path = int(argv[0]), int(argv[1]), argv[2], argv[3], argv[4]
    import dearpygui.dearpygui as dpg

    from pointdose.app import view
    from pointdose.app.panels import calibrate as calibrate_panel
    from pointdose.app.panels import clinical as clinical_panel
    from pointdose.app.panels import records as records_panel
    from pointdose.app.panels import training as training_panel
    from pointdose.app.panels import session as session_panel

    if "--demo" in argv:  # a demo client's four weekly sessions in $POINTDOSE_DB, for Points and History
        from pointdose.records import Store
        from pointdose.records.demo import make_demo

        with Store() as store:
            make_demo(store, "DEMO-01", sessions=4)
    rects: dict[str, list] = {}
    done: set[str] = set()

    frames = [0]
    keys: dict[str, int] = {}

    def on_frame(panels):
        frames[0] += 1
        if "--typing" in argv:  # a digit key while the History tab's folder box has the keyboard, then not
            ses = next(p for p in panels if isinstance(p, session_panel.SessionPanel))
            hits: list[int] = []
            if frames[0] == 20:
                dpg.focus_item(records_panel.TAGS.h_folder)
            elif frames[0] == 30:
                keys["typing_active"] = int(dpg.is_item_active(records_panel.TAGS.h_folder))
                ses._key(lambda: hits.append(1))
                keys["while_typing"] = len(hits)
                dpg.focus_item(records_panel.TAGS.h_report)
            elif frames[0] == 40:
                ses._key(lambda: hits.append(1))
                keys["after"] = len(hits)
        for panel in panels:
            if panel.title == tab:
                item = getattr(panel, "tab", None) or getattr(panel, "_tab", None)
                if item is not None and dpg.get_value(view.TAGS.tabs) != item:
                    dpg.set_value(view.TAGS.tabs, item)
            if isinstance(panel, records_panel.BodyMapPanel) and "--demo" in argv and "demo" not in done \
                    and panel._sessions:  # the demo's last visit (a week ago): its treated points on the map
                done.add("demo")
                label = records_panel._session_label(panel._sessions[-1])
                panel._on_session(None, label)
                dpg.set_value(records_panel.TAGS.session, label)
            if isinstance(panel, training_panel.TrainingPanel) and "--bottom" in argv:  # the summary plots
                box = dpg.get_item_parent(training_panel.T.class_plot)
                while box and dpg.get_item_type(box) != "mvAppItemType::mvChildWindow":
                    box = dpg.get_item_parent(box)
                if box:
                    dpg.set_y_scroll(box, dpg.get_y_scroll_max(box))
            if isinstance(panel, session_panel.SessionPanel):
                panel.message = THREE_LINES
                if "--settings" in argv and "settings" not in done:  # open the editor, one entry refused
                    done.add("settings")
                    dpg.set_value(session_panel.T.settings, True)
                    panel.show_settings(dpg.get_value(session_panel.T.protocol))
                    panel.enter_setting("tppr", "hold_max_s", "nan")
                    panel.enter_setting("tppr", "cycles", "2")
                if "--legend" in argv:  # open the sound legend and scroll down to it
                    dpg.set_value(session_panel.T.legend, True)
                    dpg.set_y_scroll(session_panel.T.body, dpg.get_y_scroll_max(session_panel.T.body))
        for name, tag in (("tare", view.TAGS.tare_button), ("start", view.TAGS.start_button),
                          ("stop", view.TAGS.stop_button), ("ses_stop", session_panel.T.stop),
                          ("ses_start", session_panel.T.start), ("ses_demo", session_panel.T.demo),
                          ("map", records_panel.TAGS.map), ("drill_start", training_panel.T.start),
                          ("trial_plot", training_panel.T.plot), ("class_plot", training_panel.T.class_plot),
                          ("progress_plot", training_panel.T.progress_plot), ("cal_start", calibrate_panel.TAGS.start),
                          ("cal_tolerance", calibrate_panel.TAGS.tolerance),
                          ("notice_ok", calibrate_panel.TAGS.notice_ok),
                          ("ses_settings", session_panel.T.settings),
                          ("set_error", session_panel._setting_tag("tppr", "hold_max_s", "error")),
                          ("h_report", records_panel.TAGS.h_report), ("h_export", records_panel.TAGS.h_export),
                          ("h_folder", records_panel.TAGS.h_folder), ("h_point", records_panel.TAGS.h_point),
                          ("live_plot", view.TAGS.plot), ("clin_save", clinical_panel.CT.save_finding),
                          ("clin_point", clinical_panel.CT.point), ("p_session", records_panel.TAGS.session)):
            if dpg.does_item_exist(tag) and dpg.is_item_visible(tag):
                rects[name] = [*dpg.get_item_rect_min(tag), *dpg.get_item_rect_max(tag)]
            else:
                rects.pop(name, None)

    controller = Controller(
        find_boards=lambda: [BoardChoice(port="fake://board")],
        start_sim=lambda: SimHandle(port="fake://sim", backend_label="synthetic", close=lambda: None),
        open_link=lambda choice: FakeLink(rate_hz=200.0, calibrated=True, history_s=25.0),
    )
    report = run_app(controller, seconds=3.0, screenshot=png, max_fps=30, settings=DisplaySettings(unit="kPa"),
                     size=(width, height), on_frame=on_frame)
    report["rects"] = rects
    report["keys"] = keys
    Path(report_path).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
