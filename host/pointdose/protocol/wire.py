"""Wire protocol v1 (docs/protocol.md): constants, CRC, COBS, frame encoders and a reference parser.

Pure functions, no I/O. The encoders serve the tests, the benchmark and the CPython simulated-device
shim; the host decodes streams with :class:`pointdose.protocol.decoder.StreamDecoder`, which
is checked against :func:`parse_frame` / :func:`cobs_decode` here.

Frame before COBS: ``type u8 | version u8 | payload | CRC-16/CCITT-FALSE big-endian``. Because the
CRC has no reflection and no final XOR, the CRC of a whole frame *including* its CRC is 0: that is
how the decoder checks it (one ``crc_hqx`` call per frame, no slicing).
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Sequence

PROTOCOL_VERSION = 1
TICK_MOD = 2**30  # seq and device µs travel modulo 2^30 (small ints on the boards)
TICK_MASK = TICK_MOD - 1
SEQ_MOD = TICK_MOD

# frame types
FRAME_DATA = 0x01
FRAME_REPLY = 0x02
FRAME_STATUS = 0x03
FRAME_ERROR = 0x04
FRAME_CUE_STATE = 0x10  # echo of the cue the device shows
FRAME_BUTTON = 0x11  # device button / foot switch event
FRAME_CALIBRATION = 0x12  # a chunk of the calibration blob stored on the device
DEFINED_TYPES = frozenset({FRAME_DATA, FRAME_REPLY, FRAME_STATUS, FRAME_ERROR, FRAME_CUE_STATE, FRAME_BUTTON,
                           FRAME_CALIBRATION})
RESERVED_TYPES: frozenset[int] = frozenset()  # none left in v1; other types are unknown (counted, skipped)

DELIMITER = 0x00
MAX_FRAME = 250  # documented maximum decoded frame (see MAX_SEGMENT in the decoder for what is enforced)
HEADER_LEN = 2  # type + version
CRC_LEN = 2
MIN_FRAME = HEADER_LEN + CRC_LEN

DATA_HEADER_LEN = 9  # seq u32, t0 u32, n u8
DATA_SAMPLE_LEN = 5  # i24 value, u16 dt
DATA_MAX_SAMPLES = 40
DT_MAX_US = 0xFFFF
STATUS_PAYLOAD_LEN = 21  # protocol 1 firmware; protocol 2 appends ``missed`` and ``lost``
STATUS_V2_PAYLOAD_LEN = 29
CUE_STATE_PAYLOAD_LEN = 18
BUTTON_PAYLOAD_LEN = 8
CAL_HEADER_LEN = 6  # total u16, offset u16, crc u16, then the chunk
CAL_CHUNK = 128  # bytes per CALIBRATION frame the firmware sends
CAL_MAX = 1024  # largest calibration blob the device keeps
CALW_CHUNK = 30  # bytes per `calw OFFSET HEX` line (80-byte line limit with an id)

CUE_PHASES = ("off", "press", "hold", "ease", "rest", "alarm")
CUE_BANDS = ("none", "below", "in", "above")
BUTTON_NAMES = {1: "release", 2: "pain", 3: "stop", 4: "mark", 5: "up", 6: "down"}
BUTTON_IDS = {name: i for i, name in BUTTON_NAMES.items()}
CUE_FLAG_FW_ALARM = 0x01  # the firmware's own over-pressure alarm overrides the host's cue
CUE_FLAG_LED = 0x02
CUE_FLAG_BUZZER = 0x04
I24_MIN, I24_MAX = -(1 << 23), (1 << 23) - 1


class ReplyStatus(IntEnum):
    OK = 0
    UNKNOWN_COMMAND = 1
    BAD_ARGUMENT = 2
    NOT_NOW = 3
    LINE_INVALID = 4  # too long or not ASCII
    DEVICE_FAULT = 5


class ErrorCode(IntEnum):
    WATCHDOG = 1  # host silent too long: streaming stopped, Ctrl-C restored
    SENSOR_FAULT = 2
    RING_OVERFLOW = 3
    CONFIG = 4
    OVER_PRESSURE = 5  # the firmware's own limit was passed (text: raw=V limit=max:L t=T)


# STATUS flags
FLAG_STREAMING = 0x01
FLAG_KBD_INTR_DISABLED = 0x02
FLAG_WATCHDOG_STOPPED = 0x04
FLAG_SENSOR_FAULT = 0x08


# ---------------------------------------------------------------------------------------------
# messages


def parse_reply_fields(text: str) -> dict[str, str]:
    """``"a=1 b=x"`` → ``{"a": "1", "b": "x"}``; tokens without ``=`` are ignored."""
    fields: dict[str, str] = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if sep and key:
            fields[key] = value
    return fields


@dataclass(frozen=True)
class Reply:
    """REPLY frame. ``fields`` holds the ``key=value`` tokens of a successful reply (empty on failure)."""

    cmd_id: int
    status: int
    text: str
    fields: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == ReplyStatus.OK


@dataclass(frozen=True)
class Status:
    """STATUS frame. ``boot_id`` is 8 hex digits in wire byte order."""

    boot_id: str
    t_us: int
    next_seq: int
    overflow: int
    cmd_errors: int
    flags: int
    rate_hz: int
    # protocol 2 (None from protocol-1 firmware): sample slots the device could not keep (it fell
    # behind: the samples were never taken), and frames it dropped for want of output buffer
    missed: int | None = None
    lost_frames: int | None = None

    @property
    def streaming(self) -> bool:
        return bool(self.flags & FLAG_STREAMING)

    @property
    def kbd_intr_disabled(self) -> bool:
        return bool(self.flags & FLAG_KBD_INTR_DISABLED)

    @property
    def watchdog_stopped(self) -> bool:
        return bool(self.flags & FLAG_WATCHDOG_STOPPED)

    @property
    def sensor_fault(self) -> bool:
        return bool(self.flags & FLAG_SENSOR_FAULT)


@dataclass(frozen=True)
class DeviceError:
    """ERROR frame: an event that answers no command (codes in :class:`ErrorCode`)."""

    code: int
    text: str

    @property
    def fields(self) -> dict[str, str]:
        """``key=value`` tokens of the text (over-pressure: ``raw``, ``limit``, ``t``)."""
        return parse_reply_fields(self.text)


@dataclass(frozen=True)
class CueState:
    """CUE_STATE frame: the cue the device shows now. Patterns in ms: ``*_off_ms == 0`` with ``*_on_ms > 0``
    is steady on, ``*_on_ms == 0`` is dark/silent; ``buzzer_hz`` is the steady pattern's tone."""

    t_us: int
    phase: str
    band: str
    level: int
    flags: int
    led_on_ms: int
    led_off_ms: int
    buzzer_on_ms: int
    buzzer_off_ms: int
    buzzer_hz: int

    @property
    def firmware_alarm(self) -> bool:
        return bool(self.flags & CUE_FLAG_FW_ALARM)


