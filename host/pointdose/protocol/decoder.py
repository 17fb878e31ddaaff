"""Stream decoder: bytes from the port → samples (numpy) and messages, never raising on any input.

:class:`StreamDecoder` is the only decoder: the link, file re-analysis and the benchmark all use
it. One ``feed``:

1. splits the chunk (after the unfinished segment kept from the last call) at every 0x00
   delimiter (``bytes.split``, in C); the bytes after the last delimiter wait for the next chunk,
   of which only the last :data:`MAX_SEGMENT` are kept (a longer run is garbage whatever follows,
   and is only counted), so memory and time stay linear in the input whatever it holds;
2. decodes each segment: COBS one block at a time, CRC with one ``binascii.crc_hqx`` over the frame
   *including* its CRC (CRC-16/CCITT-FALSE of a frame with its big-endian CRC appended is 0),
   version, type and length checks in the order of :func:`~pointdose.protocol.wire.parse_frame`;
3. a segment that fails is searched for a frame glued to junk in front of it (text the device
   printed with no delimiter in between, a boot log, a traceback): every position in its last
   :data:`MAX_SEGMENT` bytes that looks like the start of a v1 frame of a defined type is tried,
   the :data:`RESYNC_TRIES` latest of them;
4. unpacks the samples of every DATA frame of the chunk at once with numpy fancy indexing; each
   sample's device time comes from one cumulative sum of the ``dt`` column. Other frames are
   parsed by :func:`~pointdose.protocol.wire.parse_frame`.

Counting rules: each non-empty run of bytes between delimiters (a *segment*) counts exactly once,
in the first of: ``length_errors`` (longer than :data:`MAX_SEGMENT` encoded bytes, or decoded
shorter than 4), ``cobs_errors``, ``crc_errors``, ``version_errors``, ``unknown_types`` (a valid
frame of a reserved/unknown type, skipped), ``length_errors`` (length wrong for its type),
``frames_ok``. A segment whose tail is a valid frame (step 3) counts as ``frames_ok``; the junk
before it goes to ``bytes_discarded`` and ``junk_recovered`` counts such segments.
``bytes_discarded`` is the encoded size of every dropped segment (unknown types are skipped, not
discarded). The segment before the first delimiter after start-up may be the tail of a frame the
device sent before the port was opened: if it (or its tail) is valid it is used, if not it is
discarded silently (``bytes_discarded`` only, no error counter). Empty segments (two delimiters in
a row) count nothing.
"""

from __future__ import annotations

import binascii
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pointdose.protocol import wire
from pointdose.protocol.wire import FrameError, LengthError, UnknownFrameType

SAMPLE_DTYPE = np.dtype([("seq30", np.int64), ("t30_us", np.int64), ("raw", np.int32)])
MAX_SEGMENT = 1024
"""Longest encoded segment examined; anything longer between two delimiters is garbage (its last
``MAX_SEGMENT`` bytes are still searched for a frame). Generous on purpose: the protocol says 253
bytes, but the reserved-type test vector encodes to 256."""
RESYNC_TRIES = 16
"""Frame-like starts tried inside one bad segment: bounds the work hostile input can cause."""

COUNTER_NAMES = ("frames_ok", "cobs_errors", "crc_errors", "length_errors", "version_errors",
                 "unknown_types", "bytes_discarded", "junk_recovered")
ERROR_COUNTERS = ("cobs_errors", "crc_errors", "length_errors", "version_errors")

_EMPTY = np.zeros(0, SAMPLE_DTYPE)
_DATA_LEN = {wire.data_frame_length(n): n for n in range(1, wire.DATA_MAX_SAMPLES + 1)}
# A v1 frame of a defined type starts, encoded, with a code byte ≥ 3 (type and version are not 0),
# the type, then version 1. Searched in the reversed segment, so the latest starts come first.
_TYPES = b"".join(re.escape(bytes([t])) for t in sorted(wire.DEFINED_TYPES))
_FRAME_START_REVERSED = re.compile(b"(?=\\x01[" + _TYPES + b"][\\x03-\\xff])")

_COBS, _CRC, _VER, _LEN, _UNK = "cobs_errors", "crc_errors", "version_errors", "length_errors", "unknown_types"


