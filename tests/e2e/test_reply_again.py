"""A reply lost on the way (the device's output buffer was full: STATUS `lost`) is asked for again
under its own id, and the real firmware sends the reply it kept instead of running the command twice."""

from __future__ import annotations

import pytest
import serial

from pointdose.link import DeviceLink
from pointdose.protocol.wire import Reply, cobs_decode, parse_frame

pytestmark = pytest.mark.needs_unix_port


class LosesOneReply:
    """A serial port that loses the first REPLY whose text starts with ``prefix``, as a device with
    a full output buffer would; every other byte passes unchanged."""

    def __init__(self, port: str, prefix: str):
        object.__setattr__(self, "_ser", serial.serial_for_url(port, do_not_open=True))
        object.__setattr__(self, "_held", b"")
        object.__setattr__(self, "prefix", prefix)
        object.__setattr__(self, "lost", [])

    def __getattr__(self, name):
        return getattr(self._ser, name)

    def __setattr__(self, name, value):
        setattr(self._ser, name, value)

    def read(self, n: int = 1) -> bytes:
        data = self._held + self._ser.read(n)
        out = bytearray()
        while True:
            end = data.find(b"\x00")
            if end < 0:
                break
            frame, data = data[:end], data[end + 1:]
            if not self.lost and frame:
                try:
                    msg = parse_frame(cobs_decode(frame))
                except Exception:
                    msg = None
                if isinstance(msg, Reply) and msg.text.startswith(self.prefix):
                    self.lost.append(msg.cmd_id)
                    continue
            out += frame + b"\x00"
        object.__setattr__(self, "_held", data)
        return bytes(out)


def test_a_lost_reply_is_asked_for_again_and_the_command_runs_once(sim):
    port = LosesOneReply(sim.port, "limit_max=")
    with DeviceLink(sim.port, serial_factory=lambda _p: port, reconnect=False) as link:
        reply = link.command("limit max 5000", timeout=1.0)
        assert reply.fields["limit_max"] == "5000"
        assert port.lost == [reply.cmd_id], "the test must have lost exactly this reply"
        assert link.stats.replies_asked_again == 1
        # the device holds one limit, set once (io shows it)
        assert link.command("limit").fields["limit_max"] == "5000"


def test_a_protocol_1_device_is_not_asked_again_and_the_caller_hears_of_the_timeout(sim):
    port = LosesOneReply(sim.port, "pong=")
    with DeviceLink(sim.port, serial_factory=lambda _p: port, reconnect=False) as link:
        link.device = link.device.with_fields(proto="1")      # a protocol-1 device cannot be asked again
        with pytest.raises(Exception, match="no reply to 'ping'"):
            link.command("ping", timeout=0.5)
        assert link.stats.replies_asked_again == 0
