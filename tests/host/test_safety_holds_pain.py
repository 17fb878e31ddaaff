"""Issue 10, items 7 and 5: hold limits that make sense, and pain stops pressure.

The engine on scripted traces and with the virtual hand on a simulated clock (no device, no real
time): a compression is guided off at 90 s, a point's pressure ends the application at 2 min, no
built-in with its defaults trips its own alarm with a slow hand; "pain now" eases the cue and caps
the band under the pressure that hurt, a rating ≥ 7 ends the hold; all of it reaches the records.
"""

from __future__ import annotations

import numpy as np
import pytest

from pointdose import units
from pointdose.protocols import BUILTINS, Engine, Limits, PointContext, PPTRecord, builtin
from pointdose.sim.virtual_hand import VirtualHand
from test_protocol_engine import kinds, run, trace


# ---------------------------------------------------------------- the slow hand, every built-in

class NullLink:
    """The hand's `sim profile` commands go nowhere: its force is read from the hand itself."""

    def command(self, text, timeout=1.0):
        return None


def guided_by_hand(proto, *, release_after_s, skill="novice", seed=1, dt=0.1, sub=5, t_max=1500.0):
    """The virtual hand follows the engine's cue on a simulated clock; 50 Hz samples of its force."""
    eng = Engine(proto, PointContext(name="trap", ppt=PPTRecord(kpa=250.0, probe_area_cm2=1.0)))
    now = [0.0]
    hand = VirtualHand(NullLink(), cue=lambda: eng.cue, skill=skill, ppt_kpa=250.0, seed=seed,
                       signal=lambda kind, source="": eng.signal(now[0], kind, source=source),
                       release_after_s=release_after_s, use_buttons=False, clock=lambda: now[0])
    eng.feed([0.0], [0.0])
    eng.start(0.0)
    events, trace_t, trace_p, f_prev, t = [], [], [], 0.0, 0.0
    while not eng.finished and t < t_max:
        t += dt
        now[0] = t
        hand.tick(t)
        frac = np.arange(1, sub + 1) / sub
        ts, ps = t - dt + dt * frac, units.pressure_kpa(f_prev + (hand.f - f_prev) * frac, 1.0)
        f_prev = hand.f
        eng.feed(ts, ps)
        eng.tick(t)
        events += eng.drain_events()
        trace_t.append(ts)
        trace_p.append(ps)
    return eng, events, np.concatenate(trace_t), np.concatenate(trace_p)


SLOW_HANDS = {"slow": (25.0, 40.0), "never-feels-release": (1e6, 1e6)}


@pytest.mark.parametrize("hand", SLOW_HANDS)
@pytest.mark.parametrize("name", list(BUILTINS))
def test_no_builtin_with_its_defaults_trips_its_own_alarm_with_a_slow_hand(name, hand):
    eng, events, t, p = guided_by_hand(builtin(name), release_after_s=SLOW_HANDS[hand])
    assert eng.finished and eng.end_reason.startswith("completed"), (eng.end_reason, kinds(events, "alarm"))
    assert kinds(events, "alarm") == []
    lim = eng.limits
    # the longest continuous press stayed under the hold alarm, the point's pressure near its cap
    pressing = p > lim.contact_kpa
    longest, run_start = 0.0, None
    for ti, on in zip(t, pressing):
        if on and run_start is None:
            run_start = ti
        elif not on and run_start is not None:
            longest, run_start = max(longest, ti - run_start), None
    if run_start is not None:
        longest = max(longest, t[-1] - run_start)
    assert longest < lim.max_hold_s
    contact = float(np.sum(np.diff(t)[pressing[1:]]))
    assert contact <= lim.point_cap_s + 2.0