@dataclass(frozen=True)
class ButtonEvent:
    """BUTTON frame: a debounced edge of a device button or foot switch (``pressed`` False = released)."""

    t_us: int
    button_id: int
    pressed: bool
    count: int  # events since boot, mod 2^16: a jump means a BUTTON frame was lost

    @property
    def name(self) -> str:
        return BUTTON_NAMES.get(self.button_id, f"button{self.button_id}")


@dataclass(frozen=True)
class CalibrationChunk:
    """CALIBRATION frame: ``data`` is the blob's bytes from ``offset``; the whole blob is ``total`` bytes
    with CRC-16/CCITT-FALSE ``crc``."""

    total: int
    offset: int
    crc: int
    data: bytes


@dataclass(frozen=True)
class DataFrame:
    """DATA frame as the reference parser returns it (the fast decoder yields arrays instead)."""

    seq: int
    t0_us: int
    values: tuple[int, ...]
    dts: tuple[int, ...]

    def sample_times(self) -> list[int]:
        """Each sample's device time mod 2^30: t0 + dt_1 + … + dt_k (dt_0 is ignored: it is 0)."""
        out, t = [], self.t0_us
        for k, dt in enumerate(self.dts):
            if k:
                t += dt
            out.append(t & TICK_MASK)
        return out


