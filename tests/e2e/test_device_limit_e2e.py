"""Issue 10, item 2: a session never starts without a working firmware limit — through the pty, real firmware.

The runner sets the device's own over-pressure limit before anything starts and checks the device
reports it (``io``); with a probe so large that the host's limit is beyond the sensor's range, the
limit is clamped to the sensor's end and the user is told, never silently left off.
"""

from __future__ import annotations

import time

import pytest

from pointdose.link import DeviceLink
from pointdose.protocols import PointContext, builtin
from pointdose.session import SessionRunner
from pointdose.session.convert import converter_for_link

pytestmark = pytest.mark.needs_unix_port


def _runner(link, area, **kw):
    link.start()
    time.sleep(0.2)
    return SessionRunner(link, builtin("holds", target="50 kPa", cycles=1, hold_s=2, **kw),
                         PointContext(name="trap", probe_area_cm2=area))


def test_the_device_reports_the_limit_the_runner_set_and_it_is_cleared_at_the_end(sim):
    with DeviceLink(sim.port) as link:
        assert link.io()["limit_max"] == "off"
        runner = _runner(link, 1.0)
        lim = runner.device_limit
        assert not lim.clamped and lim.side == "max"
        assert link.io()["limit_max"] == str(lim.raw)  # set before the session starts
        conv = converter_for_link(link)
        assert float(conv.force_n(lim.raw)) * 10.0 == pytest.approx(700 * 1.05, abs=0.5)  # 105 % of max_kpa, 1 cm²
        runner.close()
        assert link.io()["limit_max"] == "off"


def test_a_probe_too_large_for_the_sensor_clamps_the_device_limit_and_says_so(sim):
    events = []
    with DeviceLink(sim.port) as link:
        runner = _runner(link, 10.0)
        runner.on_event_cb = events.append
        lim = runner.device_limit
        raw_max = int(link.device.raw_range[1])
        assert lim.clamped and lim.raw == raw_max - 1  # a saturated reading passes it; never "off", never raw_max
        assert link.io()["limit_max"] == str(raw_max - 1)
        assert "beyond what this sensor reads with a 10 cm² probe" in lim.note
        runner.step()
        notes = [e for e in events if e.kind == "device_limit"]
        assert notes and notes[0].data["clamped"] and "clamped" in notes[0].data["note"]
        runner.close()


def test_the_terminal_session_says_the_limit_was_clamped(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import sys; from pointdose.cli import main; sys.exit(main())",
                           "session", "--protocol", "holds", "--set", "target=50 kPa", "--set", "cycles=1",
                           "--set", "hold_s=1", "--sim", "--headless", "--no-record", "--probe-area", "10",
                           "--seconds", "2"], capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert "note: the 700 kPa limit is beyond what this sensor reads with a 10 cm² probe" in proc.stdout


def test_a_limit_the_firmware_refuses_means_no_session(sim, monkeypatch):
    """The firmware answers ERROR to a limit no reading can pass (raw_max): the runner does not start."""
    from pointdose.errors import UserError
    from pointdose.session import limit as device_limit

    with DeviceLink(sim.port) as link:
        raw_max = int(link.device.raw_range[1])
        monkeypatch.setattr(device_limit, "plan", lambda conv, max_kpa, area: device_limit.DeviceLimit(
            raw=raw_max, side="max", kpa=9999.0, clamped=False))
        with pytest.raises(UserError, match="the device refused its safety limit"):
            _runner(link, 1.0)
        assert link.io()["limit_max"] == "off"
