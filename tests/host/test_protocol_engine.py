"""The protocol engine on scripted traces: no device, no real time."""

from __future__ import annotations

import numpy as np
import pytest

from pointdose.protocols import (Engine, Limits, Phase, PointContext, PPTRecord, Protocol, ProtocolError, Target,
                                 builtin, ramp_rate)

DT = 0.01  # 100 Hz scripted samples


def trace(*segments, dt=DT):
    """Piecewise-linear pressure: segments of (seconds, kPa at the end), starting at 0 kPa, t = 0."""
    t_all, p_all, t0, p0 = [], [], 0.0, 0.0
    for dur, p1 in segments:
        n = int(round(dur / dt))
        t = t0 + dt * np.arange(1, n + 1)
        t_all.append(t)
        p_all.append(p0 + (p1 - p0) * (t - t0) / dur)
        t0, p0 = t0 + dur, p1
    return np.concatenate(t_all), np.concatenate(p_all)


def run(engine, t, p, chunk=5, until=None, signals=()):
    """Feed in chunks; ``signals`` are (t_s, kind, value) given once the samples pass their time."""
    events, cues = [], []
    pending = sorted(signals)
    engine.start(0.0)
    events += engine.drain_events()
    for k in range(0, len(t), chunk):
        engine.feed(t[k:k + chunk], p[k:k + chunk])
        while pending and pending[0][0] <= t[min(k + chunk, len(t)) - 1]:
            ts, kind, value = pending.pop(0)
            engine.signal(ts, kind, value)
        events += engine.drain_events()
        cues.append(engine.cue)
        if engine.finished or (until is not None and t[k] >= until):
            break
    return events, cues


def kinds(events, kind):
    return [e for e in events if e.kind == kind]


def holds(**kw):
    params = dict(cycles=2, hold_s=5.0, rest_s=3.0, target="200 kPa")
    params.update(kw)
    return builtin("holds", **params)


def test_ramp_rate_is_the_least_squares_slope_and_needs_three_points():
    t = np.linspace(0, 0.5, 26)
    assert ramp_rate(t, 50 * t + 3) == pytest.approx(50.0)
    noisy = 50 * t + np.random.default_rng(1).normal(0, 0.5, t.size)
    assert ramp_rate(t, noisy) == pytest.approx(50.0, abs=3)
    assert ramp_rate(t[:2], t[:2]) is None
    assert ramp_rate(np.array([0, 0.01, 0.02]), np.array([0, 1, 2.0])) is None  # under 0.1 s


def test_every_phase_transition_of_repeated_holds_in_order():
    t, p = trace((2, 200), (6, 200), (1, 0), (4, 0), (2, 200), (6, 200), (1, 0), (1, 0))
    events, _ = run(Engine(holds()), t, p)
    seq = [(e.kind, e.data.get("label"), e.data.get("reason")) for e in events if e.kind in ("phase_start", "phase_end")]
    assert seq == [
        ("phase_start", "Press", None), ("phase_end", "Press", "reached"),
        ("phase_start", "Hold", None), ("phase_end", "Hold", "time"),
        ("phase_start", "Release", None), ("phase_end", "Release", "reached"),
        ("phase_start", "Rest", None), ("phase_end", "Rest", "time"),
        ("phase_start", "Press", None), ("phase_end", "Press", "reached"),
        ("phase_start", "Hold", None), ("phase_end", "Hold", "time"),
        ("phase_start", "Release", None), ("phase_end", "Release", "reached"),
    ]  # no rest after the last cycle
    assert [e.data["cycle"] for e in kinds(events, "cycle_done")] == [1, 2]
    assert events[-1].kind == "end" and events[-1].data["reason"] == "completed"
    hold_end = [e for e in kinds(events, "phase_end") if e.data["label"] == "Hold"][0]
    assert hold_end.data["duration_s"] == pytest.approx(5.0, abs=0.02)
    assert hold_end.data["time_in_band_s"] == pytest.approx(5.0, abs=0.05)
    # the band starts at 180 kPa (200 − 10 %): reached once in band for 0.2 s
    press_end = kinds(events, "phase_end")[0]
    assert press_end.t_s == pytest.approx(1.8 + 0.2, abs=0.02)


