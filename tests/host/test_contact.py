"""The one contact definition in the engine: its hold clocks use metrics.ContactTracker (docs/metrics.md)."""

from __future__ import annotations

import pytest

from pointdose import metrics
from pointdose.protocols import Engine, Limits, PointContext, builtin
from test_protocol_engine import kinds, run, trace


def test_the_engine_and_the_metrics_share_the_threshold():
    assert Limits().contact_kpa == metrics.DEFAULT_CONTACT_KPA  # was 20 kPa against the metrics' 10


def test_a_dip_between_the_two_levels_does_not_restart_the_hold_clock():
    # a caution region: compression cap 22.5 s. Pressed at 50 kPa, a 0.5 s dip to 7 kPa (under the
    # 10 kPa threshold, over the 5 kPa release level) at 11 s is still contact: the cap counts from the
    # first touch (10 kPa at 0.2 s), not from after the dip (it would fall at ~34 s with a plain threshold)
    eng = Engine(builtin("holds", target="50 kPa", hold_s=60.0, cycles=1), PointContext(region="popliteal_fossa"))
    events, _ = run(eng, *trace((1, 50), (10, 50), (0.1, 7), (0.5, 7), (0.1, 50), (30, 50), (1, 0), (5, 0)))
    assert kinds(events, "cap")[0].t_s == pytest.approx(22.5 + 0.2, abs=0.05)
    # a lift to 3 kPa (under the release level) ends the contact: the clock restarts after it
    eng = Engine(builtin("holds", target="50 kPa", hold_s=60.0, cycles=1), PointContext(region="popliteal_fossa"))
    events, _ = run(eng, *trace((1, 50), (10, 50), (0.1, 3), (0.5, 3), (0.1, 50), (30, 50), (1, 0), (5, 0)))
    assert kinds(events, "cap")[0].t_s > 30.0


def test_defaults_carry_their_real_sources_and_the_alternating_low_level_is_a_light_contact():
    from pointdose.protocols import BUILTINS

    params = {p.key: p for p in BUILTINS["ischemic"].params}
    assert params["target"].default == "100 %PPT" and params["hold_s"].default == 90.0
    assert "Hou 2002" in params["target"].help and "7/10" not in params["target"].help
    assert "Hou et al. 2002" in builtin("ischemic").description and "Gemmell" not in builtin("ischemic").description
    assert all("JBMT" not in p.help for p in BUILTINS["holds"].params)
    assert "JBMT" not in builtin("holds").description and "setting" in builtin("holds").description
    # the low level lets flow return only under capillary pressure (~4 kPa, ~30 mmHg, Landis 1930)
    low = builtin("alternating").phases[2]
    assert low.label == "Low" and low.target.value < 4.0 and low.target.unit == "kPa"
    assert "Landis 1930" in {p.key: p for p in BUILTINS["alternating"].params}["low"].help
    # … and is no contact by the one definition: each high hold is its own compression
    assert low.target.value < metrics.release_level(Limits().contact_kpa)
