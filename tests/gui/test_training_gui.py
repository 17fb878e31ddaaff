"""The Training tab under Xvfb: a drill pressed by the virtual hand on the simulated device; with
feedback off nothing on screen reveals the pressure (frame state and screenshot), with an
intermittent schedule the screen follows the plan frame by frame."""

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
from test_app_gui import TRACE, colour_mask, needs_display, sim_available  # noqa: E402

pytestmark = [pytest.mark.gui, needs_display]


def run_app(tmp_path: Path, schedule: str, seconds: float) -> tuple[dict, np.ndarray]:
    why = sim_available()
    if why:
        pytest.skip(why)
    shot, state = tmp_path / "training.png", tmp_path / "state.json"
    env = dict(os.environ, POINTDOSE_DB=str(tmp_path / "records.sqlite"), POINTDOSE_TRAINING_DEMO=schedule,
               POINTDOSE_TRAINING_STATE=str(state))
    proc = subprocess.run([sys.executable, "-m", "pointdose.cli", "app", "--sim", "--seconds", str(seconds),
                           "--screenshot", str(shot), "--max-fps", "60"],
                          env=env, capture_output=True, text=True, timeout=seconds + 60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(state.read_text()), read_png(shot)


def test_feedback_off_hides_every_view_of_the_pressure(tmp_path):
    state, img = run_app(tmp_path, "none", 10.0)
    (Path(os.environ.get("POINTDOSE_SHOT_DIR", tmp_path)) / "training_off.png").write_bytes((tmp_path / "training.png").read_bytes())
    drill = [f for f in state["log"] if f["phase"] in ("ready", "ramp", "hold", "release", "rest")]
    assert len(drill) > 5, "the drill did not run long enough to judge"  # frames per run: the machine's
    assert any(f["phase"] == "hold" for f in drill)
    for f in drill:
        assert f["feedback_on"] is False and f["model_visible"] is False
        assert f["main_readout"] == "—" and f["main_trace_points"] == 0 and f["panel_trace_points"] == 0
        assert f["kr"] == ""  # a test block shows no result either
    # the screenshot: no trace colour anywhere (neither the Live readout side nor the Training plot)
    assert colour_mask(img, TRACE, tol=30).sum() < 30
    assert state["feedback_log"] == []


def test_intermittent_screen_follows_the_plan(tmp_path):
    state, _ = run_app(tmp_path, "intermittent:1", 25.0)  # generous: the firmware's boot time is the machine's
    planned = state["planned"][0]
    assert sum(planned) == 1
    frames = [f for f in state["log"] if f["trial"] >= 1 and f["phase"] in ("ramp", "hold", "release")]
    trials_seen = {f["trial"] for f in frames}
    assert len(trials_seen) >= 2, "too few trials ran on this machine to compare"
    for f in frames:
        want = planned[f["trial"] - 1]
        assert f["feedback_on"] is want
        if not want:
            assert f["main_readout"] == "—" and f["main_trace_points"] == 0 and f["panel_trace_points"] == 0
    shown = [f for f in frames if f["feedback_on"] and f["phase"] == "hold"]
    if shown:  # the feedback trial ran: the screen showed the pressure then
        assert any(f["main_readout"] != "—" for f in shown) and any(f["panel_trace_points"] > 0 for f in shown)


def test_app_replay_and_follow_the_experts_curve_in_the_training_tab(tmp_path):
    """`pointdose app --replay APP_ID` in one step (the simulated device presses as the recording did),
    and the Training tab's follow drill on it: the replayed expert follows its own curve (AE small),
    the plot shows the expert's curve and the attempt, the scores are shown and kept in the records."""
    why = sim_available()
    if why:
        pytest.skip(why)
    sys.path.insert(0, str(HERE.parent / "e2e"))
    from test_train_follow import record_expert

    from pointdose.training.store import TrainingStore

    db = tmp_path / "records.sqlite"
    app = record_expert(db)
    png, report = tmp_path / "follow.png", tmp_path / "follow.json"
    proc = subprocess.run([sys.executable, str(HERE / "run_follow_app.py"), str(db), str(app), str(png), str(report)],
                          capture_output=True, text=True, timeout=200, cwd=str(tmp_path))
    out = json.loads(report.read_text()) if report.is_file() else {}
    assert proc.returncode == 0 and out.get("ok"), f"{out}\n{proc.stdout}\n{proc.stderr}"
    assert out["banner"].startswith(f"replaying application {app} at 1x, looped")
    assert out["choices"][0].startswith(f"{app} · T-EXPERT · ") and "Upper trapezius" in out["choices"][0]
    assert out["phase"] == "done" and not out["error"] and out["saved"] == "kept in the training records for S-FOLLOW"
    score = out["score"]
    assert score["coverage"] > 0.9 and score["absolute_error"] < 3.0 and abs(score["constant_error"]) < 2.0, score
    assert out["result_text"].startswith("CE ") and " AE " in out["result_text"] and " VE " in out["result_text"]
    assert out["phase_text"] == "FOLLOW DONE" and out["target_points"] > 100 and out["trace_points"] > 100
    ts = TrainingStore.open(db)
    try:
        (attempt,) = ts.follow_attempts("S-FOLLOW")
        assert attempt["score"]["absolute_error"] == pytest.approx(score["absolute_error"])
    finally:
        ts.close()
    img = read_png(png)
    assert colour_mask(img, TRACE, tol=30).sum() > 200  # the attempt's trace is drawn


@pytest.mark.parametrize("args,needle", [
    (["--replay", "999"], "no application 999"),
    (["--replay", "1", "--speed", "nan"], "--speed"),
    (["--replay", "1", "--port", "/dev/null"], "drop --port"),
    (["--sim", "--speed", "2"], "--speed goes with --replay"),
])
def test_app_replay_bad_inputs_get_one_line(tmp_path, args, needle):
    sys.path.insert(0, str(HERE.parent / "e2e"))
    from test_train_follow import record_expert

    db = tmp_path / "records.sqlite"
    record_expert(db)
    p = subprocess.run([sys.executable, "-m", "pointdose.cli", "app", "--db", str(db), "--seconds", "1", *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and needle in p.stderr and "Traceback" not in p.stderr, p.stderr


def record_blocks(db: Path, code: str, levels: list[tuple[str, float]]) -> None:
    """``code``'s blocks in the records: each 3 trials pressed at ``level`` × the target."""
    sys.path.insert(0, str(HERE.parent / "host"))
    from test_training import drive

    from pointdose.training import Block, Schedule, preset
    from pointdose.training.runner import BlockRun
    from pointdose.training.store import TrainingStore

    ts = TrainingStore.open(db)
    try:
        ts.add_student(code)
        session = ts.start_session(code)
        d = preset("moderate", trials=3, ramp_s=1.0, hold_s=1.0, release_s=0.5, rest_s=0.5)
        for position, (kind, level) in enumerate(levels):
            block = Block(kind, d, Schedule.none())
            ts.begin_block(session, position, block)
            run = BlockRun(block, get_ready_s=0.5)
            run.start(0.0)
            drive(run, lambda t, level=level: d.target * level)
            for rec in run.results:
                ts.save_trial(rec)
            ts.end_block(block.uid)
    finally:
        ts.close()


def test_block_by_block_plot_shows_a_marker_per_block(tmp_path):
    """The student's blocks are drawn as markers in their kind's colour inside the plot; the first
    block (the largest error, top left) is not hidden under a legend."""
    why = sim_available()
    if why:
        pytest.skip(why)
    from pointdose.app.panels.training import KIND_COLOURS

    db, png, report = tmp_path / "records.sqlite", tmp_path / "progress.png", tmp_path / "progress.json"
    record_blocks(db, "S-PROG", [("pre-test", 1.3), ("practice", 1.15), ("practice", 1.05), ("post-test", 0.9)])
    proc = subprocess.run([sys.executable, str(HERE / "run_progress_app.py"), str(db), str(png), str(report)],
                          capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    out = json.loads(report.read_text()) if report.is_file() else {}
    assert proc.returncode == 0 and out.get("ok"), f"{out}\n{proc.stdout}\n{proc.stderr}"
    (Path(os.environ.get("POINTDOSE_SHOT_DIR", tmp_path)) / "training_progress.png").write_bytes(png.read_bytes())
    assert out["student"] == "S-PROG"
    assert {s["label"]: len(s["value"][0]) for s in out["series"]} == {"pre-test": 1, "practice": 2, "post-test": 1}
    img = read_png(png)
    (x0, y0), (w, h) = out["plot_min"], out["plot_size"]
    inside = img[y0:y0 + h, x0:x0 + w]
    centres = {}
    for kind, n in (("pre-test", 1), ("practice", 2), ("post-test", 1)):
        mask = colour_mask(inside, np.array(KIND_COLOURS[kind]), tol=30)
        assert mask.sum() >= 40 * n, f"{kind}: {mask.sum()} marker pixels inside the plot"
        ys, xs = np.nonzero(mask)
        centres[kind] = (xs.mean(), ys.mean())
    # blocks in order left to right; the pre-test's larger error is drawn higher than the post-test's
    assert centres["pre-test"][0] < centres["practice"][0] < centres["post-test"][0]
    assert centres["pre-test"][1] < centres["post-test"][1]
