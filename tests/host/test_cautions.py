"""The start decision: region cautions of body-map locations, the client's screening, targets vs the PPT."""

import pytest

from pointdose import bodymap
from pointdose.protocols import PointContext, PPTRecord, ProtocolError, builtin
from pointdose.protocols.cautions import REGIONS, SCREENING, decide, region_keys, relative_offers

SCM = bodymap.location("sternocleidomastoid.upper")
CALF = bodymap.location("gastrocnemius.1")
TRAP = bodymap.location("upper_trapezius.1")


def test_anterior_neck_refuses_sustained_compression_and_self_massage_but_allows_a_brief_ppt():
    for name in ("holds", "tppr", "ischemic", "alternating"):
        params = {"target": "60 kPa"} if name != "alternating" else {"high": "60 kPa", "low": "30 kPa"}
        d = decide(builtin(name, **params), location=SCM, screening=[])
        assert d.refusals and d.refusals[0].key == "anterior_neck", name
        with pytest.raises(ProtocolError, match="no sustained compression"):
            d.check(acknowledged=True, confirmed=True)  # nothing unlocks a refusal
    d = decide(builtin("ppt"), location=SCM, screening=[])
    assert not d.refusals and d.needs_ack and d.max_kpa == 100.0
    with pytest.raises(ProtocolError, match="acknowledge"):
        d.check(acknowledged=False)
    d.check(acknowledged=True)
    d = decide(builtin("ppt"), location=SCM, screening=[], self_massage=True)
    with pytest.raises(ProtocolError, match="self-massage"):
        d.check(acknowledged=True, confirmed=True)


def test_suspected_dvt_refuses_every_leg_point_and_only_reminds_elsewhere():
    for loc in bodymap.LOCATIONS:
        d = decide(builtin("ppt"), location=loc, screening=["suspected_dvt"])
        if loc.lower_limb:
            assert [f.key for f in d.refusals] == ["suspected_dvt"], loc.id
        else:
            assert not [f for f in d.refusals if f.key == "suspected_dvt"] and any(f.key == "suspected_dvt" for f in d.notes), loc.id
    # a point off the map: the user must confirm it is not on a leg
    d = decide(builtin("tppr", target="30 kPa"), location=None, screening=["suspected_dvt"],
               point=PointContext(name="sore spot"))
    assert not d.refusals and d.needs_ack and "not on a leg" in d.acknowledgements[0].text


def test_screening_combines_with_a_region_and_the_lowest_limits_win():
    pop = bodymap.location("gastrocnemius.3")
    d = decide(builtin("holds", target="60 kPa", hold_s=20), location=pop,
               screening=["anticoagulants", "varicose_veins", "lymphoedema"])
    keys = {f.key for f in d.acknowledgements}
    assert keys == {"popliteal_fossa", "anticoagulants", "varicose_veins", "lymphoedema"}
    assert d.max_kpa == 100.0 and d.max_hold_s == 30.0
    proto = d.apply(builtin("holds", target="60 kPa", hold_s=20))
    assert proto.limits.max_kpa == 100.0 and proto.limits.max_hold_s == 30.0
    rec = d.record(acknowledged=True, confirmed=False)
    assert rec["acknowledged"] and {f["key"] for f in rec["findings"]} >= keys
    # varicose veins lower the limits on the leg only
    d = decide(builtin("holds", target="60 kPa"), location=TRAP, screening=["varicose_veins"])
    assert not d.needs_ack and d.max_kpa is None


def test_pregnancy_refuses_the_abdomen():
    abd = bodymap.location("rectus_abdominis")
    assert decide(builtin("ppt"), location=abd, screening=["pregnancy"]).refusals
    assert not decide(builtin("ppt"), location=TRAP, screening=["pregnancy"]).refusals


def test_one_key_spelling_old_keys_read_and_client_items_are_not_regions():
    assert region_keys("anterior-neck, popliteal_fossa") == ("anterior_neck", "popliteal_fossa")
    with pytest.raises(ProtocolError, match="clients screen CODE --set anticoagulants"):
        region_keys("anticoagulants")
    with pytest.raises(ProtocolError, match="suspected_dvt"):
        region_keys("calf-thrombosis")
    with pytest.raises(ProtocolError, match="unknown region caution"):
        region_keys("knee")
    assert all("-" not in k for k in list(REGIONS) + list(SCREENING))
    issue = {"anticoagulants", "suspected_dvt", "varicose_veins", "malignancy", "osteoporosis", "lymphoedema",
             "reduced_sensation", "wounds_or_infection", "pregnancy", "recent_surgery"}
    assert set(SCREENING) == issue
    assert {"anterior_neck", "posterior_triangle", "suboccipital", "axilla", "femoral_triangle", "popliteal_fossa",
            "abdomen"} == set(REGIONS)
    for c in list(REGIONS.values()) + list(SCREENING.values()):
        assert c.source  # every caution says where it comes from (or that it is a setting)


