"""PPT trials as an algometer takes them (issue 11 item 1): measured rate, invalid trials repeated,
the ceiling and censoring, familiarisation, the prompts, blinding, the tolerance protocol."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from pointdose.protocols import Engine, builtin
from test_protocol_engine import kinds, run, trace


def ppt_run(proto, segments, signals, limits=None):
    eng = Engine(proto, limits=limits)
    t, p = trace(*segments)
    events, cues = run(eng, t, p, signals=signals)
    if not eng.finished:
        eng.stop(float(t[-1]), "test over")
        events += eng.drain_events()
    return eng, events, cues


def test_the_trials_measured_rate_is_recorded_and_a_trial_off_the_band_is_repeated():
    # trial 1 at 100 kPa/s (signal at 150 kPa, 1.5 s), trial 2 after an idle second at 50 kPa/s
    proto = builtin("ppt", trials=1, rest_s=1.0, retries=2)
    eng, events, _ = ppt_run(proto, [(1.5, 150), (0.5, 0), (1.0, 0), (1.0, 0), (3.0, 150), (0.5, 0), (1, 0)],
                             signals=[(1.5, "pain", None), (7.0, "pain", None)])
    trials = kinds(events, "ppt_trial")
    assert [round(e.data["rate_kpa_s"]) for e in trials] == [100, 50]
    assert trials[0].data["valid"] is False and "too fast for 40–60 kPa/s" in trials[0].data["rate_check"]
    assert trials[1].data["valid"] is True
    (retry,) = kinds(events, "ppt_retry")
    assert retry.data["retry"] == 1 and retry.data["retries"] == 2
    res = eng.ppt_result
    assert res["n"] == 1 and res["planned"] == 1 and res["complete"] and res["invalid"] == 1
    assert res["mean_kpa"] == pytest.approx(150.0, abs=0.5)  # the invalid 100 kPa/s trial is not in it
    assert [t["valid"] for t in res["all_trials"]] == [False, True] and len(res["trials"]) == 1
    (ppt,) = kinds(events, "ppt")
    assert ppt.data["repeats"] == [pytest.approx(150.0, abs=0.5)]


def test_retries_run_out():
    proto = builtin("ppt", trials=1, rest_s=1.0, retries=0)
    eng, events, _ = ppt_run(proto, [(1.5, 150), (0.5, 0), (2, 0)], signals=[(1.5, "pain", None)])
    assert not kinds(events, "ppt_retry") and eng.ppt_result["n"] == 0 and not eng.ppt_result["complete"]
    assert not kinds(events, "ppt")  # nothing to save as the point's PPT


def test_a_trial_reaching_the_ceiling_is_censored_not_an_alarm():
    # a sensor calibrated to 400 kPa with this probe: the ramp stops there, and the PPT is "> 400 kPa"
    proto = builtin("ppt", trials=1, rest_s=1.0)
    limits = replace(proto.limits, calibrated_max_kpa=400.0)
    eng, events, _ = ppt_run(proto, [(8.0, 400), (1.0, 0), (2, 0)], signals=[], limits=limits)
    (trial,) = kinds(events, "ppt_trial")
    assert trial.data["censored"] and trial.data["text"] == "> 400 kPa" and trial.data["ceiling_kpa"] == 400.0
    assert not kinds(events, "alarm")
    ends = [e.data["reason"] for e in kinds(events, "phase_end")]
    assert ends[0] == "ceiling"
    assert eng.ppt_result["censored"] and eng.ppt_result["mean_kpa"] is None
    # pressing on past the calibrated range after the ramp was stopped is still an alarm
    _, events, _ = ppt_run(proto, [(9.0, 450), (1.0, 0)], signals=[], limits=limits)
    assert kinds(events, "ppt_trial")[0].data["censored"] and kinds(events, "alarm")[0].data["kind"] == "out_of_range"
    # without a calibrated range the ceiling is 1000 kPa, above the healthy PPTs of ~620–660 ± 220 kPa
    assert Engine(builtin("ppt"))._ppt_ceiling == 1000.0 and builtin("ppt").limits.max_kpa > 1000.0


def test_a_familiarisation_trial_comes_first_and_is_not_counted():
    proto = builtin("ppt", trials=1, rest_s=1.0, familiarisation=True)
    assert proto.repetitions == 2
    eng, events, cues = ppt_run(proto, [(2.0, 100), (0.5, 0), (1.0, 0), (4.0, 200), (0.5, 0), (1, 0)],
                                signals=[(2.0, "pain", None), (7.5, "pain", None)])
    trials = kinds(events, "ppt_trial")
    assert [e.data["familiarisation"] for e in trials] == [True, False]
    assert eng.ppt_result["mean_kpa"] == pytest.approx(200.0, abs=0.5) and eng.ppt_result["n"] == 1
    assert any(c.prompt.startswith("Familiarisation (not counted)") for c in cues if c.phase == "ramp")


def test_the_prompts_name_site_marking_the_perpendicular_probe_and_the_standard_instruction():
    proto = builtin("ppt", trials=1)
    eng, events, cues = ppt_run(proto, [(2.0, 100), (0.5, 0)], signals=[(2.0, "pain", None)])
    (ins,) = kinds(events, "ppt_instructions")
    text = " ".join(ins.data["steps"])
    assert "mark the site" in text and "perpendicular" in text and "first becomes painful" in text
    assert all("perpendicular" in c.prompt for c in cues if c.phase == "ramp")
    assert "first becomes painful" in [c for c in cues if c.phase == "ramp"][0].prompt  # shown on screen too
    assert "mark the site" in proto.description


def test_a_blinded_readout_hides_the_numbers_until_the_end():
    from pointdose.commands.session import Printer

    eng, events, cues = ppt_run(builtin("ppt", trials=1, blinded=True), [(2.0, 100), (0.5, 0)],
                                signals=[(2.0, "pain", None)])
    out = io.StringIO()
    printer = Printer("kPa", 1.0, tty=False, stream=out)
    ramp = [c for c in cues if c.phase == "ramp"][-1]
    assert ramp.blinded and "(blinded)" in printer.line(ramp) and "kPa " not in printer.line(ramp).split("rate")[0]
    for e in kinds(events, "ppt_trial"):
        printer.event(e)
    assert "recorded (blinded)" in out.getvalue() and "100" not in out.getvalue()


def test_the_tolerance_protocol_is_recorded_as_a_tolerance_never_as_a_ppt():
    proto = builtin("ptt", trials=1)
    assert proto.name == "ptt" and "cannot take any more" in proto.description
    eng, events, cues = ppt_run(proto, [(6.0, 300), (0.5, 0)], signals=[(6.0, "pain", None)])
    assert not kinds(events, "ppt")
    (tol,) = kinds(events, "tolerance")
    assert tol.data["kpa"] == pytest.approx(300.0, abs=0.5) and tol.data["measure"] == "tolerance"
    assert any("cannot take more" in c.prompt for c in cues if c.phase == "ramp")