def test_reached_needs_the_band_for_0_2_s_not_a_crossing():
    # a ramp that crosses the 180–220 band in 0.1 s and drops back does not end the ramp
    t, p = trace((1.0, 170), (0.05, 200), (0.05, 170), (1, 170))
    events, cues = run(Engine(holds()), t, p)
    assert not kinds(events, "phase_end")
    assert cues[-1].phase == "ramp" and cues[-1].band == "below"


def test_band_state_and_how_far_outside():
    eng = Engine(holds())
    eng.start(0.0)
    eng.feed([0.1, 0.2], [100.0, 100.0])
    cue = eng.cue
    assert (cue.band, cue.band_lo_kpa, cue.band_hi_kpa) == ("below", 180.0, 220.0)
    assert cue.deviation_kpa == pytest.approx(-80.0)
    assert cue.level == 80  # 80 kPa outside, full scale is half the 200 kPa target
    eng.feed([0.3], [200.0])
    assert (eng.cue.band, eng.cue.deviation_kpa, eng.cue.level) == ("in", 0.0, 0)
    eng.feed([0.4], [250.0])
    assert eng.cue.band == "above" and eng.cue.deviation_kpa == pytest.approx(30.0) and eng.cue.level == 30
    eng.feed([0.5], [600.0])
    assert eng.cue.level == 100
    assert "ease" in eng.cue.prompt.lower()


def test_time_left_counts_down_and_progress_rises():
    t, p = trace((2, 200), (3, 200))
    _, cues = run(Engine(holds()), t, p)
    hold = [c for c in cues if c.phase == "hold"]
    assert hold[0].time_left_s == pytest.approx(5.0, abs=0.1) and hold[-1].time_left_s == pytest.approx(2.0, abs=0.1)
    assert not hold[0].time_left_is_max
    assert 0 < hold[0].progress < 0.5 and hold[0].cycle == 1 and hold[0].cycles == 2


def test_release_felt_steps_up_then_ends_the_hold():
    proto = builtin("tppr", target="100 kPa", steps=2, step="20 kPa", cycles=1)
    t, p = trace((1, 100), (4, 100), (0.5, 120), (3.5, 120), (0.5, 140), (3, 140), (1, 0), (1, 0))
    signals = [(3.0, "release", None), (7.0, "release", None), (10.0, "release", None)]
    events, _ = run(Engine(proto), t, p, signals=signals)
    steps = kinds(events, "step")
    assert [(s.data["step"], s.data["target_kpa"]) for s in steps] == [(1, 120.0), (2, 140.0)]
    assert steps[0].t_s == pytest.approx(3.0)
    hold_end = [e for e in kinds(events, "phase_end") if e.data["phase"] == "hold"][0]
    assert hold_end.data["reason"] == "release" and hold_end.t_s == pytest.approx(10.0)
    assert len(kinds(events, "signal")) == 3


def test_release_hold_ends_at_its_maximum_without_a_signal():
    proto = builtin("tppr", target="100 kPa", steps=0, hold_max_s=5, cycles=1)
    t, p = trace((1, 100), (7, 100))
    events, cues = run(Engine(proto), t, p)
    hold_end = [e for e in kinds(events, "phase_end") if e.data["phase"] == "hold"][0]
    assert hold_end.data["reason"] == "max time"
    hold_cues = [c for c in cues if c.phase == "hold"]
    assert hold_cues[0].time_left_is_max and hold_cues[0].waiting_for == "release"


def test_pain_rating_is_recorded_with_the_phase_and_bad_ratings_refused():
    eng = Engine(holds())
    t, p = trace((2, 200), (2, 200))
    events, _ = run(eng, t, p, signals=[(3.0, "rating", 7)])
    rating = kinds(events, "pain_rating")[0]
    assert rating.data["value"] == 7 and rating.data["phase"] == "hold"
    assert eng.summary()["phases"][1]["pain_ratings"] == [7]
    with pytest.raises(ValueError, match="0 … 10"):
        eng.signal(3.1, "rating", 11)
    with pytest.raises(ValueError, match="release, pain, rating"):
        eng.signal(3.1, "relax")


def test_a_signal_newer_than_the_samples_waits_for_them():
    proto = builtin("ppt", trials=1, rest_s=2)
    eng = Engine(proto)
    eng.start(0.0)
    t = np.arange(1, 301) * DT
    eng.feed(t[:200], 50 * t[:200])  # samples up to 2.0 s
    eng.signal(2.5, "pain")  # a key press stamped after the newest sample
    assert not kinds(eng.drain_events(), "ppt_trial")
    eng.feed(t[200:], 50 * t[200:])
    trial = kinds(eng.drain_events(), "ppt_trial")[0]
    assert trial.data["ppt_kpa"] == pytest.approx(125.0, abs=0.01)


