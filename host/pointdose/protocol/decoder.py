"""Stream decoders: bytes from the port → samples (numpy) and messages, never raising on any input.

:class:`StreamDecoder` is the one the link uses. It works on every complete frame of a chunk at
once with numpy:

1. find all 0x00 delimiters; the bytes after the last one wait for the next chunk;
2. follow the COBS code-byte chains of all frames in parallel (one numpy step per block, the
   number of steps is the longest chain in the chunk, not the number of bytes), marking each code
   byte as "becomes 0x00" or "drop" (the first code of a frame, and a code after a 0xFF block);
3. build every decoded frame in one boolean-mask gather;
4. check CRCs with one ``binascii.crc_hqx`` per frame over the frame *including* its CRC
   (CRC-16/CCITT-FALSE of a frame with its big-endian CRC appended is 0);
5. gather the headers of all DATA frames and unpack every sample of the chunk with fancy
   indexing; per-sample device times come from one cumulative sum of the ``dt`` column.

:class:`ReferenceDecoder` does the same byte by byte with :func:`~pointdose.protocol.wire.cobs_decode`
and :func:`~pointdose.protocol.wire.parse_frame`; tests compare the two.

Counting rules (both decoders): each non-empty run of bytes between delimiters (a *segment*)
counts exactly once, in the first of: ``length_errors`` (longer than :data:`MAX_SEGMENT` encoded
bytes, or decoded shorter than 4), ``cobs_errors``, ``crc_errors``, ``version_errors``,
``unknown_types`` (a valid frame of a reserved/unknown type, skipped), ``length_errors`` (length
wrong for its type), ``frames_ok``. ``bytes_discarded`` is the encoded size of every dropped
segment (unknown types are skipped, not discarded). The segment before the first delimiter after
start-up may be the tail of a frame the device sent before the port was opened: if it is valid it
is used, if not it is discarded silently (``bytes_discarded`` only, no error counter).
Empty segments (two delimiters in a row) count nothing.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pointdose.protocol import wire
from pointdose.protocol.wire import (
    CobsError,
    CrcError,
    DataFrame,
    LengthError,
    UnknownFrameType,
    VersionError,
)

SAMPLE_DTYPE = np.dtype([("seq30", np.int64), ("t30_us", np.int64), ("raw", np.int32)])
MAX_SEGMENT = 1024
"""Longest encoded segment examined; anything longer between two delimiters is garbage. Generous
on purpose: the protocol says 253 bytes, but the reserved-type test vector encodes to 256."""

COUNTER_NAMES = ("frames_ok", "cobs_errors", "crc_errors", "length_errors", "version_errors",
                 "unknown_types", "bytes_discarded")

_EMPTY = np.zeros(0, SAMPLE_DTYPE)


@dataclass
class Decoded:
    """What one ``feed`` produced. ``positions[i]`` = samples of this chunk that preceded ``messages[i]``."""

    samples: np.ndarray = field(default_factory=lambda: _EMPTY.copy())
    messages: list = field(default_factory=list)
    positions: list[int] = field(default_factory=list)


class _DecoderBase:
    def __init__(self) -> None:
        for name in COUNTER_NAMES:
            setattr(self, name, 0)
        self._buf = bytearray()
        self._at_start = True
        self._oversize = False  # the current unfinished segment is already longer than MAX_SEGMENT
        self._oversize_len = 0

    def counters(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTER_NAMES}

    def reset(self) -> None:
        """Forget any partial frame (e.g. after reopening the port); counters are kept."""
        self._buf.clear()
        self._at_start = True
        self._oversize = False
        self._oversize_len = 0

    def _reject(self, counter: str, nbytes: int, lenient: bool) -> None:
        if not lenient:
            setattr(self, counter, getattr(self, counter) + 1)
        self.bytes_discarded += nbytes


class ReferenceDecoder(_DecoderBase):
    """Byte-at-a-time decoder, written for clarity; same results as :class:`StreamDecoder`."""

    def feed(self, chunk: bytes) -> Decoded:
        rows: list[tuple[int, int, int]] = []
        out = Decoded()
        for b in bytes(chunk):
            if b == 0:
                self._end_segment(rows, out)
            elif self._oversize:
                self._oversize_len += 1
            else:
                self._buf.append(b)
                if len(self._buf) > MAX_SEGMENT:
                    self._oversize, self._oversize_len = True, len(self._buf)
                    self._buf.clear()
        out.samples = np.array(rows, dtype=SAMPLE_DTYPE) if rows else _EMPTY.copy()
        return out

    def _end_segment(self, rows: list, out: Decoded) -> None:
        lenient, self._at_start = self._at_start, False
        if self._oversize:
            self._reject("length_errors", self._oversize_len, lenient)
            self._oversize, self._oversize_len = False, 0
            return
        seg = bytes(self._buf)
        self._buf.clear()
        if not seg:
            return
        try:
            frame = wire.cobs_decode(seg)
            msg = wire.parse_frame(frame)
        except CobsError:
            return self._reject("cobs_errors", len(seg), lenient)
        except CrcError:
            return self._reject("crc_errors", len(seg), lenient)
        except VersionError:
            return self._reject("version_errors", len(seg), lenient)
        except LengthError:
            return self._reject("length_errors", len(seg), lenient)
        except UnknownFrameType:
            self.unknown_types += 1
            return
        self.frames_ok += 1
        if isinstance(msg, DataFrame):
            for k, (v, t) in enumerate(zip(msg.values, msg.sample_times())):
                rows.append(((msg.seq + k) & wire.TICK_MASK, t, v))
        else:
            out.messages.append(msg)
            out.positions.append(len(rows))


class StreamDecoder(_DecoderBase):
    """Vectorised decoder for the live stream and for files. ``feed`` keeps partial frames across calls."""

    def feed(self, chunk: bytes) -> Decoded:
        if not chunk:
            return Decoded()
        data = bytes(self._buf) + bytes(chunk) if self._buf else bytes(chunk)
        self._buf.clear()
        arr = np.frombuffer(data, dtype=np.uint8)
        z = np.flatnonzero(arr == 0)
        if len(z) == 0:
            self._stash(data)
            return Decoded()
        last = int(z[-1])
        self._stash(data[last + 1 :])
        try:
            return self._decode_segments(arr[: last + 1], z)
        except Exception:  # pragma: no cover - a bug here must not kill the reader thread
            # Fall back to the reference decoder for this chunk's complete segments.
            ref = ReferenceDecoder()
            ref._at_start = self._at_start
            self._at_start = False
            result = ref.feed(data[: last + 1])
            for name in COUNTER_NAMES:
                setattr(self, name, getattr(self, name) + getattr(ref, name))
            return result

    def _stash(self, tail: bytes) -> None:
        if self._oversize:
            self._oversize_len += len(tail)
        elif len(tail) > MAX_SEGMENT:
            self._oversize, self._oversize_len = True, len(tail)
        else:
            self._buf += tail

    def _decode_segments(self, arr: np.ndarray, z: np.ndarray) -> Decoded:
        nseg = len(z)
        starts = np.empty(nseg, np.int64)
        starts[0] = 0
        starts[1:] = z[:-1] + 1
        ends = z.astype(np.int64)
        lens = ends - starts

        # per-segment outcome; -1 = undecided
        lenient0 = self._at_start
        self._at_start = False
        over = lens > MAX_SEGMENT
        extra0 = 0
        if self._oversize:  # segment 0 finishes a run that was already too long
            over[0] = True
            extra0 = self._oversize_len
            self._oversize, self._oversize_len = False, 0
        nonempty = lens > 0

        # 2. follow COBS chains of all candidate segments in parallel
        kind = np.zeros(len(arr), np.int8)  # 0 data byte, 1 code → 0x00, 2 dropped
        kind[z] = 2
        cobs_ok = np.zeros(nseg, bool)
        idx = np.flatnonzero(nonempty & ~over)
        pos = starts[idx]
        end = ends[idx]
        first = np.ones(len(idx), bool)
        prev_ff = np.zeros(len(idx), bool)
        while len(idx):
            kind[pos] = np.where(first | prev_ff, 2, 1)
            code = arr[pos].astype(np.int64)
            pos = pos + code
            prev_ff = code == 0xFF
            first = np.zeros(len(idx), bool)
            done = pos == end
            cobs_ok[idx[done]] = True
            go = pos < end
            if not go.all():
                idx, pos, end, prev_ff, first = idx[go], pos[go], end[go], prev_ff[go], first[go]

        # 3. every decoded frame in one gather
        keep = kind != 2
        vals = arr.copy()
        vals[kind == 1] = 0
        dec = vals[keep]
        kc = np.zeros(len(arr) + 1, np.int64)
        np.cumsum(keep, out=kc[1:])
        dstart = kc[starts]
        dlen = kc[ends] - dstart

        # outcome codes: 0 empty, 1 ok-data, 2 ok-message, 3 unknown type, 10+ rejected(counter)
        counters = np.zeros(nseg, np.int8)  # index into _REJECT or 0 = not rejected
        counters[over] = _LEN
        counters[nonempty & ~over & ~cobs_ok] = _COBS
        short = cobs_ok & (dlen < wire.MIN_FRAME)
        counters[short] = _LEN
        chk = np.flatnonzero(cobs_ok & ~short)

        # 4. CRC, one crc_hqx per frame
        dec_bytes = dec.tobytes()
        crc = binascii.crc_hqx
        ds = dstart[chk].tolist()
        de = (dstart[chk] + dlen[chk]).tolist()
        crc_ok = np.fromiter((crc(dec_bytes[s:e], 0xFFFF) == 0 for s, e in zip(ds, de)), bool, len(ds))
        counters[chk[~crc_ok]] = _CRC
        chk = chk[crc_ok]
        ftype = dec[dstart[chk]]
        version = dec[dstart[chk] + 1]
        badver = version != wire.PROTOCOL_VERSION
        counters[chk[badver]] = _VER
        chk, ftype = chk[~badver], ftype[~badver]
        unknown = ~np.isin(ftype, _DEFINED)
        counters[chk[unknown]] = _UNK
        chk, ftype = chk[~unknown], ftype[~unknown]

        # DATA frames: length must be 13 + 5n with 1 <= n <= 40
        is_data = ftype == wire.FRAME_DATA
        dfr = chk[is_data]
        dl = dlen[dfr]
        hdr_ok = dl >= wire.data_frame_length(1)
        nbyte = np.zeros(len(dfr), np.int64)
        nbyte[hdr_ok] = dec[dstart[dfr[hdr_ok]] + 2 + 8]
        good = hdr_ok & (nbyte >= 1) & (nbyte <= wire.DATA_MAX_SAMPLES) & (dl == 13 + 5 * nbyte)
        counters[dfr[~good]] = _LEN
        dfr, nper = dfr[good], nbyte[good]

        # messages (rare): parse with the reference parser, which also checks their lengths
        out = Decoded()
        msg_frames = chk[~is_data]
        samples_before = np.zeros(nseg + 1, np.int64)
        if len(msg_frames):
            per_seg = np.zeros(nseg, np.int64)
            per_seg[dfr] = nper
            np.cumsum(per_seg, out=samples_before[1:])
            for i in msg_frames.tolist():
                s = int(dstart[i])
                try:
                    msg = wire.parse_frame(dec_bytes[s : s + int(dlen[i])])
                except LengthError:
                    counters[i] = _LEN
                    continue
                out.messages.append(msg)
                out.positions.append(int(samples_before[i]))
            self.frames_ok += len(out.messages)

        # 5. every sample of the chunk at once
        if len(dfr):
            self.frames_ok += len(dfr)
            base = dstart[dfr]
            hdr = base[:, None] + np.arange(2, 10)
            hb = dec[hdr].astype(np.int64)
            seq0 = (hb[:, 0] | hb[:, 1] << 8 | hb[:, 2] << 16 | hb[:, 3] << 24) & wire.TICK_MASK
            t0 = (hb[:, 4] | hb[:, 5] << 8 | hb[:, 6] << 16 | hb[:, 7] << 24) & wire.TICK_MASK
            total = int(nper.sum())
            firsts = np.cumsum(nper) - nper
            k = np.arange(total, dtype=np.int64) - np.repeat(firsts, nper)
            p = np.repeat(base + 11, nper) + 5 * k
            raw = dec[p].astype(np.int32) | dec[p + 1].astype(np.int32) << 8 | dec[p + 2].astype(np.int32) << 16
            raw = (raw ^ 0x800000) - 0x800000
            dt = dec[p + 3].astype(np.int64) | dec[p + 4].astype(np.int64) << 8
            dt[firsts] = 0
            cs = np.cumsum(dt)
            samples = np.empty(total, SAMPLE_DTYPE)
            samples["seq30"] = (np.repeat(seq0, nper) + k) & wire.TICK_MASK
            samples["t30_us"] = (np.repeat(t0 - cs[firsts], nper) + cs) & wire.TICK_MASK
            samples["raw"] = raw
            out.samples = samples

        # counters
        rejected = np.flatnonzero(counters >= _LEN)
        if len(rejected):
            nbytes = lens[rejected] + np.where(rejected == 0, extra0, 0)
            for i, code, nb in zip(rejected.tolist(), counters[rejected].tolist(), nbytes.tolist()):
                self._reject(_REJECT[code], nb, lenient0 and i == 0)
        self.unknown_types += int(np.count_nonzero(counters == _UNK))
        return out


_UNK, _LEN, _COBS, _CRC, _VER = 1, 2, 3, 4, 5
_REJECT = {_LEN: "length_errors", _COBS: "cobs_errors", _CRC: "crc_errors", _VER: "version_errors"}
_DEFINED = np.array(sorted(wire.DEFINED_TYPES), np.uint8)


@dataclass
class FileDecode:
    samples: np.ndarray
    messages: list
    positions: list[int]
    counters: dict[str, int]


def decode_bytes(data: bytes, chunk_size: int = 1 << 22) -> FileDecode:
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


def decode_file(path: str | Path, chunk_size: int = 1 << 22) -> FileDecode:
    """Decode a capture file of raw port bytes (see :func:`decode_bytes`)."""
    return decode_bytes(Path(path).read_bytes(), chunk_size)
