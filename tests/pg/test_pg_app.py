"""The app on a records server: its History tab draws a client recorded on the server
(the app's own harness, tests/gui/test_records_gui.py, run with POINTDOSE_DB set to the URL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

GUI = Path(__file__).resolve().parents[1] / "gui"

pytestmark = pytest.mark.gui


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run (make test does)")
def test_the_apps_history_tab_shows_a_client_recorded_on_the_server(pg_url, tmp_path):
    sys.path.insert(0, str(GUI))
    from pngread import read_png

    from pointdose.app.panels.records import DOSE_BAR
    from pointdose.records import Store
    from pointdose.records.demo import make_demo

    with Store(pg_url, journal=tmp_path / "other-station.sqlite") as store:  # recorded on another station
        make_demo(store, "DEMO-01", sessions=3)
    png = tmp_path / "History.png"
    env = dict(os.environ, POINTDOSE_DB=pg_url, POINTDOSE_JOURNAL=str(tmp_path / "app-station.sqlite"),
               PYTHONPATH=os.pathsep.join([str(GUI)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    proc = subprocess.run([sys.executable, str(GUI / "test_records_gui.py"), "History", "5", str(png)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    img = read_png(png)[:, 450:]
    bars = (np.abs(img[:, :, :3].astype(int) - np.array(DOSE_BAR)) <= 20).all(axis=2)
    cols = np.flatnonzero(bars.sum(axis=0) > 15)
    runs = np.split(cols, np.flatnonzero(np.diff(cols) > 3) + 1) if cols.size else []
    assert len(runs) == 3  # one dose bar per session recorded on the server