def test_ppt_flow_pressure_at_the_signal_device_time_peak_apart_mean_and_spread():
    """3 trials at 50 kPa/s; the signal comes 250 ms after the pain, the hand keeps pressing until it reacts."""
    proto = builtin("ppt", rest_s=2.0)
    thresholds = [200.0, 220.0, 240.0]
    segs, signals, t0 = [], [], 0.0
    for thr in thresholds:
        ramp_s = (thr + 12.5) / 50.0  # reaches thr at thr/50 s; the release starts 0.25 s later
        segs += [(ramp_s, thr + 12.5), (0.5, 0.0), (2.5, 0.0)]
        signals.append((t0 + thr / 50.0, "pain", None))  # the device button's time: at the threshold
        t0 += ramp_s + 3.0
    t, p = trace(*segs)
    eng = Engine(proto, PointContext(name="trap", probe_area_cm2=1.0))
    events, cues = run(eng, t, p, signals=signals)
    trials = kinds(events, "ppt_trial")
    assert [round(e.data["ppt_kpa"], 1) for e in trials] == thresholds
    assert [e.t_s for e in trials] == pytest.approx([s[0] for s in signals])
    assert trials[0].data["rate_kpa_s"] == pytest.approx(50.0, abs=1.0)
    result = kinds(events, "ppt")[0].data
    assert result["kpa"] == result["mean_kpa"] and result["repeats"] == pytest.approx(thresholds)
    assert result["n"] == 3 and result["complete"]
    assert result["mean_kpa"] == pytest.approx(220.0, abs=0.1)
    assert result["sd_kpa"] == pytest.approx(20.0, abs=0.1)
    assert [tr["peak_kpa"] for tr in result["trials"]] == pytest.approx([212.5, 232.5, 252.5], abs=0.6)
    assert result["probe_area_cm2"] == 1.0 and result["rate_kpa_s"] == 50.0
    ramp = [c for c in cues if c.phase == "ramp" and c.rate_kpa_s is not None]
    assert ramp and all(c.rate_state == "ok" and c.band == "in" for c in ramp if c.elapsed_s > 1.0)
    assert ramp[0].rate_lo_kpa_s == 40.0 and ramp[0].rate_hi_kpa_s == 60.0 and ramp[0].waiting_for == "pain"


def test_ppt_rate_guide_says_too_slow_or_too_fast():
    for rate, state, band in ((20.0, "slow", "below"), (90.0, "fast", "above")):
        eng = Engine(builtin("ppt"))
        t, p = trace((2, 2 * rate))
        run(eng, t, p)
        assert (eng.cue.rate_state, eng.cue.band) == (state, band)
        assert eng.cue.rate_kpa_s == pytest.approx(rate, rel=0.02)
        assert eng.cue.level > 0


def test_ppt_98_kpa_s_selectable():
    eng = Engine(builtin("ppt", rate_kpa_s=98))
    t, p = trace((1.5, 147))
    run(eng, t, p)
    assert eng.cue.rate_target_kpa_s == 98 and eng.cue.rate_state == "ok"


def test_percent_ppt_targets_above_100_and_only_with_the_same_probe():
    ppt = PPTRecord(kpa=200.0, probe_area_cm2=1.0)
    eng = Engine(holds(target="120 %PPT"), PointContext(name="trap", probe_area_cm2=1.0, ppt=ppt))
    eng.start(0)
    eng.feed([0.1], [0.0])
    assert eng.cue.target_kpa == pytest.approx(240.0)
    with pytest.raises(ProtocolError, match="same probe"):
        Engine(holds(target="120 %PPT"), PointContext(name="trap", probe_area_cm2=0.5, ppt=ppt))
    with pytest.raises(ProtocolError, match="measure it first"):
        Engine(holds(target="80 %PPT"), PointContext(name="trap"))


def test_newton_targets_use_the_probe_area():
    eng = Engine(holds(target="20 N"), PointContext(probe_area_cm2=2.0))
    eng.start(0)
    eng.feed([0.1], [0.0])
    assert eng.cue.target_kpa == pytest.approx(100.0)  # 20 N on 2 cm² = 10 N/cm² = 100 kPa


