"""DeviceLink's device features against the real firmware (unix port): calibration blob, cues,
limit, buttons. Faults the firmware would not make (a damaged chunk) are made on the way, in the
watched port (:mod:`porttap`)."""

from __future__ import annotations

import threading
import time

import pytest
from waiting import wait_until as wait_for

from pointdose.link import ButtonPress, DeviceCommandError
from pointdose.protocol import wire

# --- calibration blob -------------------------------------------------------------------------


def test_no_blob_reads_none_and_hello_says_so(link):
    assert link.device.calblob_crc is None
    assert link.read_calibration() is None


@pytest.mark.parametrize("size", [1, 29, 30, 31, 128, 129, 1024])
def test_blob_round_trip_through_chunks(link, tap, size):
    blob = bytes((i * 37 + 11) & 0xFF for i in range(size))
    reply = link.write_calibration(blob)
    assert reply.fields == {"calblob": f"{wire.crc16(blob):04x}", "len": str(size)}
    assert link.device.calblob_crc == f"{wire.crc16(blob):04x}"
    assert link.command("hello").fields["calblob"] == f"{wire.crc16(blob):04x}"  # the device's own word
    # every command line stays within the 80-byte limit (id, verb, offset, hex)
    assert all(len(f"65535 {line.split(' ', 1)[1]}\n") <= 80 for line in tap.lines)
    assert len(tap.sent("calw")) == -(-size // wire.CALW_CHUNK)
    assert link.read_calibration() == blob


def test_blob_survives_reboot_and_clear_removes_it(link, sim):
    link.write_calibration(b'{"model":"linear"}')
    boots = sim.boots
    sim.restart()  # power cycle: the blob is in the device's store
    assert sim.boots == boots + 1
    assert wait_for(lambda: _answers(link), timeout=10)
    assert link.read_calibration() == b'{"model":"linear"}'
    link.clear_calibration()
    assert link.read_calibration() is None and link.device.calblob_crc is None
    assert link.command("hello").fields["calblob"] == "none"


def _answers(link) -> bool:
    try:
        return link.ping(timeout=0.5).ok
    except Exception:
        return False


def test_blob_too_large_is_refused_on_the_host(link, tap):
    with pytest.raises(ValueError, match="1024"):
        link.write_calibration(bytes(1025))
    assert not tap.sent("calw")


def test_blob_refused_while_streaming(link):
    link.start()
    with pytest.raises(DeviceCommandError) as exc:
        link.write_calibration(b"abc")
    assert exc.value.status == wire.ReplyStatus.NOT_NOW and "stop streaming first" in str(exc.value)
    link.stop()
    link.write_calibration(b"abc")
    assert link.read_calibration() == b"abc"


def test_damaged_read_back_is_an_error(link, tap):
    blob = bytes(range(200))
    link.write_calibration(blob)

    def damage(frame):  # a chunk whose frame is intact but whose bytes no longer match the blob's CRC
        if isinstance(frame, wire.CalibrationChunk) and frame.offset == 0:
            data = b"\xff" + frame.data[1:]
            return wire.encode_calibration_chunk(frame.total, frame.offset, frame.crc, data)
        return None

    tap.rewrite = damage
    with pytest.raises(Exception, match="damaged"):
        link.read_calibration()
    tap.rewrite = None
    assert link.read_calibration() == blob  # the device's copy was never harmed


# --- cues and limit ---------------------------------------------------------------------------


def test_send_cue_echo_lands_before_the_reply(link, tap):
    reply = link.send_cue("hold", "below", 40)
    assert reply.fields["phase"] == "hold"
    assert link.cue_state is not None and (link.cue_state.phase, link.cue_state.band, link.cue_state.level) == \
        ("hold", "below", 40)
    assert tap.lines[-1].endswith("cue hold below 40")


@pytest.mark.parametrize("args", [("squeeze",), ("hold", "inside")])
def test_send_cue_refuses_unknown_names(link, tap, args):
    with pytest.raises(ValueError):
        link.send_cue(*args)
    assert not tap.sent("cue")


def test_send_cue_clamps_level_and_can_skip_waiting(link, tap):
    assert link.send_cue("press", "above", 250, wait=False) is None
    assert wait_for(lambda: link.cue_state is not None and link.cue_state.level == 100)
    assert tap.sent("cue")[-1].endswith("cue press above 100")


def test_set_limit_and_over_pressure_error(link):
    reply = link.set_limit(120000)
    assert reply.fields["limit_max"] == "120000"
    assert (link.io()["limit_max"], link.io()["limit_min"]) == ("120000", "off")
    link.set_limit(None, min_raw=-5000)
    assert (link.io()["limit_max"], link.io()["limit_min"]) == ("off", "-5000")
    link.set_limit(90000)
    link.command("sim noise 0")
    link.start()
    per_n, zero = link.device.factory_scale.counts_per_n, link.device.factory_scale.zero
    assert zero + 4 * per_n > 90000 > zero + 2 * per_n
    link.command("sim force 4")  # past the limit: the firmware's own alarm
    assert wait_for(lambda: any(e.code == wire.ErrorCode.OVER_PRESSURE for _, e in link.errors))
    err = [e for _, e in link.errors if e.code == wire.ErrorCode.OVER_PRESSURE][0]
    assert int(err.fields["raw"]) > 90000 and err.fields["limit"] == "max:90000"
    link.set_limit(None)
    assert (link.io()["limit_max"], link.io()["limit_min"]) == ("off", "off")


def test_io_fields(link):
    link.set_limit(1234)
    f = link.io()
    assert f["limit_max"] == "1234" and f["buttons"] == "pain,release,stop"


def test_limit_and_cue_reapplied_after_a_reboot(link, sim):
    link.set_limit(70000)
    link.send_cue("hold", "in", 0)
    sim.restart()                                    # the device forgets both
    assert wait_for(lambda: _answers(link), timeout=10)
    link.command("status")                           # STATUS with the new boot id

    def reapplied():
        cue = link.command("cue").fields
        return link.io()["limit_max"] == "70000" and (cue["phase"], cue["band"]) == ("hold", "in")

    assert wait_for(reapplied, timeout=10)


# --- buttons ----------------------------------------------------------------------------------


def test_button_press_reaches_callback_and_deque_in_stream_time(link):
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
    assert wait_for(lambda: [e.pressed for _, e in link.button_events] == [True, False])
    assert wait_for(lambda: link.ring.window(5.0)["t_dev_s"][-1] >= t)  # samples from after the press
    rows = link.ring.window(5.0)
    assert rows["t_dev_s"][0] <= t <= rows["t_dev_s"][-1]


def test_button_before_any_sample_uses_arrival_time(link):
    t0 = time.monotonic()
    link.command("sim button stop")
    assert wait_for(lambda: link.buttons)
    assert link.buttons[0].name == "stop" and t0 <= link.buttons[0].t_dev_s <= time.monotonic()
