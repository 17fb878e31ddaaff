"""The Session tab's end-of-run summary (pointdose.app.model, no dpg), from the engine's own summary."""

from __future__ import annotations

from pointdose.app.model import run_summary_lines


def test_summary_shows_dose_contact_time_in_band_cycles_and_the_end():
    summary = {"end_reason": "completed", "duration_s": 95.04, "cycles_done": 2, "cycles": 3,
               "dose_kpa_s": 18234.4, "contact_s": 88.26, "time_in_band_s": 61.94}
    lines = run_summary_lines(summary, "stopped (STOP button)")
    text = "\n".join(lines)
    assert "Ended: stopped (STOP button)" in text  # the runner's reason wins over the engine's
    assert "duration 95.0 s" in text and "cycles 2 of 3" in text
    assert "dose 18234 kPa·s" in text and "contact 88.3 s" in text and "time in band 61.9 s" in text


def test_missing_numbers_show_a_dash_and_no_summary_before_the_end():
    assert run_summary_lines({}) == []
    text = "\n".join(run_summary_lines({"end_reason": "alarm: over the limit", "dose_kpa_s": None}))
    assert "Ended: alarm: over the limit" in text and "dose — kPa·s" in text
