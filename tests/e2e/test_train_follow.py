"""Follow an expert's curve (``pointdose train follow``): the target is a recorded application's
pressure trace, scored with CE/AE/VE over the trace. The e2e case replays the expert's own
application through the simulated device (``sim --replay``) as the "student": it must follow
the curve almost exactly."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pointdose.errors import UserError
from pointdose.listeners import SAMPLE_DTYPE
from pointdose.records.store import Store
from pointdose.training.follow import Curve, curve_from_records, curve_from_trace, follow_live, score_follow

RATE = 200.0
# the expert: rest, press to 200 kPa in 1.5 s, ischaemic hold easing 200 -> 180 over 2 s, release
PROFILE = [(0.0, 0.0), (0.5, 0.0), (2.0, 200.0), (4.0, 180.0), (5.0, 0.0), (5.5, 0.0)]


def _kpa(t):
    ts, ys = zip(*PROFILE)
    return np.interp(t, ts, ys)


def record_expert(db, area=1.0) -> int:
    t = np.arange(0, int(PROFILE[-1][0] * RATE) + 1) / RATE + 50.0
    rows = np.zeros(len(t), SAMPLE_DTYPE)
    rows["seq"] = np.arange(len(t))
    rows["t_s"] = t
    rows["pressure_kpa"] = _kpa(t - t[0])
    rows["force_n"] = rows["pressure_kpa"] * area / 10.0
    with Store(db) as store:
        cid = store.add_client("T-EXPERT")
        sid = store.start_session(cid)
        point = store.point(cid, "upper_trapezius.1", "L")
        app = store.begin_application(sid, point, t_start_s=float(t[0]), probe_area_cm2=area)
        with store.transaction("test samples") as conn:
            Store.write_samples(conn, app, rows)
        store.end_application(app, float(t[-1]), "completed", {})
    return app


def test_follow_scores_are_ce_ae_ve_over_the_trace():
    curve = Curve(np.array([0.0, 10.0]), np.array([100.0, 100.0]), "flat")
    t = np.arange(0, 1001) / 100.0
    # 5 kPa too light throughout, plus an alternating ±3: CE -5, AE 5 (|−2| and |−8| average 5), VE 3
    y = 95.0 + np.where(np.arange(len(t)) % 2 == 0, 3.0, -3.0)
    s = score_follow(t, y, curve)
    assert s.constant_error == pytest.approx(-5.0, abs=0.01)
    assert s.absolute_error == pytest.approx(5.0, abs=0.01)
    assert s.variable_error == pytest.approx(3.0, abs=0.01)
    assert s.total_error ** 2 == pytest.approx(s.constant_error ** 2 + s.variable_error ** 2)
    assert s.coverage == pytest.approx(1.0) and s.notes == ()
    # a moving target: following it exactly is no error; samples outside the curve's time are not scored
    ramp = Curve(np.array([0.0, 2.0]), np.array([0.0, 200.0]), "ramp")
    t2 = np.linspace(-1, 3, 401)
    s2 = score_follow(t2, np.interp(t2, [0, 2], [0, 200]), ramp)
    assert s2.absolute_error == pytest.approx(0.0, abs=1e-9) and s2.n == 201
    # half the curve missing: covered 50 %, said so
    s3 = score_follow(t[t < 5], y[t < 5], curve)
    assert s3.coverage == pytest.approx(0.5, abs=0.01) and "50 %" in s3.notes[0]


def test_expert_curve_runs_from_first_to_last_contact(tmp_path):
    db = tmp_path / "records.sqlite"
    app = record_expert(db)
    with Store(db, readonly=True) as store:
        c = curve_from_records(store, app, contact_kpa=10.0)
        with pytest.raises(UserError, match="no application 999"):
            curve_from_records(store, 999)
    # contact at 10 kPa: 0.5 + 10/200*1.5 = 0.575 s; release below it at 5 - 10/180 s
    assert c.t_s[0] == 0.0 and c.kpa[0] >= 10.0
    assert c.duration_s == pytest.approx((5.0 - 10 / 180) - 0.575, abs=0.011)
    assert c.kpa.max() == pytest.approx(200.0)
    with pytest.raises(UserError, match="no contact"):
        curve_from_trace([0, 1, 2], [0, 1, 0], "limp", contact_kpa=10.0)


@pytest.mark.needs_unix_port
def test_replayed_expert_follows_its_own_curve_on_the_simulated_device(make_sim, tmp_path):
    from pointdose.link import DeviceLink
    from pointdose.sim import replay
    from pointdose.training.live import RingRows, converter

    db = tmp_path / "records.sqlite"
    app = record_expert(db)
    with Store(db, readonly=True) as store:
        curve = curve_from_records(store, app, contact_kpa=10.0)
    sim = make_sim(replay=replay.load(str(app), db=str(db)))
    lines = []
    with DeviceLink(sim.port) as link:
        link.start()
        rows = RingRows(link.ring, converter(link, 1.0), 1.0)
        score, t, y = follow_live(rows, curve, contact_kpa=10.0, on_line=lines.append, wait_s=30.0)
    # contents, not speed (the unix port's samples come when it gets the CPU): the attempt spans the
    # whole curve, and every sample lies on the expert's trace at its device time
    inside = (t >= 0) & (t <= curve.duration_s)
    assert score.n == int(inside.sum()) > 100 and t[inside][-1] > curve.duration_s - 0.1
    assert np.abs(y[inside] - curve.at(t[inside])).max() < 3.0
    assert score.absolute_error < 2.0 and abs(score.constant_error) < 1.0, score  # slope 133 kPa/s: < 1 sample off
    assert score.total_error ** 2 == pytest.approx(score.constant_error ** 2 + score.variable_error ** 2)
    assert lines[0].startswith(f"press when ready: follow application {app}")
    assert len([x for x in lines if " expert " in x]) == int(curve.duration_s) + 1


@pytest.mark.parametrize("args,needle", [
    (["999", "--sim"], "no application 999"),
    (["abc", "--sim"], "is not a number"),
    (["1", "--probe-area", "nan", "--sim"], "probe"),
    (["1", "--port", "/dev/null", "--sim"], "either --port or --sim"),
])
def test_bad_follow_inputs_get_one_line(tmp_path, args, needle):
    db = tmp_path / "records.sqlite"
    record_expert(db)
    p = subprocess.run([sys.executable, "-m", "pointdose.cli", "train", "--db", str(db), "follow", *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in p.stderr, p.stderr


class _Rows:
    """Fake RingRows: the expert's own trace, 0.5 s of rest first, in 50 ms chunks."""

    def __init__(self, area=1.0):
        t = np.arange(0, int(PROFILE[-1][0] * RATE) + 1) / RATE
        self.rows = np.zeros(len(t), SAMPLE_DTYPE)
        self.rows["t_s"] = t + 1000.0
        self.rows["pressure_kpa"] = _kpa(t)
        self.rows["force_n"] = self.rows["pressure_kpa"] * area / 10.0
        self.i = 0

    def take(self):
        chunk = self.rows[self.i:self.i + 10]
        self.i += 10
        return chunk


