# Framing against every vector of tests/vectors/protocol_v1.json (unix port).
import json
import os

import mp_harness as h
import pd_frame as pf
from pd_ring import Ring


def _vectors():
    with open(os.getenv("PD_VECTORS")) as f:
        return json.load(f)["vectors"]


def _hex(s):
    return bytes(int(s[i:i + 2], 16) for i in range(0, len(s), 2))


def _enc(f, m):
    return bytes(f.enc[:m])


def test_crc_check_value():
    assert pf.crc16(b"123456789", 9) == 0x29B1
    assert pf.crc16(b"", 0) == 0xFFFF


def test_crc_every_vector():
    for v in _vectors():
        d = _hex(v["decoded_hex"])
        c = pf.crc16(d, len(d) - 2)
        assert c == (d[-2] << 8 | d[-1]), v["name"]


def _crc_cobs(src):
    """``src`` and its CRC, COBS-encoded by the board's own encoder (pd_frame._crc_cobs, viper)."""
    n = len(src)
    raw = bytearray(n + 2)
    raw[0:n] = src
    enc = bytearray(n + n // 254 + 8)
    m = pf._crc_cobs(raw, n, enc, pf._TABLE)
    return bytes(raw), bytes(enc[:m])


def test_cobs_every_vector():
    for v in _vectors():
        d = _hex(v["decoded_hex"])
        raw, enc = _crc_cobs(d[:-2])
        assert raw == d, v["name"]                      # the CRC it appended
        assert enc == _hex(v["encoded_hex"]), v["name"]
        assert h.cobs_decode(enc[:-1]) == d, v["name"]


def test_cobs_ff_block_vector_present():
    names = [v["name"] for v in _vectors() if "ff" in v["encoded_hex"][:2]]
    assert names == ["unknown_type_long"], names


def test_cobs_zeros_and_edges():
    runs = [bytes((i % 255) + 1 for i in range(n)) for n in (250, 251, 252, 253, 254, 255, 256)]
    for src in [b"\x00", b"\x00\x00", b"\x11\x00", b"\x11", bytes(range(1, 255)) + b"\x00",
                bytes(range(1, 256)), b""] + runs:
        raw, enc = _crc_cobs(src)
        assert enc[-1] == 0 and all(enc[:-1]), src
        assert h.cobs_decode(enc[:-1]) == raw, src
        assert raw[:-2] == src and (raw[-2] << 8 | raw[-1]) == pf.crc16(src, len(src)), src


def test_frames_each_type():
    f = pf.Framer()
    for v in _vectors():
        fl = v["fields"]
        t = v["type"]
        if t == 1:
            m = f.data_list(fl["seq"], fl["t0_us"], fl["values"], fl["dt_us"])
        elif t == 2:
            m = f.reply(fl["cmd_id"], fl["status"], fl["text"])
        elif t == 3:
            m = f.status(_hex(fl["boot_hex"]), fl["t_us"], fl["next_seq"], fl["overflow"],
                         fl["cmd_errors"], fl["flags"], fl["rate_hz"], fl.get("missed", -1),
                         fl.get("lost_frames", 0))
        elif t == 4:
            m = f.error(fl["code"], fl["text"])
        elif t == 0x10:
            m = f.cue_state(fl["t_us"], ["off", "press", "hold", "ease", "rest", "alarm"].index(fl["phase"]),
                            ["none", "below", "in", "above"].index(fl["band"]), fl["level"], fl["flags"],
                            fl["led_on_ms"], fl["led_off_ms"], fl["buzzer_on_ms"], fl["buzzer_off_ms"],
                            fl["buzzer_hz"])
        elif t == 0x11:
            m = f.button(fl["t_us"], fl["button_id"], fl["event"], fl["count"])
        elif t == 0x12:
            blob = bytearray(fl["offset"]) + _hex(fl["data_hex"])
            m = f.cal_chunk(blob, fl["total"], fl["offset"], len(blob) - fl["offset"], fl["crc"])
        else:
            d = _hex(v["decoded_hex"])
            m = f.raw_frame(d[2:-2], t)
        assert _enc(f, m) == _hex(v["encoded_hex"]), v["name"]


def test_data_from_ring_matches_vectors():
    f = pf.Framer()
    for v in _vectors():
        if v["type"] != 1:
            continue
        fl = v["fields"]
        r = Ring(8)
        for _ in range(5):      # start mid-ring so the frame wraps around the end
            r.push(0, 0, 0)
            r.pop(1)
        t = fl["t0_us"]
        for k, (val, dt) in enumerate(zip(fl["values"], fl["dt_us"])):
            t = (t + dt) & h.MASK
            r.push(val, t, (fl["seq"] + k) & h.MASK)
        m = f.data(r.seq, r.val, r.time, r.tail, r.cap, r.count)
        assert f.n == len(fl["values"])
        assert _enc(f, m) == _hex(v["encoded_hex"]), v["name"]


def test_data_split_on_long_gap():
    f = pf.Framer()
    r = Ring(16)
    times = [100, 200, 200 + 65535, 200 + 65535 + 65536, 200 + 65535 + 65536 + 5]
    for i, t in enumerate(times):
        r.push(i * 10 - 20, t, i)
    sizes = []
    got = []
    while r.count:
        m = f.data(r.seq, r.val, r.time, r.tail, r.cap, r.count)
        got.extend(h.data_samples(h.frames(bytes(f.enc[:m]))[0][1]))
        sizes.append(f.n)
        r.pop(f.n)
    assert [s[1] for s in got] == times
    assert [s[0] for s in got] == list(range(5))
    assert sizes == [3, 2], sizes


def test_data_max_40_and_length():
    f = pf.Framer()
    r = Ring(64)
    for i in range(50):
        r.push(-i, i * 1000, i)
    m = f.data(r.seq, r.val, r.time, r.tail, r.cap, 40)
    assert f.n == 40
    ((t, p),) = h.frames(bytes(f.enc[:m]))
    assert len(p) == 9 + 5 * 40 and len(p) + 4 <= 250
    assert [s[2] for s in h.data_samples(p)] == [-i for i in range(40)]


def test_data_frame_never_spans_a_gap_in_sequence_numbers():
    f = pf.Framer()
    r = Ring(16)
    for i, seq in enumerate([5, 6, 7, 10, 11]):
        r.push(i, i * 1000, seq)
    m = f.data(r.seq, r.val, r.time, r.tail, r.cap, 40)
    assert f.n == 3                 # 5, 6, 7: the frame's seq + k rule cannot carry 10
    r.pop(f.n)
    m = f.data(r.seq, r.val, r.time, r.tail, r.cap, 40)
    ((t, p),) = h.frames(bytes(f.enc[:m]))
    assert [s[0] for s in h.data_samples(p)] == [10, 11]


def test_over_pressure_error_matches_vector_without_allocating():
    import gc
    v = [v for v in _vectors() if v["name"] == "error_over_pressure"][0]
    f = pf.Framer()
    gc.collect()
    gc.disable()
    try:
        a0 = gc.mem_alloc()
        m = f.over_pressure(5, 123456, 120000, 987654, False)
        a1 = gc.mem_alloc()
    finally:
        gc.enable()
    assert _enc(f, m) == _hex(v["encoded_hex"])
    assert a1 - a0 == 0, a1 - a0
    m = f.over_pressure(5, -8388608, -1000, 0, True)
    ((t, p),) = h.frames(_enc(f, m))
    assert p[1:] == b"over-pressure: raw=-8388608 limit=min:-1000 t=0", p
    m = f.over_pressure(5, 0, 1073741823, 1073741823, False)
    ((t, p),) = h.frames(_enc(f, m))
    assert p[1:] == b"over-pressure: raw=0 limit=max:1073741823 t=1073741823", p


def test_reply_text_truncated_to_frame_limit():
    f = pf.Framer()
    m = f.reply(1, 0, "x" * 400)
    ((t, p),) = h.frames(bytes(f.enc[:m]))
    assert len(p) + 4 == 250


if __name__ == "__main__":
    h.main(globals())
