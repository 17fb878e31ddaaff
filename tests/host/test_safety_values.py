"""Issue 10, item 1: every number a user or a file can set is finite and in range, checked in one place.

Every numeric parameter of every built-in gets NaN, ±inf, a negative, zero (where zero is not
allowed) and a huge value through ``pointdose session --set`` (the CLI's ``main`` in process) and
through a TOML file (``pointdose protocols --check``): each is refused with one line naming the
parameter, exit status != 0, no traceback, before any device is touched.
"""

from __future__ import annotations

import pytest

from pointdose.cli import main
from pointdose.protocols import BUILTINS, Engine, Limits, PointContext, PPTRecord, ProtocolError, builtin
from pointdose.protocols.values import RANGES, number

BAD_NUMBERS = ["nan", "inf", "-inf", "-1", "1e12", "-1e400", "1e400"]
BAD_TARGETS = ["nan kPa", "inf kPa", "-inf kPa", "-200 kPa", "0 kPa", "1e12 kPa", "nan", "-200", "inf N",
               "-5 %PPT", "nan %PPT", "1e9 %PPT", "0 N"]


def _cases():
    for name, b in BUILTINS.items():
        for p in b.params:
            if p.kind == "target":
                for v in BAD_TARGETS:
                    yield name, p.key, v
            elif p.kind in ("float", "int"):
                values = list(BAD_NUMBERS)
                if p.lo is not None and p.lo > 0:
                    values.append("0")
                if p.kind == "int":
                    values.append("1.5")
                for v in values:
                    yield name, p.key, v


CASES = list(_cases())


def _one_line_error(capsys, rc):
    out = capsys.readouterr()
    assert rc != 0
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    assert "Traceback" not in out.err and lines[0].startswith("pointdose: ")
    return lines[0]


@pytest.mark.parametrize("name,key,value", CASES, ids=[f"{n}-{k}={v}" for n, k, v in CASES])
def test_session_set_refuses_every_bad_number_with_one_line(capsys, name, key, value):
    # --port to a path that does not exist: if the value got through, the error would be about the port
    rc = main(["session", "--protocol", name, "--set", f"{key}={value}", "--port", "/nonexistent/tty",
               "--headless", "--no-record"])
    line = _one_line_error(capsys, rc)
    assert key in line, line
    assert "/nonexistent" not in line


@pytest.mark.parametrize("name,key,value", CASES, ids=[f"{n}-{k}={v}" for n, k, v in CASES])
def test_toml_params_refuse_every_bad_number(tmp_path, capsys, name, key, value):
    path = tmp_path / "p.toml"
    try:
        literal = repr(float(value))  # TOML's own numbers: nan, inf, -inf, 1e+12 …
    except ValueError:
        literal = f'"{value}"'  # a target with its unit
    path.write_text(f'builtin = "{name}"\n[params]\n{key} = {literal}\n')
    rc = main(["protocols", "--check", str(path)])
    line = _one_line_error(capsys, rc)
    assert f"{path}: params.{name}: {key}" in line, line


LIMIT_FIELDS = ["max_kpa", "max_hold_s", "compression_cap_s", "cap_rest_s", "point_cap_s", "pain_stop_rating",
                "pain_cap_pct", "contact_kpa", "rest_max_kpa", "min_band_kpa"]
PHASE_FIELDS = ["duration_s", "max_s", "tolerance_pct", "rate_kpa_s", "rate_tolerance_pct", "steps"]
TOML_BAD = ["nan", "inf", "-inf", "-1.0", "1e12"]
BASE = """name = "x"
[limits]
{limits}
[[phase]]
kind = "ramp"
target = {target}
end = "reached"
{ramp}
[[phase]]
kind = "hold"
target = "150 kPa"
duration_s = 10
"""


