"""Unit conversions: the published factors, and round trips through newtons."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pointdose import units


def test_published_factors():
    # shared domain notes, "Units"
    assert units.to_display(9.80665, "kgf") == pytest.approx(1.0)
    assert units.to_display(4.44822, "lbf") == pytest.approx(1.0)
    assert units.convert(1.0, "kgf/cm2", "kPa") == pytest.approx(98.0665)
    assert units.convert(1.0, "N/cm2", "kPa") == pytest.approx(10.0)
    assert units.to_display(10.0, "kPa", probe_area_cm2=1.0) == pytest.approx(100.0)


def test_probe_area_divides_pressure_not_force():
    assert units.to_display(10.0, "kPa", probe_area_cm2=2.0) == pytest.approx(50.0)
    assert units.to_display(10.0, "kPa", probe_area_cm2=0.5) == pytest.approx(200.0)
    assert units.to_display(10.0, "N", probe_area_cm2=2.0) == pytest.approx(10.0)


def test_clinical_example_ischemic_compression():
    # 20–30 lbf thumb force ≈ 90–130 N; on 1 cm² that is ≈ 890–1330 kPa
    assert units.convert(20, "lbf", "N") == pytest.approx(88.96, abs=0.01)
    assert units.convert(30, "lbf", "kPa") == pytest.approx(1334.5, abs=0.1)


@pytest.mark.parametrize("key", list(units.UNITS))
def test_symbols_and_keys_name_the_same_unit(key):
    assert units.unit(units.UNITS[key].symbol) is units.UNITS[key]


def test_unknown_unit_and_bad_area_are_refused():
    with pytest.raises(ValueError, match="unknown unit"):
        units.unit("psi")
    with pytest.raises(ValueError, match="positive"):
        units.to_display(1.0, "kPa", probe_area_cm2=0.0)


@given(force=st.floats(-1e4, 1e4, allow_nan=False), area=st.floats(0.05, 10.0),
       a=st.sampled_from(list(units.UNITS)), b=st.sampled_from(list(units.UNITS)))
def test_round_trips(force, area, a, b):
    shown = units.to_display(force, a, area)
    assert units.from_display(shown, a, area) == pytest.approx(force, rel=1e-12, abs=1e-9)
    there = units.convert(shown, a, b, area)
    assert units.convert(there, b, a, area) == pytest.approx(shown, rel=1e-12, abs=1e-9)


def test_arrays_convert_elementwise():
    out = units.to_display(np.array([0.0, 9.80665]), "kgf/cm2")
    assert np.allclose(out, [0.0, 1.0])


def test_format_value_resolution_and_no_negative_zero():
    assert units.format_value(312.4, "kPa") == "312"
    assert units.format_value(-0.3, "kPa") == "0"
    assert units.format_value(3.14159, "kgf/cm2") == "3.14"
    assert units.format_value(-0.004, "kgf") == "0.00"
    assert units.format_value(12.25, "lbf") in ("12.2", "12.3")
    assert not math.isnan(float(units.format_value(0.0, "N")))