def test_stop_ends_at_once_and_records_why():
    eng = Engine(holds())
    t, p = trace((2, 200), (1, 200))
    run(eng, t, p)
    eng.drain_events()
    eng.stop(3.05, "STOP key")
    events = eng.drain_events()
    assert [e.kind for e in events] == ["stop", "phase_end", "end"]
    assert events[0].data["reason"] == "STOP key" and events[1].data["reason"] == "stop"
    assert eng.finished and eng.end_reason == "stopped: STOP key" and eng.cue.phase == "stopped"
    eng.feed([3.1], [200.0])
    assert eng.drain_events() == []


@pytest.mark.parametrize("kind,segments,kwargs", [
    ("max_pressure", [(2, 200), (1, 760)], {}),
    ("max_hold", [(1, 200), (125, 200)], {"hold_s": 200}),
])
def test_alarms_end_the_application(kind, segments, kwargs):
    eng = Engine(holds(**kwargs))
    t, p = trace(*segments)
    events, _ = run(eng, t, p)
    alarm = kinds(events, "alarm")[0]
    assert alarm.data["kind"] == kind and alarm.data["ends"]
    assert eng.end_reason == f"alarm: {kind}" and eng.cue.phase == "alarm" and eng.cue.prompt == "RELEASE NOW"
    if kind == "max_pressure":
        assert alarm.t_s == pytest.approx(2 + (700 - 200) / 560, abs=0.02)
    else:
        assert alarm.t_s == pytest.approx(0.1 + 120, abs=0.05)  # 20 kPa contact reached at 0.1 s


def test_saturation_and_out_of_calibrated_range_alarms():
    eng = Engine(holds())
    eng.start(0)
    eng.feed([0.1, 0.2], [50.0, 60.0], saturated=[False, True])
    assert eng.end_reason == "alarm: saturation"
    eng = Engine(holds(target="100 kPa"), limits=Limits(calibrated_max_kpa=300.0))
    eng.start(0)
    eng.feed([0.1, 0.2], [250.0, 310.0])
    assert eng.end_reason == "alarm: out_of_range"
    with pytest.raises(ProtocolError, match="calibrated range"):
        Engine(holds(target="290 kPa"), limits=Limits(calibrated_max_kpa=300.0))


def test_stale_stream_alarm_after_250_ms_clears_on_data_and_ends_after_2_s():
    eng = Engine(holds())
    eng.start(0.0)
    eng.feed([0.0, 0.1], [0.0, 0.0])
    eng.tick(0.3)
    assert not kinds(eng.drain_events(), "alarm")
    eng.tick(0.36)
    alarm = kinds(eng.drain_events(), "alarm")
    assert alarm and alarm[0].data["kind"] == "stale" and not alarm[0].data["ends"]
    assert "no samples" in eng.cue.alarm and not eng.finished
    eng.feed([0.4], [0.0])
    assert kinds(eng.drain_events(), "alarm_clear") and eng.cue.alarm == ""
    eng.tick(2.5)
    assert eng.finished and eng.end_reason == "alarm: stale"


def test_region_caution_lowers_the_limits_and_refuses_targets_above_them():
    with pytest.raises(ProtocolError, match="100 kPa"):
        Engine(holds(target="200 kPa"), PointContext(region="popliteal-fossa"))
    eng = Engine(holds(target="60 kPa"), PointContext(region="popliteal_fossa"))
    assert eng.limits.max_kpa == 100.0 and eng.limits.max_hold_s == 30.0
    eng.start(0)
    eng.feed([0.1, 0.2], [90.0, 101.0])
    assert eng.end_reason == "alarm: max_pressure"


def test_ease_with_a_guided_negative_rate_and_alternating_levels():
    proto = builtin("alternating", cycles=2, high="250 kPa", low="100 kPa", high_s=3, low_s=2)
    t, p = trace((1.5, 250), (3.2, 250), (0.3, 100), (2, 100), (0.5, 250), (3.2, 250), (0.3, 100), (2, 100))
    events, cues = run(Engine(proto), t, p)
    labels = [e.data["label"] for e in kinds(events, "phase_start")]
    assert labels == ["Press high", "High", "Low"] * 2
    low = [c for c in cues if c.label == "Low" and c.phase == "ease" and c.elapsed_s > 0.5]
    assert low and all(c.band == "in" and c.band_lo_kpa == 88.0 for c in low)
    assert events[-1].data["reason"] == "completed"


