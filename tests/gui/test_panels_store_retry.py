"""A records database that cannot be opened is tried again on the tabs' refresh, not on every frame.

Run as a script (its own process: DearPyGui keeps one context per process), this file opens the
app on the synthetic FakeLink with ``POINTDOSE_DB`` naming a damaged file and counts the store
openings the panels attempt. Each attempt is a connection (to a server: seconds while it is away),
so one per frame froze the window; the tabs' message says what is wrong instead.
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

SECONDS = 5.0


@needs_display
def test_a_database_that_cannot_be_opened_is_retried_at_the_refresh_not_per_frame(tmp_path):
    from pointdose.app.panels import clinical, records

    db = tmp_path / "records.sqlite"
    db.write_bytes(b"not a database at all " * 200)
    out = tmp_path / "opens.json"
    env = dict(os.environ, POINTDOSE_DB=str(db),
               PYTHONPATH=os.pathsep.join([str(HERE)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    proc = subprocess.run([sys.executable, str(Path(__file__)), str(SECONDS), str(out)], capture_output=True,
                          text=True, timeout=120, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, f"app failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    got = json.loads(out.read_text())
    # three tabs use the store (Points, History, Clinical): each tries at its first frame and then at
    # most once per refresh; before, the Clinical tab tried on every frame
    refreshes = SECONDS / min(records.REFRESH_S, clinical.REFRESH_S) + 2
    assert 1 <= got["opens"] <= 3 * refreshes, got
    assert got["frames"] > got["opens"], got  # the window went on drawing
    assert "damaged" in got["message"] or "not a pointdose records database" in got["message"], got


def _main(argv: list[str]) -> int:
    seconds, out = float(argv[0]), Path(argv[1])
    from fake_link import FakeLink

    import dearpygui.dearpygui as dpg

    from pointdose.app.controller import BoardChoice, Controller, SimHandle
    from pointdose.app.main import run_app
    from pointdose.app.panels import clinical, records

    seen = {"opens": 0, "frames": 0, "message": ""}
    real_store = records.Store

    def counting_store(*a, **kw):
        seen["opens"] += 1
        return real_store(*a, **kw)

    records.Store = counting_store

    class Watching(clinical.ClinicalPanel):
        def update(self, ctx):
            super().update(ctx)
            seen["frames"] += 1
            seen["message"] = dpg.get_value(clinical.CT.message) or seen["message"]

    clinical.ClinicalPanel = Watching
    controller = Controller(
        find_boards=lambda: [BoardChoice(port="fake://board")],
        start_sim=lambda: SimHandle(port="fake://sim", backend_label="synthetic", close=lambda: None),
        open_link=lambda choice: FakeLink(rate_hz=200.0, calibrated=True, history_s=25.0),
    )
    run_app(controller, seconds=seconds, screenshot=None, max_fps=60.0)
    out.write_text(json.dumps(seen))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
