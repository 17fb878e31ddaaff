"""The Points and History tabs' text (pointdose.app.model, no dpg): time under pressure, the protocol column."""

from __future__ import annotations

from pointdose.app.model import HISTORY_COLUMNS, history_cells, treated_lines, under_pressure
from pointdose.records import Store, history
from pointdose.records.demo import make_demo


def test_time_under_pressure_reads_in_seconds_then_minutes():
    assert under_pressure(0) == "0 s" and under_pressure(44.6) == "45 s"
    assert under_pressure(60) == "1 min 00 s" and under_pressure(125.2) == "2 min 05 s"
    assert under_pressure(-1) == "0 s"


def test_treated_points_list_dose_and_time_under_pressure_largest_dose_first():
    lines = treated_lines([("Upper trapezius TrP1 (L)", 11086.4, 71.5), ("Infraspinatus TrP1 (R)", 24883.0, 102.0)])
    assert lines == ["Infraspinatus TrP1 (R):\n  24,883 kPa·s · 1 min 42 s under pressure",
                     "Upper trapezius TrP1 (L):\n  11,086 kPa·s · 1 min 12 s under pressure"]
    assert len(treated_lines([(f"p{i}", float(i), 1.0) for i in range(12)])) == 8


def test_history_rows_show_the_protocol_with_the_date_and_units_in_the_cells(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        make_demo(store, "DEMO-01", sessions=2)
        point = store.points(store.client("DEMO-01")["id"])[0]
        entries = history.point_history(store, point["id"]).entries
    assert [h for h, _ in HISTORY_COLUMNS] == ["date · protocol", "duration · contact", "dose · PPT",
                                               "PPT change (vs MDC95)"]
    first = entries[0]
    assert first.protocol  # the demo records which protocol each application ran
    date, times, dose = history_cells(first)
    assert date == f"{first.date}\n{first.protocol}"
    assert times == f"{first.duration_s:.0f} s\n{first.contact_s:.1f} s"
    assert dose.startswith(f"{first.dose_kpa_s:,.0f} kPa·s\n") and dose.endswith(" kPa") and "→" in dose


def test_a_history_row_without_protocol_or_ppt_says_so():
    e = history.Entry(application_id=1, session_id=1, date="2026-01-02", protocol=None, end_reason="completed",
                      duration_s=30.0, contact_s=25.04, dose_kpa_s=5000.0, peak_kpa=None, mean_contact_kpa=None,
                      in_band_pct=None, gaps=0, probe_area_cm2=1.0, calibration_id=None)
    assert history_cells(e) == ("2026-01-02\n—", "30 s\n25.0 s", "5,000 kPa·s\nPPT —")