@pytest.mark.parametrize("key", LIMIT_FIELDS)
@pytest.mark.parametrize("value", TOML_BAD)
def test_toml_limits_refuse_nan_inf_negative_huge(tmp_path, capsys, key, value):
    path = tmp_path / "p.toml"
    path.write_text(BASE.format(limits=f"{key} = {value}", target='"150 kPa"', ramp=""))
    line = _one_line_error(capsys, main(["protocols", "--check", str(path)]))
    assert f"limits.{key}" in line, line


@pytest.mark.parametrize("key", PHASE_FIELDS)
@pytest.mark.parametrize("value", TOML_BAD)
def test_toml_phase_numbers_refuse_nan_inf_negative_huge(tmp_path, capsys, key, value):
    if key == "rate_kpa_s" and value == "-1.0":
        value = "0.0"  # -1 kPa/s is a valid ease rate; 0 is no rate
    extra = f"{key} = {value}" + ('\nstep = "5 kPa"' if key == "steps" else "")
    path = tmp_path / "p.toml"
    path.write_text(BASE.format(limits="", target='"150 kPa"', ramp=extra))
    line = _one_line_error(capsys, main(["protocols", "--check", str(path)]))
    assert key in line, line


@pytest.mark.parametrize("target", ["nan", "-inf", "inf", "-200", "0", "1e12", '"-200 kPa"', '"nan kPa"'])
def test_toml_targets_bare_or_quoted_refused(tmp_path, capsys, target):
    path = tmp_path / "p.toml"
    path.write_text(BASE.format(limits="", target=target, ramp=""))
    line = _one_line_error(capsys, main(["protocols", "--check", str(path)]))
    assert "phase[1].target" in line, line


def test_the_issue_reproductions_are_refused(tmp_path, capsys):
    """The three files and the --set of issue 10 that used to pass."""
    rc = main(["session", "--protocol", "ischemic", "--set", "target=3000 kPa", "--set", "max_kpa=nan", "--sim",
               "--hand", "expert", "--headless", "--no-record", "--seconds", "12"])
    assert "ischemic: target: 3000 is outside the allowed above 0 … 2000 kPa" in _one_line_error(capsys, rc)
    rc = main(["session", "--protocol", "ischemic", "--set", "target=300 kPa", "--set", "max_kpa=nan", "--sim",
               "--hand", "expert", "--headless", "--no-record", "--seconds", "12"])
    assert "ischemic: max_kpa: nan is not a finite number" in _one_line_error(capsys, rc)
    rc = main(["session", "--protocol", "ischemic", "--set", "max_hold_s=nan", "--sim", "--headless", "--no-record"])
    assert "max_hold_s" in _one_line_error(capsys, rc)
    for key in ("tolerance_pct", "release_s", "rest_s"):  # tracebacks before (issue 13)
        rc = main(["session", "--protocol", "ischemic", "--set", f"{key}=nan", "--sim", "--headless", "--no-record"])
        assert key in _one_line_error(capsys, rc)


def test_target_above_max_kpa_or_inverted_band_is_refused(tmp_path, capsys):
    rc = main(["session", "--protocol", "holds", "--set", "target=800 kPa", "--port", "/nonexistent/tty",
               "--headless", "--no-record"])
    assert "max_kpa" in _one_line_error(capsys, rc)
    rc = main(["session", "--protocol", "holds", "--set", "target=300 kPa", "--set", "max_kpa=300",
               "--port", "/nonexistent/tty", "--headless", "--no-record"])
    assert "above the maximum-pressure limit" in _one_line_error(capsys, rc)  # the band top is 330
    rc = main(["session", "--protocol", "alternating", "--set", "low=300 kPa", "--port", "/nonexistent/tty",
               "--headless", "--no-record"])
    assert "inverted band" in _one_line_error(capsys, rc)
    path = tmp_path / "p.toml"
    path.write_text(BASE.format(limits="max_kpa = 100", target='"150 kPa"', ramp=""))
    assert "max_kpa = 100" in _one_line_error(capsys, main(["protocols", "--check", str(path)]))


