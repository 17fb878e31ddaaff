"""pointdose.metrics against traces whose answers can be worked out by hand (docs/metrics.md)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointdose import metrics


def test_trapezoid_press_crossings_interpolated():
    # 0 → 100 kPa in 1 s, hold 1 s, back to 0 in 1 s; contact begins at the 50 kPa threshold (0.5 s)
    # and ends below the release level, half of it: 25 kPa, reached at 2.75 s
    t = [0.0, 1.0, 2.0, 3.0]
    p = [0.0, 100.0, 100.0, 0.0]
    m = metrics.compute(t, p, contact_kpa=50.0)
    assert m.contact_release_kpa == 25.0
    assert m.contact_s == pytest.approx(2.25)
    # 0.5 s ramp from 50 to 100 (37.5) + 1 s at 100 (100) + 0.75 s ramp down 100 → 25 (46.875)
    assert m.dose_kpa_s == pytest.approx(184.375)
    assert m.peak_kpa == 100.0
    assert m.mean_contact_kpa == pytest.approx(184.375 / 2.25)
    assert m.duration_s == 3.0
    assert m.contacts == 1
    assert m.gaps == []
    # without hysteresis (release = threshold): 0.5 s → 2.5 s, 37.5 + 100 + 37.5
    plain = metrics.compute(t, p, contact_kpa=50.0, release_kpa=50.0)
    assert (plain.contact_s, plain.dose_kpa_s) == (pytest.approx(2.0), pytest.approx(175.0))


def test_contact_begins_at_the_threshold_and_holds_down_to_the_release_level():
    m = metrics.compute([0, 1, 2], [50.0, 50.0, 0.0], contact_kpa=50.0)
    # at the threshold is contact (>=); it lasts down to 25 kPa, at 1.5 s
    assert m.contact_s == pytest.approx(1.5)
    assert m.dose_kpa_s == pytest.approx(50.0 + 0.5 * (50.0 + 25.0) / 2)
    # a reading between the two levels does not start a contact
    assert metrics.compute([0, 1, 2], [0.0, 40.0, 40.0], contact_kpa=50.0).contacts == 0
    with pytest.raises(ValueError, match="release level"):
        metrics.compute([0, 1], [0, 0], contact_kpa=10.0, release_kpa=20.0)


def test_half_sine_dense_sampling_matches_the_integral():
    t = np.linspace(0.0, 10.0, 100_001)
    p = 300.0 * np.sin(np.pi * t / 10.0)
    m = metrics.compute(t, p, contact_kpa=150.0)
    # contact from sin = 0.5 on the way up (t = 10/6) to sin = 0.25 on the way down (release 75 kPa)
    t_on, t_off = 10.0 / 6.0, 10.0 - 10.0 / math.pi * math.asin(0.25)
    assert m.contact_s == pytest.approx(t_off - t_on, abs=1e-6)
    dose = 3000.0 / math.pi * (math.cos(math.pi * t_on / 10) - math.cos(math.pi * t_off / 10))
    assert m.dose_kpa_s == pytest.approx(dose, rel=1e-6)


def _resting_at(level: float, noise: float, seconds: float = 5.0, hz: float = 80.0):
    """A probe resting at ``level`` with a ±``noise`` kPa wobble: a sine at 11 Hz sampled at 80 Hz
    (not a divisor of it, so the samples fall all over the wobble, both sides of the level)."""
    t = np.arange(0.0, seconds, 1.0 / hz)
    return t, level + noise * np.sin(2 * np.pi * 11.0 * t)


def test_a_probe_resting_at_the_threshold_is_one_contact_not_dozens():
    t, p = _resting_at(10.0, 0.5)
    assert np.count_nonzero(p >= 10.0) > 100 and np.count_nonzero(p < 10.0) > 100  # it crosses all the time
    m = metrics.compute(t, p, contact_kpa=10.0)
    assert m.contacts == 1
    # a plain threshold (what the old code did) splits it into dozens of "contacts"
    assert metrics.compute(t, p, contact_kpa=10.0, release_kpa=10.0).contacts > 50
    # contact from the first sample at or above 10 kPa to the end: no dropping in and out
    first = t[np.argmax(p >= 10.0)]
    assert m.contact_s == pytest.approx(t[-1] - first, abs=1e-9)


def test_contact_count_is_stable_under_noise_around_the_threshold():
    # three presses to 100 kPa, each with the probe then resting near the threshold between them:
    # noise up to ±4 kPa at the 10 kPa threshold (release 5 kPa) never adds a contact
    rng = np.random.default_rng(5)
    t = np.arange(0.0, 30.0, 0.0125)
    press = ((t % 10.0) > 2.0) & ((t % 10.0) < 6.0)
    p = np.where(press, 100.0, 0.0) + np.where(press, 0.0, 2.0)
    for noise in (0.5, 1.0, 2.0, 2.9):
        noisy = p + rng.uniform(-noise, noise, t.size)
        assert metrics.compute(t, noisy, contact_kpa=10.0).contacts == 3
        # resting right at the threshold, between presses: the rest is one long contact with them
        resting = np.where(press, 100.0, 10.0) + rng.uniform(-noise, noise, t.size)
        assert metrics.compute(t, resting, contact_kpa=10.0).contacts == 1


def test_the_tracker_and_the_trace_agree_sample_for_sample():
    rng = np.random.default_rng(6)
    t = np.arange(0.0, 20.0, 0.01)
    p = 12.0 + 12.0 * np.sin(t) + rng.normal(0.0, 1.5, t.size)
    tracker = metrics.ContactTracker(10.0)
    live = np.array([tracker.update(ti, pi) for ti, pi in zip(t, p)])
    assert np.array_equal(live, metrics.contact_states(p, 10.0, 5.0))
    assert tracker.contacts == metrics.compute(t, p, contact_kpa=10.0).contacts
    assert tracker.release_kpa == 5.0


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
    assert m.dose_n_s == pytest.approx(184.375 * 0.2)  # the same contact time as the kPa·s dose


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
    # everything counted is at or above the release level
    assert a.dose_kpa_s >= metrics.CONTACT_RELEASE_RATIO * level * a.contact_s - 1e-6


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
