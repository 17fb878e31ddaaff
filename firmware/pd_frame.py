"""Wire frames of protocol v1 (docs/protocol.md): CRC-16/CCITT-FALSE, COBS, frame builders.

Everything writes into buffers allocated once; building a DATA or STATUS frame
allocates nothing.

Usage::

    f = Framer()
    n = f.status(boot, t_us, next_seq, overflow, cmd_errors, flags, rate, missed, lost)
    stream.write(f.enc, 0, n)       # COBS-encoded frame plus its 0x00 delimiter
"""
import struct
from array import array
import micropython
from micropython import const

VERSION = const(1)
T_DATA = const(0x01)
T_REPLY = const(0x02)
T_STATUS = const(0x03)
T_ERROR = const(0x04)
T_CUE_STATE = const(0x10)
T_BUTTON = const(0x11)
T_CALIBRATION = const(0x12)
CAL_CHUNK = const(128)      # blob bytes per CALIBRATION frame

MAX_FRAME = const(250)      # decoded frame, type .. CRC
MAX_SAMPLES = const(40)     # samples in one DATA frame
MAX_DT = const(65535)       # a larger gap starts a new DATA frame
_MASK = const(0x3FFFFFFF)
_I24 = const(0xFFFFFF)


def _make_table():
    t = array("H", bytes(512))
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
            c &= 0xFFFF
        t[i] = c
    return t


_TABLE = _make_table()


def crc16(buf, n, crc=0xFFFF):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of ``buf[0:n]``."""
    t = _TABLE
    for i in range(n):
        crc = ((crc << 8) & 0xFFFF) ^ t[(crc >> 8) ^ buf[i]]
    return crc


@micropython.viper
def _crc_cobs(raw, m: int, enc, table) -> int:
    """CRC-16 of ``raw[0:m]`` written big-endian at ``raw[m:m+2]``, then ``raw[0:m+2]`` COBS-encoded
    into ``enc`` with its delimiter; returns the encoded length.  Machine code (viper): this
    byte loop was most of a sample's cost on a Pico (~20 µs a byte as bytecode)."""
    r = ptr8(raw)
    d = ptr8(enc)
    t = ptr16(table)
    crc = 0xFFFF
    ci = 0
    o = 1
    code = 1
    i = 0
    n = m + 2
    while i < n:
        if i == m:
            r[m] = crc >> 8
            r[m + 1] = crc & 0xFF
        b = r[i]
        if i < m:
            crc = ((crc << 8) & 0xFFFF) ^ t[(crc >> 8) ^ b]
        if b:
            d[o] = b
            o += 1
            code += 1
            if code == 0xFF:
                d[ci] = 0xFF
                ci = o
                o += 1
                code = 1
        else:
            d[ci] = code
            ci = o
            o += 1
            code = 1
        i += 1
    d[ci] = code
    d[o] = 0
    return o + 1


@micropython.viper
def _pack(raw, seqs, vals, times, i: int, cap: int, nmax: int) -> int:
    """DATA header and samples from the ring's ``array("i")``s into ``raw``; returns the count
    packed (see ``Framer.data``).  Machine code (viper): as bytecode, packing was ~50 µs a sample
    on an emulated Pico."""
    r = ptr8(raw)
    sq = ptr32(seqs)
    vl = ptr32(vals)
    tm = ptr32(times)
    t_prev = tm[i]
    s_next = sq[i]
    r[2] = s_next & 0xFF        # u32 seq, u32 t0, little-endian
    r[3] = (s_next >> 8) & 0xFF
    r[4] = (s_next >> 16) & 0xFF
    r[5] = (s_next >> 24) & 0xFF
    r[6] = t_prev & 0xFF
    r[7] = (t_prev >> 8) & 0xFF
    r[8] = (t_prev >> 16) & 0xFF
    r[9] = (t_prev >> 24) & 0xFF
    o = 11
    k = 0
    while k < nmax:
        t = tm[i]
        dt = (t - t_prev) & 0x3FFFFFFF
        if dt > 65535 or sq[i] != s_next:
            break
        s_next = (s_next + 1) & 0x3FFFFFFF
        v = vl[i]                   # i24 little-endian, then u16 dt
        r[o] = v & 0xFF
        r[o + 1] = (v >> 8) & 0xFF
        r[o + 2] = (v >> 16) & 0xFF
        r[o + 3] = dt & 0xFF
        r[o + 4] = (dt >> 8) & 0xFF
        t_prev = t
        o += 5
        k += 1
        i += 1
        if i == cap:
            i = 0
    r[10] = k
    return k


