"""Read an 8-bit RGB/RGBA PNG (what DearPyGui's output_frame_buffer writes) into a numpy array.

Only zlib, struct and numpy: no Pillow. Filters None/Up/Sub are vectorised per row; Average and
Paeth need the pixel to the left, so they run a small loop over the row's bytes.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path) -> np.ndarray:
    data = open(path, "rb").read()
    if not data.startswith(SIGNATURE):
        raise ValueError(f"{path} is not a PNG")
    pos = len(SIGNATURE)
    idat = []
    width = height = channels = None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for r in range(height):
        kind = rows[r, 0]
        line = rows[r, 1:].astype(np.int32)
        if kind == 0:
            cur = line
        elif kind == 2:
            cur = (line + prev) & 0xFF
        elif kind == 1:
            cur = _sub(line, channels)
        elif kind == 3:
            cur = _loop(line.tolist(), prev.tolist(), channels, paeth=False)
        elif kind == 4:
            cur = _loop(line.tolist(), prev.tolist(), channels, paeth=True)
        else:
            raise ValueError(f"bad PNG filter {kind} on row {r}")
        out[r] = cur
        prev = cur.astype(np.int32)
    return out.reshape(height, width, channels)


def _sub(line: np.ndarray, channels: int) -> np.ndarray:
    per_pixel = line.reshape(-1, channels)
    return (np.cumsum(per_pixel, axis=0) & 0xFF).reshape(-1)


def _loop(line: list, prev: list, channels: int, *, paeth: bool) -> np.ndarray:
    cur = [0] * len(line)
    for i, x in enumerate(line):
        a = cur[i - channels] if i >= channels else 0
        b = prev[i]
        if paeth:
            c = prev[i - channels] if i >= channels else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        else:
            pred = (a + b) >> 1
        cur[i] = (x + pred) & 0xFF
    return np.array(cur, dtype=np.int32)
