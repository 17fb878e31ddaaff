"""The wizard, the stability detector and the checks, driven by synthetic sample streams (no device)."""

from __future__ import annotations

import numpy as np
import pytest

from pointdose.calibration import (CalibrationWizard, DriftRun, LinearModel, SensorConfig, StabilityCriterion,
                                   StabilityDetector, Step, Tolerance, VerificationRun, WizardSettings, ZeroCheck)
from pointdose.calibration.record import Converter
from pointdose.errors import UserError
from pointdose.units import N_PER_KGF

RATE = 200.0
K, Z = 14000.0, 42000.0


class Bench:
    """A synthetic sensor: a force the test sets, turned into counts with noise, streamed in chunks."""

    def __init__(self, counts=lambda f: Z + K * f, noise=40.0, seed=0):
        self.counts = counts
        self.noise = noise
        self.rng = np.random.default_rng(seed)
        self.t = 0.0
        self.force = 0.0

    def run(self, seconds: float, sink, chunk_s: float = 0.05, force_to=None):
        """Stream for ``seconds``; a ramp to ``force_to`` over the first half second if given."""
        start_f, steps = self.force, int(round(seconds / chunk_s))
        for i in range(steps):
            if force_to is not None:
                self.force = start_f + (force_to - start_f) * min(1.0, (i + 1) * chunk_s / 0.5)
            n = int(RATE * chunk_s)
            t = self.t + np.arange(n) / RATE
            self.t += n / RATE
            raw = np.array([self.counts(self.force)] * n) + self.rng.normal(0, self.noise, n)
            sink(t, raw)


def drive(wiz: CalibrationWizard, bench: Bench, plan, *, tare=True):
    """Go through the wizard: ``plan`` is a list of (force N, typed text or None) for each step."""
    for force, typed in plan:
        item = wiz.item
        bench.run(2.5, wiz.feed, force_to=force)
        if wiz.pending_action == "tare":
            wiz.tare_done(Z if tare else None, 40.0)
        if typed is not None:
            wiz.enter_reference(typed)
        assert wiz.item is not item or wiz.finished, f"stuck at {item}: {wiz.view().message} {wiz.view().instruction}"


def scale_plan(loads_n, factor=1.0):
    """A kitchen-scale sweep: zero, loads up, down, zero, typing what the scale shows in kg."""
    up = [(f, f"{f * (factor if f == max(loads_n) else 1.0) / N_PER_KGF:.3f}") for f in loads_n]
    down = [(f, f"{f / N_PER_KGF:.3f} kg") for f in reversed(loads_n[:-1])]
    return [(0.0, None), *up, *down, (0.0, None)]


def test_wizard_on_a_load_cell_with_a_scale_reference_is_accepted():
    wiz = CalibrationWizard(WizardSettings(model="linear", reference="scale", unit="kg", n_loads=3))
    assert wiz.step == Step.ZERO and [i.step for i in wiz.plan].count(Step.UNLOAD) == 2
    drive(wiz, Bench(), scale_plan([15.0, 30.0, 60.0]))
    assert wiz.step == Step.DONE, wiz.refusal
    r = wiz.result
    assert r.model.counts_per_n == pytest.approx(K, rel=1e-3) and r.max_error_n < 0.05
    assert [p.direction for p in wiz.points] == ["load"] * 4 + ["unload"] * 3
    assert wiz.points[0].raw == Z  # the zero is the device's tare
    record = wiz.make_record(device_uid="abc", config=SensorConfig("hx711"))
    assert record.reference == {"kind": "scale", "unit": "kg"} and record.zero_raw == Z
    assert "raw,force_n,direction,sd" in wiz.points_csv() and wiz.points_csv().count("\n") == 8


def test_masses_may_be_typed_before_the_reading_is_steady():
    wiz = CalibrationWizard(WizardSettings(reference="masses", unit="g", n_loads=3,
                                           criterion=StabilityCriterion(hold_s=1.0)))
    bench = Bench()
    bench.run(2.0, wiz.feed)
    wiz.tare_done(Z, 40.0)
    wiz.enter_reference("1000")  # typed first: "I am putting 1 kg on"
    assert wiz.step == Step.LOAD and wiz.view().entered == "1000 g"
    bench.run(0.3, wiz.feed)  # nothing on yet: the unloaded reading must not be taken for the 1 kg
    assert wiz.step == Step.LOAD and wiz.view().captured is False
    bench.run(2.0, wiz.feed, force_to=N_PER_KGF)
    assert wiz.item.index == 2  # recorded and moved on


