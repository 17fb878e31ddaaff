"""The Training tab's pure helpers (pointdose.app.model, no dpg): whole-trial trace, feedback note, score help."""

from __future__ import annotations

import numpy as np

from pointdose.app.model import SCORE_HELP, feedback_note, training_hidden_note, trial_trace
from pointdose.training.runner import SAMPLE_DTYPE


def chunk(t0: float, n: int, dt: float = 0.01) -> np.ndarray:
    rows = np.zeros(n, dtype=SAMPLE_DTYPE)
    rows["t_s"] = t0 + dt * np.arange(n)
    return rows


def test_the_whole_trial_is_shown_not_just_the_last_chunks():
    # 30 chunks of 0.1 s from 0.5 s before the trial's start: the old view kept the last 8 (0.8 s)
    chunks = [chunk(9.5 + 0.1 * k, 10) for k in range(30)]
    rows = trial_trace(chunks, 10.0)
    assert rows["t_s"].min() >= 10.0 and abs(rows["t_s"].min() - 10.0) < 1e-9
    assert len(rows) == 250 and rows["t_s"].max() > 12.4  # 2.5 s of trial, every sample
    assert trial_trace([], 10.0) is None


def test_feedback_off_is_said_only_while_the_student_presses():
    assert feedback_note("hold", False, True) == "feedback off — press by feel"
    assert feedback_note("ramp", True, True) == "FEEDBACK ON"
    for phase in ("rest", "ready", "done", "stopped", "idle"):
        assert feedback_note(phase, False, True) == "", phase  # rest of a constant-feedback drill too
    assert feedback_note("hold", False, False) == ""  # the drill has ended


def test_scores_are_explained_in_place():
    for name in ("CE", "AE", "VE", "E²"):
        assert name in SCORE_HELP


def test_the_hidden_readout_says_feedback_off_only_while_pressing():
    assert training_hidden_note("hold") == "feedback off (training)"
    assert "feedback off" not in training_hidden_note("rest")  # rest of a constant-feedback drill
    assert "feedback off" not in training_hidden_note("ready")
