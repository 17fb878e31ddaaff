"""DeviceLink's device features against FakeDevice: calibration blob, cues, limit, buttons."""

from __future__ import annotations

import threading
import time

import pytest

from pointdose.link import ButtonPress, DeviceCommandError  # noqa: E402
from pointdose.protocol import wire  # noqa: E402
from waiting import wait_until as wait_for


# --- calibration blob -------------------------------------------------------------------------


def test_no_blob_reads_none_and_hello_says_so(link):
    assert link.device.calblob_crc is None
    assert link.read_calibration() is None


@pytest.mark.parametrize("size", [1, 29, 30, 31, 128, 129, 1024])
def test_blob_round_trip_through_chunks(link, device, size):
    blob = bytes((i * 37 + 11) & 0xFF for i in range(size))
    reply = link.write_calibration(blob)
    assert reply.fields == {"calblob": f"{wire.crc16(blob):04x}", "len": str(size)}
    assert link.device.calblob_crc == f"{wire.crc16(blob):04x}"
    # every command line stays within the 80-byte limit (id, verb, offset, hex)
    assert all(len(f"65535 {line}\n") <= 80 for _, line in device.lines)
    assert link.read_calibration() == blob
    assert device.cal_blob == blob


def test_blob_survives_reboot_and_clear_removes_it(link, device):
    link.write_calibration(b'{"model":"linear"}')
    device.reboot()
    assert link.read_calibration() == b'{"model":"linear"}'
    link.clear_calibration()
    assert link.read_calibration() is None and link.device.calblob_crc is None


def test_blob_too_large_is_refused_on_the_host(link, device):
    with pytest.raises(ValueError, match="1024"):
        link.write_calibration(bytes(1025))
    assert not device.received("calw")


def test_blob_refused_while_streaming(link):
    link.start()
    with pytest.raises(DeviceCommandError) as exc:
        link.write_calibration(b"abc")
    assert exc.value.status == wire.ReplyStatus.NOT_NOW and "stop streaming first" in str(exc.value)
    link.stop()
    link.write_calibration(b"abc")
    assert link.read_calibration() == b"abc"


def test_damaged_read_back_is_an_error(link, device):
    link.write_calibration(bytes(range(200)))
    device.cal_blob = bytes(range(199)) + b"\xff"   # the chunks no longer match the CRC the reply names

    orig = device._calblob
    device._calblob = lambda: f"{wire.crc16(bytes(range(200))):04x}"
    try:
        with pytest.raises(Exception, match="damaged"):
            link.read_calibration()
    finally:
        device._calblob = orig


# --- cues and limit ---------------------------------------------------------------------------


def test_send_cue_echo_lands_before_the_reply(link, device):
    reply = link.send_cue("hold", "below", 40)
    assert reply.fields["phase"] == "hold"
    assert link.cue_state is not None and (link.cue_state.phase, link.cue_state.band, link.cue_state.level) == \
        ("hold", "below", 40)
    assert device.lines[-1][1].endswith("cue hold below 40")


@pytest.mark.parametrize("args", [("squeeze",), ("hold", "inside")])
def test_send_cue_refuses_unknown_names(link, args):
    with pytest.raises(ValueError):
        link.send_cue(*args)


def test_send_cue_clamps_level_and_can_skip_waiting(link, device):
    assert link.send_cue("press", "above", 250, wait=False) is None
    assert wait_for(lambda: link.cue_state is not None and link.cue_state.level == 100)


def test_set_limit_and_over_pressure_error(link, device):
    reply = link.set_limit(120000)
    assert reply.fields["limit_max"] == "120000" and device.limit == (120000, None)
    link.set_limit(None, min_raw=-5000)
    assert device.limit == (None, -5000)
    link.set_limit(90000)
    device.over_pressure(95000)
    assert wait_for(lambda: any(e.code == wire.ErrorCode.OVER_PRESSURE for _, e in link.errors))
    err = [e for _, e in link.errors if e.code == wire.ErrorCode.OVER_PRESSURE][0]
    assert err.fields["raw"] == "95000" and err.fields["limit"] == "max:90000"
    link.set_limit(None)
    assert device.limit == (None, None)


def test_io_fields(link):
    link.set_limit(1234)
    f = link.io()
    assert f["limit_max"] == "1234" and f["buttons"] == "pain,release,stop"


def test_limit_and_cue_reapplied_after_a_reboot(link, device):
    link.set_limit(70000)
    link.send_cue("hold", "in", 0)
    device.reboot()                                  # the device forgets both
    assert device.limit == (None, None)
    link.command("status")                           # STATUS with the new boot id
    assert wait_for(lambda: device.limit == (70000, None) and device.cue == ("hold", "in", 0))


# --- buttons ----------------------------------------------------------------------------------


def test_button_press_reaches_callback_and_deque_in_stream_time(link, device):
    got = []
    seen_thread = []

    def on_button(t, name):
        got.append((t, name))
        seen_thread.append(threading.current_thread().name)

    link.on_button = on_button
    link.start()
    assert wait_for(lambda: len(link.ring) > 200)
    link.command("sim button pain")
    assert wait_for(lambda: got)
    t, name = got[0]
    assert name == "pain" and seen_thread[0].startswith("pointdose-link")
    assert list(link.buttons) == [ButtonPress(t, "pain")]
    assert [e.pressed for _, e in link.button_events] == [True, False] or wait_for(
        lambda: [e.pressed for _, e in link.button_events] == [True, False])
    assert wait_for(lambda: link.ring.window(5.0)["t_dev_s"][-1] >= t)  # samples from after the press
    rows = link.ring.window(5.0)
    assert rows["t_dev_s"][0] <= t <= rows["t_dev_s"][-1]


def test_button_before_any_sample_uses_arrival_time(link, device):
    t0 = time.monotonic()
    device.press("stop")
    assert wait_for(lambda: link.buttons)
    assert link.buttons[0].name == "stop" and t0 <= link.buttons[0].t_dev_s <= time.monotonic()
