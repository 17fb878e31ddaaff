"""The stream decoder: vectors, resynchronisation, counters, chunking, long and hostile junk."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointdose.protocol import wire
from pointdose.protocol.decoder import (
    COUNTER_NAMES,
    ERROR_COUNTERS,
    MAX_SEGMENT,
    StreamDecoder,
    decode_bytes,
    decode_file,
)

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "protocol_v1.json").read_text())["vectors"]


def events(decoded) -> list:
    """Samples and messages of one Decoded, interleaved in wire order."""
    out, pos = [], 0
    samples = [("s", tuple(int(x) for x in row)) for row in decoded.samples.tolist()]
    for msg, p in zip(decoded.messages, decoded.positions):
        out += samples[pos:p]
        out.append(("m", msg))
        pos = p
    return out + samples[pos:]


def feed_all(data: bytes, cuts=()) -> tuple[list, dict]:
    dec = StreamDecoder()
    evs, last = [], 0
    for c in list(cuts) + [len(data)]:
        evs += events(dec.feed(data[last:c]))
        last = c
    return evs, dec.counters()


# --- vectors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_through_decoder(v):
    dec = StreamDecoder()
    # after a delimiter, so the lenient start-up rule plays no part
    got = dec.feed(b"\x00" + bytes.fromhex(v["encoded_hex"]))
    f = v["fields"]
    if v["type"] == wire.FRAME_DATA:
        times = np.cumsum([0] + f["dt_us"][1:]) + f["t0_us"]
        expect = [((f["seq"] + k) % wire.TICK_MOD, int(t) % wire.TICK_MOD, val)
                  for k, (t, val) in enumerate(zip(times, f["values"]))]
        assert got.samples.tolist() == expect and got.messages == []
        assert dec.frames_ok == 1
    elif v["type"] not in wire.DEFINED_TYPES:
        assert len(got.samples) == 0 and got.messages == []
        assert dec.unknown_types == 1 and dec.frames_ok == 0 and dec.bytes_discarded == 0
    else:
        assert len(got.samples) == 0 and len(got.messages) == 1 and dec.frames_ok == 1
        assert got.messages[0] == wire.parse_frame(bytes.fromhex(v["decoded_hex"]))
    assert sum(dec.counters()[n] for n in ("cobs_errors", "crc_errors", "length_errors", "version_errors")) == 0


def test_near_wrap_sample_times_are_mod_2_30():
    v = next(v for v in VECTORS if v["name"] == "data_near_wrap")
    s = StreamDecoder().feed(bytes.fromhex(v["encoded_hex"])).samples
    assert s["seq30"].tolist() == [2**30 - 2, 2**30 - 1, 0]
    assert s["t30_us"].tolist() == [2**30 - 500, 2**30 - 100, 300]
    assert s.dtype["raw"] == np.int32 and s.dtype["seq30"] == np.int64


# --- specific error paths --------------------------------------------------------------------


def _frame(ftype, payload, version=1):
    return wire.encode_frame(ftype, payload, version=version)


CASES = {
    "crc": (lambda: bytearray(wire.encode_data_frame(1, 2, [3], [0])), "crc_errors"),
    "cobs": (lambda: b"\x09\x01\x02\x00", "cobs_errors"),
    "short": (lambda: b"\x02\x01\x01\x00", "length_errors"),
    "version": (lambda: _frame(wire.FRAME_DATA, wire.data_payload(1, 2, [3], [0]), version=2), "version_errors"),
    "data_len": (lambda: _frame(wire.FRAME_DATA, wire.data_payload(1, 2, [3, 4], [0, 1])[:-1]), "length_errors"),
    "data_n0": (lambda: _frame(wire.FRAME_DATA, bytes(9)), "length_errors"),
    "status_len": (lambda: _frame(wire.FRAME_STATUS, bytes(20)), "length_errors"),
    "reply_len": (lambda: _frame(wire.FRAME_REPLY, b"\x01\x00"), "length_errors"),
    "unknown": (lambda: _frame(0x7E, b"hello"), "unknown_types"),
    "oversize": (lambda: b"\x01" * (MAX_SEGMENT + 5) + b"\x00", "length_errors"),
}


@pytest.mark.parametrize("case", CASES)
def test_each_bad_frame_goes_to_its_counter_and_the_next_frame_survives(case):
    make, counter = CASES[case]
    bad = make()
    if case == "crc":
        bad[3] ^= 0x40
    good = wire.encode_data_frame(77, 1000, [5, 6], [0, 10])
    dec = StreamDecoder()
    got = dec.feed(b"\x00" + bytes(bad) + good)
    assert got.samples["seq30"].tolist() == [77, 78]
    c = dec.counters()
    assert c[counter] == 1 and c["frames_ok"] == 1
    assert sum(c[n] for n in COUNTER_NAMES if n not in (counter, "frames_ok", "bytes_discarded")) == 0
    assert c["bytes_discarded"] == (0 if counter == "unknown_types" else len(bad) - 1)


@pytest.mark.parametrize("n", [251, 252, 253, 254, 255, 400])
def test_long_frames_across_ff_blocks(n):
    text = "e" * n + "\x00" * 3 + "f" * n
    got = StreamDecoder().feed(wire.encode_error(4, text) + wire.encode_error(4, "g" * n))
    assert got.messages == [wire.DeviceError(4, text), wire.DeviceError(4, "g" * n)]


def test_dt0_is_ignored():
    """docs/protocol.md: sample k is at t0 + dt_1 + … + dt_k; dt_0 is 0 (and ignored if not)."""
    got = StreamDecoder().feed(wire.encode_data_frame(0, 100, [1, 2], [7, 5])).samples
    assert got["t30_us"].tolist() == [100, 105]


def test_runs_of_delimiters_are_no_frames_and_no_errors():
    """docs/protocol.md: empty frames are skipped (the firmware's dry run in `rate` writes runs of them)."""
    a, b = wire.encode_data_frame(5, 0, [1], [0]), wire.encode_data_frame(6, 10, [2], [0])
    dec = StreamDecoder()
    got = [dec.feed(x) for x in (a, bytes(300), b"\x00" * 7 + b)]
    assert [int(s) for g in got for s in g.samples["seq30"]] == [5, 6]
    assert sum(dec.counters()[k] for k in ERROR_COUNTERS) == 0 and dec.counters()["bytes_discarded"] == 0


def test_startup_tail_is_discarded_silently():
    good = wire.encode_data_frame(5, 0, [1], [0])
    dec = StreamDecoder()
    got = dec.feed(good[7:] + good)  # the port opened in the middle of a frame
    assert got.samples["seq30"].tolist() == [5]
    c = dec.counters()
    assert c["bytes_discarded"] == len(good) - 8 and c["crc_errors"] + c["cobs_errors"] + c["length_errors"] == 0


def test_garbage_without_delimiter_is_bounded():
    dec = StreamDecoder()
    for _ in range(10):
        dec.feed(b"\xAA" * 1000)
    assert len(dec.pending) <= MAX_SEGMENT
    got = dec.feed(b"\x00" + wire.encode_error(2, "x"))
    assert got.messages == [wire.DeviceError(2, "x")]
    assert dec.bytes_discarded == 10_000


# --- property tests --------------------------------------------------------------------------

i24 = st.integers(wire.I24_MIN, wire.I24_MAX)
u30 = st.integers(0, 2**30 - 1)


@st.composite
def data_frames(draw):
    n = draw(st.integers(1, 40))
    seq, t0 = draw(u30), draw(u30)
    # values near zero and dt multiples of 256 put zeros in the frame: long COBS chains
    values = draw(st.lists(st.one_of(st.integers(-300, 300), i24), min_size=n, max_size=n))
    dts = [0] + draw(st.lists(st.one_of(st.sampled_from([0, 256, 1000, 65535]), st.integers(0, 65535)),
                              min_size=n - 1, max_size=n - 1))
    enc = wire.encode_data_frame(seq, t0, values, dts)
    times = np.cumsum(dts) + t0
    exp = [("s", ((seq + k) % wire.TICK_MOD, int(times[k]) % wire.TICK_MOD, values[k])) for k in range(n)]
    return enc, exp


text = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=60)
messages = st.one_of(
    st.builds(lambda i, s, t: (wire.encode_reply(i, s, t), [("m", wire.Reply(i, s, t))]),
              st.integers(0, 65535), st.integers(0, 5), text),
    st.builds(lambda b, t, q, o, e, f, r: (wire.encode_status(b, t, q, o, e, f, r),
                                           [("m", wire.Status(b.hex(), t, q, o, e, f, r))]),
              st.binary(min_size=4, max_size=4), u30, u30, u30, st.integers(0, 65535), st.integers(0, 255),
              st.integers(0, 65535)),
    st.builds(lambda c, t: (wire.encode_error(c, t), [("m", wire.DeviceError(c, t))]), st.integers(0, 255), text),
    # 0xFF COBS blocks: more than 254 non-zero bytes in a row
    st.builds(lambda i, n: (wire.encode_reply(i, 0, "k=" + "v" * n), [("m", wire.Reply(i, 0, "k=" + "v" * n))]),
              st.integers(1, 255), st.integers(240, 520)),
    st.builds(lambda t, p: (wire.encode_frame(t, p), []), st.sampled_from([0x13, 0x20, 0x00, 0x42, 0x7E]),
              st.binary(max_size=80)),
    st.builds(lambda t, b, p, c: (wire.encode_button(t, b, p, c), [("m", wire.ButtonEvent(t, b, p, c))]),
              u30, st.integers(0, 255), st.booleans(), st.integers(0, 65535)),
    st.builds(lambda t, lv: (wire.encode_cue_state(t, "hold", "below", lv, 6, 476, 204, 30, 650, 1000),
                             [("m", wire.CueState(t, "hold", "below", lv, 6, 476, 204, 30, 650, 1000))]),
              u30, st.integers(0, 100)),
    st.builds(lambda b: (wire.encode_calibration_chunk(len(b), 0, wire.crc16(b), b),
                         [("m", wire.CalibrationChunk(len(b), 0, wire.crc16(b), b))]),
              st.binary(min_size=1, max_size=240)),
)
frames = st.one_of(data_frames(), data_frames(), messages)

