"""Wire protocol v1: pure encode/decode, no I/O (see docs/protocol.md)."""

from pointdose.protocol.decoder import (
    COUNTER_NAMES,
    SAMPLE_DTYPE,
    Decoded,
    FileDecode,
    ReferenceDecoder,
    StreamDecoder,
    decode_bytes,
    decode_file,
)
from pointdose.protocol.wire import (
    FRAME_BUTTON,
    FRAME_CALIBRATION,
    FRAME_CUE_STATE,
    FRAME_DATA,
    FRAME_ERROR,
    FRAME_REPLY,
    FRAME_STATUS,
    PROTOCOL_VERSION,
    RESERVED_TYPES,
    TICK_MOD,
    DataFrame,
    DeviceError,
    ErrorCode,
    Reply,
    ReplyStatus,
    Status,
    cobs_decode,
    cobs_encode,
    crc16,
    encode_data_frame,
    encode_error,
    encode_frame,
    encode_reply,
    encode_status,
    parse_frame,
    parse_reply_fields,
)

__all__ = [name for name in dir() if not name.startswith("_")]
