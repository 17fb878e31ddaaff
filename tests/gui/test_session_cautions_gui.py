"""The Session tab's start checks under Xvfb: the picked client's PPT, the point's cautions, their screening.

The same decision as ``pointdose session`` (pointdose.session.precheck): a refusal in red, the
acknowledgement box only when a caution needs it, the %PPT target offered, and what was
acknowledged recorded with the application.
"""

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

from pointdose.sim.device import micropython_executable  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.needs_unix_port,
              pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display: run under xvfb-run"),
              pytest.mark.skipif(micropython_executable() is None, reason="no MicroPython unix port")]

RED = np.array([255, 110, 100])
AMBER = np.array([255, 190, 40])


def mask(img, colour, tol=40):
    return (np.abs(img[:, :, :3].astype(int) - colour) <= tol).all(axis=2)


def setup_db():
    from pointdose.records import Store

    with Store() as store:  # $POINTDOSE_DB: this test's own file
        cid = store.add_client("Test")
        sid = store.start_session(cid)
        pid = store.point(cid, "upper_trapezius.1", "L")
        store.add_ppt(pid, sid, 95.0, probe_area_cm2=1.0, ramp_kpa_s=50.0, n=3, planned=3, protocol="ppt")
        store.add_screening(cid, {"anticoagulants": True, "suspected_dvt": False})


def run(tmp_path, mode, seconds):
    png, report = tmp_path / f"{mode}.png", tmp_path / f"{mode}.json"
    out = subprocess.run([sys.executable, str(HERE / "run_cautions_app.py"), str(seconds), str(png), str(report), mode],
                         capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(report.read_text()), read_png(png)


def test_start_refuses_then_asks_then_records_the_acknowledgement(tmp_path):
    from pointdose.records import Store

    setup_db()
    rep, img = run(tmp_path, "start", 12.0)
    assert rep["selection"]["client_code"] == "Test" and "anticoagulants" in rep["selection"]["caution"]
    assert rep["lines"][0].startswith("PPT 95 kPa, measured ") and "this client" in rep["lines"][0]
    assert rep["shown"] == {"ack": True, "confirm": False, "relative": True}
    refused, unacknowledged, ok = rep["messages"]
    assert refused.startswith("refused") and "anticoagulants" in refused  # 200 kPa ± 10 % over their 200 kPa
    assert "I have read these cautions" in unacknowledged
    assert ok == "" and rep["started"] and rep["target"] == "80 %PPT"
    assert rep["limits"] == {"max_kpa": 200.0, "max_hold_s": 60.0}
    assert rep["caution_text"].startswith("cautions acknowledged: anticoagulants")
    with Store() as store:
        (app,) = store.query("SELECT id, ppt_id FROM applications")
        assert app["ppt_id"] is not None
        (ack,) = store.application_cautions(app["id"])
        assert ack["key"] == "anticoagulants" and ack["acknowledged"] == 1
    # while it runs, the cautions take one amber line or two above the phase: STOP stays on screen
    right = img[:, 450:]
    assert mask(right[90:150], AMBER).sum() > 300


def test_preview_shows_the_refusal_in_red_and_no_acknowledgement_box(tmp_path):
    setup_db()
    rep, img = run(tmp_path, "preview", 8.0)
    assert rep["shown"]["ack"] is False and "lowered by the cautions here (anticoagulants)" in rep["refusal"]
    right = img[:, 450:]
    # the refusal, in red, under the protocol row and its (closed) settings header
    assert mask(right[120:170], RED).sum() > 300
    assert mask(right[175:340], AMBER).sum() > 500  # then the PPT and the cautions, in amber


def test_points_tab_shows_the_clients_ppt_and_screening_for_the_picked_point(tmp_path):
    from pointdose.app.view import CYAN

    setup_db()
    rep, img = run(tmp_path, "points", 8.0)
    assert rep["selection"]["point_label"] == "Upper trapezius TrP1 (L)"
    assert rep["selection"]["caution"] == "This client: takes anticoagulants."
    assert rep["after_save"]["caution"] == "This client: takes anticoagulants, varicose veins."
    from pointdose.records import Store

    with Store() as store:  # saved as a new dated screening: both items present, the old answers kept
        cid = store.client("Test")["id"]
        assert store.screening(cid)["active"] == ["anticoagulants", "varicose_veins"]
        assert store.query("SELECT COUNT(*) AS n FROM screening")[0]["n"] == 2 + 10
    column = img[:, 1030:]  # the right-hand column beside the figures
    assert mask(column, np.array(CYAN), tol=30).sum() > 300  # "PPT 95 kPa, measured …, this client"
    assert mask(column, AMBER, tol=30).sum() > 200  # the caution
