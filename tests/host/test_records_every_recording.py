"""Every way an application can be recorded gives a report and an export (issue 12): the app's body-map
point, a terminal body-map id, free text (its side kept), no point at all, a PPT, an ischemic
compression (its band, time in band, cues and pain stored and shown). Runner on a fake link: no real time."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from pointdose.protocols import PointContext, builtin
from pointdose.records import RecordingListener, Store, selection
from pointdose.records.recording import open_recording
from pointdose.records.exporting import export_client
from pointdose.records.guided import guided
from pointdose.records.report import session_report
from pointdose.session import SessionRunner
from test_session_runner import FakeLink, drive


def ischemic_profile(ts):
    """Press to 262 kPa in 1 s, hold it, off at 7 s."""
    return np.where(ts < 1, 262 * ts, np.where(ts < 7, 262.0, 0.0))


def ppt_profile(ts):
    cyc = np.mod(ts, 6.0)
    return np.where(cyc < 4.0, 50 * cyc, 0.0)


def run(store, session_id, protocol, point_name="", info=None, profile=ischemic_profile, t_end=16.0, on_step=None,
        listener=None):
    listener = listener or RecordingListener(store, session_id=session_id, autoflush=False)
    link = FakeLink()
    link.push([0.0], [0.0])
    runner = SessionRunner(link, protocol, PointContext(name=point_name), listeners=[listener],
                           info_extra=dict(info or {}))
    hook = on_step(runner) if on_step else None
    drive(runner, link, t_end, profile, on_step=hook)
    if not runner.done.is_set():
        runner.stop("test over")
    runner.close()
    listener.close()
    return listener.last_application_id


def ischemic():
    return builtin("ischemic", target="262 kPa", tolerance_pct=10, hold_s=5, release_s=1, rest_s=1, cycles=1)


def pain_at_3s(runner):
    done = []

    def step(t):
        if t >= 3.0 and not done:
            done.append(t)
            runner.signal("rating", 4, t_s=t, source="keyboard")
    return step


def pain_signal_each_trial(runner):
    seen = set()

    def step(t):
        k = int(t // 6.0)
        if t % 6.0 >= 3.6 and k not in seen:
            seen.add(k)
            runner.signal("pain", t_s=t - (t % 6.0) + 3.4, source="keyboard")
    return step


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "r.sqlite")
    yield s
    s.close()


def test_each_way_of_recording_reports_and_exports(store, tmp_path):
    cid = store.add_client("DAY-1")
    sid = store.start_session(cid)
    map_point = store.point(cid, "upper_trapezius.1", "R")
    # the app: the point picked on the body map (records.selection) is what the Session tab records to
    selection.update(db_path=str(store.path), client_id=cid, client_code="DAY-1", session_id=sid, point_id=map_point,
                     point_label="Upper trapezius TrP1")
    try:
        rec = open_recording()
        assert "client DAY-1" in rec.where
        try:
            gui = run(store, sid, ischemic(), info=rec.info_extra, on_step=pain_at_3s, listener=rec.listener)
        finally:
            rec.close()
    finally:
        selection.clear()
    apps = {
        "gui": gui,
        "terminal map id": run(store, sid, ischemic(), "upper_trapezius.1:L"),
        "free text": run(store, sid, ischemic(), "upper trapezius L"),
        "no point": run(store, sid, ischemic(), ""),
        "ppt": run(store, sid, builtin("ppt", trials=2, rest_s=1.0), "levator scapulae (R)", profile=ppt_profile,
                   t_end=14.0, on_step=pain_signal_each_trial),
    }
    assert None not in apps.values()
    by_id = {a["id"]: a for a in store.applications(session_id=sid)}
    free = by_id[apps["free text"]]
    assert (free["location"], free["point_label"], free["side"]) == ("unplaced", "upper trapezius", "L")
    assert by_id[apps["ppt"]]["side"] == "R"
    assert by_id[apps["terminal map id"]]["side"] == "L"
    # the band of an ischemic compression is stored and its time in band counted
    gui = by_id[apps["gui"]]
    assert (gui["point_id"], gui["side"]) == (map_point, "R")
    assert gui["band_low_kpa"] == pytest.approx(235.8) and gui["band_high_kpa"] == pytest.approx(288.2)
    assert gui["metrics"]["in_band_s"] > 4.0
    g = guided(store, gui)
    assert g.target_kpa == pytest.approx(262.0) and g.band_text() == "236–288 kPa (target 262)"
    assert g.time_in_band_s > 4.0 and g.cues >= 3 and g.pain == {"during": [4]}
    assert guided(store, by_id[apps["ppt"]]).bands == []

    pdf = session_report(store, sid, tmp_path / "day.pdf")
    assert pdf.stat().st_size > 1000
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "236–288 kPa (target 262)" in text and "no band set" not in text.split("levator")[0]
        assert "upper trapezius (L)" in text and "levator scapulae (R)" in text and "unnamed point" in text
        assert "during 4 ·" in text  # the pain rating during the GUI's compression

    files = export_client(store, "DAY-1", tmp_path / "export")
    csv_text = next(p for p in files if p.name == "points.csv").read_text()
    header, *lines = csv_text.splitlines()
    assert "target_kpa" in header and "235.8" in csv_text and "288.2" in csv_text
    assert len(lines) == len(apps)


def test_a_free_text_point_is_found_again_with_its_side(store):
    cid = store.add_client("DAY-2")
    sid = store.start_session(cid)
    run(store, sid, builtin("ppt", trials=2, rest_s=1.0), "upper trapezius L", profile=ppt_profile, t_end=14.0,
        on_step=pain_signal_each_trial)
    left = store.find_point(cid, "upper trapezius left")
    assert left is not None and store.point_row(left)["side"] == "L"
    assert store.find_point(cid, "upper trapezius R") is None  # the other side is another point