Piece = tuple  # (bytes, expected events, is_frame)


@st.composite
def damaged_streams(draw):
    """A stream of frames with garbage, truncated frames and bit flips; marks which frames are intact."""
    pieces = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["frame", "frame", "frame", "garbage", "truncated", "flip"]))
        if kind == "garbage":
            pieces.append((draw(st.binary(min_size=1, max_size=40)), [], False))
        else:
            enc, exp = draw(frames)
            if kind == "truncated":
                pieces.append((enc[: draw(st.integers(1, len(enc) - 1))], [], False))
            elif kind == "flip":
                b = bytearray(enc)
                i = draw(st.integers(0, len(b) - 1))
                b[i] ^= 1 << draw(st.integers(0, 7))
                pieces.append((bytes(b), [], False))
            else:
                pieces.append((enc, exp, True))
    stream = bytearray(b"\x00")
    expected = []
    for data, exp, is_frame in pieces:
        if is_frame and stream[-1] == 0:
            expected += exp  # preceded by a delimiter and untouched: must come out
        stream += data
    return bytes(stream), expected


def is_subsequence(needle: list, hay: list) -> bool:
    it = iter(hay)
    return all(any(x == y for y in it) for x in needle)


def segments(data: bytes) -> list[bytes]:
    return [s for s in data.split(b"\x00")[:-1] if s]


