"""Fixtures shared by the host tests: an in-process fake device and a DeviceLink on it."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakedevice import FakeDevice  # noqa: E402

from pointdose.link import DeviceLink  # noqa: E402


@pytest.fixture
def device():
    d = FakeDevice(rate_hz=500)
    yield d
    d.close()


@pytest.fixture
def link(device):
    ln = DeviceLink("fake://a", serial_factory=device.serial, hello_timeout=1.0)
    yield ln
    ln.close()