def test_entries_that_make_no_sense_are_refused_with_the_reason():
    wiz = CalibrationWizard(WizardSettings(reference="scale", unit="kg", n_loads=3))
    bench = Bench()
    with pytest.raises(UserError, match="no reference is needed"):
        wiz.enter_reference("1")
    drive(wiz, bench, [(0.0, None), (20.0, "2.04")])
    bench.run(2.5, wiz.feed, force_to=40.0)
    with pytest.raises(UserError, match="not more than the previous load"):
        wiz.enter_reference("1.5")
    with pytest.raises(UserError, match="not a reading"):
        wiz.enter_reference("about 4")
    with pytest.raises(UserError, match="unknown reference unit"):
        wiz.enter_reference("4 stone")
    with pytest.raises(UserError, match="above zero"):
        wiz.enter_reference("0")
    wiz.enter_reference("4,08")  # a decimal comma is fine
    assert wiz.item.index == 3


def test_a_load_that_does_not_move_the_reading_is_not_recorded():
    wiz = CalibrationWizard(WizardSettings(n_loads=3))
    bench = Bench()
    drive(wiz, bench, [(0.0, None), (20.0, "2.04")])
    bench.run(3.0, wiz.feed)  # still 20 N: the next load has not been applied
    v = wiz.view()
    assert not v.captured and "add more load" in v.message


def test_a_misread_scale_is_refused_and_the_points_are_kept():
    wiz = CalibrationWizard(WizardSettings(n_loads=3, tolerance=Tolerance(pct_fs=2.0)))
    drive(wiz, Bench(), scale_plan([15.0, 30.0, 60.0], factor=1.10))
    assert wiz.step == Step.REFUSED and wiz.refusal_code == "max_error"
    assert "tolerance" in wiz.view().refusal
    assert len(wiz.points) == 7 and wiz.points_csv().count("\n") == 8
    with pytest.raises(UserError, match="no accepted calibration"):
        wiz.make_record(device_uid="abc", config=SensorConfig("hx711"))


def test_the_wizard_will_not_record_a_saturated_reading():
    top = 8388607
    bench = Bench(counts=lambda f: min(Z + 200000 * f, top), noise=0.0)
    wiz = CalibrationWizard(WizardSettings(n_loads=3, raw_limits=(-8388608, top)))
    drive(wiz, bench, [(0.0, None), (10.0, "1.02")])
    bench.run(3.0, wiz.feed, force_to=60.0)  # 12 M counts: pinned at the limit
    st = wiz.detector.status()
    assert st.saturated and "saturated" in st.text and not wiz.view().captured


def fsr_counts(f, c=0.02, b=1.1):
    u = c * max(f, 0.0) ** b
    return 65535 * u / (1 + u)


def test_fsr_wizard_conditions_first_then_calibrates():
    settings = WizardSettings(model="fsr", reference="gauge", unit="N", n_loads=4, top_load=20.0,
                              conditioning_presses=5, raw_limits=(0, 65535))
    wiz = CalibrationWizard(settings)
    assert wiz.step == Step.CONDITION and "110 %" in wiz.view().instruction and "real tip" in wiz.view().instruction
    bench = Bench(counts=fsr_counts, noise=20.0)
    bench.run(0.5, wiz.feed)
    for press in range(5):
        assert wiz.step == Step.CONDITION, f"conditioning ended after {press} presses"
        bench.run(1.0, wiz.feed, force_to=22.0)
        bench.run(1.0, wiz.feed, force_to=0.0)
    assert wiz.step == Step.ZERO and wiz.conditioning == {"cycles": 5, "skipped": False}
    plan = [(0.0, None), (5.0, "5"), (10.0, "10"), (15.0, "15"), (20.0, "20"),
            (15.0, "15"), (10.0, "10"), (5.0, "5"), (0.0, None)]
    drive(wiz, bench, plan, tare=False)
    assert wiz.step == Step.DONE, wiz.refusal
    assert wiz.result.model.kind == "fsr" and wiz.result.max_error_n < 0.5
    rec = wiz.make_record(device_uid="f5", config=SensorConfig("adc"))
    assert rec.conditioning["cycles"] == 5


def test_conditioning_can_be_skipped_and_it_is_recorded():
    wiz = CalibrationWizard(WizardSettings(model="fsr", n_loads=3))
    wiz.skip_conditioning()
    assert wiz.step == Step.ZERO and wiz.conditioning == {"cycles": 0, "skipped": True}


def test_redo_and_cancel():
    wiz = CalibrationWizard(WizardSettings(n_loads=3))
    bench = Bench()
    drive(wiz, bench, [(0.0, None)])
    bench.run(2.5, wiz.feed, force_to=20.0)
    assert wiz.view().captured
    wiz.redo()
    assert not wiz.view().captured and wiz.step == Step.LOAD
    wiz.cancel()
    assert wiz.finished and wiz.step == Step.CANCELLED


@pytest.mark.parametrize("kwargs, match", [(dict(n_loads=2), "3 to 10"), (dict(reference="ruler"), "reference"),
                                           (dict(model="cubic"), "model"), (dict(unit="stone"), "unit"),
                                           (dict(top_load=-1.0), "top load")])
def test_bad_wizard_settings_are_user_errors(kwargs, match):
    with pytest.raises(UserError, match=match):
        CalibrationWizard(WizardSettings(**kwargs))