# ---------------------------------------------------------------------------------------------
# CRC and COBS


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF); ``crc16(b"123456789") == 0x29B1``."""
    return binascii.crc_hqx(data, 0xFFFF)


class FrameError(ValueError):
    """A frame the receiver drops; the subclass says which counter it goes to."""


class CobsError(FrameError):
    pass


class CrcError(FrameError):
    pass


class LengthError(FrameError):
    pass


class VersionError(FrameError):
    """Frame from a newer protocol: the host needs an update."""


class UnknownFrameType(FrameError):
    """Valid frame of an unknown or reserved type: skipped, counted."""


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data`` (no delimiter appended). Ends with the code of the last, possibly empty, block."""
    out = bytearray()
    block = bytearray()
    for b in data:
        if b == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(b)
            if len(block) == 254:
                out.append(0xFF)
                out += block
                block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Reference COBS decoder for one frame without its delimiter; raises :class:`CobsError`.

    A code byte ``c`` is followed by ``c-1`` data bytes and, unless ``c == 0xFF`` or it is the last
    block, an implied zero. A trailing empty block after a 0xFF block may be present or absent.
    """
    if not data:
        raise CobsError("empty frame")
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise CobsError(f"zero byte inside frame at offset {i}")
        end = i + code
        if end > n:
            raise CobsError(f"code byte 0x{code:02x} at offset {i} runs past the end of the frame ({n} bytes)")
        block = data[i + 1 : end]
        if 0 in block:
            raise CobsError(f"zero byte inside frame at offset {i + 1 + block.index(0)}")
        out += block
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# encoders


def encode_frame(frame_type: int, payload: bytes, *, version: int = PROTOCOL_VERSION) -> bytes:
    """Type, version, payload and CRC, COBS-encoded, with the trailing 0x00 delimiter."""
    body = bytes((frame_type & 0xFF, version & 0xFF)) + bytes(payload)
    body += crc16(body).to_bytes(2, "big")
    return cobs_encode(body) + b"\x00"


def data_payload(seq: int, t0_us: int, values: Sequence[int], dts: Sequence[int]) -> bytes:
    n = len(values)
    if not 1 <= n <= DATA_MAX_SAMPLES:
        raise ValueError(f"a DATA frame holds 1 … {DATA_MAX_SAMPLES} samples, not {n}")
    if len(dts) != n:
        raise ValueError("values and dts differ in length")
    out = bytearray(struct.pack("<IIB", seq & TICK_MASK, t0_us & TICK_MASK, n))
    for v, dt in zip(values, dts):
        if not I24_MIN <= v <= I24_MAX:
            raise ValueError(f"value {v} does not fit in i24")
        if not 0 <= dt <= DT_MAX_US:
            raise ValueError(f"dt {dt} µs does not fit in u16")
        out += (v & 0xFFFFFF).to_bytes(3, "little") + dt.to_bytes(2, "little")
    return bytes(out)


def encode_data_frame(seq: int, t0_us: int, values: Sequence[int], dts: Sequence[int]) -> bytes:
    """Encoded DATA frame; ``dts[0]`` is conventionally 0 (receivers ignore it)."""
    return encode_frame(FRAME_DATA, data_payload(seq, t0_us, values, dts))


def encode_reply(cmd_id: int, status: int, text: str) -> bytes:
    return encode_frame(FRAME_REPLY, struct.pack("<HB", cmd_id & 0xFFFF, status) + text.encode("utf-8"))


def _boot_bytes(boot_id: str | bytes) -> bytes:
    raw = bytes.fromhex(boot_id) if isinstance(boot_id, str) else bytes(boot_id)
    if len(raw) != 4:
        raise ValueError("boot id is 4 bytes (8 hex digits)")
    return raw


def encode_status(boot_id: str | bytes, t_us: int, next_seq: int, overflow: int, cmd_errors: int,
                  flags: int, rate_hz: int, missed: int | None = None, lost_frames: int | None = None) -> bytes:
    """STATUS; with ``missed`` (and ``lost_frames``) the protocol-2 payload, else protocol 1's."""
    payload = _boot_bytes(boot_id) + struct.pack(
        "<IIIHBH", t_us & TICK_MASK, next_seq & TICK_MASK, min(overflow, TICK_MASK),
        min(cmd_errors, 0xFFFF), flags & 0xFF, rate_hz & 0xFFFF)
    if missed is not None:
        payload += struct.pack("<II", min(missed, TICK_MASK), min(lost_frames or 0, TICK_MASK))
    return encode_frame(FRAME_STATUS, payload)


