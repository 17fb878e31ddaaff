"""Custom protocols in TOML: the examples load; every mistake names the file, the field and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pointdose.errors import UserError
from pointdose.protocols import BUILTINS, Engine, PointContext, PPTRecord, ProtocolFileError, load_protocol, resolve

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "protocols"

GOOD = """
name = "t"
repetitions = 2
[[phase]]
kind = "ramp"
target = "150 kPa"
end = "reached"
[[phase]]
kind = "hold"
target = "150 kPa"
duration_s = 10
"""


def write(tmp_path, text, name="p.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_every_example_loads_and_starts(path):
    proto = load_protocol(path)
    point = PointContext(name="x", ppt=PPTRecord(kpa=200.0, probe_area_cm2=1.0))
    eng = Engine(proto, point)
    eng.start(0.0)
    assert eng.drain_events()[0].kind == "phase_start"


def test_examples_keep_their_values():
    gentle = load_protocol(EXAMPLES / "gentle-holds.toml")
    assert gentle.repetitions == 4 and gentle.limits.max_kpa == 300
    assert [p.kind for p in gentle.phases] == ["ramp", "hold", "ease", "rest"]
    assert gentle.phases[2].rate_kpa_s == -30
    alt = load_protocol(EXAMPLES / "alternating-kgf.toml")
    assert alt.phases[1].target.value == pytest.approx(2.5 * 98.0665)
    assert load_protocol(EXAMPLES / "ppt-98.toml").phases[0].rate_kpa_s == 98


def test_resolve_takes_a_builtin_name_with_parameters_or_a_file(tmp_path):
    assert resolve("holds", cycles=2).repetitions == 2
    assert resolve(str(write(tmp_path, GOOD))).name == "t"
    with pytest.raises(UserError, match="built-ins only"):
        resolve(str(write(tmp_path, GOOD)), cycles=3)
    with pytest.raises(UserError, match="no built-in protocol 'nope'; choose one of tppr, ischemic"):
        resolve("nope")


@pytest.mark.parametrize("text,field,allowed", [
    (GOOD.replace('kind = "hold"', 'kind = "squeeze"'), "phase[2].kind", "ramp, hold, ease, rest"),
    (GOOD.replace('end = "reached"', 'end = "relase"'), "phase[1].end", "time, reached, release, pain"),
    (GOOD.replace("duration_s = 10", ""), "phase[2].duration_s", "duration_s (seconds"),
    (GOOD.replace('"150 kPa"\nend', '"150 psi"\nend'), "phase[1].target", "%PPT or one of kPa, kgf/cm2"),
    (GOOD.replace("duration_s = 10", "duration_s = -1"), "phase[2].duration_s", "0.1 … 3600"),
    (GOOD.replace("duration_s = 10", 'duration_s = "ten"'), "phase[2].duration_s", "a number from 0.1 to 3600"),
    (GOOD.replace("repetitions = 2", "repetitions = 2.5"), "repetitions", "a whole number"),
    (GOOD.replace("repetitions = 2", "repetitons = 2"), "repetitons", "allowed here: name, title"),
    (GOOD + 'colour = "red"\n', "phase[2].colour", "allowed here: kind, label, target"),
    (GOOD.replace('target = "150 kPa"\nduration_s', 'duration_s'), "phase[2].target", "\"200 kPa\""),
    (GOOD.replace("duration_s = 10", 'duration_s = 10\nsteps = 2'), "phase[2].step", 'step = "10 kPa"'),
    (GOOD.replace("duration_s = 10", 'duration_s = 10\nsteps = 5\nstep = "5 kPa"'), "phase[2].steps", "0 … 3"),
    (GOOD.replace('name = "t"', 'name = "two words"'), "name", "one word"),
    (GOOD.replace('name = "t"', ""), "name", "missing"),
    (GOOD.replace("repetitions = 2", "repetitions = 2\nlimits = { max_kpa = 5000 }"), "limits.max_kpa", "10 … 2000"),
    ('builtin = "ppt"\n[params]\nrate_kpa_s = 500\n', "params.ppt: rate_kpa_s", "5 … 200"),
    ('builtin = "ppt"\n[params]\nspeed = 50\n', "params.protocol 'ppt' has no parameter 'speed'", "rate_kpa_s"),
    ('builtin = "massage"\n', "builtin", "tppr, ischemic, alternating, holds, ppt"),
    ('builtin = "ppt"\nrepetitions = 2\n', "repetitions", "[params] only"),
])
def test_validation_errors_name_file_field_and_allowed(tmp_path, text, field, allowed):
    path = write(tmp_path, text)
    with pytest.raises(ProtocolFileError) as info:
        load_protocol(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {field}"), msg
    assert allowed in msg, msg
    assert isinstance(info.value, UserError)


def test_toml_syntax_error_and_missing_file_name_the_file(tmp_path):
    path = write(tmp_path, 'name = "t"\n[[phase]\n')
    with pytest.raises(ProtocolFileError, match=rf"^{path}: not valid TOML: .*line 2"):
        load_protocol(path)
    with pytest.raises(ProtocolFileError, match="no such protocol file"):
        load_protocol(tmp_path / "missing.toml")


def test_builtin_parameters_are_documented_with_ranges():
    for b in BUILTINS.values():
        assert b.make().name == b.name
        for p in b.params:
            assert p.help
            if p.kind in ("float", "int"):
                assert p.lo is not None and p.lo <= p.default <= p.hi, (b.name, p.key)
    ppt = BUILTINS["ppt"].make()
    assert ppt.phases[0].rate_kpa_s == 50.0 and ppt.repetitions == 3  # domain notes: DFNS 50 kPa/s, 3 trials
