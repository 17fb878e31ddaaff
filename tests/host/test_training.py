"""Training: score formulas on traces with known answers, schedules, the feedback gate on every
channel, drills and presets, and merging two stations' CSV exports."""

from __future__ import annotations

import csv
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointdose.listeners import SAMPLE_DTYPE
from pointdose.training import (Block, BlockError, Drill, DrillError, Schedule, ScheduleError, preset, score_block,
                                score_trial, warnings)
from pointdose.training.runner import BlockRun
from pointdose.training.scores import TrialScore

# --------------------------------------------------------------------------- scores


def trial_trace(hold_level=100.0, rate=100.0):
    """0 → hold_level linearly over 2 s, hold 5 s, down to 0 over 1 s."""
    t = np.arange(0.0, 8.0 + 1e-9, 1.0 / rate)
    y = np.interp(t, [0, 2, 7, 8], [0, hold_level, hold_level, 0])
    return t, y


def test_flat_hold_scores():
    t, y = trial_trace(100.0)
    s = score_trial(t, y, target=100, band=(90, 110), t_start=0, ramp_s=2, hold_s=5, release_s=1)
    assert s.outcome == pytest.approx(100.0)
    assert s.error == pytest.approx(0.0, abs=1e-9)
    assert s.in_band_pct == pytest.approx(100.0)
    assert s.time_to_band_s == pytest.approx(1.8)  # 90 reached at 90/50 s
    assert s.peak == pytest.approx(100.0)
    assert s.overshoot == pytest.approx(0.0)


def test_sloped_hold_mean_in_band_share_and_overshoot():
    # hold rises linearly 80 → 120 over the 5 s window: mean 100, in [90, 110] for 2.5 s of 5 = 50 %
    t = np.arange(0.0, 8.0 + 1e-9, 0.01)
    y = np.interp(t, [0, 2, 7, 8], [0, 80, 120, 0])
    s = score_trial(t, y, target=100, band=(90, 110), t_start=0, ramp_s=2, hold_s=5, release_s=1)
    assert s.outcome == pytest.approx(100.0)
    assert s.in_band_pct == pytest.approx(50.0)
    assert s.time_to_band_s == pytest.approx(2 + 10 / 8)  # 90 is crossed 1.25 s into the hold
    assert s.peak == pytest.approx(120.0)
    assert s.overshoot == pytest.approx(20.0)
    assert s.overshoot_pct == pytest.approx(20.0)


def test_error_sign_and_a_trial_that_never_reaches_the_band():
    t, y = trial_trace(60.0)
    s = score_trial(t, y, target=100, band=(90, 110), t_start=0, ramp_s=2, hold_s=5)
    assert s.error == pytest.approx(-40.0)
    assert s.time_to_band_s is None
    assert s.in_band_pct == pytest.approx(0.0)


def test_a_gap_is_not_bridged_and_too_little_data_gives_no_outcome():
    t, y = trial_trace(100.0)
    y = y.copy()
    hole = (t > 3.0) & (t < 3.5)
    y[(t >= 3.0) & (t <= 3.5)] = 100.0
    seq = np.arange(t.size)
    keep = ~hole
    # the samples around the hole are at 100; a bridged line from 3.0 to 3.5 would also be 100, so make
    # the edges differ and check the mean ignores the span
    y2 = y[keep].copy()
    t2, seq2 = t[keep], seq[keep]
    y2[(t2 > 3.49) & (t2 < 3.51)] = 200.0  # one sample after the gap
    s = score_trial(t2, y2, target=100, band=(90, 110), t_start=0, ramp_s=2, hold_s=5, seq=seq2)
    assert any("gap" in n for n in s.notes)
    # covered = 5 s minus the 0.5 s hole; the 200 spike adds a triangle of 0.01 s × 100 / 2 on each side… = 1 kPa·s
    assert s.hold_coverage == pytest.approx(0.9, abs=1e-6)
    assert s.outcome == pytest.approx((4.5 * 100 + 0.5 * 0.01 * 100) / 4.5, rel=1e-6)
    short = score_trial(t[t < 5], y[t < 5], target=100, band=(90, 110), t_start=0, ramp_s=2, hold_s=5)
    assert short.outcome is None and any("cover" in n for n in short.notes)