def encode_error(code: int, text: str) -> bytes:
    return encode_frame(FRAME_ERROR, bytes((code & 0xFF,)) + text.encode("utf-8"))


def encode_cue_state(t_us: int, phase: str | int, band: str | int, level: int, flags: int, led_on_ms: int,
                     led_off_ms: int, buzzer_on_ms: int, buzzer_off_ms: int, buzzer_hz: int) -> bytes:
    ph = CUE_PHASES.index(phase) if isinstance(phase, str) else phase
    bd = CUE_BANDS.index(band) if isinstance(band, str) else band
    return encode_frame(FRAME_CUE_STATE, struct.pack("<IBBBBHHHHH", t_us & TICK_MASK, ph, bd, level, flags, led_on_ms,
                                                     led_off_ms, buzzer_on_ms, buzzer_off_ms, buzzer_hz))


def encode_button(t_us: int, button: str | int, pressed: bool, count: int) -> bytes:
    bid = BUTTON_IDS[button] if isinstance(button, str) else button
    return encode_frame(FRAME_BUTTON, struct.pack("<IBBH", t_us & TICK_MASK, bid, int(bool(pressed)), count & 0xFFFF))


def encode_calibration_chunk(total: int, offset: int, crc: int, data: bytes) -> bytes:
    if not 1 <= len(data) <= MAX_FRAME - MIN_FRAME - CAL_HEADER_LEN:
        raise ValueError(f"a CALIBRATION chunk holds 1 … {MAX_FRAME - MIN_FRAME - CAL_HEADER_LEN} bytes")
    return encode_frame(FRAME_CALIBRATION, struct.pack("<HHH", total, offset, crc) + bytes(data))


# ---------------------------------------------------------------------------------------------
# reference frame parser


def data_frame_length(n: int) -> int:
    return HEADER_LEN + DATA_HEADER_LEN + DATA_SAMPLE_LEN * n + CRC_LEN