def test_targets_in_n_and_ppt_are_checked_when_the_probe_and_ppt_are_known():
    # 60 N on 1 cm² is 600 kPa: within 700; on 0.5 cm² it is 1200 kPa: above it
    proto = builtin("holds", target="60 N")
    Engine(proto, PointContext(probe_area_cm2=1.0))
    with pytest.raises(ProtocolError, match="above the maximum-pressure limit"):
        Engine(proto, PointContext(probe_area_cm2=0.5))
    with pytest.raises(ProtocolError, match="calibrated range"):
        Engine(builtin("holds", target="150 %PPT"),
               PointContext(ppt=PPTRecord(kpa=200.0, probe_area_cm2=1.0)), limits=Limits(calibrated_max_kpa=300.0))


def test_limits_and_ppt_records_refuse_non_finite_values_wherever_they_are_built():
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ProtocolError):
            Limits(max_kpa=bad)
        with pytest.raises(ProtocolError):
            Limits(max_hold_s=bad)
        with pytest.raises(ProtocolError):
            PPTRecord(kpa=bad, probe_area_cm2=1.0)
        with pytest.raises(ProtocolError):
            PointContext(probe_area_cm2=bad)
    with pytest.raises(ProtocolError, match="contact_kpa"):
        Limits(contact_kpa=50.0, max_kpa=40.0)


@pytest.mark.parametrize("opt,value", [("--ppt", "nan"), ("--ppt", "-100"), ("--probe-area", "nan"),
                                       ("--probe-area", "inf"), ("--probe-area", "0"), ("--probe-area", "1e9"),
                                       ("--volume", "nan"), ("--seconds", "nan"), ("--seconds", "-1"),
                                       ("--hand-ppt", "inf"), ("--hand-release", "nan")])
def test_session_numeric_options_are_checked(capsys, opt, value):
    rc = main(["session", "--protocol", "holds", f"{opt}={value}", "--port", "/nonexistent/tty", "--headless",
               "--no-record"])
    assert opt in _one_line_error(capsys, rc)


@pytest.mark.parametrize("opt,value", [("--target", "nan"), ("--target", "-5"), ("--target", "inf"),
                                       ("--target", "1e9"), ("--tolerance", "nan"), ("--tolerance", "0"),
                                       ("--hold", "inf"), ("--hold", "-1"), ("--ramp", "nan"), ("--release", "-inf"),
                                       ("--rest", "1e12"), ("--trials", "0"), ("--test-trials", "100000"),
                                       ("--get-ready", "nan"), ("--probe-area", "-1"), ("--transfer-target", "nan"),
                                       ("--seed", "-1")])
def test_train_numeric_options_are_checked(tmp_path, capsys, opt, value):
    assert main(["class", "--db", str(tmp_path / "r.sqlite"), "student", "S-01"]) == 0
    capsys.readouterr()
    rc = main(["train", "--db", str(tmp_path / "r.sqlite"), "run", "--student", "S-01", f"{opt}={value}",
               "--port", "/nonexistent/tty", "--plan", "transfer"])
    assert opt in _one_line_error(capsys, rc)


def test_the_one_checker():
    assert number("60", "x", 5, 600) == 60.0
    assert number(3, "x", RANGES["steps"]) == 3
    for bad in ("nan", float("nan"), float("inf"), "-inf", True, None, "ten", 10 ** 400):
        with pytest.raises(Exception) as info:
            number(bad, "x", 0, 10)
        assert str(info.value).startswith("x: ")


@pytest.mark.parametrize("field,value", [("tolerance_pct", float("nan")), ("tolerance_pct", 60.0),
                                         ("hold_s", float("inf")), ("ramp_s", -1.0), ("rest_s", float("nan")),
                                         ("target", 1e9), ("target", float("-inf")), ("probe_area_cm2", 1e9),
                                         ("trials", 10 ** 6)])
def test_the_training_tabs_drill_goes_through_the_same_checker(field, value):
    """The Training tab builds a Drill from its inputs: the same ranges as pointdose train run."""
    from pointdose.training.drill import DrillError, preset

    with pytest.raises(DrillError, match=f"^{field}"):
        preset("light", **{field: value})