def ts(outcome, target=100.0):
    return TrialScore(target=target, band=(90, 110), outcome=outcome, peak=outcome, error=outcome - target,
                      abs_error=abs(outcome - target), in_band_pct=50.0, time_to_band_s=1.0, overshoot=0.0,
                      overshoot_pct=0.0, hold_coverage=1.0)


def test_block_scores_known_answers():
    b = score_block([ts(90), ts(110), ts(100)])
    assert b.constant_error == pytest.approx(0.0)
    assert b.absolute_error == pytest.approx(20 / 3)
    # VE with n (Schmidt & Lee): √((100 + 100 + 0) / 3) = 8.165, not the sample SD's 10
    assert b.variable_error == pytest.approx(math.sqrt(200 / 3))
    assert b.variable_error_n1 == pytest.approx(10.0)  # kept apart, labelled "SD (n−1)"
    assert b.variable_error_n1 / b.variable_error == pytest.approx(math.sqrt(3 / 2))  # the 22 % of a 3-trial block
    assert b.cv_pct == pytest.approx(100 * math.sqrt(200 / 3) / 100)
    b2 = score_block([ts(120), ts(130)])
    assert b2.constant_error == pytest.approx(25.0) and b2.absolute_error == pytest.approx(25.0)
    assert b2.variable_error == pytest.approx(5.0)
    assert b2.total_error == pytest.approx(math.sqrt((400 + 900) / 2))


def test_schmidt_and_lee_textbook_block_e_squared_is_ce_squared_plus_ve_squared():
    # target 100; outcomes 93, 104, 98, 111, 99 → errors −7, 4, −2, 11, −1
    b = score_block([ts(x) for x in (93, 104, 98, 111, 99)])
    assert b.constant_error == pytest.approx(1.0)  # (−7 + 4 − 2 + 11 − 1) / 5
    assert b.abs_constant_error == pytest.approx(1.0)
    assert b.absolute_error == pytest.approx(5.0)  # (7 + 4 + 2 + 11 + 1) / 5
    assert b.total_error == pytest.approx(math.sqrt(191 / 5))  # (49 + 16 + 4 + 121 + 1) / 5
    assert b.variable_error == pytest.approx(math.sqrt(186 / 5))  # Σ(x − 101)² = 64 + 9 + 9 + 100 + 4
    assert b.total_error ** 2 == pytest.approx(b.constant_error ** 2 + b.variable_error ** 2, rel=1e-12)
    undershoot = score_block([ts(x) for x in (80, 90, 85)])
    assert undershoot.constant_error == pytest.approx(-15.0) and undershoot.abs_constant_error == pytest.approx(15.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=1.0, max_value=900.0), min_size=2, max_size=30), st.floats(min_value=1.0, max_value=500.0))
def test_e_squared_is_ce_squared_plus_ve_squared_for_any_block(outcomes, target):
    b = score_block([ts(x, target=target) for x in outcomes])
    assert b.total_error ** 2 == pytest.approx(b.constant_error ** 2 + b.variable_error ** 2, rel=1e-9, abs=1e-9)


def test_variable_error_undefined_for_one_trial_and_says_so():
    b = score_block([ts(105)])
    assert b.variable_error is None and b.cv_pct is None
    assert any("undefined for a single trial" in n for n in b.notes)
    assert b.constant_error == pytest.approx(5.0)


# --------------------------------------------------------------------------- schedules


