"""A device dropped into the MicroPython REPL is noticed and brought back (real firmware, through the pty).

A stray 0x03 byte while the firmware is not streaming (after `stop`, or after the watchdog stopped a
stream) ends its loop: on the unix port the REPL prompt appears on the link, as on a board. The
link answers with Ctrl-C Ctrl-D; the unix port exits at Ctrl-D and the simulated device's launcher
boots the firmware again, as a board's soft reset runs main.py again.
"""

from __future__ import annotations

import argparse
import io
import os

import numpy as np
import pytest

from pointdose.link import DeviceLink
from pointdose.commands import monitor
from pointdose.link.device_link import LinkState
from waiting import wait_until

pytestmark = pytest.mark.needs_unix_port


def stray_bytes(sim, data: bytes) -> None:
    """Write to the device as if the line had picked up bytes the host never sent."""
    fd = os.open(sim.port, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def test_ctrl_c_after_stop_is_noticed_and_the_device_comes_back(sim):
    with DeviceLink(sim.port) as link:
        boot = link.device.boot
        link.start()
        assert wait_until(lambda: link.stats.samples >= 200, timeout=15)
        link.stop()
        before = link.stats.samples
        stray_bytes(sim, b"\x03")
        assert wait_until(lambda: link.stats.repl_recoveries == 1, timeout=30), (link.state, link.last_error)
        assert sim.boots == 2  # the firmware really left: the REPL's Ctrl-D ended it and it booted again
        assert link.state is LinkState.CONNECTED and link.device.boot != boot
        (rec,) = link.recoveries
        assert rec.recovered_s >= rec.detected_s and rec.gap_s > 0
        assert link.stats.repl_gap_s == pytest.approx(rec.gap_s)
        # the link works as before: a new segment, no samples counted lost
        link.start()
        assert wait_until(lambda: link.stats.samples >= before + 100, timeout=15)
        rows = link.ring.last(link.stats.samples)
        assert len(np.unique(rows["segment"])) == 2 and link.stats.lost_samples == 0
        assert link.stats.boot_changes == 1


def test_a_device_stopped_behind_the_hosts_back_then_ctrl_c_streams_again(sim):
    """As after the watchdog: the device stopped streaming without the host asking, Ctrl-C works
    again, a stray 0x03 drops it into the REPL. The host still wants the stream: it comes back by itself."""
    with DeviceLink(sim.port) as link:
        link.set_limit(8_000_000)
        link.start()
        assert wait_until(lambda: link.stats.samples >= 200, timeout=15)
        stray_bytes(sim, b"\n9 stop\n\x03")
        assert wait_until(lambda: link.stats.repl_recoveries == 1, timeout=30), (link.state, link.last_error)
        n = link.stats.samples
        assert wait_until(lambda: link.state is LinkState.STREAMING and link.stats.samples >= n + 100, timeout=20)
        assert link.io()["limit_max"] == "8000000"  # re-applied on the rebooted device
        segments = np.unique(link.ring.last(link.stats.samples)["segment"])
        assert len(segments) == 2 and link.stats.lost_samples == 0


def test_opening_a_device_already_at_the_repl_brings_it_back(sim):
    stray_bytes(sim, b"\x03")  # stranded before anyone opened the port
    with DeviceLink(sim.port) as link:
        assert link.device.proto and link.device.boot
        assert link.stats.repl_recoveries == 1 and sim.boots == 2
        link.start()
        assert wait_until(lambda: link.stats.samples >= 50, timeout=15)


def test_monitor_on_a_stranded_device_says_nothing_of_missing_firmware(sim):
    """`monitor` said 'is the firmware installed?' on a device at the REPL; now it shows readings."""
    stray_bytes(sim, b"\x03")
    out = io.StringIO()
    assert monitor.run(argparse.Namespace(port=sim.port, seconds=1.5, raw=False), out=out) == 0
    text = out.getvalue()
    assert "fw=" in text and "raw " in text and "brought back from the REPL 1x" in text


def test_repl_asked_for_is_left_alone(sim):
    with DeviceLink(sim.port) as link:
        assert link.command("repl").fields["repl"] == "1"
        # the prompt is on the link now; give the link every chance to (wrongly) act on it
        assert not wait_until(lambda: link.stats.repl_recoveries or sim.boots > 1, timeout=2.0)
        assert link.stats.repl_recoveries == 0 and sim.boots == 1
