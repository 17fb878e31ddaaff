"""The real DeviceLink against the firmware on an emulated Pico (MicroPython's rp2 port in rp2040js).

Skipped unless ``POINTDOSE_PICO_UF2`` names a MicroPython ``RPI_PICO`` ``.uf2`` (none is in the
repository; docs/firmware.md says where a board owner gets one), and node with rp2040js and
littlefs-python are there. Every wait has a generous deadline: emulation speed depends on the
machine, and the tests assert on counts, contents and emulated time, never on wall-clock speed.
"""

from __future__ import annotations

import os

import pytest
from pico_helpers import emulated

from pointdose.sim.pico import UF2_ENV, PicoUnavailable, find_uf2, run_node_check


def _why_skip() -> str | None:
    if not os.environ.get(UF2_ENV):
        return f"no MicroPython RPI_PICO .uf2: set {UF2_ENV} to run the emulated-Pico tests"
    try:
        find_uf2()
    except PicoUnavailable as exc:
        return str(exc)
    ready = run_node_check()
    return None if ready.startswith("ready") else f"emulated Pico not available: {ready}"


def pytest_collection_modifyitems(config, items):
    reason = _why_skip()
    for item in items:
        if "tests/board/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.pico)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def hx711_pico():
    with emulated(sensor="hx711", rate_hz=80) as pico:
        yield pico


@pytest.fixture(scope="module")
def adc_pico():
    with emulated(sensor="adc", rate_hz=200) as pico:
        yield pico
