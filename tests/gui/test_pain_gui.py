"""The Session tab asks "pain 0–10" before Start and after the end (Skip allowed), under Xvfb on the
simulated device: the start waits for the answer, both ratings land in the records, and the
question row shows on screen with STOP still visible."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pngread import read_png  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run (make test does)")
@pytest.mark.parametrize("size", [(1280, 720), (1024, 768)])
def test_pain_is_asked_before_and_after_and_stored(tmp_path, size):
    from pointdose.app.panels.painprompt import PT  # noqa: F401  (import check)
    from pointdose.records import Store
    from pointdose.records.guided import guided

    db = tmp_path / "records.sqlite"
    env = {**os.environ, "POINTDOSE_DB": str(db),
           "PYTHONPATH": os.pathsep.join([str(HERE)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    out = subprocess.run([sys.executable, str(Path(__file__)), str(tmp_path), str(size[0]), str(size[1])],
                         capture_output=True, text=True, timeout=200, env=env)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    rep = json.loads((tmp_path / "pain.json").read_text())
    assert rep["waited"] is True  # Start did not start before the answer
    assert rep["question_before"].startswith("Pain at this point now, 0–10 (Enter to skip)")
    assert rep["question_after"].startswith("Pain at this point after the application, 0–10")
    assert rep["saved_after"] == [2]
    assert rep["after_left_open"] is None and rep["asked_after_demo"] is None  # a demo start is never asked
    assert rep["saved_after_all"] == [2, None]  # the second run's "after": skipped when the demo started
    with Store(db, readonly=True) as store:
        first, second, demo = store.applications()
        assert guided(store, first).pain == {"before": [6], "after": [2]}
        assert guided(store, second).pain_text() == guided(store, demo).pain_text() == "not rated"
    # the screenshot taken while "pain after" was open: cyan question text, and STOP still on screen
    img = read_png(tmp_path / "asking.png")
    assert img.shape[:2] == (size[1], size[0])
    cyan = (np.abs(img[:, :, :3].astype(int) - np.array((70, 200, 255))) <= 25).all(axis=2)
    assert cyan[60:200, size[0] // 3:].sum() > 200  # the question, under the Start row(s) (the trace is far below)
    assert rep["stop_visible"], rep["stop_rect"]
    assert rep["row_visible"] and rep["end_reason"] == "completed"


def _main(argv: list[str]) -> int:
    tmp, width, height = Path(argv[0]), int(argv[1]), int(argv[2])
    import dearpygui.dearpygui as dpg

    from pointdose.app import view
    from pointdose.app.controller import Controller
    from pointdose.app.main import run_app
    from pointdose.app.panels import session as session_panel
    from pointdose.app.panels.painprompt import PT

    made = []
    original_init = session_panel.SessionPanel.__init__

    def keep(self):
        original_init(self)
        made.append(self)

    session_panel.SessionPanel.__init__ = keep
    rep = {"frame": 0}
    state = {"step": "start", "t": 0}

    def on_frame(panels):
        panel = made[0]
        rep["frame"] += 1
        step = state["step"]
        if step == "start" and rep["frame"] > 30 and panel.ctx is not None and panel.ctx.controller.link is not None:
            dpg.set_value(view.TAGS.tabs, panel._tab)
            panel.start(hand="expert", protocol="holds", params={"cycles": 1, "hold_s": 3, "target": "200 kPa"},
                        ask_pain=True)
            rep["waited"] = panel.runner is None and panel.pain.prompt.asking == "before"
            state["step"] = "before"
        elif step == "before" and rep["frame"] > 35:
            rep["question_before"] = dpg.get_value(PT.question)
            panel.pain.answer(6)  # the 6 button
            state["step"] = "running"
        elif step == "running" and panel.pain.prompt.asking == "after":
            rep["question_after"] = dpg.get_value(PT.question)
            rep["end_reason"] = panel.runner.end_reason
            state["step"], state["t"] = "asking", rep["frame"]
        elif step == "asking" and rep["frame"] > state["t"] + 4:  # the row drawn a few frames: then the shot
            view.request_screenshot(str(tmp / "asking.png"))
            state["step"], state["t"] = "shot", rep["frame"]
        elif step == "shot" and rep["frame"] > state["t"] + 8:
            x0, y0 = dpg.get_item_rect_min(view.TAGS.stop_button)
            x1, y1 = dpg.get_item_rect_max(view.TAGS.stop_button)
            rep["stop_rect"] = [x0, y0, x1, y1]
            rep["stop_visible"] = bool(dpg.is_item_visible(view.TAGS.stop_button)) and y1 <= height and x1 <= width
            rep["row_visible"] = bool(dpg.is_item_visible(PT.row))
            panel.pain.answer(2)
            rep["saved_after"] = list(panel.pain.saved_after)
            # a second run, skipped before; its "after" still open when a demo starts: skipped, nothing stored
            panel.start(hand="expert", protocol="holds", params={"cycles": 1, "hold_s": 2, "target": "150 kPa"},
                        ask_pain=True)
            panel.pain.answer("")
            state["step"] = "second"
        elif step == "second" and panel.pain.prompt.asking == "after":
            panel.start(hand="expert", protocol="holds", params={"cycles": 1, "hold_s": 1, "target": "150 kPa"})
            rep["after_left_open"] = panel.pain.prompt.asking
            state["step"] = "demo"
        elif step == "demo" and panel.runner is not None and panel.runner.done.is_set():
            rep["asked_after_demo"] = panel.pain.prompt.asking
            rep["saved_after_all"] = list(panel.pain.saved_after)
            state["step"] = "done"
            (tmp / "pain.json").write_text(json.dumps(rep))
            view.stop()  # no need to wait for the deadline

    controller = Controller(force_sim=True, sim_demo=False)
    run_app(controller, seconds=70, screenshot=None, max_fps=30, size=(width, height), on_frame=on_frame)
    return 0 if state["step"] == "done" else 3


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
