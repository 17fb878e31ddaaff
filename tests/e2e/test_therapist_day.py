"""The therapist's day end to end (issue 12, "Done when"), on the real firmware (MicroPython unix port).

In the app, through its model and controller and the Session tab's workflow (``pointdose.app.workflow``,
no DearPyGui): a client, their screening, a point picked on the body map, a PPT, an ischemic
compression at the PPT's percentage with pain before and after, a PPT after, and the PDF report of
the visit with the band, dose, duration and PPT change (read back with pdftotext). Then the same
day through the terminal commands (``pointdose.cli.main``).

No assertion depends on speed: waits are on events with generous deadlines.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from pointdose.records import Store, selection

pytestmark = pytest.mark.needs_unix_port

PPT = {"trials": 2, "familiarisation": False, "rest_s": 1, "rate_kpa_s": 100}
COMPRESSION = {"hold_s": 5, "release_s": 1}
DEADLINE_S = 120.0


def pdf_text(path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def wait_for(predicate, what: str, timeout: float = DEADLINE_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def check_report(text: str, compression_pain: str) -> None:
    """What the day's report must carry for the compression: band, dose, duration, PPT change, pain."""
    flat = " ".join(text.split())
    assert "Calibration used" in flat and "uncalibrated: error unknown" in flat  # the simulator's factory scale
    assert "Upper trapezius" in flat and "ischemic" in flat
    block = flat[flat.index("ischemic"):]
    assert "Target band" in block and "none set" not in block.split("Time in band")[0].split("Target band")[1]
    assert "kPa" in block.split("Target band")[1].split("Time in band")[0]  # e.g. "236–288 kPa (…)"
    assert "Dose (descriptive)" in block and "kPa·s" in block
    assert "Duration" in block
    ppt = block.split("PPT before → after")[1].split("PPT change")[0]
    assert ppt.count("kPa") == 2, ppt  # both measured in this visit
    change = block.split("PPT change")[1].split("Pain")[0]
    assert "kPa" in change and "—" not in change.split("(")[0], change
    assert compression_pain in block


def test_therapists_day_in_the_app(tmp_path, monkeypatch):
    from pointdose.app.controller import Controller
    from pointdose.app.model import LiveModel
    from pointdose.app.workflow import check_start, open_application, prepare_start
    from pointdose.cues import CueMixer
    from pointdose.protocols.cautions import SCREENING
    from pointdose.records.report import session_report

    db = tmp_path / "records.sqlite"
    monkeypatch.setenv("POINTDOSE_DB", str(db))
    monkeypatch.setenv("POINTDOSE_DATA_DIR", str(tmp_path / "data"))
    selection.clear()
    controller = Controller(force_sim=True, sim_demo=True)  # as `pointdose app --sim`: demo presses on
    model = LiveModel()
    controller.start()
    try:
        wait_for(lambda: controller.link is not None and len(controller.link.ring.window(1.0)) > 20,
                 "the simulated device to stream")
        frame = model.frame(controller.status(), time.monotonic(), 400)
        assert frame.simulated and frame.streaming and frame.readout_unit == "kPa"  # factory scale: kPa shown

        # client and screening (the Points tab's Add and Save screening)
        with Store(db) as store:
            cid = store.add_client("C-0042")
            store.add_screening(cid, {k: False for k in SCREENING})
            pid = store.point(cid, "upper_trapezius.1", "L")  # a click on the body map
        selection.update(db_path=str(db), client_id=cid, client_code="C-0042", point_id=pid,
                         point_label="Upper trapezius TrP1 (L)", visit=None)  # what the Points tab publishes

        def run(protocol, params, *, pain_before=None, pain_after=None, release=(8.0, 14.0)):
            pre = prepare_start(protocol, params, probe_area_cm2=1.0)
            ack, confirmed = check_start(pre, acknowledged=True)
            app = open_application(controller, model, pre, acknowledged=ack, confirmed=confirmed,
                                   mixer=CueMixer(muted=True), pain_before=pain_before)
            try:
                app.runner.start()
                app.start_hand("expert", probe_area_cm2=1.0, release_after_s=release)
                assert app.runner.done.wait(DEADLINE_S), f"{protocol} did not end"
                assert app.runner.end_reason == "completed", app.runner.end_reason
                app.stop_hand()
                app.runner.close()
                if pain_after is not None:
                    assert app.record_pain_after(pain_after) is not None
                return app.runner, app.recording.where, app.recording.session_id
            finally:
                app.close()

        runner, where, visit = run("ppt", PPT)
        assert not controller.sim_demo_running  # the demo presses stopped: they would fight the session
        assert runner.ppt_saved is not None and "(new)" in where and "C-0042" in where
        runner, where, same = run("ischemic", COMPRESSION, pain_before=6, pain_after=3, release=(3.0, 4.5))
        assert same == visit and "continued" in where  # one visit: the terminal's rule, in the app
        assert runner.summary["time_in_band_s"] > 0
        runner, _, same = run("ppt", PPT)
        assert same == visit

        with Store(db) as store:
            apps = store.applications(session_id=visit)
            assert [a["protocol"] for a in apps] == ["ppt", "ischemic", "ppt"]
            (comp,) = [a for a in apps if a["protocol"] == "ischemic"]
            assert comp["band_low_kpa"] is not None and comp["ppt_id"] is not None  # %PPT from this visit's PPT
            ppts = store.session_ppt(pid, visit)
            assert len(ppts["before"]) == 1 and len(ppts["after"]) == 1
            pain = store.query("SELECT stage, value FROM pain WHERE application_id=? ORDER BY stage", (comp["id"],))
            assert [(r["stage"], r["value"]) for r in pain] == [("after", 3), ("before", 6)]
            out = session_report(store, visit, tmp_path / "visit.pdf")  # the History tab's report
        check_report(pdf_text(out), "before 6 · after 3")
    finally:
        selection.clear()
        controller.close()


def test_therapists_day_in_the_terminal(tmp_path, monkeypatch, capsys):
    from pointdose.cli import main

    db = tmp_path / "records.sqlite"
    monkeypatch.setenv("POINTDOSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("sys.stdin", open("/dev/null"))
    common = ["--sim", "--hand", "expert", "--headless", "--mute", "--client", "T-0007", "--db", str(db),
              "--point", "upper_trapezius.1:L", "--seconds", str(DEADLINE_S)]

    def sets(params):
        return [x for k, v in params.items() for x in ("--set", f"{k}={v}")]

    assert main(["clients", "add", "T-0007", "--db", str(db)]) == 0
    assert main(["clients", "screen", "T-0007", "--none", "--db", str(db)]) == 0
    assert main(["session", *common, "--protocol", "ppt", *sets(PPT), "--no-pain-prompt"]) == 0
    assert main(["session", *common, "--protocol", "ischemic", *sets(COMPRESSION), "--hand-release", "3",
                 "--pain-before", "5", "--pain-after", "2"]) == 0
    assert main(["session", *common, "--protocol", "ppt", *sets(PPT), "--no-pain-prompt"]) == 0
    out = capsys.readouterr().out
    assert "visit 1 (new)" in out and out.count("visit 1 (continued") == 2
    assert main(["history", "--client", "T-0007", "--db", str(db), "--json"]) == 0
    (hist,) = json.loads(capsys.readouterr().out)
    pair = hist["entries"][0]["within_session"]
    assert pair["before_kpa"] is not None and pair["after_kpa"] is not None
    pdf = tmp_path / "visit.pdf"
    assert main(["report", "--db", str(db), "--session", "1", "--out", str(pdf)]) == 0
    check_report(pdf_text(pdf), "before 5 · after 2")
