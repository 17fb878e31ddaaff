"""pointdose.metrics against traces whose answers can be worked out by hand (docs/metrics.md)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointdose import metrics


def test_trapezoid_press_crossings_interpolated():
    # 0 → 100 kPa in 1 s, hold 1 s, back to 0 in 1 s; threshold 50 kPa is crossed at 0.5 s and 2.5 s
    t = [0.0, 1.0, 2.0, 3.0]
    p = [0.0, 100.0, 100.0, 0.0]
    m = metrics.compute(t, p, contact_kpa=50.0)
    assert m.contact_s == pytest.approx(2.0)
    # 0.5 s ramp from 50 to 100 (37.5) + 1 s at 100 (100) + 0.5 s ramp down (37.5)
    assert m.dose_kpa_s == pytest.approx(175.0)
    assert m.peak_kpa == 100.0
    assert m.mean_contact_kpa == pytest.approx(87.5)
    assert m.duration_s == 3.0
    assert m.contacts == 1
    assert m.gaps == []


def test_plain_threshold_counts_a_sample_exactly_at_it():
    m = metrics.compute([0, 1, 2], [50.0, 50.0, 0.0], contact_kpa=50.0)
    assert m.contact_s == pytest.approx(1.0)  # at the threshold is contact (>=), no hysteresis
    assert m.dose_kpa_s == pytest.approx(50.0)


def test_half_sine_dense_sampling_matches_the_integral():
    t = np.linspace(0.0, 10.0, 100_001)
    p = 300.0 * np.sin(np.pi * t / 10.0)
    m = metrics.compute(t, p, contact_kpa=150.0)
    # sin ≥ 0.5 for t in [10/6, 50/6]; ∫ 300 sin(πt/10) dt over it = 3000/π·(cos(π/6) − cos(5π/6))
    assert m.contact_s == pytest.approx(40.0 / 6.0, abs=1e-6)
    assert m.dose_kpa_s == pytest.approx(3000.0 / math.pi * 2 * math.cos(math.pi / 6), rel=1e-6)


def test_gap_is_reported_and_not_integrated_across():
    # 100 Hz at a constant 100 kPa, samples 10..19 missing (0.1 s)
    seq = np.r_[np.arange(0, 10), np.arange(20, 30)]
    t = seq * 0.01
    p = np.full(t.size, 100.0)
    m = metrics.compute(t, p, contact_kpa=10.0, seq=seq)
    assert m.contact_s == pytest.approx(0.18)  # two runs of 9 intervals; the 0.11 s across the gap is not contact
    assert m.dose_kpa_s == pytest.approx(18.0)
    assert len(m.gaps) == 1
    gap = m.gaps[0]
    assert (gap.seq_before, gap.seq_after, gap.missing) == (9, 20, 10)
    assert gap.duration_s == pytest.approx(0.11)
    assert m.gap_s == pytest.approx(0.11)
    assert "10 samples missing" in gap.describe()
    # without the sequence numbers the same trace would be bridged: the gap is what prevents it
    assert metrics.compute(t, p, contact_kpa=10.0).contact_s == pytest.approx(0.29)


def test_device_restart_is_a_gap_without_a_missing_count():
    seq = np.array([0, 1, 2, 0, 1, 2])
    seg = np.array([0, 0, 0, 1, 1, 1])
    t = np.array([0.0, 0.1, 0.2, 1.0, 1.1, 1.2])
    m = metrics.compute(t, np.full(6, 50.0), contact_kpa=10.0, seq=seq, segment=seg)
    assert len(m.gaps) == 1 and m.gaps[0].missing is None
    assert m.contact_s == pytest.approx(0.4)
    assert "restarted" in m.gaps[0].describe()


def test_time_in_band_and_above_ppt_on_a_ramp():
    # 0 → 200 kPa linearly over 2 s (100 kPa/s)
    t = np.array([0.0, 2.0])
    p = np.array([0.0, 200.0])
    m = metrics.compute(t, p, contact_kpa=10.0, band_kpa=(50.0, 150.0), ppt_kpa=120.0)
    assert m.contact_s == pytest.approx(1.9)
    assert m.in_band_s == pytest.approx(1.0)
    assert m.in_band_pct == pytest.approx(100.0 / 1.9)
    assert m.above_ppt_s == pytest.approx(0.8)


def test_band_below_contact_counts_only_contact_time():
    m = metrics.compute([0.0, 2.0], [0.0, 200.0], contact_kpa=100.0, band_kpa=(0.0, 150.0))
    assert m.in_band_s == pytest.approx(0.5)  # 100..150 kPa only
    assert m.in_band_pct == pytest.approx(50.0)


def test_hold_stability_cv():
    t = np.linspace(0.0, 10.0, 1001)
    steady = metrics.compute(t, np.full(t.size, 200.0), holds=[(2.0, 8.0)])
    assert steady.hold_cv == [pytest.approx(0.0, abs=1e-12)]
    # linear 90 → 110 over the hold: uniform on [90, 110], SD = 20/√12, mean 100
    p = np.interp(t, [0.0, 2.0, 8.0, 10.0], [0.0, 90.0, 110.0, 0.0])
    ramp = metrics.compute(t, p, holds=[(2.0, 8.0), (20.0, 30.0)])
    assert ramp.hold_cv[0] == pytest.approx(20.0 / math.sqrt(12.0) / 100.0, rel=1e-9)
    assert ramp.hold_cv[1] is None  # a hold outside the trace has no CV


def test_dose_in_newton_seconds_from_force():
    t = [0.0, 1.0, 2.0, 3.0]
    p = np.array([0.0, 100.0, 100.0, 0.0])
    f = p * 2.0 / 10.0  # a 2 cm² probe: F = p·A/10
    m = metrics.compute(t, p, contact_kpa=50.0, force_n=f)
    assert m.dose_n_s == pytest.approx(175.0 * 0.2)


def test_episodes_and_json():
    t = np.arange(0, 10, 1.0)
    p = np.array([0, 60, 60, 0, 0, 70, 0, 80, 80, 0], dtype=float)
    m = metrics.compute(t, p, contact_kpa=50.0)
    assert m.contacts == 3
    d = m.to_dict()
    assert d["contact_s"] == pytest.approx(m.contact_s) and "descriptive" in d["dose_label"]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="low end"):
        metrics.compute([0, 1], [0, 0], band_kpa=(100, 50))
    with pytest.raises(ValueError, match="same length"):
        metrics.compute([0, 1], [0])


def test_empty_and_single_sample():
    m = metrics.compute([], [])
    assert (m.contact_s, m.dose_kpa_s, m.peak_kpa, m.mean_contact_kpa) == (0.0, 0.0, None, None)
    one = metrics.compute([1.0], [200.0])
    assert one.contact_s == 0.0 and one.peak_kpa == 200.0


def test_ppt_change_uses_persson_noise():
    assert metrics.ppt_change(300, 330).noise == "within noise"
    assert metrics.ppt_change(300, 380).noise == "uncertain"
    assert metrics.ppt_change(300, 410).noise == "beyond noise"
    assert metrics.ppt_change(300, 190).noise == "beyond noise"
    assert "Persson" in metrics.ppt_change(300, 330).describe()


finite = st.floats(min_value=0.0, max_value=1000.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(min_value=0.001, max_value=1.0), finite), min_size=2, max_size=40),
       st.floats(min_value=0.0, max_value=1000.0))
def test_inserting_linear_midpoints_changes_nothing(steps, level):
    """Pressure is linear between samples, so adding the midpoints must leave every total as it was."""
    t = np.cumsum([s for s, _ in steps])
    p = np.array([v for _, v in steps])
    tm = (t[:-1] + t[1:]) / 2
    pm = (p[:-1] + p[1:]) / 2
    t2 = np.empty(2 * t.size - 1); p2 = np.empty_like(t2)
    t2[0::2], t2[1::2], p2[0::2], p2[1::2] = t, tm, p, pm
    a = metrics.compute(t, p, contact_kpa=level, band_kpa=(level, level + 100.0))
    b = metrics.compute(t2, p2, contact_kpa=level, band_kpa=(level, level + 100.0))
    assert b.contact_s == pytest.approx(a.contact_s, abs=1e-9)
    assert b.dose_kpa_s == pytest.approx(a.dose_kpa_s, rel=1e-9, abs=1e-6)
    assert b.in_band_s == pytest.approx(a.in_band_s, abs=1e-9)
    assert 0.0 <= a.contact_s <= a.duration_s + 1e-12
    assert a.dose_kpa_s >= level * a.contact_s - 1e-6  # everything counted is at or above the threshold


def test_time_stepping_back_is_a_gap_never_an_error():
    """The host clock mapping may step back a few ms (tools: /tmp/rv/clock1.py): report, never integrate across."""
    t = np.array([0.0, 0.0125, 0.0075, 0.02, 0.0325, 0.045])
    p = np.full(t.size, 50.0)
    m = metrics.compute(t, p, contact_kpa=10.0, seq=np.arange(t.size))
    (gap,) = m.gaps
    assert gap.time_back_s == pytest.approx(0.005) and gap.missing == 0 and gap.duration_s == 0.0
    assert "stepped back" in gap.describe()
    # integrated: 0 → 0.0125 and 0.0075 → 0.045, never the backward interval
    assert m.contact_s == pytest.approx(0.0125 + 0.0375)
    assert m.dose_kpa_s == pytest.approx(50.0 * (0.0125 + 0.0375))
    assert m.gap_s == 0.0 and m.duration_s == pytest.approx(0.045)
    d = m.to_dict()
    assert d["gaps"][0]["time_back_s"] == pytest.approx(0.005)
    # without seq too
    assert metrics.compute(t, p, contact_kpa=10.0).contact_s == pytest.approx(0.05)


def test_a_silent_stretch_in_a_numbered_stream_is_a_gap():
    """Consecutive sequence numbers 2 s apart (the device stalled): not integrated across."""
    from pointdose import metrics

    t = np.concatenate([np.arange(0, 1.0, 0.01), 3.0 + np.arange(0, 1.0, 0.01)])
    p = np.full(t.size, 100.0)
    seq = np.arange(t.size)
    m = metrics.compute(t, p, contact_kpa=10.0, seq=seq)
    assert m.contact_s == pytest.approx(0.99 * 2, abs=1e-9)
    assert m.dose_kpa_s == pytest.approx(100 * 0.99 * 2, abs=1e-6)
    assert len(m.gaps) == 1 and "fell silent" in m.gaps[0].describe()
    # a CSV trace without sequence numbers sampled slowly is not cut into pieces
    slow = metrics.compute(np.arange(0, 10.0, 1.0), np.full(10, 100.0), contact_kpa=10.0)
    assert slow.contact_s == pytest.approx(9.0) and not slow.gaps
