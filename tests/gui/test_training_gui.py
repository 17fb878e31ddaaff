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