def test_alternating_with_defaults_is_guided_off_at_the_compression_cap_not_alarmed():
    """Before: a slow hand kept pressing through all 6 cycles and the max-hold alarm ended it at 121 s.
    (With a low level that stays pressing; the default low level is a light contact, below.)"""
    eng, events, t, p = guided_by_hand(builtin("alternating", low="100 kPa"), release_after_s=(25.0, 40.0))
    caps = kinds(events, "cap")
    assert caps and caps[0].data["kind"] == "compression"
    assert caps[0].data["contact_s"] == pytest.approx(90.0, abs=0.1)
    starts = [e.data["label"] for e in kinds(events, "phase_start")]
    assert "Release (compression cap)" in starts and eng.end_reason == "completed"
    i = starts.index("Release (compression cap)")
    assert starts[i + 1] == "Rest"  # off the point for cap_rest_s, then the plan goes on
    # the default low level (3 kPa, a light contact) ends each contact: no compression reaches the cap
    eng, events, t, p = guided_by_hand(builtin("alternating"), release_after_s=(25.0, 40.0))
    assert not kinds(events, "cap") and not kinds(events, "alarm") and eng.end_reason == "completed"


# ---------------------------------------------------------------- caps on scripted traces

def test_a_compression_is_guided_off_at_90_s_and_the_alarm_stays_the_backstop():
    eng = Engine(builtin("holds", target="200 kPa", hold_s=200.0, cycles=2, rest_s=5.0))
    t, p = trace((1, 200), (89, 200), (0.5, 0), (40, 0))  # releases when told
    events, cues = run(eng, t, p, until=95)
    cap = kinds(events, "cap")[0]
    assert cap.data["kind"] == "compression" and cap.t_s == pytest.approx(0.1 + 90, abs=0.05)
    ends = kinds(events, "phase_end")
    assert ends[1].data["reason"] == "compression cap" and ends[1].data["label"] == "Hold"
    # holds' own "Release" comes next: no phase inserted
    assert [e.data["label"] for e in kinds(events, "phase_start")][2] == "Release"
    assert not kinds(events, "alarm")

    held = Engine(builtin("holds", target="200 kPa", hold_s=200.0, cycles=2))  # ignores the cue
    events, _ = run(held, *trace((1, 200), (125, 200)))
    assert [e.data["kind"] for e in kinds(events, "alarm")] == ["max_hold"]
    assert kinds(events, "cap")[0].t_s < kinds(events, "alarm")[0].t_s - 29


def test_a_caution_region_shortens_the_compression_cap_under_its_hold_alarm():
    eng = Engine(builtin("holds", target="50 kPa", hold_s=60.0, cycles=1), PointContext(region="popliteal_fossa"))
    assert eng.limits.max_hold_s == 30.0 and eng.limits.compression_s == pytest.approx(22.5)
    events, _ = run(eng, *trace((1, 50), (30, 50), (1, 0), (5, 0)))
    # contact (10 kPa, docs/metrics.md) reached at 0.2 s
    assert kinds(events, "cap")[0].t_s == pytest.approx(22.5 + 0.2, abs=0.05)
    assert not kinds(events, "alarm")


def test_the_per_point_cap_ends_the_application_after_2_min_of_pressure_counting_earlier_ones():
    proto = builtin("holds", target="200 kPa", hold_s=30.0, rest_s=5.0, cycles=6)
    cycle = [(1, 200), (30, 200), (0.5, 0), (5.5, 0)]  # ~30.9 s of pressure a cycle
    eng = Engine(proto)
    events, _ = run(eng, *trace(*(cycle * 6)))
    cap = kinds(events, "cap")[-1]
    assert cap.data["kind"] == "point" and cap.data["contact_s"] == pytest.approx(120.0, abs=0.05)
    assert eng.end_reason == "completed: per-point cap reached" and not kinds(events, "alarm")
    assert kinds(events, "phase_start")[-1].data["label"] == "Release (per-point cap)"
    assert eng.summary()["cycles_done"] == 3

    before = Engine(proto, PointContext(contact_s_before=100.0))  # this point already had 100 s today
    events, _ = run(before, *trace(*(cycle * 6)))
    assert kinds(events, "cap")[-1].data["contact_s"] == pytest.approx(120.0, abs=0.05)
    assert kinds(events, "cap")[-1].t_s < 25


# ---------------------------------------------------------------- pain stops pressure