def check_counters(stream: bytes, c: dict) -> None:
    segs = segments(stream)
    outcomes = sum(c[n] for n in COUNTER_NAMES if n not in ("bytes_discarded", "junk_recovered"))
    # every segment counted exactly once, but a bad first one when the stream did not open with a
    # delimiter (the start-up rule: the tail of a frame sent before the port opened)
    assert outcomes == len(segs) or (not stream.startswith(b"\x00") and outcomes == len(segs) - 1)
    assert c["junk_recovered"] <= c["frames_ok"]
    assert c["bytes_discarded"] <= sum(map(len, segs))


@settings(max_examples=120, deadline=None)
@given(damaged_streams(), st.lists(st.integers(0, 10_000), max_size=6))
def test_damaged_stream_recovers_every_intact_frame(stream_exp, cuts):
    stream, expected = stream_exp
    cuts = sorted(c % (len(stream) + 1) for c in cuts)
    whole_evs, whole_c = feed_all(stream)
    cut_evs, cut_c = feed_all(stream, cuts)
    assert is_subsequence(expected, whole_evs)
    assert whole_evs == cut_evs and whole_c == cut_c
    check_counters(stream, whole_c)


@settings(max_examples=40, deadline=None)
@given(st.lists(frames, max_size=15))
def test_clean_stream_byte_by_byte_equals_all_at_once(items):
    stream = b"".join(enc for enc, _ in items)
    expected = [e for _, exp in items for e in exp]
    whole, c1 = feed_all(stream)
    single, c2 = feed_all(stream, range(1, len(stream)))
    assert whole == single == expected
    assert c1 == c2
    assert c1["cobs_errors"] == c1["crc_errors"] == c1["length_errors"] == c1["bytes_discarded"] == 0


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=5))
def test_random_bytes_never_raise_and_chunking_does_not_matter(data, cuts):
    cuts = sorted(c % (len(data) + 1) for c in cuts)
    whole = feed_all(data)
    assert whole == feed_all(data, cuts)
    check_counters(data, whole[1])