def test_follow_runner_saves_the_attempt_to_the_training_records(tmp_path):
    """The app's follow drill (FollowRunner on its thread) ends with the score over the trace and is
    kept in the training records like other drills: a 'follow' block with its samples and the whole
    score, listed by follow_attempts and left out of the block-of-trials scores."""
    from pointdose.training.follow import FollowRunner
    from pointdose.training.store import TrainingStore

    db = tmp_path / "records.sqlite"
    app = record_expert(db)
    ts = TrainingStore.open(db)
    try:
        ts.add_student("S-01")
        curve = curve_from_records(ts.store, app, contact_kpa=10.0)
        session_uid = ts.start_session("S-01")
        saved = []
        runner = FollowRunner(_Rows(), curve, contact_kpa=10.0, wait_s=30.0,
                              on_done=lambda r: saved.append(ts.save_follow(session_uid, r.curve, r.score,
                                                                            r.attempt.rows(), probe_area_cm2=1.0)))
        assert runner.start_thread().finished.wait(30) and runner.phase == "done", runner.error
        assert runner.score.absolute_error < 0.5 and runner.score.coverage > 0.95 and not runner.error, runner.error
        (attempt,) = ts.follow_attempts("S-01")
        assert attempt["block_uid"] == saved[0] and attempt["source"] == f"application {app}"
        assert attempt["score"]["absolute_error"] == pytest.approx(runner.score.absolute_error)
        assert attempt["score"]["variable_error"] == pytest.approx(runner.score.variable_error)
        assert attempt["in_band_pct"] > 95  # its own curve: within ±10 % of the expert nearly everywhere
        (trial,) = ts.trials(student="S-01")
        assert trial["block"] == "follow" and trial["error"] == pytest.approx(runner.score.constant_error)
        samples = ts.trial_samples(trial["uid"])
        assert len(samples) == len(runner.attempt.rows()) and samples["pressure_kpa"][0] >= 10.0
        assert ts.block_scores(student="S-01") == []  # not a block of trials: no misleading AE from one trial
        # exported and merged like other drills
        out = tmp_path / "export.csv"
        assert ts.export_csv(out, student="S-01") == 1
    finally:
        ts.close()
    other = TrainingStore.open(tmp_path / "other.sqlite")
    try:
        report = other.import_csv(out)
        assert report.trials_added == 1 and other.trials(student="S-01")[0]["block"] == "follow"
    finally:
        other.close()
    # nobody pressed: no contact, nothing saved
    quiet = _Rows()
    quiet.rows["pressure_kpa"] = 0.0
    runner = FollowRunner(quiet, curve, contact_kpa=10.0, wait_s=0.5, on_done=lambda r: pytest.fail("saved"))
    assert runner.start_thread().finished.wait(10) and runner.phase == "no contact" and runner.score is None


@pytest.mark.needs_unix_port
def test_terminal_follow_keeps_the_attempt_for_a_student(make_sim, tmp_path):
    """`train follow APP --student CODE` on a device replaying the expert: scored, and kept in the
    student's training records as the app does; an unknown student is one line before any device."""
    from pointdose.sim import replay
    from pointdose.training.store import TrainingStore

    db = tmp_path / "records.sqlite"
    app = record_expert(db)
    ts = TrainingStore.open(db)
    ts.add_student("S-02")
    ts.close()
    sim = make_sim(replay=replay.load(str(app), db=str(db)))
    p = subprocess.run([sys.executable, "-m", "pointdose.cli", "train", "--db", str(db), "follow", str(app),
                        "--port", sim.port, "--student", "S-02", "--wait", "60"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "kept in S-02's training records" in p.stdout
    ts = TrainingStore.open(db)
    try:
        (attempt,) = ts.follow_attempts("S-02")
        assert attempt["source"] == f"application {app}" and attempt["score"]["absolute_error"] < 3.0
    finally:
        ts.close()
    p = subprocess.run([sys.executable, "-m", "pointdose.cli", "train", "--db", str(db), "follow", str(app),
                        "--sim", "--student", "NOBODY"], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "no student 'NOBODY'" in p.stderr and "Traceback" not in p.stderr
