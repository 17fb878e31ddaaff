"""The Points tab reads its body-map data off the render thread, and draws what it read.

Run as a script (its own process: DearPyGui keeps one context per process), this file opens the
app on the synthetic FakeLink with a demo records database, the Points tab first, and notes on
which thread every call of the map's data function (records.history.points_view) ran and what the
tab showed.
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
def test_the_body_maps_data_is_read_off_the_render_thread_and_shown(tmp_path):
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


def _main(argv: list[str]) -> int:
    import threading

    seconds, out = float(argv[0]), Path(argv[1])
    from fake_link import FakeLink

    import dearpygui.dearpygui as dpg

    from pointdose.app.controller import BoardChoice, Controller, SimHandle
    from pointdose.app.main import run_app
    from pointdose.app.panels import records
    from pointdose.records import history

    calls, seen = [], {"dots": 0, "treated": ""}
    real = history.points_view

    def watched(*a, **kw):
        t = threading.current_thread()
        calls.append({"thread": t.name, "render_thread": t is render_thread})
        return real(*a, **kw)

    history.points_view = watched
    render_thread = threading.current_thread()

    class Watching(records.BodyMapPanel):
        def update(self, ctx):
            super().update(ctx)
            seen["dots"] = max(seen["dots"], len(dpg.get_item_children(records.TAGS.layer, 2) or []))
            seen["treated"] = dpg.get_value(records.TAGS.treated) or seen["treated"]

    records.BodyMapPanel = Watching
    Watching.open_on_start = True
    controller = Controller(
        find_boards=lambda: [BoardChoice(port="fake://board")],
        start_sim=lambda: SimHandle(port="fake://sim", backend_label="synthetic", close=lambda: None),
        open_link=lambda choice: FakeLink(rate_hz=200.0, calibrated=True, history_s=25.0),
    )
    run_app(controller, seconds=seconds, screenshot=None, max_fps=60.0)
    out.write_text(json.dumps({"calls": calls, **seen}))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