# --- long junk (issue 13) --------------------------------------------------------------------


def test_long_junk_after_a_frame_in_the_same_read_keeps_the_frame():
    """Reads [00] [A + 1100 junk bytes] [00 + B] lost A: the junk was stored before A was decoded."""
    a = wire.encode_data_frame(10, 0, [1, 2], [0, 5])
    b = wire.encode_data_frame(12, 10, [3], [0])
    got, c = feed_all(b"\x00" + a + b"J" * 1100 + b"\x00" + b, cuts=[1, 1 + len(a) + 1100])
    assert [e[1][0] for e in got] == [10, 11, 12]
    assert c["frames_ok"] == 2 and c["length_errors"] == 1 and c["crc_errors"] == 0


def test_frame_split_after_long_junk_is_not_a_crc_error():
    """Reads [junk] [00 + B[:5]] [B[5:]] lost B: after long junk the next read's tail was not kept."""
    b = wire.encode_data_frame(7, 0, [1, 2, 3], [0, 5, 5])
    junk = b"K" * 1500
    got, c = feed_all(junk + b"\x00" + b, cuts=[len(junk), len(junk) + 6])
    assert [e[1][0] for e in got] == [7, 8, 9]
    assert c["crc_errors"] == 0 and c["frames_ok"] == 1


BOOT_LOG = (b"MPY: soft reboot\r\nMicroPython v1.24.1 on 2024-11-29; Raspberry Pi Pico with RP2040\r\n"
            b"Type \"help()\" for more information.\r\n>>> ")
TRACEBACK = (b"Traceback (most recent call last):\r\n  File \"main.py\", line 101, in <module>\r\n"
             b"KeyboardInterrupt: \r\n")


def test_frame_glued_to_text_without_a_delimiter_is_recovered():
    """Text printed straight before a frame (no 0x00 between) must not cost the frame."""
    f = wire.encode_data_frame(3, 0, [9], [0])
    for junk in (BOOT_LOG, TRACEBACK * 40, b"\x01" * 5000):  # short, > MAX_SEGMENT, no delimiter at all
        got, c = feed_all(b"\x00" + junk + f)
        assert [e[1][0] for e in got] == [3]
        assert c["frames_ok"] == 1 and c["junk_recovered"] == 1 and c["bytes_discarded"] == len(junk)
        assert sum(c[n] for n in ERROR_COUNTERS) == 0
        # and in reads of every size, with the unfinished segment bounded
        dec = StreamDecoder()
        data = b"\x00" + junk + f
        evs = []
        for off in range(0, len(data), 97):
            evs += events(dec.feed(data[off:off + 97]))
            assert len(dec.pending) <= MAX_SEGMENT
        assert evs == got


