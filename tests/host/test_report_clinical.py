"""The report's clinical record: findings, PPT beside norms, reference site, L/R asymmetry and
reliability with a Bland–Altman plot — read back with pdftotext and checked by pixels."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pointdose.cli import main
from pointdose.records import RecordingListener, Store, clinical
from pointdose.records.demo import hold_profile, record, synth_rows
from pointdose.records.report import BA_BIAS_RGB

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gui"))
from pngread import read_png  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
                                reason="needs poppler-utils (pdftoppm, pdftotext)")

# per session: (upper trapezius L trials, R trials, infraspinatus L trials)
TRIALS = [([210, 222, 216], [262, 275, 270], [300, 312, 306]),
          ([236, 230, 244], [280, 268, 277], [330, 318, 327])]


def _visit(store, cid, when, trials, seed):
    sid = store.start_session(cid, started_at=when)
    listener = RecordingListener(store, session_id=sid, autoflush=False)
    for k, (point, tr) in enumerate(zip(("upper_trapezius.1:L", "upper_trapezius.1:R", "infraspinatus.1:L"), trials)):
        rows = synth_rows(hold_profile(0.8 * sum(tr) / 3, hold_s=8.0), 50.0, seed=seed + k)
        t0 = float(rows["t_s"][0])
        record(listener, point, rows, events=[(t0, "ppt", {"kpa": sum(tr) / 3, "stage": "before", "ramp_kpa_s": 50.0,
                                                            "repeats": tr})], pain=(5, 3))
    listener.close()
    return sid


@pytest.fixture
def clinic_db(tmp_path):
    db = tmp_path / "records.sqlite"
    with Store(db) as store:
        cid = store.add_client("CL-1")
        s1 = _visit(store, cid, "2025-09-01T10:00:00+00:00", TRIALS[0], 1)
        s2 = _visit(store, cid, "2025-09-08T10:00:00+00:00", TRIALS[1], 10)
        utl = store.find_point(cid, "upper_trapezius.1:L")
        utr = store.find_point(cid, "upper_trapezius.1:R")
        clinical.add_finding(store, utl, s2, "active", taut_band=True, local_twitch=False,
                             referred_text="temple", referred_region="head")
        clinical.set_reference(store, utl, utr)
    return db, s1, s2


def _text(pdf):
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True,
                          timeout=60).stdout


def test_report_has_the_clinical_record_with_a_bland_altman_plot(clinic_db, tmp_path):
    db, s1, s2 = clinic_db
    out = tmp_path / "s2.pdf"
    assert main(["report", "--session", str(s2), "--db", str(db), "--out", str(out)]) == 0
    text = " ".join(_text(out).split())  # wrapped lines joined
    for needle in ("Clinical record", "Trigger-point findings: active TrP · taut band yes · local twitch no · refers: "
                   "temple, head", "PPT 237 kPa · norm 423 ± 205 kPa",
                   "Persson et al. 2004", "Bordachar et al. 2019", "Reference site",
                   "Upper trapezius TrP1 (R): PPT 275 kPa (2025-09-08); this point − reference −38 kPa",
                   "Left/right asymmetry", "Upper trapezius TrP1: L 237 kPa, R 275 kPa; L − R −38 kPa, L/R 0.86 "
                   "(lower on the left)", "Reliability across sessions", "ICC(2,1)", "SEM", "MDC95",
                   "Trial-to-trial reliability at this point", "trial 2 − trial 1", "limits of agreement",
                   "Session-to-session reliability", "Pain (0–10) before 5 · after 3"):
        assert needle in text, needle
    # the numbers are the ones the pure functions give for the same tables
    from pointdose.records import reliability as rel

    trial = rel.reliability([TRIALS[0][0], TRIALS[1][0]])
    assert f"ICC(2,1) {trial.icc:.2f}" in text
    between = rel.reliability([[sum(a) / 3, sum(b) / 3] for a, b in zip(TRIALS[0], TRIALS[1])])
    assert f"ICC(2,1) {between.icc:.2f} (ICC(3,1) {between.icc_consistency:.2f}), SEM {between.sem:.0f} kPa" in text
    # the Bland–Altman plots are drawn: the bias line's colour is on the page, in long horizontal runs
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(out), str(tmp_path / "page")], check=True, timeout=60)
    bias_rows = 0
    for png in sorted(tmp_path.glob("page-*.png")):
        img = read_png(png)[:, :, :3].astype(int)
        m = (np.abs(img - np.array(BA_BIAS_RGB)) <= 40).all(axis=2)
        bias_rows += int((m.sum(axis=1) > 150).sum())  # a line over most of the 110 mm plot (≈ 260 px)
    assert bias_rows >= 4  # four plots: three points' trials and the sessions


def test_first_session_says_what_is_missing(clinic_db, tmp_path):
    db, s1, _ = clinic_db
    with Store(db) as store:  # forget the second session: now only one session has PPTs
        store.query("DELETE FROM sessions WHERE started_at > '2025-09-02'")
    out = tmp_path / "s1.pdf"
    assert main(["report", "--session", str(s1), "--db", str(db), "--out", str(out)]) == 0
    text = " ".join(_text(out).split())
    assert "needs ≥ 2 sessions with PPT at this point" in text
    assert "needs ≥ 2 points with a PPT in both sessions" in text
    assert "Trigger-point findings: not recorded this session" in text