@dataclass
class Decoded:
    """What one ``feed`` produced. ``positions[i]`` = samples of this chunk that preceded ``messages[i]``."""

    samples: np.ndarray = field(default_factory=lambda: _EMPTY.copy())
    messages: list = field(default_factory=list)
    positions: list[int] = field(default_factory=list)


def _cobs(seg: bytes) -> bytes | None:
    """COBS-decode one segment that holds no 0x00 (it came from a split); None if the codes do not fit."""
    n = len(seg)
    i = 0
    parts = []
    while i < n:
        code = seg[i]
        j = i + code
        if j > n:
            return None
        parts.append(seg[i + 1 : j])
        if code != 0xFF and j < n:
            parts.append(b"\x00")
        i = j
    return b"".join(parts)


def _check(seg: bytes) -> tuple[str | None, bytes | None, object]:
    """One segment → (failure counter or None, decoded frame, message or sample count).

    A DATA frame yields its sample count (samples are unpacked later, all at once); any other
    valid frame its parsed message; an unknown type yields ``_UNK``.
    """
    frame = _cobs(seg)
    if frame is None:
        return _COBS, None, None
    if len(frame) < wire.MIN_FRAME:
        return _LEN, None, None
    if binascii.crc_hqx(frame, 0xFFFF):
        return _CRC, None, None
    if frame[1] != wire.PROTOCOL_VERSION:
        return _VER, None, None
    if frame[0] == wire.FRAME_DATA:
        n = _DATA_LEN.get(len(frame))
        if n is None or frame[2 + 8] != n:
            return _LEN, None, None
        return None, frame, n
    try:
        return None, frame, wire.parse_frame(frame)
    except UnknownFrameType:
        return _UNK, None, None
    except LengthError:
        return _LEN, None, None
    except FrameError:  # pragma: no cover - the checks above come first
        return _CRC, None, None


class StreamDecoder:
    """Bytes in, samples and messages out; ``feed`` keeps an unfinished frame across calls."""

    def __init__(self) -> None:
        for name in COUNTER_NAMES:
            setattr(self, name, 0)
        self._tail = b""  # the unfinished segment, at most MAX_SEGMENT bytes (its newest)
        self._tail_dropped = 0  # bytes of the unfinished segment already let go
        self._at_start = True

    def counters(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTER_NAMES}

    def reset(self) -> None:
        """Forget any partial frame (e.g. after reopening the port); counters are kept."""
        self._tail = b""
        self._tail_dropped = 0
        self._at_start = True

    @property
    def pending(self) -> bytes:
        """The newest bytes (at most :data:`MAX_SEGMENT`) since the last delimiter: text that is not a
        frame (a MicroPython REPL prompt) shows here."""
        return self._tail

    def feed(self, chunk: bytes) -> Decoded:
        if not chunk:
            return Decoded()
        data = self._tail + bytes(chunk) if self._tail else bytes(chunk)
        segs = data.split(b"\x00")
        tail = segs.pop()
        dropped = self._tail_dropped
        self._set_tail(tail, dropped if not segs else 0)
        if not segs:
            return Decoded()

        out = Decoded()
        frames: list[bytes] = []  # decoded DATA frames, in order
        counts: list[int] = []
        nsamples = 0
        for k, seg in enumerate(segs):
            extra = dropped if k == 0 else 0
            lenient = self._at_start
            self._at_start = False
            if not seg and not extra:
                continue
            total = len(seg) + extra
            if total > MAX_SEGMENT:
                fail, frame, what = _LEN, None, None
            else:
                fail, frame, what = _check(seg)
            if fail is not None and fail != _UNK:
                skip, frame, what = self._resync(seg, 0 if extra else 1)
                if frame is not None:
                    self.junk_recovered += 1
                    self.bytes_discarded += skip + extra
                    fail = None
            if fail == _UNK:
                self.unknown_types += 1
                continue
            if fail is not None:
                if not lenient:
                    setattr(self, fail, getattr(self, fail) + 1)
                self.bytes_discarded += total
                continue
            self.frames_ok += 1
            if isinstance(what, int):
                frames.append(frame)
                counts.append(what)
                nsamples += what
            else:
                out.messages.append(what)
                out.positions.append(nsamples)
        if frames:
            out.samples = _unpack(frames, counts)
        return out

    def _set_tail(self, tail: bytes, dropped: int) -> None:
        if len(tail) > MAX_SEGMENT:
            dropped += len(tail) - MAX_SEGMENT
            tail = tail[-MAX_SEGMENT:]
        self._tail, self._tail_dropped = tail, dropped

    @staticmethod
    def _resync(seg: bytes, lo: int) -> tuple[int, bytes | None, object]:
        """A frame that ends the segment after junk: (junk bytes, frame, what) or (0, None, None).

        Frame-like starts are tried latest first: short suffixes are cheap to check, so a run of
        look-alikes costs little, and a real frame is never more than :data:`MAX_SEGMENT` from the end.
        ``lo`` is 1 when the whole segment has been tried already, 0 when its start was let go.
        """
        n = len(seg)
        if n < 6:
            return 0, None, None
        lo = max(lo, n - MAX_SEGMENT)
        rev = seg[lo:][::-1]
        for m in itertools.islice(_FRAME_START_REVERSED.finditer(rev), RESYNC_TRIES):
            p = n - 3 - m.start()
            fail, frame, what = _check(seg[p:])
            if fail is None:
                return p, frame, what
        return 0, None, None


