"""DeviceLink against the real firmware on the MicroPython unix port (through a watched port,
:mod:`porttap`) and pyserial's loop:// URL."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from porttap import PortTap  # noqa: E402
from waiting import wait_until as wait_for  # noqa: E402

from pointdose.errors import UserError  # noqa: E402
from pointdose.link import (  # noqa: E402
    DeviceCommandError,
    DeviceLink,
    LinkLost,
    LinkState,
    NotAPointdoseDevice,
    SampleRing,
    link_load,
)
from pointdose.protocol import wire  # noqa: E402


def test_hello_timeout_says_what_to_do():
    master, slave = os.openpty()  # a port where nothing answers
    path = os.ttyname(slave)
    try:
        t0 = time.monotonic()
        with pytest.raises(NotAPointdoseDevice) as exc:
            DeviceLink(path, hello_timeout=0.3)
        assert time.monotonic() - t0 >= 0.29  # it waited the whole timeout (how much longer: the machine's)
        assert isinstance(exc.value, UserError)
        assert str(exc.value) == (f"{path} did not answer as a pointdose device within 0.3 s: "
                                  "is the pointdose firmware installed? (pointdose flash)")
    finally:
        os.close(master)
        os.close(slave)


def test_loop_url_echo_is_not_a_pointdose_device():
    with pytest.raises(NotAPointdoseDevice, match="loop://"):
        DeviceLink("loop://", hello_timeout=0.3)


def test_missing_port_is_a_user_error():
    with pytest.raises(UserError, match="there is no port"):
        DeviceLink("/dev/does-not-exist-pointdose", hello_timeout=0.2)


def test_hello_info_and_command_ids(link, tap):
    assert link.state == LinkState.CONNECTED
    again = link.command("hello")  # the device's own answer, parsed once into link.device
    assert link.device.uid == again.fields["uid"] == "53494d30303031" and link.device.boot == again.fields["boot"]
    assert link.device.sensor == "sim" and link.device.factory_scale is not None
    r1, r2 = link.ping("a"), link.ping("b")
    assert r1.fields["pong"] == "a" and r2.fields["pong"] == "b"
    ids = [int(line.split()[0]) for line in tap.lines]
    assert ids == [1, 2, 3, 4] and r2.cmd_id == 4


def test_command_ids_wrap_within_1_to_65535(link, tap):
    link._next_id = 65534
    assert link.ping().cmd_id == 65535
    assert link.ping().cmd_id == 1  # the device answered each under its own id
    assert [int(line.split()[0]) for line in tap.lines[-2:]] == [65535, 1]


def test_error_reply_raises_with_the_device_text(link):
    with pytest.raises(DeviceCommandError, match="unknown command: fly") as exc:
        link.command("fly")
    assert exc.value.status == 1
    with pytest.raises(DeviceCommandError) as exc:
        link.set_rate(5000)
    assert exc.value.status == 2
    assert link.ping().ok  # the link goes on


def test_bad_command_lines_are_refused_on_the_host(link, tap):
    with pytest.raises(ValueError):
        link.command("x" * 90)
    with pytest.raises(ValueError):
        link.command("tab\there")
    assert not any(line.split()[1:2] in (["x" * 90], ["tab"]) for line in tap.lines)  # never sent


def test_streams_into_the_ring_and_counts_a_gap(make_sim, tap):
    sim = make_sim(rate_hz=1000)  # several samples a DATA frame
    ring = SampleRing(20_000)
    dropped: list[wire.DataFrame] = []

    def drop_three(frame):
        if isinstance(frame, wire.DataFrame) and len(dropped) < 3:
            dropped.append(frame)
            return b""  # lost on the way, as a bad cable loses it
        return None

    with DeviceLink(sim.port, serial_factory=tap.serial, ring=ring) as link:
        link.start()
        assert link.state == LinkState.STREAMING
        assert wait_for(lambda: len(ring) > 200)
        tap.rewrite = drop_three
        assert wait_for(lambda: len(dropped) == 3)
        lost = sum(len(f.values) for f in dropped)
        assert wait_for(lambda: link.stats.lost_samples == lost)
        n = len(ring)
        assert wait_for(lambda: len(ring) > n + 100)
        link.stop()
        rows = ring.last(len(ring))
        delivered = tap.samples()
        assert link.stats.samples == ring.total_appended and link.stats.crc_errors == 0
    # the ring holds exactly the samples that arrived, each value under its own seq
    assert [(int(s), int(r)) for s, r in zip(rows["seq"], rows["raw"])] == delivered[:len(rows)]
    gone = {(f.seq + k) % wire.SEQ_MOD for f in dropped for k in range(len(f.values))}
    assert not gone & set(rows["seq"].tolist())
    assert int(np.diff(rows["seq"]).sum()) - (len(rows) - 1) == lost
    assert np.all(np.diff(rows["t_dev_s"]) > 0)
    assert np.all(rows["t_dev_s"] <= rows["t_host_rx_s"] + 1e-9)


def test_keepalive_pings_while_streaming(link, tap):
    link.start()
    assert wait_for(lambda: len(tap.sent("ping")) >= 3, timeout=20)
    link.stop()
    n = len(tap.sent("ping"))
    time.sleep(1.2)
    assert len(tap.sent("ping")) == n  # only while streaming


def test_set_rate_and_tare(link):
    assert link.set_rate(800).fields["rate"] == "800"
    assert link.device.rate_hz == 800 and link.command("hello").fields["rate"] == "800"  # the device runs at it
    link.command("sim noise 0")
    reply = link.tare(100)
    assert reply.fields["n"] == "100"
    zero = link.device.factory_scale.zero  # nothing on the simulated sensor: the tare is its zero
    assert link.device.tare == float(reply.fields["tare"]) == pytest.approx(zero, abs=50)
    assert link.command("hello").fields["tare"] == reply.fields["tare"]


def test_bridge_refuses_rates_the_uart_cannot_carry(make_sim, tap):
    sim = make_sim(link="uart:115200")
    with DeviceLink(sim.port, serial_factory=tap.serial, bridge=True) as link:
        assert link.device.link == "uart:115200" and link.device.batch_us == 20000  # the device batches for a UART
        # 115200 baud ≈ 11 520 B/s; 70 % ≈ 8 064 B/s; 1 kHz with 20 ms batching needs 5 750 B/s
        assert link_load(1000, 20000) == pytest.approx(5750)
        link.set_rate(1000)
        with pytest.raises(UserError, match="115200-baud"):
            link.set_rate(1600)
        assert [line.split()[1:] for line in tap.sent("rate")] == [["rate", "1000"]]  # 1600 never sent
        assert link.command("hello").fields["rate"] == "1000"


def test_bridge_leaves_modem_lines_alone_and_native_asserts_dtr(sim, tap):
    # An ESP32 behind a USB–UART bridge resets when DTR/RTS move; native USB CDC (the Pico) sends
    # nothing until DTR is asserted. What the link does to the lines at open() is what matters.
    with DeviceLink(sim.port, serial_factory=tap.serial, bridge=True, hello_timeout=2.0) as link:
        assert link.state == LinkState.CONNECTED
    assert tap.opens == [(False, False)]
    with DeviceLink(sim.port, serial_factory=tap.serial, hello_timeout=2.0) as link:
        assert link.state == LinkState.CONNECTED
    assert tap.opens[1:] == [(True, False)]


def test_unplug_mid_stream_then_back_after_reboot(sim, tap):
    ring = SampleRing(100_000)
    with DeviceLink(sim.port, serial_factory=tap.serial, ring=ring, reconnect_interval=0.1) as link:
        link.start()
        old_boot = link.device.boot
        assert wait_for(lambda: len(ring) > 300)
        sim.unplug()
        assert wait_for(lambda: link.state == LinkState.LOST)
        with pytest.raises(LinkLost):
            link.ping()
        before = ring.last(len(ring)).copy()
        time.sleep(0.3)  # retries fail while unplugged
        sim.replug()  # the firmware boots afresh
        assert wait_for(lambda: link.state == LinkState.STREAMING, timeout=10)
        assert wait_for(lambda: ring.last(1)["segment"][0] == 1)
        stats = link.stats
        assert stats.reconnects == 1 and stats.boot_changes == 1
        assert stats.lost_samples == 0  # a reboot is a new segment, not a gap
        rows = ring.last(len(ring))
        old = rows[rows["segment"] == 0]
        assert np.array_equal(old, before[before["segment"] == 0])  # nothing received was lost
        new = rows[rows["segment"] == 1]
        assert len(new) and np.all(np.diff(new["seq"]) == 1)
        assert link.device.boot != old_boot and link.device.boot == link.command("hello").fields["boot"]


def test_port_glitch_same_boot_keeps_segment(sim, tap):
    with DeviceLink(sim.port, serial_factory=tap.serial, reconnect_interval=0.1) as link:
        link.start()
        assert wait_for(lambda: len(link.ring) > 100)
        tap.fail = True  # the port errors; the device runs on
        assert wait_for(lambda: link.state == LinkState.LOST)
        tap.fail = False
        assert wait_for(lambda: link.state == LinkState.STREAMING and link.stats.reconnects == 1, timeout=10)
        n = len(link.ring)
        assert wait_for(lambda: len(link.ring) > n + 100)
        assert set(link.ring.last(len(link.ring))["segment"].tolist()) == {0}
        assert link.stats.boot_changes == 0


def test_a_raising_callback_goes_through_connection_lost(sim):
    calls = []

    def on_message(msg):
        calls.append(msg)
        if len(calls) == 2:
            raise RuntimeError("callback failed")

    with DeviceLink(sim.port, on_message=on_message, reconnect_interval=0.1) as link:
        link.ping()
        with pytest.raises(LinkLost):
            link.ping()
        assert isinstance(link.last_error, RuntimeError)
        assert wait_for(lambda: link.state == LinkState.CONNECTED and link.stats.reconnects == 1)
        assert link.ping().ok


def test_watchdog_stop_restarts_streaming(make_sim):
    sim = make_sim(watchdog_ms=300, rate_hz=1000)  # the firmware's own watchdog, short
    with DeviceLink(sim.port, ping_interval=5.0) as link:
        link.start()
        assert wait_for(lambda: len(link.errors) >= 1, timeout=5)
        assert link.errors[0][1].code == wire.ErrorCode.WATCHDOG
        n = len(link.ring)
        assert wait_for(lambda: link.status is not None and link.status.streaming and len(link.ring) > n + 50,
                        timeout=5)


def test_close_stops_streaming_and_joins(sim):
    link = DeviceLink(sim.port)
    link.start()
    assert wait_for(lambda: len(link.ring) > 10)
    link.close()
    assert link.state == LinkState.CLOSED and not link._thread.is_alive()
    with pytest.raises(UserError):
        link.ping()
    with DeviceLink(sim.port) as after:  # the device itself says it stopped
        after.command("status")
        assert wait_for(lambda: after.status is not None)
        assert not after.status.streaming


@pytest.mark.parametrize("exc, words", [
    (OSError(2, "No such file or directory"), "there is no port"),
    (OSError(13, "Permission denied"), "dialout"),
    (OSError(16, "Device or resource busy"), "busy"),
])
def test_a_port_that_will_not_open_says_what_to_do(exc, words):
    def refuse(port):
        raise exc

    with pytest.raises(UserError) as err:
        DeviceLink("/dev/ttyACM7", serial_factory=refuse)
    assert words in str(err.value) and "/dev/ttyACM7" in str(err.value)


class ReplOnlyPort:
    """A MicroPython board without the pointdose firmware: whatever it gets, the REPL answers."""

    BANNER = b"MicroPython v1.24.1 on 2024-11-29; Raspberry Pi Pico with RP2040\r\nType \"help()\" for more information.\r\n>>> "

    def __init__(self, url: str = "fake://repl") -> None:
        import threading

        self.port = url
        self.baudrate, self.timeout, self.write_timeout, self.dtr, self.rts = 115200, None, None, True, False
        self.written = bytearray()
        self._out = bytearray()
        self._cond = threading.Condition()

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        with self._cond:
            self._out.clear()

    @property
    def in_waiting(self) -> int:
        return len(self._out)

    def write(self, data: bytes) -> int:
        with self._cond:
            self.written += data
            for line in bytes(data).split(b"\n")[:-1]:  # echo, then the error Python gives for a command line
                self._out += line + b"\r\nTraceback (most recent call last):\r\n  File \"<stdin>\", line 1\r\n" \
                                    b"SyntaxError: invalid syntax\r\n>>> "
            if b"\x04" in data:  # soft reset: no main.py, back at the prompt
                self._out += b"\r\nMPY: soft reboot\r\n" + self.BANNER
            self._cond.notify_all()
        return len(data)

    def read(self, size: int = 1) -> bytes:
        with self._cond:
            if not self._out:
                self._cond.wait(self.timeout or 0)
            data = bytes(self._out[:size])
            del self._out[:size]
            return data


def test_a_board_that_stays_at_the_repl_is_given_up_with_one_clear_line():
    port = ReplOnlyPort()
    with pytest.raises(NotAPointdoseDevice) as exc:
        DeviceLink("fake://repl", serial_factory=lambda url: port, hello_timeout=0.5)
    assert str(exc.value) == ("fake://repl is at the MicroPython REPL and falls back into it after a soft reset "
                              "(Ctrl-D): its main.py is missing or fails at start; install the firmware again "
                              "(pointdose flash)")
    from pointdose.link.device_link import REPL_MAX_TRIES, REPL_WAKE

    assert bytes(port.written).count(REPL_WAKE) == REPL_MAX_TRIES  # tried a few soft resets, then stopped
