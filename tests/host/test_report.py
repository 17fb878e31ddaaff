"""The session PDF, rendered to PNG with pdftoppm and checked: thumbnails drawn, body map marked,
and the text (pdftotext) carrying units, the calibration's stated error and PPT noise labels."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pointdose.cli import main
from pointdose.records import RecordingListener, Store
from pointdose.records.demo import hold_profile, make_demo, record, synth_rows
from pointdose.records.report import GAP_RGB, POINT_RGB, TRACE_RGB

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gui"))
from pngread import read_png  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
                                reason="needs poppler-utils (pdftoppm, pdftotext): apt-get install poppler-utils")


def mask(img, rgb, tol=40):
    return (np.abs(img[:, :, :3].astype(int) - np.array(rgb)) <= tol).all(axis=2)


def render(pdf: Path, tmp_path: Path) -> list[np.ndarray]:
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    return [read_png(p) for p in sorted(tmp_path.glob("page-*.png"))]


def text_of(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True,
                          timeout=60).stdout


@pytest.fixture
def demo_store(tmp_path):
    store = Store(tmp_path / "records.sqlite")
    make_demo(store, "REP-1", sessions=2)
    store.query("UPDATE clients SET name='Secret Name'")
    yield store
    store.close()


def test_pdf_renders_with_thumbnails_body_map_and_labelled_numbers(demo_store, tmp_path, capsys):
    out = tmp_path / "r.pdf"
    assert main(["report", "--session", "2", "--out", str(out), "--db", str(demo_store.path), "--unit", "kgf/cm2"]) == 0
    pages = render(out, tmp_path)
    assert len(pages) == 2  # the applications, then the clinical record (findings, norms, reliability)
    page = pages[0]
    h, w = page.shape[:2]
    assert abs(h - 702) <= 1 and abs(w - 496) <= 1  # A4 (210 × 297 mm) at 60 dpi
    trace = mask(page, TRACE_RGB)
    rows = np.flatnonzero(trace.any(axis=1))
    # three applications → three thumbnails, each a band of rows with the blue trace, left half of the page
    bands = np.split(rows, np.flatnonzero(np.diff(rows) > 5) + 1)
    assert len(bands) == 3, [(b[0], b[-1]) for b in bands]
    for b in bands:
        cols = np.flatnonzero(trace[b[0]:b[-1] + 1].any(axis=0))
        assert cols.min() > 40 and cols.max() < w / 2 and cols.max() - cols.min() > 120  # spans the thumbnail
    # body map: orange dots in the top third where the figures are
    dots = mask(page, POINT_RGB, tol=30)
    assert dots[: h // 3].sum() > 20 and dots[h // 3:].sum() == 0

    text = text_of(out)
    for needle in ("pointdose — session report", "Client: REP-1", "Upper trapezius TrP1 (L)", "Upper trapezius TrP1 (R)",
                   "Infraspinatus TrP1 (upper) (L)", "kPa·s", "Dose (descriptive)", "Contact time", "until < 5 kPa",
                   "demo-linear-1", "Stated error: ±0.4 N", "PPT before → after", "no error estimate", "MDC95",
                   "Hold stability (CV)", "Cycles, cues", "cue(s) given", "kgf/cm²", "Pain (0–10)", "before"):
        assert needle in text, needle
    assert "Secret Name" not in text


def test_report_of_an_interrupted_application_with_a_gap(tmp_path):
    with Store(tmp_path / "records.sqlite") as store:
        cid = store.add_client("REP-2")
        sid = store.start_session(cid)
        listener = RecordingListener(store, session_id=sid, autoflush=False)
        rows = synth_rows(hold_profile(180.0, hold_s=20.0), 100.0, drop=(1000, 1300))
        record(listener, {"location": "gastrocnemius.3", "side": "L"}, rows, reason="alarm: over the limit")
        pdf = store.path.parent / "r.pdf"
        from pointdose.records.report import session_report

        session_report(store, sid, pdf)
    text = text_of(pdf)
    assert "Stream gaps" in text and "3.01 s" in text and "not integrated" in text
    assert "alarm: over the limit" in text and "caution: popliteal fossa" in text
    assert "error unknown" not in text and "Stated error: ±0.4 N" in text
    (page,) = render(pdf, tmp_path)
    gap = mask(page, GAP_RGB, tol=12)
    cols = np.flatnonzero(gap.any(axis=0))
    assert cols.size >= 3  # the 3 s gap is shaded in the thumbnail (38 s wide), not bridged by the trace
    assert not mask(page, TRACE_RGB)[:, cols[1]:cols[-1]].any()


def test_many_points_flow_onto_more_pages(tmp_path):
    with Store(tmp_path / "records.sqlite") as store:
        cid = store.add_client("REP-3")
        sid = store.start_session(cid)
        listener = RecordingListener(store, session_id=sid, autoflush=False)
        for k, loc in enumerate(["upper_trapezius.1", "upper_trapezius.2", "levator_scapulae.upper", "infraspinatus.1",
                                 "rhomboids.upper", "gluteus_medius.1", "piriformis.lateral"]):
            rows = synth_rows(hold_profile(150.0, hold_s=10.0), 50.0, t0_s=100.0 * k, seed=k)
            record(listener, {"location": loc, "side": "R"}, rows)
        from pointdose.records.report import session_report

        pdf = session_report(store, sid, tmp_path / "many.pdf")
    pages = render(pdf, tmp_path)
    assert len(pages) >= 2
    thumbs = sum(len(np.split(r, np.flatnonzero(np.diff(r) > 5) + 1))
                 for r in (np.flatnonzero(mask(p, TRACE_RGB).any(axis=1)) for p in pages) if r.size)
    assert thumbs == 7


def test_report_says_what_an_application_started_under(tmp_path):
    """The cautions acknowledged and the client's own PPT a %PPT target used (issue 10)."""
    with Store(tmp_path / "records.sqlite") as store:
        cid = store.add_client("REP-3")
        sid = store.start_session(cid)
        pid = store.point(cid, "suboccipitals", "L")
        ppt_id = store.add_ppt(pid, sid, 180.0, probe_area_cm2=1.0, ramp_kpa_s=50.0, n=3, planned=3)
        listener = RecordingListener(store, session_id=sid, autoflush=False)
        cautions = {"findings": [{"key": "suboccipital", "origin": "location", "action": "acknowledge", "text": "t",
                                  "max_kpa": 200.0}], "acknowledged": True}
        rows = synth_rows(hold_profile(150.0, hold_s=10.0), 100.0)
        listener.on_application_start({"point_id": pid, "protocol": "holds", "probe_area_cm2": 1.0,
                                       "t_s": float(rows["t_s"][0]), "ppt_id": ppt_id, "cautions": cautions})
        listener.on_samples(rows)
        listener.on_application_end(float(rows["t_s"][-1]), "completed", {})
        listener.close()
        pdf = store.path.parent / "r3.pdf"
        from pointdose.records.report import session_report

        session_report(store, sid, pdf)
    text = " ".join(text_of(pdf).split())
    assert "Cautions acknowledged suboccipital" in text
    assert "%PPT targets from PPT 180 kPa, measured 20" in text and "this client" in text