@micropython.viper
def copy(dst, do: int, src, so: int, n: int):
    """``dst[do:do+n] = src[so:so+n]`` without allocating (a slice would); machine code (viper)."""
    d = ptr8(dst)
    r = ptr8(src)
    i = 0
    while i < n:
        d[do + i] = r[so + i]
        i += 1


@micropython.viper
def _text(raw, o: int, text, n: int, lim: int) -> int:
    """The ``n`` characters of ``text`` (a str, read as its UTF-8 bytes) at ``raw[o:]``, each one
    outside 0x20..0x7E as one '?', at most up to ``lim``; returns the new offset."""
    r = ptr8(raw)
    t = ptr8(text)
    i = 0
    k = 0
    while k < n and o < lim:
        c = t[i]
        i += 1
        if 0x80 <= c < 0xC0:        # a UTF-8 continuation byte: its character is already out
            continue
        k += 1
        if c > 0x7E or c < 0x20:
            c = 0x3F
        r[o] = c
        o += 1
    return o


class Framer:
    """Builds one frame at a time into ``raw`` and encodes it into ``enc``."""

    def __init__(self):
        self.raw = bytearray(MAX_FRAME + 8)
        self.enc = bytearray(MAX_FRAME + 8)
        self.n = 0      # samples packed by the last data() call
        self.raw[1] = VERSION

    def _finish(self, m):
        """CRC over raw[0:m], appended big-endian, and COBS into enc in one pass."""
        self.raw[1] = VERSION
        return _crc_cobs(self.raw, m, self.enc, _TABLE)

    def data(self, seqs, vals, times, i, cap, nmax):
        """DATA frame from ring arrays, starting at index ``i`` (wrapping at ``cap``).

        Packs up to ``nmax`` (<= 40) samples, fewer when a sample is more than
        65535 µs after the previous one or its sequence number does not follow
        (a stall skipped slots: the gap must show); ``self.n`` is set to the
        count packed. Returns the encoded length.
        """
        raw = self.raw
        raw[0] = T_DATA
        k = _pack(raw, seqs, vals, times, i, cap, nmax)
        self.n = k
        return _crc_cobs(raw, 11 + 5 * k, self.enc, _TABLE)

    def data_list(self, seq, t0, values, dts):
        """DATA frame from plain lists (tests, host-side tools)."""
        raw = self.raw
        raw[0] = T_DATA
        struct.pack_into("<IIB", raw, 2, seq, t0, len(values))
        o = 11
        for k in range(len(values)):
            struct.pack_into("<I", raw, o, values[k] & _I24)
            struct.pack_into("<H", raw, o + 3, dts[k])
            o += 5
        self.n = len(values)
        return self._finish(o)

    def _text(self, o, text):
        """``text`` into raw[o:] as printable ASCII ('?' for any other byte: replies stay
        printable), cut at the frame's end."""
        return _text(self.raw, o, text, len(text), MAX_FRAME - 2)

    def reply(self, cmd_id, status, text):
        raw = self.raw
        raw[0] = T_REPLY
        struct.pack_into("<HB", raw, 2, cmd_id, status)
        return self._finish(self._text(5, text))

    def pong(self, cmd_id, t_us):
        """REPLY ``pong= t=T``, as ``ping`` without an argument answers, built without allocating."""
        raw = self.raw
        raw[0] = T_REPLY
        struct.pack_into("<HB", raw, 2, cmd_id, 0)
        o = self._lit(5, b"pong= t=")
        return self._finish(self._int(o, t_us))

    def cue_reply(self, cmd_id, phase, band, level, alarm):
        """REPLY ``phase=P band=B level=L alarm=A`` (``cmd_cue``'s text; ``phase`` and ``band`` as
        bytes), built without allocating."""
        raw = self.raw
        raw[0] = T_REPLY
        struct.pack_into("<HB", raw, 2, cmd_id, 0)
        o = self._lit(5, b"phase=")
        o = self._lit(o, phase)
        o = self._lit(o, b" band=")
        o = self._lit(o, band)
        o = self._lit(o, b" level=")
        o = self._int(o, level)
        o = self._lit(o, b" alarm=")
        return self._finish(self._int(o, alarm))

    def error(self, code, text):
        raw = self.raw
        raw[0] = T_ERROR
        raw[2] = code
        return self._finish(self._text(3, text))

    def status(self, boot, t_us, next_seq, overflow, cmd_errors, flags, rate, missed=-1, lost=0):
        """STATUS; ``missed`` < 0 leaves out the protocol-2 fields (the 21-byte payload of proto 1)."""
        raw = self.raw
        raw[0] = T_STATUS
        raw[2] = boot[0]
        raw[3] = boot[1]
        raw[4] = boot[2]
        raw[5] = boot[3]
        struct.pack_into("<IIIHBH", raw, 6, t_us, next_seq, overflow, cmd_errors, flags, rate)
        if missed < 0:
            return self._finish(23)
        struct.pack_into("<II", raw, 23, missed, lost)
        return self._finish(31)

    def _int(self, o, v):
        """Write ``v`` in decimal at raw[o:]; returns the new offset (no allocation)."""
        raw = self.raw
        if v < 0:
            raw[o] = 0x2D   # '-'
            o += 1
            v = -v
        d = 1
        q = v // 10
        while d <= q:           # d stays <= v: no integer above 2^30 on a board
            d *= 10
        while d:
            raw[o] = 0x30 + (v // d) % 10
            o += 1
            d //= 10
        return o

    def _lit(self, o, text):
        raw = self.raw
        for i in range(len(text)):
            raw[o] = text[i]
            o += 1
        return o

    def over_pressure(self, code, value, limit, t_us, low):
        """ERROR ``code`` 'over-pressure: raw=V limit=max:L t=T' (or limit=min:L), built without
        allocating, so the firmware's own alarm costs nothing in the sampling loop."""
        raw = self.raw
        raw[0] = T_ERROR
        raw[2] = code
        o = self._lit(3, b"over-pressure: raw=")
        o = self._int(o, value)
        o = self._lit(o, b" limit=min:" if low else b" limit=max:")
        o = self._int(o, limit)
        o = self._lit(o, b" t=")
        o = self._int(o, t_us)
        return self._finish(o)

    def cue_state(self, t_us, phase, band, level, flags, led_on, led_off, bz_on, bz_off, bz_hz):
        """CUE_STATE: what the device shows now (times in ms, the steady pattern after any chirp)."""
        raw = self.raw
        raw[0] = T_CUE_STATE
        struct.pack_into("<IBBBBHHHHH", raw, 2, t_us, phase, band, level, flags,
                         led_on, led_off, bz_on, bz_off, bz_hz)
        return self._finish(20)

    def button(self, t_us, button_id, event, count):
        """BUTTON: device time of the (debounced) edge, button id, event (1 press, 0 release)."""
        raw = self.raw
        raw[0] = T_BUTTON
        struct.pack_into("<IBBH", raw, 2, t_us, button_id, event, count)
        return self._finish(10)

    def cal_chunk(self, blob, total, off, n, crc):
        """CALIBRATION: ``n`` bytes of the stored blob from ``off``, with its length and CRC."""
        raw = self.raw
        raw[0] = T_CALIBRATION
        struct.pack_into("<HHH", raw, 2, total, off, crc)
        for i in range(n):
            raw[8 + i] = blob[off + i]
        return self._finish(8 + n)

    def raw_frame(self, payload, ftype):
        """Any frame type (reserved types in tests): ``payload`` after type and version."""
        raw = self.raw
        raw[0] = ftype
        o = 2
        for b in payload:
            raw[o] = b
            o += 1
        return self._finish(o)