def _unpack(frames: list[bytes], counts: list[int]) -> np.ndarray:
    """Every sample of a list of decoded DATA frames, with numpy."""
    lens = np.fromiter((len(f) for f in frames), np.int64, len(frames))
    buf = np.frombuffer(b"".join(frames), np.uint8)
    base = np.zeros(len(frames), np.int64)
    np.cumsum(lens[:-1], out=base[1:])
    nper = np.asarray(counts, np.int64)
    hb = buf[base[:, None] + np.arange(2, 10)].astype(np.int64)
    seq0 = (hb[:, 0] | hb[:, 1] << 8 | hb[:, 2] << 16 | hb[:, 3] << 24) & wire.TICK_MASK
    t0 = (hb[:, 4] | hb[:, 5] << 8 | hb[:, 6] << 16 | hb[:, 7] << 24) & wire.TICK_MASK
    total = int(nper.sum())
    firsts = np.cumsum(nper) - nper
    k = np.arange(total, dtype=np.int64) - np.repeat(firsts, nper)
    p = np.repeat(base + 11, nper) + 5 * k
    raw = buf[p].astype(np.int32) | buf[p + 1].astype(np.int32) << 8 | buf[p + 2].astype(np.int32) << 16
    raw = (raw ^ 0x800000) - 0x800000
    dt = buf[p + 3].astype(np.int64) | buf[p + 4].astype(np.int64) << 8
    dt[firsts] = 0  # dt_0 is ignored (docs/protocol.md)
    cs = np.cumsum(dt)
    samples = np.empty(total, SAMPLE_DTYPE)
    samples["seq30"] = (np.repeat(seq0, nper) + k) & wire.TICK_MASK
    samples["t30_us"] = (np.repeat(t0 - cs[firsts], nper) + cs) & wire.TICK_MASK
    samples["raw"] = raw
    return samples


@dataclass
class FileDecode:
    samples: np.ndarray
    messages: list
    positions: list[int]
    counters: dict[str, int]


def decode_bytes(data: bytes, chunk_size: int = 1 << 20) -> FileDecode:
    """Decode a whole captured stream (re-analysis); large inputs go through in ``chunk_size`` pieces."""
    dec = StreamDecoder()
    parts, messages, positions, n = [], [], [], 0
    view = memoryview(data)
    for off in range(0, len(data), chunk_size):
        d = dec.feed(view[off : off + chunk_size])
        messages += d.messages
        positions += [p + n for p in d.positions]
        n += len(d.samples)
        parts.append(d.samples)
    samples = np.concatenate(parts) if parts else _EMPTY.copy()
    return FileDecode(samples, messages, positions, dec.counters())


def decode_file(path: str | Path, chunk_size: int = 1 << 20) -> FileDecode:
    """Decode a capture file of raw port bytes (see :func:`decode_bytes`)."""
    return decode_bytes(Path(path).read_bytes(), chunk_size)