# --------------------------------------------------------------------------- stability


def feed_signal(det, signal, seconds=3.0, rate=RATE, noise=40.0, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    raw = signal(t) + rng.normal(0, noise, t.size)
    for i in range(0, t.size, 10):
        st = det.feed(t[i:i + 10], raw[i:i + 10])
    return st


def test_stability_steady_hold_is_stable_and_shows_the_criterion():
    det = StabilityDetector(StabilityCriterion(hold_s=1.5, rel=0.01), baseline_raw=Z)
    st = feed_signal(det, lambda t: Z + K * 30 + 0 * t)
    assert st.stable and st.progress == 1.0 and "Steady" in st.text
    assert det.criterion.describe() == ("the reading must stay within ±1 % (or within the sensor's noise near zero) "
                                        "for 1.5 s")


def test_stability_a_slow_drift_or_hand_wobble_is_not_stable():
    det = StabilityDetector(StabilityCriterion(hold_s=1.5, rel=0.01), baseline_raw=Z)
    # a press creeping up 3 % a second (a hand still settling on the scale)
    st = feed_signal(det, lambda t: Z + K * 30 * (1 + 0.03 * t))
    assert not st.stable and st.progress < 0.5  # it never holds long: the run keeps restarting
    det.reset()
    st = feed_signal(det, lambda t: Z + K * 30 * (1 + 0.02 * np.sin(2 * np.pi * 1.0 * t)))
    assert not st.stable


def test_stability_needs_the_full_hold_time():
    det = StabilityDetector(StabilityCriterion(hold_s=1.5), baseline_raw=Z)
    st = feed_signal(det, lambda t: Z + K * 30 + 0 * t, seconds=1.0)
    assert not st.stable and "Hold still" in st.text and 0.4 < st.progress < 0.8


def test_stability_a_step_inside_the_window_is_not_steady():
    det = StabilityDetector(StabilityCriterion(hold_s=1.0), baseline_raw=Z)
    st = feed_signal(det, lambda t: Z + K * np.where(t < 1.2, 30.0, 10.0), seconds=1.25)
    assert not st.stable


# --------------------------------------------------------------------------- verification, drift, zero check


def conv(**kw):
    return Converter(model=LinearModel(K, Z), range_n=(0.0, 60.0), stated_error_n=0.1, **kw)


def test_verification_reports_the_error_against_the_tolerance():
    run = VerificationRun(conv(), tolerance_n=0.5, unit="kg", criterion=StabilityCriterion(hold_s=1.0))
    Bench().run(0.5, run.feed)
    bench = Bench()
    bench.run(2.5, run.feed, force_to=20.0)
    assert run.reading_n == pytest.approx(20.0, abs=0.01)
    run.enter_reference("2.0")  # 19.61 N: the sensor reads 0.39 N high
    r = run.result
    assert r["error_n"] == pytest.approx(20.0 - 2 * N_PER_KGF, abs=0.01) and r["within_tolerance"]
    assert "within" in run.text() and r["in_range"]
    strict = VerificationRun(conv(), tolerance_n=0.2, unit="kg", criterion=StabilityCriterion(hold_s=1.0))
    Bench().run(2.5, strict.feed, force_to=20.0)
    strict.enter_reference("2.0")
    assert not strict.result["within_tolerance"] and "OUTSIDE" in strict.text()


def test_drift_check_over_a_minute():
    drifting = Bench(counts=lambda f: Z + K * f)
    run = DriftRun(conv(), duration_s=60.0, limit_n=0.1)
    chunk = 0.5
    for i in range(int(61 / chunk)):
        t = drifting.t + np.arange(int(RATE * chunk)) / RATE
        drifting.t += chunk
        raw = Z + 14.0 * t + np.random.default_rng(i).normal(0, 40, t.size)  # 14 counts/s = 1 mN/s
        run.feed(t, raw)
    r = run.result
    assert r is not None and r["duration_s"] >= 60
    assert r["drift_n"] == pytest.approx(0.055, abs=0.01) and r["ok"]
    assert "Zero drift +0.05" in run.text()
    with pytest.raises(UserError):
        DriftRun(conv(), duration_s=5)


def test_zero_check_offers_a_tare_only_when_the_unloaded_reading_stays_off_zero():
    check = ZeroCheck(0.5, warmup_s=1.0, watch_s=3.0)
    t = np.arange(0, 6, 1 / RATE)
    assert check.feed(t, np.full(t.size, 2.3)) == "offer"
    assert "2.30 N" in check.text()
    ok = ZeroCheck(0.5, warmup_s=1.0, watch_s=3.0)
    assert ok.feed(t, np.where(t < 2.5, 20.0, 0.05)) == "ok"  # a press at connect, then released
    busy = ZeroCheck(0.5, warmup_s=1.0, watch_s=3.0)
    assert busy.feed(t, 10 + 5 * np.sin(t * 3)) == "checking"  # moving: someone is pressing; no offer
