"""The Points and History tabs read their data off the render thread, and draw what they read.

Run as a script (its own process: DearPyGui keeps one context per process), this file opens the
app on the synthetic FakeLink with a demo records database, the Points tab first, and notes on
which thread every call of the data functions (records.history.points_view for the body map,
records.history.point_history for the History tab) ran and what the tabs showed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

pytestmark = pytest.mark.gui

needs_display = pytest.mark.skipif(
    not os.environ.get("DISPLAY"),
    reason="no X display: run under xvfb-run -a -s '-screen 0 1280x800x24' (make test does)",
)


@needs_display
def test_the_records_panels_data_is_read_off_the_render_thread_and_shown(tmp_path):
    from pointdose.records import Store
    from pointdose.records.demo import make_demo

    db = tmp_path / "records.sqlite"
    with Store(db) as store:
        make_demo(store, "DEMO-01", sessions=2)
    out = tmp_path / "calls.json"
    env = dict(os.environ, POINTDOSE_DB=str(db),
               PYTHONPATH=os.pathsep.join([str(HERE)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    proc = subprocess.run([sys.executable, str(Path(__file__)), "7", str(out)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, f"app failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    got = json.loads(out.read_text())
    # the first frame asks, then every REFRESH_S (2 s): several reads in 7 s, none on the render thread
    assert len(got["calls"]) >= 2, got
    assert not any(c["render_thread"] for c in got["calls"]), got["calls"]
    assert all(c["thread"].startswith("pointdose-data-points") for c in got["calls"]), got["calls"]
    # … and what was read reached the screen: the demo client's points on the map, the treated list
    assert got["dots"] > 20 and got["treated"], got
    # the History tab: the point's history (PPT recomputation included) on its worker, then drawn
    assert got["history_calls"] and not any(c["render_thread"] for c in got["history_calls"]), got
    assert all(c["thread"].startswith("pointdose-data-history") for c in got["history_calls"]), got
    assert got["history_title"] and "nothing recorded" not in got["history_title"], got


def _main(argv: list[str]) -> int:
    import threading

    seconds, out = float(argv[0]), Path(argv[1])
    from fake_link import FakeLink

    import dearpygui.dearpygui as dpg

    from pointdose.app.controller import BoardChoice, Controller, SimHandle
    from pointdose.app.main import run_app
    from pointdose.app.panels import records
    from pointdose.records import history

    calls, history_calls, seen = [], [], {"dots": 0, "treated": "", "history_title": ""}

    def watch(real, into):
        def watched(*a, **kw):
            t = threading.current_thread()
            into.append({"thread": t.name, "render_thread": t is render_thread})
            return real(*a, **kw)
        return watched

    history.points_view = watch(history.points_view, calls)
    history.point_history = watch(history.point_history, history_calls)
    render_thread = threading.current_thread()

    class Watching(records.BodyMapPanel):
        def update(self, ctx):
            super().update(ctx)
            seen["dots"] = max(seen["dots"], len(dpg.get_item_children(records.TAGS.layer, 2) or []))
            seen["treated"] = dpg.get_value(records.TAGS.treated) or seen["treated"]
            seen["history_title"] = dpg.get_value(records.TAGS.h_title) or seen["history_title"]

    records.BodyMapPanel = Watching
    Watching.open_on_start = True
    controller = Controller(
        find_boards=lambda: [BoardChoice(port="fake://board")],
        start_sim=lambda: SimHandle(port="fake://sim", backend_label="synthetic", close=lambda: None),
        open_link=lambda choice: FakeLink(rate_hz=200.0, calibrated=True, history_s=25.0),
    )
    run_app(controller, seconds=seconds, screenshot=None, max_fps=60.0)
    out.write_text(json.dumps({"calls": calls, "history_calls": history_calls, **seen}))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
