"""The Session tab's protocol settings editor (pointdose.app.protocol_settings), without DearPyGui."""

from __future__ import annotations

import pytest

from pointdose.app.protocol_settings import ProtocolSettings
from pointdose.errors import UserError
from pointdose.protocols import BUILTINS


def test_every_parameter_of_the_built_in_is_a_field_with_its_range_source_and_default():
    s = ProtocolSettings()
    fields = {f.key: f for f in s.fields("ischemic")}
    assert list(fields) == [p.key for p in BUILTINS["ischemic"].params]
    hold = fields["hold_s"]
    assert hold.text == "90" and hold.default == "90" and hold.range == "5 … 600"
    assert "Hou 2002" in hold.about and not hold.error and not hold.changed
    assert fields["cycles"].range == "1 … 20" and fields["cycles"].kind == "int"
    assert "%PPT" in fields["target"].range and fields["target"].text == "100 %PPT"
    assert "Persson 2004" in fields["max_kpa"].about  # the safety limits are editable too, with their sources


def test_an_accepted_entry_builds_the_protocol_and_shows_as_changed():
    s = ProtocolSettings()
    assert s.enter("holds", "hold_s", "45") == ""
    assert s.enter("holds", "cycles", "2") == ""
    assert s.enter("holds", "target", "25 N") == ""
    proto = s.protocol("holds")
    hold = next(p for p in proto.phases if p.kind == "hold")
    assert hold.duration_s == 45.0 and proto.repetitions == 2 and str(hold.target) == "25 N"
    assert s.overrides("holds") == {"hold_s": 45.0, "cycles": 2, "target": "25 N"}
    assert s.field("holds", "hold_s").changed and s.field("holds", "hold_s").text == "45"
    assert "hold_s = 45" in s.summary("holds")
    assert s.overrides("tppr") == {}  # per protocol


@pytest.mark.parametrize("key, text, said", [
    ("hold_s", "nan", "holds: hold_s: nan is not a finite number; write a number from 1 to 600"),
    ("hold_s", "-5", "holds: hold_s: -5 is outside the allowed 1 … 600"),
    ("hold_s", "1e400", "holds: hold_s: 1e400 is not a finite number"),
    ("cycles", "2.5", "holds: cycles: 2.5 is not a whole number; write a whole number from 1 to 50"),
    ("hold_s", "thirty", "holds: hold_s: 'thirty' is not a number"),
    ("target", "0 kPa", "holds: target: 0 is outside the allowed above 0"),
    ("target", "200 furlongs", "unknown unit 'furlongs'"),
])
def test_a_bad_entry_gets_the_values_checker_s_one_line_and_blocks_the_start(key, text, said):
    s = ProtocolSettings()
    error = s.enter("holds", key, text)
    assert said in error and "\n" not in error
    f = s.field("holds", key)
    assert f.error == error and f.text == text  # the refused text stays in the box, with its error beside it
    with pytest.raises(UserError, match=f"fix {key}"):
        s.protocol("holds")  # never silently the default or the last good value
    assert "1 entry to fix" in s.summary("holds")


def test_a_combination_the_limits_refuse_is_refused_at_the_entry():
    s = ProtocolSettings()
    error = s.enter("tppr", "target", "900 kPa")
    assert "above the maximum-pressure limit max_kpa = 700 kPa" in error
    # raising the limit first makes the same target possible
    s.reset("tppr")
    assert s.enter("tppr", "max_kpa", "1500") == "" and s.enter("tppr", "target", "900 kPa") == ""
    assert s.protocol("tppr").limits.max_kpa == 1500.0


def test_fixing_or_resetting_clears_the_error_and_reset_restores_the_defaults():
    s = ProtocolSettings()
    s.enter("ischemic", "hold_s", "60")
    s.enter("ischemic", "steps", "7")
    assert s.errors("ischemic").keys() == {"steps"}
    assert s.enter("ischemic", "steps", "2") == ""
    assert s.errors("ischemic") == {} and s.overrides("ischemic") == {"hold_s": 60.0, "steps": 2}
    s.reset("ischemic", "hold_s")
    assert s.overrides("ischemic") == {"steps": 2}
    s.enter("ischemic", "cycles", "x")
    s.reset("ischemic")
    assert s.overrides("ischemic") == {} and s.errors("ischemic") == {}
    assert [f.text for f in s.fields("ischemic")] == [f.default for f in s.fields("ischemic")]
    assert s.protocol("ischemic").phases[1].max_s == 90.0


def test_an_entry_back_at_the_default_is_no_override_and_booleans_are_yes_or_no():
    s = ProtocolSettings()
    s.enter("ppt", "rate_kpa_s", "98")
    s.enter("ppt", "rate_kpa_s", "50.0")
    assert s.overrides("ppt") == {} and not s.field("ppt", "rate_kpa_s").changed
    assert s.enter("ppt", "blinded", True) == ""
    assert s.field("ppt", "blinded").text == "yes" and s.protocol("ppt").params["blinded"] is True
    assert "not true or false" in s.enter("ppt", "familiarisation", "maybe")


def test_offers_go_on_top_of_the_edits():
    s = ProtocolSettings()
    s.enter("tppr", "cycles", "1")
    proto = s.protocol("tppr", target="80 %PPT")
    assert proto.repetitions == 1 and str(proto.phases[0].target) == "80 %PPT"