def test_no_screening_is_said():
    d = decide(builtin("holds"), location=TRAP, screening=None)
    assert [f.key for f in d.notes] == ["not_screened"] and not d.needs_ack


def point_with_ppt(kpa, area=1.0):
    return PointContext(name="upper_trapezius.1:L", probe_area_cm2=area, ppt=PPTRecord(kpa, area))


def test_absolute_defaults_are_checked_against_the_clients_ppt():
    """Issue 10: a PPT of 95 kPa — 120, 200 and 250 kPa defaults all started silently."""
    p = point_with_ppt(95.0)
    for name in ("tppr", "holds", "alternating"):
        d = decide(builtin(name), location=TRAP, screening=[], point=p, ppt_source="measured 2026-11-29, this client")
        assert d.needs_confirm, name
        with pytest.raises(ProtocolError, match="confirm-above-ppt"):
            d.check(acknowledged=False, confirmed=False)
        d.check(acknowledged=False, confirmed=True)
        assert "95 kPa, measured 2026-11-29, this client" in d.confirmations[0].text
    # above 100 % but under the ceiling: a warning, no confirmation needed
    d = decide(builtin("holds", target="110 kPa"), location=TRAP, screening=[], point=p)
    assert not d.needs_confirm and "above the pain threshold" in d.notes[-1].text
    d.check(acknowledged=False)
    # at or under the PPT: nothing; without a PPT: nothing; %PPT targets are relative already
    assert not decide(builtin("holds", target="90 kPa"), location=TRAP, screening=[], point=p).findings
    assert not decide(builtin("holds"), location=TRAP, screening=[], point=PointContext()).findings
    assert not decide(builtin("ischemic"), location=TRAP, screening=[], point=p).findings
    # a PPT measured with another probe is not compared (a %PPT target is refused for it anyway)
    assert not decide(builtin("holds"), location=TRAP, screening=[],
                      point=PointContext(probe_area_cm2=0.5, ppt=PPTRecord(95.0, 1.0))).findings


def test_relative_defaults_are_offered_only_with_a_ppt_and_for_targets_not_given():
    p = point_with_ppt(95.0)
    assert relative_offers("holds", [], p) == {"target": "80 %PPT"}
    assert relative_offers("alternating", [], p) == {"high": "90 %PPT"}
    assert relative_offers("alternating", ["high"], p) == {}  # the low level stays a light contact, not a %PPT
    assert relative_offers("holds", [], PointContext()) == {}
    assert relative_offers("holds", ["target"], p) == {}


def test_targets_that_do_not_fit_under_a_lowered_limit_are_refused_with_the_reason(tmp_path):
    from pointdose.records import Store
    from pointdose.session.precheck import prepare

    with Store(tmp_path / "r.sqlite") as store:
        cid = store.add_client("A")
        store.add_screening(cid, {"anticoagulants": True})
        pre = prepare(builtin("holds"), store=store, client_id=cid, point_name="upper_trapezius.1:L")
        assert [f.key for f in pre.decision.refusals] == ["targets_above_caution_limit"]
        assert "max_kpa = 200 kPa" in pre.decision.refusals[0].text and "anticoagulants" in pre.decision.refusals[0].text
        assert any("Anticoagulants" in line for line in pre.lines())  # every caution is still shown
        pre = prepare(builtin("holds", target="150 kPa"), store=store, client_id=cid, point_name="upper_trapezius.1:L")
        assert not pre.decision.refusals and pre.protocol.limits.max_kpa == 200.0


def test_a_ppt_measured_with_another_probe_is_refused_before_anything_opens(tmp_path):
    from pointdose.records import Store
    from pointdose.session.precheck import prepare

    with Store(tmp_path / "r.sqlite") as store:
        cid = store.add_client("A")
        pid = store.point(cid, "upper_trapezius.1", "L")
        store.add_ppt(pid, store.start_session(cid), 200.0, probe_area_cm2=0.5, ramp_kpa_s=50.0, n=3, planned=3)
        with pytest.raises(ProtocolError, match="0.5 cm² probe but this session uses 1 cm²"):
            prepare(builtin("ischemic"), store=store, client_id=cid, point_name="upper_trapezius.1:L",
                    probe_area_cm2=1.0)
        pre = prepare(builtin("ischemic"), store=store, client_id=cid, point_name="upper_trapezius.1:L",
                      probe_area_cm2=0.5)
        assert pre.point.ppt.kpa == 200.0 and pre.ppt_id is not None
        assert pre.info_extra(acknowledged=False, confirmed=False)["ppt_id"] == pre.ppt_id
