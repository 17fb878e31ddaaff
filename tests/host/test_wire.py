"""Encoders, CRC and COBS against the shared protocol vectors, and COBS round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointdose.protocol import wire

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "protocol_v1.json").read_text())["vectors"]


def encode_vector(v: dict) -> bytes:
    f = v["fields"]
    if v["type"] == wire.FRAME_DATA:
        return wire.encode_data_frame(f["seq"], f["t0_us"], f["values"], f["dt_us"])
    if v["type"] == wire.FRAME_REPLY:
        return wire.encode_reply(f["cmd_id"], f["status"], f["text"])
    if v["type"] == wire.FRAME_STATUS:
        return wire.encode_status(f["boot_hex"], f["t_us"], f["next_seq"], f["overflow"], f["cmd_errors"],
                                  f["flags"], f["rate_hz"], f.get("missed"), f.get("lost_frames"))
    if v["type"] == wire.FRAME_ERROR:
        return wire.encode_error(f["code"], f["text"])
    if v["type"] == wire.FRAME_CUE_STATE:
        return wire.encode_cue_state(**f)
    if v["type"] == wire.FRAME_BUTTON:
        return wire.encode_button(f["t_us"], f["button_id"], bool(f["event"]), f["count"])
    if v["type"] == wire.FRAME_CALIBRATION:
        return wire.encode_calibration_chunk(f["total"], f["offset"], f["crc"], bytes.fromhex(f["data_hex"]))
    decoded = bytes.fromhex(v["decoded_hex"])  # unknown types have no field encoder
    return wire.encode_frame(decoded[0], decoded[2:-2])


def test_crc_check_value():
    assert wire.crc16(b"123456789") == 0x29B1


def test_vectors_cover_every_defined_and_an_unknown_type():
    types = {v["type"] for v in VECTORS}
    assert wire.DEFINED_TYPES <= types and types - wire.DEFINED_TYPES
    assert not wire.RESERVED_TYPES  # every type v1 reserved is defined now


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_encodes_byte_for_byte(v):
    assert encode_vector(v).hex() == v["encoded_hex"]


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_cobs_both_ways(v):
    encoded, decoded = bytes.fromhex(v["encoded_hex"]), bytes.fromhex(v["decoded_hex"])
    assert encoded[-1] == 0 and 0 not in encoded[:-1]
    assert wire.cobs_encode(decoded) == encoded[:-1]
    assert wire.cobs_decode(encoded[:-1]) == decoded
    assert wire.crc16(decoded[:-2]) == int.from_bytes(decoded[-2:], "big")
    assert wire.crc16(decoded) == 0  # the residue the decoders rely on


@pytest.mark.parametrize("v", [v for v in VECTORS if v["type"] in wire.DEFINED_TYPES], ids=lambda v: v["name"])
def test_vector_parses_to_its_fields(v):
    msg = wire.parse_frame(bytes.fromhex(v["decoded_hex"]))
    f = v["fields"]
    if v["type"] == wire.FRAME_DATA:
        assert (msg.seq, msg.t0_us, list(msg.values), list(msg.dts)) == (f["seq"], f["t0_us"], f["values"], f["dt_us"])
    elif v["type"] == wire.FRAME_REPLY:
        assert (msg.cmd_id, msg.status, msg.text) == (f["cmd_id"], f["status"], f["text"])
    elif v["type"] == wire.FRAME_STATUS:
        assert msg == wire.Status(f["boot_hex"], f["t_us"], f["next_seq"], f["overflow"], f["cmd_errors"],
                                  f["flags"], f["rate_hz"], f.get("missed"), f.get("lost_frames"))
    elif v["type"] == wire.FRAME_CUE_STATE:
        assert msg == wire.CueState(**f)
    elif v["type"] == wire.FRAME_BUTTON:
        assert msg == wire.ButtonEvent(f["t_us"], f["button_id"], bool(f["event"]), f["count"])
        assert msg.name == wire.BUTTON_NAMES[f["button_id"]]
    elif v["type"] == wire.FRAME_CALIBRATION:
        assert msg == wire.CalibrationChunk(f["total"], f["offset"], f["crc"], bytes.fromhex(f["data_hex"]))
    else:
        assert msg == wire.DeviceError(f["code"], f["text"])


def test_near_wrap_vector_times_wrap_inside_the_frame():
    v = next(v for v in VECTORS if v["name"] == "data_near_wrap")
    frame = wire.parse_frame(bytes.fromhex(v["decoded_hex"]))
    assert frame.sample_times()[2] == 300


def test_unknown_type_vector_is_an_unknown_type_not_an_error():
    v = next(v for v in VECTORS if v["type"] not in wire.DEFINED_TYPES)
    with pytest.raises(wire.UnknownFrameType):
        wire.parse_frame(bytes.fromhex(v["decoded_hex"]))


def test_over_pressure_error_text_has_fields():
    v = next(v for v in VECTORS if v["name"] == "error_over_pressure")
    msg = wire.parse_frame(bytes.fromhex(v["decoded_hex"]))
    assert msg.code == wire.ErrorCode.OVER_PRESSURE
    assert msg.fields == {"raw": "123456", "limit": "max:120000", "t": "987654"}


@pytest.mark.parametrize("ftype, payload", [
    (wire.FRAME_CUE_STATE, bytes(17)),
    (wire.FRAME_CUE_STATE, bytes(19)),
    (wire.FRAME_BUTTON, bytes(7)),
    (wire.FRAME_BUTTON, bytes(9)),
    (wire.FRAME_CALIBRATION, bytes(6)),  # header without data
    (wire.FRAME_CALIBRATION, bytes((4, 0, 2, 0, 0, 0, 1, 2, 3))),  # offset 2 + 3 bytes > total 4
])
def test_new_frames_with_the_wrong_length_are_length_errors(ftype, payload):
    frame = wire.cobs_decode(wire.encode_frame(ftype, payload)[:-1])
    with pytest.raises(wire.LengthError):
        wire.parse_frame(frame)


def test_cue_state_names_and_flags():
    msg = wire.parse_frame(wire.cobs_decode(wire.encode_cue_state(7, "ease", "above", 3, 1, 0, 0, 0, 0, 0)[:-1]))
    assert (msg.phase, msg.band, msg.level, msg.firmware_alarm) == ("ease", "above", 3, True)
    odd = wire.parse_frame(wire.cobs_decode(wire.encode_cue_state(7, 9, 8, 0, 0, 0, 0, 0, 0, 0)[:-1]))
    assert (odd.phase, odd.band) == ("phase9", "band8")  # a newer firmware's values are kept, not refused


def test_reply_fields_only_on_success():
    ok = wire.parse_frame(wire.cobs_decode(wire.encode_reply(3, 0, "rate=80 x y=")[:-1]))
    assert ok.fields == {"rate": "80", "y": ""} and ok.ok
    bad = wire.parse_frame(wire.cobs_decode(wire.encode_reply(3, 2, "rate=9999 is above what the link carries")[:-1]))
    assert bad.fields == {} and not bad.ok


def test_status_flag_properties():
    s = wire.Status("00000000", 0, 0, 0, 0, wire.FLAG_STREAMING | wire.FLAG_SENSOR_FAULT, 80)
    assert s.streaming and s.sensor_fault and not s.kbd_intr_disabled and not s.watchdog_stopped


@pytest.mark.parametrize("kwargs", [
    dict(values=[], dts=[]),
    dict(values=[0] * 41, dts=[0] * 41),
    dict(values=[1 << 23], dts=[0]),
    dict(values=[0, 0], dts=[0, 65536]),
    dict(values=[0], dts=[0, 1]),
])
def test_data_encoder_refuses_what_the_wire_cannot_carry(kwargs):
    with pytest.raises(ValueError):
        wire.encode_data_frame(0, 0, **kwargs)


@pytest.mark.parametrize("bad, match", [
    (b"", "empty"),
    (b"\x05\x01\x02", "runs past"),
    (b"\x02\x01\x00\x01", "zero byte"),
])
def test_cobs_decode_errors_say_what_is_wrong(bad, match):
    with pytest.raises(wire.CobsError, match=match):
        wire.cobs_decode(bad)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=700))
def test_cobs_round_trip_and_no_zero(data):
    enc = wire.cobs_encode(data)
    assert 0 not in enc
    assert len(enc) <= len(data) + 1 + len(data) // 254
    assert wire.cobs_decode(enc) == data


def test_cobs_long_run_uses_ff_code():
    data = bytes(range(1, 255))  # 254 non-zero bytes
    enc = wire.cobs_encode(data)
    assert enc[0] == 0xFF and enc[-1] == 0x01
    assert wire.cobs_decode(enc) == data
    assert wire.cobs_decode(enc[:-1]) == data  # trailing empty block may be omitted


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**30 - 1), st.integers(0, 2**30 - 1),
       st.lists(st.tuples(st.integers(wire.I24_MIN, wire.I24_MAX), st.integers(0, 65535)), min_size=1, max_size=40))
def test_data_frame_round_trip(seq, t0, samples):
    values = [v for v, _ in samples]
    dts = [0] + [dt for _, dt in samples[1:]]
    frame = wire.parse_frame(wire.cobs_decode(wire.encode_data_frame(seq, t0, values, dts)[:-1]))
    assert (frame.seq, frame.t0_us, list(frame.values), list(frame.dts)) == (seq, t0, values, dts)
    assert frame.sample_times()[-1] == (t0 + sum(dts)) % wire.TICK_MOD


def test_status_lengths_of_protocol_1_and_2():
    # 21 bytes: protocol-1 firmware (no missed/lost); 29: protocol 2; more: a later firmware's extra fields
    base = bytes.fromhex("01020304") + bytes(17)
    for n, ok in ((21, True), (22, False), (28, False), (29, True), (33, True)):
        frame = bytes((wire.FRAME_STATUS, 1)) + (base + bytes(12))[:n]
        frame += wire.crc16(frame).to_bytes(2, "big")
        if ok:
            msg = wire.parse_frame(frame)
            assert (msg.missed is None) == (n == 21), n
        else:
            with pytest.raises(wire.LengthError):
                wire.parse_frame(frame)


def test_device_link_sums_missed_and_lost_from_protocol_2_status(link, tap):
    """STATUS `missed`/`lost` reach DeviceLink.stats (summed over boots, like overflow). The real
    firmware keeps up here, so the STATUS frames saying otherwise are put on the wire by the test."""
    import time

    boot = link.device.boot

    def emit(missed, lost, overflow=0, proto2=True):
        extra = (missed, lost) if proto2 else ()
        tap.inject(wire.encode_status(boot, 0, 0, overflow, 0, 0, 200, *extra))

    emit(7, 2)
    end = time.monotonic() + 10
    while link.stats.device_missed != 7 and time.monotonic() < end:
        time.sleep(0.02)
    assert (link.stats.device_missed, link.stats.device_lost_frames) == (7, 2)
    emit(9, 2)
    while link.stats.device_missed != 9 and time.monotonic() < end:
        time.sleep(0.02)
    assert link.stats.device_missed == 9
    emit(0, 0, overflow=5, proto2=False)  # a protocol-1 STATUS leaves them as they were
    while link.stats.device_overflow != 5 and time.monotonic() < end:
        time.sleep(0.02)
    assert link.stats.device_missed == 9
    link.command("status")  # and the device's own STATUS (nothing missed this boot) is read as well
    assert link.status is not None and link.status.boot_id == boot and link.status.missed == 0


def test_monitor_line_says_when_the_device_fell_behind_or_dropped_frames():
    from pointdose.commands import monitor
    from pointdose.link.device_link import LinkState, LinkStats

    rows = np.zeros(0, dtype=[("raw", "f8")])
    quiet = monitor.format_line(rows, {}, LinkStats(), LinkState.STREAMING)
    assert "fell behind" not in quiet and "dropped" not in quiet
    line = monitor.format_line(rows, {}, LinkStats(device_missed=12, device_lost_frames=3), LinkState.STREAMING)
    assert "device fell behind: 12 samples" in line and "device dropped 3 frames" in line
