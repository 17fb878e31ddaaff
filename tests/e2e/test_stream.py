"""Host and firmware together: DeviceLink on the pty of the real firmware (unix port)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import serial

from pointdose.link import DeviceLink
from pointdose.link.device_link import DeviceCommandError, LinkState, NotAPointdoseDevice
from pointdose.protocol.decoder import StreamDecoder
from pointdose.protocol.wire import DeviceError, Status
from waiting import wait_until

pytestmark = pytest.mark.needs_unix_port


def assert_contiguous(rows: np.ndarray, period_s: float) -> None:
    """Counts and contents only: the simulated device runs on a shared machine's real clock, so its
    intervals say how busy the machine is (interval figures are in ``make bench``)."""
    seq = rows["seq"]
    assert len(seq) > 1
    assert np.all(np.diff(seq) == 1), f"sequence gaps at {np.flatnonzero(np.diff(seq) != 1)[:5]}"
    dt = np.diff(rows["t_dev_s"])
    assert dt.min() > 0, "device time went backwards"
    # the firmware samples on a fixed grid and never more than once a slot (a stall skips slots),
    # so however busy the machine, samples are on average at least one period apart
    span = rows["t_dev_s"][-1] - rows["t_dev_s"][0]
    assert span / (len(seq) - 1) >= 0.95 * period_s, f"{len(seq)} samples in {span:.3f} s: faster than the rate"


def test_connect_stream_stop_without_gaps(sim):
    with DeviceLink(sim.port) as link:
        assert link.device.proto == "2"
        assert link.device.board == "unix" and link.device.sensor == "sim"
        assert link.device.gain is None
        link.start()
        assert wait_until(lambda: link.stats.samples >= 400, timeout=10)
        link.stop()
        time.sleep(0.3)
        stopped_at = link.stats.samples
        time.sleep(0.5)
        assert link.stats.samples == stopped_at, "samples kept coming after stop"
        rows = link.ring.last(link.stats.samples)
        assert_contiguous(rows, 1 / 200)
        stats = link.stats
        assert stats.lost_samples == 0 and stats.crc_errors == 0 and stats.framing_errors == 0
        assert link.state is LinkState.CONNECTED


def test_kilohertz_stream_loses_nothing(make_sim):
    sim = make_sim(rate_hz=1000)
    with DeviceLink(sim.port) as link:
        link.start()
        assert wait_until(lambda: link.stats.samples >= 5000, timeout=20)
        rows = link.ring.last(link.stats.samples)
        assert_contiguous(rows, 1 / 1000)
        assert link.stats.lost_samples == 0 and link.stats.device_overflow == 0


def test_hx711_path_reads_each_conversion_once(make_sim):
    """The real HX711 driver against the fake chip: no conversion read twice.

    The force ramps at 10 N/s without noise, so every conversion of the fake chip has its own
    counts (the ramp moves 427 counts every 3.05 ms, 3 to 5 steps per 12.5 ms conversion): a
    conversion read twice repeats its counts exactly. How many conversions a busy machine leaves
    unread (bigger steps), or spoils by holding the clock line past the chip's power-down time
    (+1,000,000 counts while it settles again), is the machine's, not the driver's: not asserted
    here (interval figures: ``make bench``)."""
    sim = make_sim(sensor="sim-hx711")
    with DeviceLink(sim.port) as link:
        assert link.device.sensor == "hx711"  # the real driver, on a fake chip
        assert link.device.gain == "128", "a calibration belongs to a gain: hello must say which"
        link.command("sim noise 0")
        link.command("sim force 500 50")
        link.start()
        n0 = link.stats.samples
        assert wait_until(lambda: link.stats.samples >= n0 + 160, timeout=30)
        rows = link.ring.last(link.stats.samples)
        assert_contiguous(rows, 1 / 80)
        steps = np.diff(rows["raw"][-150:].astype(np.int64))  # on the ramp
        assert np.count_nonzero(steps == 0) == 0, f"a conversion read twice: count steps {steps[:20]}"
        assert np.median(steps) >= 3 * 427 - 10  # the counts do follow the ramp


def test_force_from_the_sim_reaches_the_host(sim):
    with DeviceLink(sim.port) as link:
        counts_per_n, zero = link.device.factory_scale.counts_per_n, link.device.factory_scale.zero
        link.start()
        link.command("sim force 50")
        n0 = link.stats.samples
        assert wait_until(lambda: link.stats.samples >= n0 + 100, timeout=15)
        raw = link.ring.last(40)["raw"]  # taken well after the force was set
        force = (raw.mean() - zero) / counts_per_n
        assert force == pytest.approx(50, abs=1.0)


def test_clock_wrap_is_seamless(make_sim):
    """Start the device clock 1.5 s before 2^30 µs: time and sequence run on across the wrap."""
    sim = make_sim(ticks_start=(1 << 30) - 1_500_000)
    with DeviceLink(sim.port) as link:
        link.start()
        assert wait_until(lambda: link.stats.samples >= 700, timeout=15)
        rows = link.ring.last(link.stats.samples)
        assert_contiguous(rows, 1 / 200)
        # a wrong unwrap jumps by 2^30 µs (1074 s) or goes back; a busy machine only stretches steps
        assert np.diff(rows["t_dev_s"]).max() < 10.0


def test_bad_command_lines_get_error_replies_and_streaming_goes_on(sim):
    with DeviceLink(sim.port) as link:
        link.start()
        for bad in ("fly", "rate 5000000", "rate abc", "tare -3"):
            with pytest.raises(DeviceCommandError) as err:
                link.command(bad)
            assert err.value.reply.status in (1, 2, 3)
            assert err.value.reply.text, "an error reply must say what was wrong"
        before = link.stats.samples
        assert wait_until(lambda: link.stats.samples > before + 100, timeout=5)
        rows = link.ring.last(link.stats.samples)
        assert_contiguous(rows, 1 / 200)


def read_frames(ser: serial.Serial, decoder: StreamDecoder, seconds: float):
    samples, messages = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        chunk = ser.read(max(1, ser.in_waiting))
        if chunk:
            out = decoder.feed(chunk)
            samples.append(out.samples)
            messages.extend(out.messages)
    return (np.concatenate(samples) if samples else np.zeros(0)), messages


def test_host_that_stops_reading_does_not_stall_sampling(sim):
    """Stop reading for 2 s: every sample taken meanwhile is delivered late or counted as dropped."""
    with serial.Serial(sim.port, timeout=0.05) as ser:
        decoder = StreamDecoder()
        ser.write(b"1 start\n")
        first, _ = read_frames(ser, decoder, 0.5)
        ser.write(b"ping\n")
        time.sleep(2.0)  # the host is busy: nothing read
        ser.write(b"2 status\n")
        later, messages = read_frames(ser, decoder, 1.0)
        ser.write(b"3 stop\n")
        seq = np.concatenate([first["seq30"], later["seq30"]])
        t = np.concatenate([first["t30_us"], later["t30_us"]])
        statuses = [m for m in messages if isinstance(m, Status)]
        assert statuses, "no STATUS frame arrived"
        overflow = statuses[-1].overflow
        missing = int(seq[-1] - seq[0] + 1 - len(seq))
        assert missing == overflow, f"{missing} samples missing but the device reports {overflow} dropped"
        # sampling went on through the pause: a sampler that waited for the host would leave one
        # step as long as the 2 s pause between consecutive samples (no wall-clock threshold below
        # that: how regular the steps are depends on how busy the machine is)
        consecutive = np.diff(seq) == 1
        steps = np.diff(t)[consecutive]
        assert steps.max() < 1_000_000, f"sampling stalled for {steps.max() / 1000:.1f} ms"
        assert seq[-1] - seq[0] + 1 == len(seq) + overflow


def test_watchdog_stops_a_silent_host_and_repl_is_reachable(sim):
    with serial.Serial(sim.port, timeout=0.05) as ser:
        decoder = StreamDecoder()
        ser.write(b"1 start\n")
        messages = []  # say nothing until the watchdog (3 s) speaks
        deadline = time.monotonic() + 30
        while not any(isinstance(m, DeviceError) for m in messages) and time.monotonic() < deadline:
            messages += read_frames(ser, decoder, 0.5)[1]
        messages += read_frames(ser, decoder, 0.5)[1]
        errors = [m for m in messages if isinstance(m, DeviceError)]
        assert [e.code for e in errors] == [1], messages
        assert "silent" in errors[0].text or "watchdog" in errors[0].text
        samples, _ = read_frames(ser, decoder, 0.5)
        assert len(samples) == 0, "still streaming after the watchdog fired"
        ser.write(b"9 repl\n")
        time.sleep(0.5)
        ser.write(b"\r\nprint(6*7)\r\n")
        out = b""
        deadline = time.monotonic() + 5
        while b"42" not in out and time.monotonic() < deadline:
            out += ser.read(256)
        assert b"42" in out, f"no REPL on the port after 'repl': {out[-200:]!r}"


def test_unplug_and_replug_resume_without_losing_received_samples(sim):
    with DeviceLink(sim.port, reconnect_interval=0.2) as link:
        link.start()
        assert wait_until(lambda: link.stats.samples >= 200, timeout=10)
        sim.unplug()
        assert wait_until(lambda: link.state is LinkState.LOST, timeout=5)
        kept = link.stats.samples
        time.sleep(0.5)
        sim.replug()
        assert wait_until(lambda: link.state is LinkState.STREAMING and link.stats.samples > kept + 100, timeout=15)
        rows = link.ring.last(link.stats.samples)
        assert len(rows) == link.stats.samples and rows["seq"][0] == 0
        assert set(np.unique(rows["segment"])) == {rows["segment"][0], rows["segment"][0] + 1}
        assert link.stats.reconnects == 1 and link.stats.boot_changes == 1
        assert link.stats.lost_samples == 0, "a reboot is a new segment, not a gap"


def test_device_restart_starts_a_new_segment(sim):
    with DeviceLink(sim.port) as link:
        boot = link.device.boot
        link.start()
        assert wait_until(lambda: link.stats.samples >= 100, timeout=10)
        sim.restart()
        assert wait_until(lambda: link.stats.boot_changes == 1 and link.state is LinkState.STREAMING, timeout=15)
        n = link.stats.samples
        assert wait_until(lambda: link.stats.samples > n + 100, timeout=10)
        assert link.device.boot != boot
        assert link.stats.lost_samples == 0


def test_a_port_that_is_not_a_pointdose_device_is_named(tmp_path):
    import os
    import tty

    master, slave = os.openpty()  # a silent serial device
    tty.setraw(slave)
    try:
        with pytest.raises(NotAPointdoseDevice) as err:
            DeviceLink(os.ttyname(slave), hello_timeout=0.5)
        assert "did not answer as a pointdose device" in str(err.value)
    finally:
        os.close(master)
        os.close(slave)


def test_cpython_shim_runs_the_same_firmware(make_sim):
    sim = make_sim(backend="cpython-shim")
    assert sim.port.startswith("socket://")
    with DeviceLink(sim.port, hello_timeout=5) as link:
        link.start()
        assert wait_until(lambda: link.stats.samples >= 200, timeout=10)
        assert_contiguous(link.ring.last(link.stats.samples), 1 / 200)