@pytest.mark.parametrize("name,params,phase_label", [
    ("holds", {"target": "200 kPa", "hold_s": 20.0, "cycles": 2, "rest_s": 3.0}, "Hold"),
    ("tppr", {"target": "200 kPa", "hold_max_s": 20.0, "cycles": 1}, "Hold"),
    ("alternating", {"high": "200 kPa", "low": "100 kPa", "high_s": 20.0, "cycles": 1}, "High"),
])
def test_pain_now_eases_the_cue_and_caps_the_band_under_the_pressure_that_hurt(name, params, phase_label):
    eng = Engine(builtin(name, **params))
    t, p = trace((1, 200), (4, 200), (10, 200))
    events, cues = run(eng, t, p, signals=[(3.0, "pain", None)], until=6)
    cap = kinds(events, "pain_cap")[0]
    assert cap.data["pressure_kpa"] == pytest.approx(200.0) and cap.data["cap_kpa"] == pytest.approx(180.0)
    assert cap.data["band_hi_kpa"] == pytest.approx(180.0) and cap.data["target_kpa"] < 180.0
    cue = eng.cue
    assert cue.label == phase_label and cue.band == "above" and cue.prompt == "Pain — ease off"
    assert cue.band_hi_kpa == pytest.approx(180.0)
    assert not kinds(events, "phase_end")[1:]  # the hold goes on, lower


def test_a_pain_cap_holds_for_the_later_phases_and_steps():
    eng = Engine(builtin("tppr", target="150 kPa", steps=3, step="20 kPa", cycles=2, rest_s=2.0, hold_max_s=30))
    t, p = trace((1, 150), (3, 150), (1, 0), (60, 0))
    events, _ = run(eng, t, p, signals=[(2.0, "pain", None), (3.0, "release", None)], until=3.5)
    step = kinds(events, "step")[0]
    assert step.data["band_hi_kpa"] <= 135.0 + 1e-9  # 90 % of 150: the step does not lift it
    eng2 = Engine(builtin("holds", target="200 kPa", hold_s=5.0, cycles=2, rest_s=2.0))
    events, _ = run(eng2, *trace((1, 200), (6, 200), (1, 0), (2, 0), (1, 170), (10, 170)),
                    signals=[(3.0, "pain", None)])
    second = [e for e in kinds(events, "phase_start") if e.data["label"] == "Press"][1]
    assert second.data["band_hi_kpa"] == pytest.approx(180.0)


def test_pain_at_a_light_touch_ends_the_application_and_pain_off_the_point_is_only_recorded():
    eng = Engine(builtin("holds", target="200 kPa"))
    events, _ = run(eng, *trace((0.2, 10), (5, 10)), signals=[(0.15, "pain", None)])  # pain at 7.5 kPa
    assert eng.end_reason.startswith("stopped: pain at") and kinds(events, "pain_cap")[0].data["ends"]
    rest = Engine(builtin("holds", target="200 kPa", hold_s=2.0, rest_s=5.0))
    events, _ = run(rest, *trace((1, 200), (2, 200), (0.3, 0), (6, 0), (1, 200), (3, 200)),
                    signals=[(5.0, "pain", None)])
    assert kinds(events, "signal") and not kinds(events, "pain_cap")
    assert [e.data["band_hi_kpa"] for e in kinds(events, "phase_start") if e.data["label"] == "Press"][1] == \
        pytest.approx(220.0)


@pytest.mark.parametrize("rating,stops", [(6, False), (7, True), (10, True)])
def test_a_rating_at_or_above_7_ends_the_hold(rating, stops):
    eng = Engine(builtin("holds", target="200 kPa", hold_s=20.0, cycles=2, rest_s=3.0))
    events, _ = run(eng, *trace((1, 200), (10, 200)), signals=[(4.0, "rating", rating)], until=5.0)
    ends = kinds(events, "phase_end")
    if stops:
        assert ends[1].data["reason"] == "pain rating" and ends[1].t_s == pytest.approx(4.0, abs=0.02)
        assert kinds(events, "pain_stop")[0].data["rating"] == rating
        assert kinds(events, "pain_cap")[0].data["cap_kpa"] == pytest.approx(180.0)
        assert eng.cue.label == "Release"
    else:
        assert len(ends) == 1 and not kinds(events, "pain_stop")