@pytest.mark.parametrize("n,count", [(6, 2), (10, 3), (12, 4), (5, 0), (5, 5)])
def test_intermittent_is_exact_and_reproducible_from_its_seed(n, count):
    plans = {}
    for seed in range(1, 40):
        a = Schedule.intermittent(count, seed=seed).plan(n)
        b = Schedule.intermittent(count, seed=seed).plan(n)
        assert a == b  # the same seed, the same trials
        assert sum(a.concurrent) == count and len(a.chosen) == count
        assert a.seed == seed
        plans[seed] = a.concurrent
    if 0 < count < n:
        assert len(set(plans.values())) > 1  # the seed does choose


def test_intermittent_records_a_drawn_seed():
    block = Block("practice", preset("light", trials=6), Schedule.intermittent(2))
    assert block.schedule.seed is not None
    assert block.plan() == Schedule.intermittent(2, seed=block.schedule.seed).plan(6)


def test_faded_falls_and_is_exact():
    p = Schedule.faded(1.0, 0.0).plan(6)
    assert p.concurrent == (True, True, False, True, False, False)  # shares 1 .8 .6 .4 .2 0 → 3 trials
    for n in (3, 7, 10, 20):
        s = Schedule.faded(1.0, 0.0).plan(n)
        expected = math.floor(sum(1 - i / (n - 1) for i in range(n)) + 0.5)
        assert sum(s.concurrent) == expected
        first, second = s.concurrent[: n // 2], s.concurrent[n // 2:]
        assert sum(first) >= sum(second)


def test_other_kinds_and_parse_errors():
    assert Schedule.constant().plan(4).concurrent == (True,) * 4
    assert Schedule.none().plan(4).concurrent == (False,) * 4
    bw = Schedule.bandwidth(10)
    assert bw.concurrent_now(None, requested_before=False, error=5.0, target=100) is False
    assert bw.concurrent_now(None, requested_before=False, error=-15.0, target=100) is True
    assert Schedule.parse("intermittent:3", seed=4) == Schedule.intermittent(3, seed=4)
    with pytest.raises(ScheduleError, match="intermittent:N"):
        Schedule.parse("sometimes")
    with pytest.raises(ScheduleError, match="does not fit"):
        Schedule.intermittent(7, seed=1).plan(6)
    with pytest.raises(BlockError, match="without feedback"):
        Block("retention", preset("light"), Schedule.constant())


# --------------------------------------------------------------------------- drills


def test_presets_are_chaves_percentiles_and_warn_on_a_person():
    kpa = {name: preset(name).target for name in ("light", "moderate", "deep")}
    assert kpa["light"] == pytest.approx(98.0665)  # 1.0 kgf/cm²
    assert kpa["moderate"] == pytest.approx(2.3 * 98.0665)
    assert kpa["deep"] == pytest.approx(4.2 * 98.0665)
    assert warnings(preset("deep", surface="pad")) == []
    assert [w.code for w in warnings(preset("deep", surface="partner"))] == ["above-ppt"]
    assert warnings(preset("light", surface="partner", tolerance_pct=5)) == []  # 103 kPa < 140
    with pytest.raises(DrillError, match="surface"):
        preset("light", surface="table")
    with pytest.raises(DrillError, match="hold_s"):
        preset("light", hold_s=0)
    with pytest.raises(DrillError, match="thumb"):
        Drill(target=100, quantity="pressure", probe_area_cm2=None)


# --------------------------------------------------------------------------- the feedback gate


class FakeLink:
    def __init__(self):
        self.cues = []

    def send_cue(self, phase, band, level):
        self.cues.append((phase, band, level))


def drive(run, press, t_end=60.0, rate=100, chunk=5, on_step=None):
    """Feed a run samples from ``press(t)`` until it finishes."""
    seq, t = 0, 0.0
    while not run.finished and t < t_end:
        rows = np.zeros(chunk, SAMPLE_DTYPE)
        rows["seq"] = np.arange(seq, seq + chunk)
        rows["t_s"] = t + np.arange(chunk) / rate
        rows["pressure_kpa"] = [press(x) for x in rows["t_s"]]
        rows["force_n"] = rows["pressure_kpa"] / 10.0
        seq, t = seq + chunk, t + chunk / rate
        run.feed(rows)
        if on_step:
            on_step(run)


def test_every_channel_is_off_exactly_when_the_schedule_says():
    from pointdose.cues import CueMixer, DeviceCues
    from pointdose.commands.train import _Printer

    d = preset("moderate", trials=6, ramp_s=1.0, hold_s=1.0, release_s=0.5, rest_s=0.5)
    run = BlockRun(Block("practice", d, Schedule.intermittent(2, seed=11)), get_ready_s=1.0)
    run.start(0.0)
    link = FakeLink()
    clock = [0.0]
    device = DeviceCues(link, clock=lambda: clock[0])
    mixer = CueMixer()
    printer_lines = []
    printer = _Printer("kPa")
    seen = []

    def step(r):
        cue = r.cue
        clock[0] = cue.t_s
        device.update(cue.device_cue())
        mixer.update(cue.sound_cue())
        printer_lines.append((cue.trial, cue.phase, cue.feedback_on, cue.terminal_line("kPa")))
        seen.append((cue.t_s, cue.trial, cue.phase, cue.feedback_on, cue.value, cue.band, mixer._band,
                     link.cues[-1] if link.cues else None))

    drive(run, lambda t: d.target * 1.3 * min(1.0, max(0.0, (t - 1.0) % 3.0)), on_step=step)
    plan = run.plan.concurrent
    assert sum(plan) == 2
    # the gate opens at the ramp of each chosen trial and closes at its rest, at the exact times
    starts = [1.0 + 3.0 * (k - 1) for k in range(1, 7)]
    expected = []
    for k, on in enumerate(plan, start=1):
        if on:
            expected += [(starts[k - 1], True, k), (starts[k - 1] + 2.5, False, k)]
    assert [(pytest.approx(t), on, k) for t, on, k in run.feedback_log] == expected
    for t, trial, phase, fb, value, band, sound_band, last_cue in seen:
        should = trial >= 1 and plan[trial - 1] and phase in ("ramp", "hold", "release")
        assert fb == should
        if not fb:
            assert value is None and band == "none" and sound_band == "none"  # readout, tones
            assert last_cue is None or last_cue[0] == "off"  # device LED/buzzer
        else:
            assert value is not None and last_cue[0] != "off"
    for trial, phase, fb, line in printer_lines:  # terminal: no number while hidden
        if not fb:
            rest = re.sub(r"\d+\.\d s\b", "", line.split("]", 1)[1])  # the countdown may stay
            assert not re.search(r"\d", rest) and "kPa" not in line and line.endswith("feedback off"), line
        else:
            assert re.search(r"\d+\.\d kPa", line), line
    # KR (always): every trial's result was shown; with "with-feedback" only after the two
    assert all(r.kr_shown for r in run.results)
    assert [r.feedback_s > 0 for r in run.results] == list(plan)


def test_kr_with_feedback_only_and_self_controlled_requests():
    d = preset("light", trials=4, ramp_s=1.0, hold_s=1.0, release_s=0.5, rest_s=1.0)
    run = BlockRun(Block("practice", d, Schedule.intermittent(1, seed=3, kr="with-feedback")), get_ready_s=0.5)
    run.start(0.0)
    drive(run, lambda t: d.target)
    assert [r.kr_shown for r in run.results] == list(run.plan.concurrent)

    # self-controlled (Chiviacowsky & Wulf 2005): KR only after trials the learner asked about, whether
    # the request came before the trial or after it — never otherwise
    for when in ("before", "after", "both"):
        run = BlockRun(Block("practice", d, Schedule.self_controlled(when)), get_ready_s=0.5)
        run.start(0.0)
        made = []

        def step(r, when=when, made=made):
            if when in ("before", "both") and r.cue.phase in ("ready", "rest") and r.cue.trial in (0, 2) \
                    and r.cue.can_request_before and r.request("before"):
                made.append(("before", r.cue.trial + 1))  # about trial 1, then trial 3
            if when in ("after", "both") and r.cue.phase == "rest" and r.cue.trial == 2 and r.cue.can_request_after \
                    and r.request("after"):
                made.append(("after", 2))
        drive(run, lambda t: d.target, on_step=step)
        asked = sorted({k for _, k in made})
        assert asked == {"before": [1, 3], "after": [2], "both": [1, 2, 3]}[when]
        assert [r.kr_shown for r in run.results] == [k in asked for k in (1, 2, 3, 4)]
        assert [r.feedback_s for r in run.results] == [0.0] * 4  # the request gives KR, not concurrent feedback
        assert run.results[1].requested_after == (when != "before")
    assert not BlockRun(Block("practice", d, Schedule.self_controlled("after")), get_ready_s=0.5).request("before")
    # concurrent feedback on request: asked for before a trial, during that trial only, no KR
    run = BlockRun(Block("practice", d, Schedule.self_controlled("before", "concurrent")), get_ready_s=0.5)
    run.start(0.0)
    drive(run, lambda t: d.target,
          on_step=lambda r: r.cue.trial == 1 and r.cue.phase == "rest" and r.request("before"))
    assert [r.feedback_s > 0 for r in run.results] == [False, True, False, False]
    assert not any(r.kr_shown for r in run.results)
    with pytest.raises(ScheduleError, match="before a trial"):
        Schedule.self_controlled("after", "concurrent")
    with pytest.raises(ScheduleError, match="--kr does not apply"):
        Schedule.parse("self:after", kr="always")


def test_a_yoked_learner_gets_the_partners_feedback_trials_and_cannot_ask():
    d = preset("light", trials=5, ramp_s=1.0, hold_s=1.0, release_s=0.5, rest_s=1.0)
    partner = BlockRun(Block("practice", d, Schedule.self_controlled("after")), get_ready_s=0.5)
    partner.start(0.0)
    drive(partner, lambda t: d.target,
          on_step=lambda r: r.cue.phase == "rest" and r.cue.trial in (2, 5) and r.cue.can_request_after
          and r.request("after"))
    asked = [r.number for r in partner.results if r.requested_after]
    assert asked == [2, 5]
    yoked = Schedule.yoked(asked, partner="block-1")
    assert Schedule.from_dict(yoked.to_dict()) == yoked  # stored as JSON, replayed the same
    assert Schedule.parse("yoked:2,5") == Schedule.yoked([2, 5])
    run = BlockRun(Block("practice", d, yoked), get_ready_s=0.5)
    run.start(0.0)
    drive(run, lambda t: d.target, on_step=lambda r: r.request("before") or r.request("after"))
    assert [r.kr_shown for r in run.results] == [r.kr_shown for r in partner.results]
    assert not any(r.requested_before or r.requested_after for r in run.results)
    with pytest.raises(ScheduleError, match="beyond this block"):
        Block("practice", d.with_(trials=4), yoked)


def test_faded_feedback_fades_across_practice_blocks():
    from pointdose.training.runner import practice_blocks

    d = preset("light", trials=6)
    blocks = practice_blocks(d, Schedule.faded(), 3)
    plans = [b.plan().concurrent for b in blocks]
    # one series of 18 trials, shares 1 → 0 in steps of 1/17: the blocks' shares sum to 87/17, 51/17
    # and 15/17, so 5, 3 and 1 trials with feedback (each block rounds its own sum)
    assert [sum(p) for p in plans] == [5, 3, 1]
    assert [b.schedule.offset for b in blocks] == [0, 6, 12] and {b.schedule.total for b in blocks} == {18}
    # a single block fades within itself, as before
    assert Schedule.faded().plan(6).concurrent == (True, True, False, True, False, False)
    # intermittent blocks draw their own trials, each recorded with its own seed
    inter = practice_blocks(d, Schedule.intermittent(2, seed=5), 3)
    assert [b.schedule.seed for b in inter] == [5, 6, 7]


def test_bandwidth_and_constant_differ_in_sound_inside_the_band():
    from pointdose.cues import CueMixer

    d = preset("light", trials=1, ramp_s=1.0, hold_s=2.0, release_s=0.0, rest_s=0.0)
    energy = {}
    for name, schedule in (("constant", Schedule.constant()), ("bandwidth", Schedule.bandwidth(10))):
        run = BlockRun(Block("practice", d, schedule), get_ready_s=0.5)
        run.start(0.0)
        mixer = CueMixer()
        heard = []

        def step(r, mixer=mixer, heard=heard):
            mixer.update(r.cue.sound_cue())
            if r.cue.phase == "hold" and r.cue.t_s > 2.0:  # on target, well after the hold tone
                heard.append(float(np.abs(mixer.render(2205)).max()))  # 0.1 s of sound
            else:
                mixer.render(1102)
        drive(run, lambda t: d.target, on_step=step)
        energy[name] = max(heard)
    assert energy["constant"] > 0.05  # inside the band the constant schedule still reports: the in-band tick
    assert energy["bandwidth"] == 0.0  # … bandwidth is silent there (feedback withheld)
def test_bandwidth_reveals_only_outside_the_band():
    d = preset("light", trials=1, ramp_s=1.0, hold_s=2.0, release_s=0.0, rest_s=0.0)
    run = BlockRun(Block("practice", d, Schedule.bandwidth(10)), get_ready_s=0.5)
    run.start(0.0)
    states = []
    # hold exactly on target for 1 s, then 30 % too high
    drive(run, lambda t: d.target if t < 2.5 else d.target * 1.3,
          on_step=lambda r: states.append((r.cue.t_s, r.cue.phase, r.cue.feedback_on)))
    hold = [(t, on) for t, ph, on in states if ph == "hold"]
    assert not any(on for t, on in hold if 1.6 < t < 2.45)
    assert all(on for t, on in hold if 2.65 < t < 3.45)


# --------------------------------------------------------------------------- two stations


def record_station(path, code, seed, level):
    from pointdose.training.store import TrainingStore

    ts = TrainingStore.open(path)
    ts.add_student(code)
    if "Spring" not in [c["name"] for c in ts.classes()]:
        ts.add_class("Spring", uid="6b1c3c8e-0000-4000-8000-000000000001")
    ts.enrol("Spring", [code])
    session = ts.start_session(code, class_name="Spring")
    d = preset("moderate", trials=3, ramp_s=1.0, hold_s=1.0, release_s=0.5, rest_s=0.5)
    for position, block in enumerate([Block("pre-test", d, Schedule.none()),
                                      Block("practice", d, Schedule.intermittent(1, seed=seed))]):
        ts.begin_block(session, position, block)
        run = BlockRun(block, get_ready_s=0.5)
        run.start(0.0)
        drive(run, lambda t: d.target * level)
        for rec in run.results:
            ts.save_trial(rec)
        ts.end_block(block.uid)
    return ts


def test_merging_two_stations_exports(tmp_path):
    from pointdose.training.store import TrainingImportError

    a = record_station(tmp_path / "a.sqlite", "S-A", 1, 1.1)
    b = record_station(tmp_path / "b.sqlite", "S-B", 2, 0.9)
    assert a.station() != b.station()
    a.export_csv(tmp_path / "a.csv", class_name="Spring")
    b.export_csv(tmp_path / "b.csv", class_name="Spring")
    rep = a.import_csv(tmp_path / "b.csv")
    assert rep.trials_added == 6 and rep.trials_already_here == 0 and rep.students_added == ["S-B"]
    again = a.import_csv(tmp_path / "b.csv")  # the same file twice: nothing new
    assert again.trials_added == 0 and again.trials_already_here == 6 and not again.conflicts
    own = a.import_csv(tmp_path / "a.csv")  # our own export back: nothing new
    assert own.trials_added == 0
    b.import_csv(tmp_path / "a.csv")
    ids_a = sorted(r["uid"] for r in a.trials())
    ids_b = sorted(r["uid"] for r in b.trials())
    assert ids_a == ids_b and len(ids_a) == 12 == len(set(ids_a))
    assert sorted(s["code"] for s in a.students("Spring")) == ["S-A", "S-B"]
    comp = {r["student"]: r["score"] for r in a.class_comparison("Spring", "pre-test")}
    assert comp["S-A"].constant_error > 0 > comp["S-B"].constant_error
    # outcomes survive the round trip exactly
    out_a = {r["uid"]: r["outcome"] for r in a.trials()}
    out_b = {r["uid"]: r["outcome"] for r in b.trials()}
    assert out_a == out_b
    # samples stay where they were recorded
    local = [r for r in a.trials(student="S-A")][0]
    assert len(a.trial_samples(local["uid"])) > 100

    # a damaged file: error names the line and the column; nothing is imported
    rows = list(csv.DictReader(open(tmp_path / "b.csv")))
    rows[2]["outcome"] = "heavy"
    with open(tmp_path / "bad.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, rows[0].keys())
        w.writeheader()
        w.writerows(rows)
    c = record_station(tmp_path / "c.sqlite", "S-C", 3, 1.0)
    before = len(c.trials())
    with pytest.raises(TrainingImportError, match=r"line 4, column outcome: 'heavy' is not a number"):
        c.import_csv(tmp_path / "bad.csv")
    assert len(c.trials()) == before
    (tmp_path / "other.csv").write_text("t_s,pressure_kpa\n0,1\n")
    with pytest.raises(TrainingImportError, match="not a pointdose training export"):
        c.import_csv(tmp_path / "other.csv")
    for s in (a, b, c):
        s.close()


def test_cli_reports_bad_input_as_one_line(tmp_path, capsys, monkeypatch):
    from pointdose.cli import main

    monkeypatch.setenv("POINTDOSE_DB", str(tmp_path / "db.sqlite"))
    assert main(["class", "student", "S-1"]) == 0
    assert main(["train", "import", str(tmp_path / "missing.csv")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["train", "run", "--student", "S-1", "--schedule", "often", "--sim"]) == 1
    assert "not understood" in capsys.readouterr().err
    assert main(["train", "run", "--student", "S-1", "--preset", "deep", "--surface", "partner", "--sim"]) == 1
    err = capsys.readouterr().err
    assert "exceeds typical pressure-pain thresholds" in err and "--yes" in err


def test_a_trial_counts_contacts_by_the_metrics_definition():
    # a clean trial is one contact; lifting off (to 0) for 0.2 s mid-hold is a second one, and a
    # wobble around the 10 kPa threshold on the way down adds none (release at 5 kPa)
    t, y = trial_trace(100.0)
    clean = score_trial(t, y, target=100, band=(90, 110), t_start=0, ramp_s=2, hold_s=5, release_s=1,
                        contact_level=10.0)
    assert clean.contacts == 1 and not any("came off" in n for n in clean.notes)
    lifted = y.copy()
    lifted[(t > 4.0) & (t < 4.2)] = 0.0
    lifted[(t > 7.8)] = 10.0 + 0.5 * np.sin(2 * np.pi * 11 * t[t > 7.8])
    s = score_trial(t, lifted, target=100, band=(90, 110), t_start=0, ramp_s=2, hold_s=5, release_s=1,
                    contact_level=10.0)
    assert s.contacts == 2 and any("came off the surface 1 time" in n for n in s.notes)
    assert Drill(target=20.0, quantity="force", probe_area_cm2=None).contact_level == pytest.approx(1.0)  # 10 kPa on 1 cm²
    assert Drill(target=200.0).contact_level == 10.0


def test_a_yoked_schedule_comes_from_the_partners_stored_requests_and_is_stored_to_replay(tmp_path):
    import argparse
    import json

    from pointdose.errors import UserError
    from pointdose.commands.train import _build_blocks
    from pointdose.training.store import TrainingStore

    ts = TrainingStore.open(tmp_path / "records.sqlite")
    ts.add_student("S-P")
    ts.add_student("S-Y")
    d = preset("light", trials=4, ramp_s=1.0, hold_s=1.0, release_s=0.5, rest_s=1.0)
    session = ts.start_session("S-P")
    block = Block("practice", d, Schedule.self_controlled("before"))
    ts.begin_block(session, 0, block)
    run = BlockRun(block, get_ready_s=0.5)
    run.start(0.0)
    drive(run, lambda t: d.target,
          on_step=lambda r: r.cue.phase == "rest" and r.cue.trial == 2 and r.request("before"))  # about trial 3
    for rec in run.results:
        ts.save_trial(rec)
    ts.end_block(block.uid)

    schedule, n = ts.yoked_schedule("S-P")
    assert (schedule.kind, schedule.trials, schedule.feedback, schedule.partner, n) == ("yoked", (3,), "kr", block.uid, 4)
    args = argparse.Namespace(
        schedule="yoked", yoke_to="S-P", yoke_block=None, seed=None, kr=None, trials=4, practice_blocks=1,
        plan="practice", unit="kPa", target=None, preset="light", tolerance=10.0, ramp=1.0, hold=1.0, release=0.5,
        rest=1.0, surface="pad", probe_area=1.0, test_trials=3, transfer_target=None)
    _, (yoked_block,) = _build_blocks(args, ts)
    assert yoked_block.schedule == schedule and yoked_block.plan().chosen == (3,)
    session_y = ts.start_session("S-Y")
    ts.begin_block(session_y, 0, yoked_block)
    stored = ts.store.query("SELECT schedule, feedback_trials FROM training_blocks WHERE uid=?", (yoked_block.uid,))[0]
    assert Schedule.from_dict(json.loads(stored["schedule"])) == schedule  # replays exactly
    assert json.loads(stored["feedback_trials"]) == [3]
    with pytest.raises(UserError, match="--trials 4"):
        _build_blocks(argparse.Namespace(**{**vars(args), "trials": 6}), ts)
    with pytest.raises(UserError, match="--yoke-to"):
        _build_blocks(argparse.Namespace(**{**vars(args), "yoke_to": None}), ts)
    with pytest.raises(UserError, match="self-controlled"):
        ts.yoked_schedule("S-Y")  # S-Y has no self-controlled block
    ts.close()


def test_a_drill_stopped_by_the_user_records_its_blocks_end_and_reason(tmp_path):
    """Stop in the middle of a block: the block gets an end and the reason 'stopped by the user' in the
    records (as an alarm gets 'alarm: KIND'), and the session an end."""
    from test_live_loop import FakeLink, _drill, drive as drive_loop

    from pointdose.training.store import TrainingStore

    ts = TrainingStore.open(tmp_path / "records.sqlite")
    try:
        ts.add_student("S-STOP")
        session = ts.start_session("S-STOP")
        link = FakeLink()
        trainer = _drill(link, store=ts, session_uid=session)
        drive_loop(trainer, link, lambda t: np.full_like(t, 120.0), seconds=3.0)
        assert not trainer.finished and trainer.current.cue.phase == "hold"
        trainer.stop("stopped by the user")
        assert trainer.finished and trainer.runs[0].stopped
        (block,) = ts.store.query("SELECT uid, ended_at, end_reason FROM training_blocks WHERE session_uid=?", (session,))
        assert block["uid"] == trainer.runs[0].block.uid
        assert block["end_reason"] == "stopped by the user" and block["ended_at"] is not None
        (row,) = ts.store.query("SELECT ended_at FROM training_sessions WHERE uid=?", (session,))
        assert row["ended_at"] is not None
        trainer.stop("stopped by the user")  # a second Stop changes nothing
        assert len(ts.store.query("SELECT 1 FROM training_blocks")) == 1
    finally:
        ts.close()
