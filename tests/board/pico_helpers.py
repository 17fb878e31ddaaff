"""Helpers of the emulated-Pico tests (a module name of its own: every test folder has a conftest)."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from pointdose.sim.pico import EmulatedPico, PicoSettings

T = 30.0  # seconds: the most any one step may take on a loaded machine (the emulator can run at 0.1x)


@contextlib.contextmanager
def emulated(**settings):
    """An emulated Pico; ``POINTDOSE_PICO_FIRMWARE`` may name another firmware folder to try."""
    other = os.environ.get("POINTDOSE_PICO_FIRMWARE")
    if other:
        settings.setdefault("firmware", Path(other))
    pico = EmulatedPico(PicoSettings(**settings))
    pico.READY_TIMEOUT_S = 180.0
    with pico:
        yield pico


def open_link(pico, **kw):
    from pointdose.link import DeviceLink

    kw.setdefault("hello_timeout", T)
    kw.setdefault("stall_timeout", T)
    return DeviceLink(pico.port, **kw)


def wait_emulated(pico, us: int, timeout: float = 120.0) -> None:
    """Wait until the emulated chip has run ``us`` more microseconds."""
    start = pico.ctl.emulated_us()
    deadline = time.monotonic() + timeout
    while pico.ctl.emulated_us() - start < us:
        if time.monotonic() > deadline:
            raise AssertionError(f"the emulator did not run {us} µs within {timeout} s")
        time.sleep(0.02)


def wait_for(predicate, timeout: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