def test_ten_megabytes_without_a_delimiter_stay_bounded():
    """10 MB of 0x01 in 4 KiB reads (took 445 s): the decoder keeps at most MAX_SEGMENT bytes and
    still finds the frame at the end. The rate is in bench/bench_decode.py."""
    dec = StreamDecoder()
    block = b"\x01" * 4096
    for _ in range(10_000_000 // 4096):
        assert not dec.feed(block).samples.size
        assert len(dec.pending) == MAX_SEGMENT
    got = dec.feed(wire.encode_error(2, "x") + wire.encode_data_frame(1, 0, [5], [0]))
    assert got.messages == [wire.DeviceError(2, "x")] and got.samples["raw"].tolist() == [5]
    assert dec.counters()["junk_recovered"] == 1 and dec.bytes_discarded == 10_000_000 // 4096 * 4096


def test_frame_look_alikes_before_a_frame_cost_bounded_work():
    """Junk made of frame-like starts: every one is a candidate, yet the real frame after them is found."""
    lookalike = b"\x01" + b"\x03\x01\x01" * 340
    f = wire.encode_reply(5, 0, "ok=1")
    got, c = feed_all(b"\x00" + (lookalike + b"\x00") * 200 + lookalike + f, cuts=range(4096, 300_000, 4096))
    assert got == [("m", wire.Reply(5, 0, "ok=1"))]
    assert c["frames_ok"] == 1 and c["junk_recovered"] == 1 and c["length_errors"] + c["cobs_errors"] + c["crc_errors"] == 200


def test_boot_log_like_streams_lose_no_sample():
    """5,000 streams of frames with boot logs and tracebacks between them, in random reads (1.7 % lost samples)."""
    rng = random.Random(13)
    texts = [BOOT_LOG, TRACEBACK, BOOT_LOG * 20, TRACEBACK * 50, b"#" * 3000]
    lost = 0
    for _ in range(5000):
        parts, seq = [b"\x00"], 0
        for _ in range(rng.randint(1, 6)):
            if rng.random() < 0.5:
                parts.append(rng.choice(texts) + (b"\x00" if rng.random() < 0.5 else b""))
            n = rng.randint(1, 8)
            parts.append(wire.encode_data_frame(seq, seq * 1000, list(range(n)), [0] + [1000] * (n - 1)))
            seq += n
        data = b"".join(parts)
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 8))))
        got, _ = feed_all(data, cuts)
        lost += seq - len(got)
    assert lost == 0


# Long junk fuzzing: frames come from a pool (encoding them per example would be slow); junk is
# built from a drawn kind, length and seed, so runs of 10-30 KB cost hypothesis nothing to draw.

def _pool_frame(i: int) -> tuple[bytes, list]:
    r = random.Random(i)
    kind = i % 6
    if kind in (0, 1, 2):
        n = r.randint(1, 40)
        seq, t0 = r.randrange(2**30), r.randrange(2**30)
        values = [r.choice([r.randint(-300, 300), r.randint(wire.I24_MIN, wire.I24_MAX)]) for _ in range(n)]
        dts = [0] + [r.choice([0, 256, 1000, 65535, r.randint(0, 65535)]) for _ in range(n - 1)]
        times = np.cumsum(dts) + t0
        return (wire.encode_data_frame(seq, t0, values, dts),
                [("s", ((seq + k) % wire.TICK_MOD, int(times[k]) % wire.TICK_MOD, values[k])) for k in range(n)])
    if kind == 3:
        text = "k=" + "v" * r.choice([1, 20, 250, 300, 600])  # 0xFF COBS blocks too
        return wire.encode_reply(i, 0, text), [("m", wire.Reply(i, 0, text))]
    if kind == 4:
        return wire.encode_button(i, 2, True, i), [("m", wire.ButtonEvent(i, 2, True, i))]
    return wire.encode_status("0a0b0c0d", i, i, 0, 0, 1, 1000), [("m", wire.Status("0a0b0c0d", i, i, 0, 0, 1, 1000))]


POOL = [_pool_frame(i) for i in range(120)]
TEXT = (BOOT_LOG + TRACEBACK + b"rp2: I2C timeout\r\n\tline\x1b[0m\r\n") * 8
JUNK_KINDS = ("text", "ones", "lookalike", "random_nonzero", "random", "truncated", "flip")


