"""`pointdose monitor`: calibration maths, output lines, board/sim selection."""

from __future__ import annotations

import argparse
import io

import pytest

from pointdose import cli
from pointdose.commands import monitor
from pointdose.errors import UserError


@pytest.mark.parametrize("info, raw, expect", [
    ({"cal": "linear:1000:500", "tare": "0"}, 10_500, 10.0),  # zero from the calibration
    ({"cal": "linear:1000:500", "tare": "2500"}, 10_500, 8.0),  # a non-zero tare replaces it
    ({"cal": "linear:-200:0", "tare": "0"}, -400, 2.0),
    ({"cal": "none", "tare": "0"}, 10_500, None),
    ({"cal": "linear:0:5"}, 1, None),
    ({"cal": "linear:x:5"}, 1, None),
    ({}, 1, None),
])
def test_force_from_hello_calibration(info, raw, expect):
    from pointdose.calibration import factory_converter

    got = monitor.force_newtons(raw, factory_converter(info))
    assert got == (pytest.approx(expect) if expect is not None else None)


def _set_force(sim, newtons: float):
    """Put ``newtons`` on the simulated sensor, without noise, before the monitor opens the port;
    returns the device's factory scale."""
    from pointdose.link import DeviceLink

    with DeviceLink(sim.port) as link:
        link.command("sim noise 0")
        link.command(f"sim force {newtons:g}")
        return link.device.factory_scale


def _streaming(sim) -> bool:
    from pointdose.link import DeviceLink
    from waiting import wait_until

    with DeviceLink(sim.port) as link:
        link.command("status")
        assert wait_until(lambda: link.status is not None)
        return link.status.streaming


def test_monitor_prints_force_and_counters(sim):
    _set_force(sim, 5.0)
    out = io.StringIO()
    assert monitor.run(argparse.Namespace(port=sim.port, seconds=0.9, raw=False), out=out) == 0
    lines = out.getvalue().splitlines()
    assert "fw=" in lines[0] and "sensor=sim" in lines[0]
    readings = [line for line in lines[1:] if " N " in line]
    assert len(readings) >= 2 and all("lost=0" in line and "crc=0" in line for line in readings)
    forces = [float(line.split(" N ")[0].split()[-1]) for line in readings]
    assert all(f == pytest.approx(5.0, abs=0.05) for f in forces)  # through the device's factory scale
    assert not _streaming(sim)  # stopped on the way out


def test_monitor_raw_prints_every_sample(make_sim):
    sim = make_sim(rate_hz=300)
    scale = _set_force(sim, 2.0)
    out = io.StringIO()
    monitor.run(argparse.Namespace(port=sim.port, seconds=0.6, raw=True), out=out)
    rows = [line.split() for line in out.getvalue().splitlines()[1:]]
    seqs = [int(r[1]) for r in rows]
    assert len(seqs) > 50 and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert all(abs(int(r[3]) - (scale.zero + 2 * scale.counts_per_n)) < 100 for r in rows)  # 2 N, in counts


def test_monitor_is_in_the_command_table():
    args = cli.build_parser().parse_args(["monitor", "--port", "x", "--seconds", "2", "--raw"])
    assert (args.port, args.seconds, args.raw) == ("x", 2.0, True)


def test_without_board_uses_the_simulated_device(monkeypatch):
    pytest.importorskip("pointdose.sim")
    from pointdose.link import discovery
    from pointdose.sim import SimulatedDevice

    monkeypatch.setattr(discovery, "find_boards", lambda ports=None: [])
    try:
        with SimulatedDevice():
            pass
    except Exception as exc:  # the firmware or its runner may not be in place yet
        pytest.skip(f"simulated device does not start here: {exc}")
    err = io.StringIO()
    with monitor.open_link(None, out=err) as link:
        assert link.device.proto == "2"
    assert "simulated device" in err.getvalue()


def test_sim_flag_uses_the_simulated_device_even_with_a_board(monkeypatch):
    """`pointdose monitor --sim` like every other command: a plugged-in board is not used."""
    pytest.importorskip("pointdose.sim")
    from pointdose.link import discovery

    monkeypatch.setattr(discovery, "find_boards", lambda ports=None: pytest.fail("--sim must not look for boards"))
    args = cli.build_parser().parse_args(["monitor", "--sim", "--seconds", "0.5"])
    assert args.sim is True
    err = io.StringIO()
    try:
        with monitor.open_link(None, out=err, sim=True) as link:
            assert link.device.proto == "2"
    except UserError:
        raise
    except Exception as exc:  # the firmware or its runner may not be in place yet
        pytest.skip(f"simulated device does not start here: {exc}")
    assert "using the simulated device" in err.getvalue() and "no board found" not in err.getvalue()
    with pytest.raises(UserError, match="either --port or --sim"):
        with monitor.open_link("fake://x", out=io.StringIO(), sim=True):
            pass
