"""DeviceLink against FakeDevice (in process) and pyserial's loop:// URL."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakedevice import FakeDevice  # noqa: E402
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


def test_hello_timeout_says_what_to_do():
    d = FakeDevice(silent=True)
    try:
        t0 = time.monotonic()
        with pytest.raises(NotAPointdoseDevice) as exc:
            DeviceLink("fake://x", serial_factory=d.serial, hello_timeout=0.3)
        assert time.monotonic() - t0 >= 0.29  # it waited the whole timeout (how much longer: the machine's)
        assert isinstance(exc.value, UserError)
        assert str(exc.value) == ("fake://x did not answer as a pointdose device within 0.3 s: "
                                  "is the pointdose firmware installed? (pointdose flash)")
    finally:
        d.close()


def test_loop_url_echo_is_not_a_pointdose_device():
    with pytest.raises(NotAPointdoseDevice, match="loop://"):
        DeviceLink("loop://", hello_timeout=0.3)


def test_missing_port_is_a_user_error():
    with pytest.raises(UserError, match="there is no port"):
        DeviceLink("/dev/does-not-exist-pointdose", hello_timeout=0.2)


def test_hello_info_and_command_ids(link, device):
    assert link.state == LinkState.CONNECTED
    assert link.device.uid == "fa4e0001" and link.device.boot == device.boot_id
    r1, r2 = link.ping("a"), link.ping("b")
    assert r1.fields["pong"] == "a" and r2.fields["pong"] == "b"
    ids = [int(line.split()[0]) for _, line in device.lines]
    assert ids == [1, 2, 3] and r2.cmd_id == 3


def test_command_ids_wrap_within_1_to_65535(link, device):
    link._next_id = 65534
    link.ping()
    link.ping()
    assert [int(line.split()[0]) for _, line in device.lines[-2:]] == [65535, 1]


def test_error_reply_raises_with_the_device_text(link):
    with pytest.raises(DeviceCommandError, match="unknown command: fly") as exc:
        link.command("fly")
    assert exc.value.status == 1
    with pytest.raises(DeviceCommandError) as exc:
        link.set_rate(5000)
    assert exc.value.status == 2
    assert link.ping().ok  # the link goes on


def test_bad_command_lines_are_refused_on_the_host(link):
    with pytest.raises(ValueError):
        link.command("x" * 90)
    with pytest.raises(ValueError):
        link.command("tab\there")


def test_streams_into_the_ring_and_counts_a_gap(device):
    ring = SampleRing(10_000)
    with DeviceLink("fake://", serial_factory=device.serial, ring=ring) as link:
        link.start()
        assert link.state == LinkState.STREAMING
        assert wait_for(lambda: len(ring) > 200)
        device.skip = 13
        assert wait_for(lambda: link.stats.lost_samples == 13)
        time.sleep(0.1)
        rows = ring.last(len(ring))
        assert np.all(rows["raw"] == rows["seq"] % (1 << 23))  # the right value under each seq
        assert int(np.diff(rows["seq"]).sum()) - (len(rows) - 1) == 13
        assert np.all(np.diff(rows["t_dev_s"]) > 0)
        assert np.all(rows["t_dev_s"] <= rows["t_host_rx_s"] + 1e-9)
        assert link.stats.samples == ring.total_appended and link.stats.crc_errors == 0
        link.stop()
        assert link.state == LinkState.CONNECTED


def test_keepalive_pings_while_streaming(link, device):
    link.start()
    assert wait_for(lambda: len(device.received("ping")) >= 3, timeout=20)
    link.stop()
    n = len(device.received("ping"))
    time.sleep(1.2)
    assert len(device.received("ping")) == n  # only while streaming


def test_set_rate_and_tare(link, device):
    assert link.set_rate(800).fields["rate"] == "800" and device.rate_hz == 800
    assert link.tare(100).fields["n"] == "100"
    assert link.device.tare == 1234


def test_bridge_refuses_rates_the_uart_cannot_carry():
    device = FakeDevice(batch_us=20000, link="uart:115200")
    with DeviceLink("fake://", serial_factory=device.serial, bridge=True) as link:
        # 115200 baud ≈ 11 520 B/s; 70 % ≈ 8 064 B/s; 1 kHz with 20 ms batching needs 5 750 B/s
        assert link_load(1000, 20000) == pytest.approx(5750)
        link.set_rate(1000)
        with pytest.raises(UserError, match="115200-baud"):
            link.set_rate(1600)
        assert device.rate_hz == 1000  # never sent
    device.close()


def test_bridge_leaves_modem_lines_alone_and_native_asserts_dtr():
    esp = FakeDevice(resets_on_modem_lines=True)
    pico = FakeDevice(needs_dtr=True)
    try:
        boot = esp.boot_id
        with DeviceLink("fake://esp", serial_factory=esp.serial, bridge=True, hello_timeout=0.5):
            assert esp.boot_id == boot and len(esp.boots) == 1
        with DeviceLink("fake://pico", serial_factory=pico.serial, hello_timeout=0.5) as link:
            assert link.device.boot == pico.boot_id
    finally:
        esp.close()
        pico.close()


def test_unplug_mid_stream_then_back_after_reboot(device):
    ring = SampleRing(100_000)
    with DeviceLink("fake://", serial_factory=device.serial, ring=ring, reconnect_interval=0.1) as link:
        link.start()
        assert wait_for(lambda: len(ring) > 300)
        device.unplug()
        assert wait_for(lambda: link.state == LinkState.LOST)
        with pytest.raises(LinkLost):
            link.ping()
        before = ring.last(len(ring)).copy()
        time.sleep(0.3)  # retries fail while unplugged
        device.replug(reboot=True)
        assert wait_for(lambda: link.state == LinkState.STREAMING)
        assert wait_for(lambda: ring.last(1)["segment"][0] == 1)
        stats = link.stats
        assert stats.reconnects == 1 and stats.boot_changes == 1
        assert stats.lost_samples == 0  # a reboot is a new segment, not a gap
        rows = ring.last(len(ring))
        old = rows[rows["segment"] == 0]
        assert np.array_equal(old, before[before["segment"] == 0])  # nothing received was lost
        new = rows[rows["segment"] == 1]
        assert len(new) and np.all(np.diff(new["seq"]) == 1)
        assert link.device.boot == device.boot_id


def test_port_glitch_same_boot_keeps_segment(device):
    with DeviceLink("fake://", serial_factory=device.serial, reconnect_interval=0.1) as link:
        link.start()
        assert wait_for(lambda: len(link.ring) > 100)
        device.unplug()
        assert wait_for(lambda: link.state == LinkState.LOST)
        device.replug(reboot=False)
        assert wait_for(lambda: link.state == LinkState.STREAMING and link.stats.reconnects == 1)
        n = len(link.ring)
        assert wait_for(lambda: len(link.ring) > n + 100)
        assert set(link.ring.last(len(link.ring))["segment"].tolist()) == {0}
        assert link.stats.boot_changes == 0


def test_a_raising_callback_goes_through_connection_lost(device):
    calls = []

    def on_message(msg):
        calls.append(msg)
        if len(calls) == 2:
            raise RuntimeError("callback failed")

    with DeviceLink("fake://", serial_factory=device.serial, on_message=on_message,
                    reconnect_interval=0.1) as link:
        link.ping()
        with pytest.raises(LinkLost):
            link.ping()
        assert isinstance(link.last_error, RuntimeError)
        assert wait_for(lambda: link.state == LinkState.CONNECTED and link.stats.reconnects == 1)
        assert link.ping().ok


def test_watchdog_stop_restarts_streaming(device):
    device.watchdog_ms = 300
    with DeviceLink("fake://", serial_factory=device.serial, ping_interval=5.0) as link:
        link.start()
        assert wait_for(lambda: len(link.errors) >= 1, timeout=3)
        assert link.errors[0][1].code == 1
        n = len(link.ring)
        assert wait_for(lambda: device.streaming and len(link.ring) > n + 50, timeout=3)


def test_close_stops_streaming_and_joins(device):
    link = DeviceLink("fake://", serial_factory=device.serial)
    link.start()
    link.close()
    assert link.state == LinkState.CLOSED and not link._thread.is_alive()
    assert not device.streaming
    with pytest.raises(UserError):
        link.ping()


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
