"""PPT trial checks and change labels against answers worked out by hand."""

import math

import numpy as np
import pytest

from pointdose import algometry, pptchange


def test_the_measured_rate_is_the_press_not_the_wait_before_it():
    # idle at 0 for 1.5 s after the ramp cue, then 50 kPa/s until the signal at 6 s (225 kPa)
    t = np.arange(0.0, 7.0, 0.0125)
    p = np.where(t < 1.5, 0.0, (t - 1.5) * 50.0)
    assert algometry.measured_rate(t, p, t_end=6.0, t_start=0.0) == pytest.approx(50.0, rel=1e-9)
    # a fit over the whole window (what a ramp cue → signal slope gives) reads it slower
    w = t <= 6.0
    assert np.polyfit(t[w], p[w], 1)[0] < 45.0


def test_a_noisy_ramp_at_100_kpa_s_is_measured_as_100_and_flagged_off_a_50_target():
    rng = np.random.default_rng(3)
    t = np.arange(0.0, 4.0, 0.0125)
    p = np.clip(t - 0.5, 0, None) * 100.0 + rng.normal(0, 1.0, t.size)
    rate = algometry.measured_rate(t, p, t_end=3.5)
    assert rate == pytest.approx(100.0, rel=0.01)
    check = algometry.check_rate(rate, 50.0, 20.0)
    assert (check.state, check.valid) == ("fast", False) and "too fast for 40–60 kPa/s" in check.describe()
    assert algometry.check_rate(48.0, 50.0, 20.0).valid
    assert algometry.check_rate(39.0, 50.0, 20.0).state == "slow"
    assert algometry.check_rate(None, 50.0, 20.0).state == "unknown"
    assert algometry.measured_rate(t, p, t_end=0.6) is None  # no press yet


def test_the_ceiling_comes_from_the_sensor_and_a_trial_there_is_censored():
    assert algometry.ceiling_kpa(None) == 1000.0
    assert algometry.ceiling_kpa(2450.0) == 1000.0  # a 25 kg cell on 1 cm² allows the full default
    assert algometry.ceiling_kpa(196.0) == 196.0  # an FSR to 20 N on 1 cm²
    assert algometry.censored_text(1000.0) == "> 1000 kPa"


def test_client_sem_and_mdc_known_answer():
    # two sessions of 3 trials: deviations from each session's mean are −10, 0, 10 and 0, −10, 10
    r = pptchange.client_reliability([[300, 310, 320], [400, 390, 410]], k=3)
    assert r.n_trials == 6
    assert r.sem_kpa == pytest.approx(10.0 / math.sqrt(3))  # pooled SD 10 (SS 400 over 4 df), mean of 3
    assert r.mdc95_kpa == pytest.approx(1.959963984540054 * math.sqrt(2) * 10.0 / math.sqrt(3))
    assert pptchange.label_change(350, 380, r).verdict == "beyond measurement error"  # 30 > 16.0
    within = pptchange.label_change(350, 360, r)
    assert within.verdict == "within measurement error" and "own repeated trials" in within.describe()
    assert within.short() == "+10 kPa, within measurement error (MDC95 16 kPa)"
    # too few repeats: no estimate, and the rough guide is labelled for what it is
    assert pptchange.client_reliability([[300, 310]]) is None
    none = pptchange.label_change(300, 340, None)
    assert none.verdict == "no error estimate"
    assert "not a minimal detectable change" in none.describe() and "maximal differences" in none.describe()


def test_a_published_sem_labels_the_same_way():
    r = pptchange.Reliability(sem_kpa=20.0, source="a site-specific study", k=3)
    assert r.mdc95_kpa == pytest.approx(55.44, abs=0.01)
    assert pptchange.label_change(200, 150, r).verdict == "within measurement error"
    assert pptchange.label_change(200, 260, r).verdict == "beyond measurement error"