def test_summary_totals():
    eng = Engine(holds(cycles=1))
    t, p = trace((2, 200), (6, 200), (1, 0), (0.5, 0))
    run(eng, t, p)
    s = eng.summary()
    assert s["end_reason"] == "completed" and s["cycles_done"] == 1
    assert [ph["label"] for ph in s["phases"]] == ["Press", "Hold", "Release"]
    assert s["pressure_time_kpa_s"] == pytest.approx(200 * 1 + 200 * 6 + 100 * 1, rel=0.03)
    assert s["phases"][1]["mean_kpa"] == pytest.approx(200.0)


def test_protocol_definitions_refuse_contradictions():
    with pytest.raises(ValueError, match="duration_s"):
        Phase("hold", Target(100), end="time")
    with pytest.raises(ValueError, match="steps"):
        Phase("hold", Target(100), end="release", steps=4, step=Target(10))
    with pytest.raises(ValueError, match="pain"):
        Protocol("x", "x", (Phase("hold", Target(100), duration_s=3),), measure_ppt=True)


def test_summary_totals_are_pointdose_metrics_never_bridging_a_gap_nor_counting_no_contact():
    """M4: the engine's dose/contact are metrics.compute over the application's samples."""
    from pointdose import metrics

    eng = Engine(holds(cycles=1, hold_s=60.0))
    t = np.round(DT * np.arange(1, 501), 6)  # 5 s at 100 Hz
    p = np.where(t <= 2.0, 5.0, 200.0)  # 2 s resting lightly (5 kPa: no contact), then pressing
    seq = np.arange(1, 501)
    keep = (t <= 3.0) | (t > 4.0)  # samples from 3 to 4 s lost in transit: a gap of 1 s
    eng.start(0.0)
    for k in range(0, keep.sum(), 7):
        part = slice(k, k + 7)
        eng.feed(t[keep][part], p[keep][part], seq=seq[keep][part], segment=np.zeros(keep.sum())[part])
    eng.stop(5.0, "test")
    s = eng.summary()
    expect = metrics.compute(t[keep], p[keep], contact_kpa=10.0, seq=seq[keep])
    assert s["contact_s"] == pytest.approx(expect.contact_s) and s["dose_kpa_s"] == pytest.approx(expect.dose_kpa_s)
    assert s["pressure_time_kpa_s"] == s["dose_kpa_s"] and s["gaps"] == 1
    # by hand: contact from the 10 kPa crossing between 2.00 and 2.01 s to 3.00 s, and 4.01 … 5.00 s; never the gap
    assert s["contact_s"] == pytest.approx(0.01 * 190 / 195 + 0.99 + 0.99, abs=1e-6)
    assert s["dose_kpa_s"] < 200.0 * 2.0  # the old sum gave 5·2 + 200·3 = 610 kPa·s


def test_a_ppt_trials_peak_is_its_own_press_not_a_later_one():
    """The trial's peak covers its ramp and the overshoot before the hand reacts, never a press in the rest."""
    proto = builtin("ppt", trials=2, rest_s=3.0)
    t, p = trace((3.0, 150), (0.2, 160), (0.5, 0), (0.5, 0), (0.5, 300), (0.5, 0), (0.5, 0))
    eng = Engine(proto)
    events, _ = run(eng, t, p, signals=[(3.0, "pain", None)])
    assert [e.data["label"] for e in kinds(events, "phase_start")] == ["Ramp", "Release", "Rest"]
    eng.stop(float(t[-1]), "test over")
    (trial, *_) = eng.summary()["ppt"]["trials"]
    assert trial["ppt_kpa"] == pytest.approx(150.0, abs=0.5)
    assert trial["peak_kpa"] == pytest.approx(160.0, abs=0.5)  # not the 300 kPa pressed during the rest


def test_signals_given_just_before_a_stop_are_applied():
    eng = Engine(holds(cycles=1, hold_s=30.0))
    t, p = trace((1.0, 200), (1.0, 200))
    run(eng, t, p)
    eng.signal(2.03, "rating", 4)  # newer than the newest sample: waits for one
    eng.stop(2.05, "STOP")
    rating = kinds(eng.drain_events(), "pain_rating")
    assert rating and rating[0].t_s == pytest.approx(2.03) and rating[0].data["value"] == 4
    assert eng.end_reason == "stopped: STOP"