def test_the_stop_rating_is_a_setting_and_an_alternating_high_is_followed_by_a_release():
    eng = Engine(builtin("alternating", high="200 kPa", low="100 kPa", high_s=20.0, cycles=2, pain_stop_rating=5))
    events, _ = run(eng, *trace((1, 200), (10, 200)), signals=[(4.0, "rating", 5)])
    labels = [e.data["label"] for e in kinds(events, "phase_start")]
    assert labels[-1] == "Release (pain rating)"  # not the 100 kPa "Low": off the point first
    assert Limits().pain_stop_rating == 7


def test_pain_events_reach_the_records(tmp_path):
    from pointdose.records import RecordingListener, Store
    from pointdose.session import SessionRunner
    from test_session_runner import FakeLink, drive

    store = Store(tmp_path / "r.sqlite")
    listener = RecordingListener(store, autoflush=False)
    link = FakeLink()
    link.push([0.0], [0.0])
    runner = SessionRunner(link, builtin("holds", target="200 kPa", hold_s=20.0, cycles=1),
                           PointContext(name="trap"), listeners=[listener])

    def signals(t):
        if abs(t - 3.0) < 0.025:
            runner.signal("pain", t_s=3.0)
        if abs(t - 5.0) < 0.025:
            runner.signal("rating", 8, t_s=5.0)

    drive(runner, link, 12.0, lambda ts: np.where(ts < 1, 200 * ts, np.where(ts < 6, 200.0, 0.0)), on_step=signals)
    runner.close()
    listener.close()
    app_id = listener.last_application_id
    rows = store.query("SELECT kind, data FROM events WHERE application_id=? ORDER BY t_s", (app_id,))
    kinds_stored = [r["kind"] for r in rows]
    assert "pain_cap" in kinds_stored and "pain_stop" in kinds_stored
    assert [r["value"] for r in store.query("SELECT value FROM pain WHERE application_id=?", (app_id,))] == [8]


def test_the_per_point_cap_counts_what_the_point_had_earlier_in_the_same_visit(tmp_path):
    """The app's body-map selection files several applications in one session: their contact counts."""
    from types import SimpleNamespace

    from pointdose.records import Store
    from pointdose.records.demo import make_demo
    from pointdose.session.precheck import point_contact_s, prepare_for_selection

    store = Store(tmp_path / "r.sqlite")
    client_id = make_demo(store, "DEMO-01", sessions=1)
    row = store.query("SELECT a.session_id, a.point_id, SUM(m.contact_s) AS s FROM applications a "
                      "JOIN application_metrics m ON m.application_id = a.id GROUP BY a.session_id, a.point_id "
                      "LIMIT 1")[0]
    assert row["s"] > 0
    assert point_contact_s(store, row["session_id"], row["point_id"]) == pytest.approx(row["s"])
    assert point_contact_s(store, None, row["point_id"]) == 0.0
    store.close()
    # the demo's visit was a week ago: the app's automatic visit (the terminal's rule) is a new one, with
    # nothing on the point yet; the cap counts the old visit's contact when the user picks that session
    sel = SimpleNamespace(db_path=str(tmp_path / "r.sqlite"), ready=True, client_id=client_id,
                          point_id=row["point_id"], session_id=None, visit=None)
    assert prepare_for_selection(builtin("holds", target="100 kPa", hold_s=100.0), sel).point.contact_s_before == 0.0
    sel = SimpleNamespace(db_path=str(tmp_path / "r.sqlite"), ready=True, client_id=client_id,
                          point_id=row["point_id"], session_id=row["session_id"], visit=row["session_id"])
    pre = prepare_for_selection(builtin("holds", target="100 kPa", hold_s=100.0), sel)
    assert pre.point.contact_s_before == pytest.approx(row["s"])
    eng = Engine(pre.protocol, pre.point)
    events, _ = run(eng, *trace((1, 100), (200, 100)))
    cap = kinds(events, "cap")[-1]
    assert cap.data["kind"] == "point" and cap.t_s == pytest.approx(120.0 - row["s"] + 0.2, abs=0.1)