def make_junk(kind: str, length: int, seed: int) -> bytes:
    r = random.Random(seed)
    if kind == "text":
        k = r.randrange(len(TEXT))
        return (TEXT[k:] + TEXT * (length // len(TEXT) + 1))[:length]
    if kind == "ones":
        return b"\x01" * length
    if kind == "lookalike":
        return (b"\x03\x01\x01\x05\x02\x01" * (length // 6 + 1))[:length]
    if kind == "random_nonzero":
        return r.randbytes(length).replace(b"\x00", b"\x01")
    if kind == "random":
        return r.randbytes(length)
    enc = POOL[seed % len(POOL)][0]
    if kind == "truncated":
        return enc[: r.randrange(1, len(enc) - 1)]
    b = bytearray(enc)
    b[r.randrange(len(b))] ^= 1 << r.randrange(8)
    return bytes(b)


def make_piece(v: int) -> tuple[bytes, list]:
    """48 bits → a frame of the pool (2 in 9) or a junk run and whether a 0x00 follows it."""
    sel, v = v % 9, v // 9
    if sel < 2:
        return POOL[v % len(POOL)]
    kind = JUNK_KINDS[sel - 2]
    delimited, long_run, v = v & 1, v >> 1 & 1, v >> 2
    length = 10_000 + v % 4001 if long_run else 1 + v % 2000
    return make_junk(kind, length, v // 4001) + (b"\x00" if delimited else b""), []


@settings(max_examples=20_000, deadline=None, derandomize=True, database=None)
@given(st.integers(0, 2**512 - 1))
def test_long_junk_fuzz_keeps_every_intact_frame(v):
    """Frames between junk runs of 10-14 KB or up to 2 KB (text, 0x01, frame look-alikes, random bytes, broken
    frames), with or without a delimiter after the junk, in reads cut anywhere: every frame comes
    out, nothing else does, and how the stream is cut changes nothing.

    The example is one integer: up to 8 pieces of 48 bits, then up to 3 cuts of 20 bits (one draw
    keeps hypothesis's own cost per example low enough for 20,000 examples).
    """
    npieces, v = v % 9, v >> 4
    stream = bytearray(b"\x00")
    expected = []
    for _ in range(npieces):
        data, exp = make_piece(v & (2**48 - 1))
        v >>= 48
        stream += data
        expected += exp
    cuts = [(v >> (20 * k)) & (2**20 - 1) for k in range(v % 4)]
    stream = bytes(stream)
    cuts = sorted({c % (len(stream) + 1) for c in cuts})
    whole_evs, whole_c = feed_all(stream)
    assert whole_evs == expected
    if cuts:
        cut_evs, cut_c = feed_all(stream, cuts)
        assert cut_evs == whole_evs and cut_c == whole_c
    check_counters(stream, whole_c)


def test_long_capture_random_cuts_and_file(tmp_path):
    rng = random.Random(4)
    parts, seq, t = [], 0, 0
    for i in range(3000):
        n = rng.choice([4, 4, 4, 5])
        dts = [0] + [1000 + rng.randint(-30, 30) for _ in range(n - 1)]
        parts.append(wire.encode_data_frame(seq, t, [rng.randint(-2000, 2000) for _ in range(n)], dts))
        seq, t = seq + n, t + sum(dts) + 1000
        if i % 250 == 0:
            parts.append(wire.encode_status("01020304", t, seq, 0, 0, 1, 1000))
    stream = b"".join(parts)
    cuts = sorted(rng.sample(range(len(stream)), 400))
    cut_evs, cut_c = feed_all(stream, cuts)
    assert cut_evs == feed_all(stream)[0]
    assert cut_c["frames_ok"] == len(parts)
    path = tmp_path / "capture.bin"
    path.write_bytes(stream)
    whole = decode_file(path, chunk_size=10_000)
    assert len(whole.samples) == seq
    assert np.array_equal(whole.samples["seq30"], np.arange(seq))
    assert len(whole.messages) == 12 and whole.positions[1] > whole.positions[0]
    assert decode_bytes(stream).counters == whole.counters