def parse_frame(frame: bytes) -> DataFrame | Reply | Status | DeviceError | CueState | ButtonEvent | CalibrationChunk:
    """Check and parse one COBS-decoded frame (with CRC). Raises a :class:`FrameError` subclass.

    Checks in this order (the fast decoder counts in the same order): length ≥ 4, CRC, version,
    type, length for the type.
    """
    if len(frame) < MIN_FRAME:
        raise LengthError(f"frame of {len(frame)} bytes is shorter than {MIN_FRAME}")
    if crc16(frame) != 0:
        raise CrcError("CRC mismatch")
    ftype, version = frame[0], frame[1]
    if version != PROTOCOL_VERSION:
        raise VersionError(f"protocol version {version}: newer protocol, update the host")
    payload = frame[HEADER_LEN:-CRC_LEN]
    if ftype == FRAME_DATA:
        if len(payload) < DATA_HEADER_LEN:
            raise LengthError("DATA frame shorter than its header")
        seq, t0, n = struct.unpack_from("<IIB", payload)
        if not 1 <= n <= DATA_MAX_SAMPLES or len(payload) != DATA_HEADER_LEN + DATA_SAMPLE_LEN * n:
            raise LengthError(f"DATA payload of {len(payload)} bytes does not match n={n}")
        values, dts = [], []
        for k in range(n):
            o = DATA_HEADER_LEN + DATA_SAMPLE_LEN * k
            v = int.from_bytes(payload[o : o + 3], "little", signed=True)
            values.append(v)
            dts.append(int.from_bytes(payload[o + 3 : o + 5], "little"))
        return DataFrame(seq & TICK_MASK, t0 & TICK_MASK, tuple(values), tuple(dts))
    if ftype == FRAME_REPLY:
        if len(payload) < 3:
            raise LengthError("REPLY shorter than 3 bytes")
        cmd_id, status = struct.unpack_from("<HB", payload)
        text = payload[3:].decode("utf-8", "replace")
        return Reply(cmd_id, status, text, parse_reply_fields(text) if status == 0 else {})
    if ftype == FRAME_STATUS:
        n = len(payload)
        if n != STATUS_PAYLOAD_LEN and n < STATUS_V2_PAYLOAD_LEN:
            raise LengthError(f"STATUS payload of {n} bytes, expected {STATUS_PAYLOAD_LEN} or "
                              f"at least {STATUS_V2_PAYLOAD_LEN}")
        t_us, next_seq, overflow, cmd_errors, flags, rate = struct.unpack_from("<IIIHBH", payload, 4)
        missed = lost = None
        if n >= STATUS_V2_PAYLOAD_LEN:  # bytes past the known fields: a later firmware's, ignored
            missed, lost = struct.unpack_from("<II", payload, STATUS_PAYLOAD_LEN)
        return Status(payload[:4].hex(), t_us & TICK_MASK, next_seq & TICK_MASK, overflow, cmd_errors, flags, rate,
                      missed, lost)
    if ftype == FRAME_ERROR:
        if len(payload) < 1:
            raise LengthError("ERROR frame without a code")
        return DeviceError(payload[0], payload[1:].decode("utf-8", "replace"))
    if ftype == FRAME_CUE_STATE:
        if len(payload) != CUE_STATE_PAYLOAD_LEN:
            raise LengthError(f"CUE_STATE payload of {len(payload)} bytes, expected {CUE_STATE_PAYLOAD_LEN}")
        t_us, ph, bd, level, flags, lon, loff, bon, boff, bhz = struct.unpack("<IBBBBHHHHH", payload)
        phase = CUE_PHASES[ph] if ph < len(CUE_PHASES) else f"phase{ph}"
        band = CUE_BANDS[bd] if bd < len(CUE_BANDS) else f"band{bd}"
        return CueState(t_us & TICK_MASK, phase, band, level, flags, lon, loff, bon, boff, bhz)
    if ftype == FRAME_BUTTON:
        if len(payload) != BUTTON_PAYLOAD_LEN:
            raise LengthError(f"BUTTON payload of {len(payload)} bytes, expected {BUTTON_PAYLOAD_LEN}")
        t_us, bid, ev, count = struct.unpack("<IBBH", payload)
        return ButtonEvent(t_us & TICK_MASK, bid, bool(ev), count)
    if ftype == FRAME_CALIBRATION:
        if len(payload) < CAL_HEADER_LEN + 1:
            raise LengthError("CALIBRATION frame without data")
        total, offset, crc = struct.unpack_from("<HHH", payload)
        data = bytes(payload[CAL_HEADER_LEN:])
        if offset + len(data) > total:
            raise LengthError(f"CALIBRATION chunk {offset}+{len(data)} runs past the blob's {total} bytes")
        return CalibrationChunk(total, offset, crc, data)
    kind = "reserved" if ftype in RESERVED_TYPES else "unknown"
    raise UnknownFrameType(f"{kind} frame type 0x{ftype:02x}")
