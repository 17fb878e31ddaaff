"""Samples stored as compressed column arrays, one chunk per flush (≤ about a second).

A chunk holds rows of one device segment. Columns, little-endian, then zlib (level 1: fast; the
sequence and time columns are nearly constant steps and shrink to little):

    seq - first_seq   int32     (so gaps stay visible)
    t_s - t0_s        float32   (µs resolution over the chunk's span)
    raw               int32     (the sensor's counts: history can be recomputed after a recalibration)
    pressure_kpa      float32

Force is not stored: it is pressure × probe area / 10 (``pointdose.units``), the area being the
application's. 16 bytes per sample before compression.
"""

from __future__ import annotations

import zlib

import numpy as np

from pointdose import units
from pointdose.listeners import SAMPLE_DTYPE

VERSION = 1
_LAYOUT = (("seq", "<i4"), ("t", "<f4"), ("raw", "<i4"), ("pressure_kpa", "<f4"))
BYTES_PER_SAMPLE = sum(np.dtype(d).itemsize for _, d in _LAYOUT)


def encode(rows: np.ndarray) -> tuple[int, float, float, bytes]:
    """``(first_seq, t0_s, t1_s, blob)`` for rows of one segment (dtype SAMPLE_DTYPE)."""
    first_seq = int(rows["seq"][0])
    t0 = float(rows["t_s"][0])
    parts = [
        (rows["seq"] - first_seq).astype("<i4").tobytes(),
        (rows["t_s"] - t0).astype("<f4").tobytes(),
        rows["raw"].astype("<i4").tobytes(),
        rows["pressure_kpa"].astype("<f4").tobytes(),
    ]
    return first_seq, t0, float(rows["t_s"][-1]), bytes([VERSION]) + zlib.compress(b"".join(parts), 1)


def decode(blob: bytes, n: int, first_seq: int, t0_s: float, segment: int, probe_area_cm2: float) -> np.ndarray:
    """Rows with dtype SAMPLE_DTYPE back from a chunk."""
    if not blob or blob[0] != VERSION:
        raise ValueError(f"sample chunk format {blob[:1].hex() or 'empty'} is not one this pointdose reads")
    data = zlib.decompress(blob[1:])
    if len(data) != n * BYTES_PER_SAMPLE:
        raise ValueError(f"sample chunk holds {len(data)} bytes, expected {n * BYTES_PER_SAMPLE}")
    out = np.zeros(n, SAMPLE_DTYPE)
    offset = 0
    cols = {}
    for name, dt in _LAYOUT:
        size = n * np.dtype(dt).itemsize
        cols[name] = np.frombuffer(data, dtype=dt, count=n, offset=offset)
        offset += size
    out["seq"] = cols["seq"].astype(np.int64) + first_seq
    out["segment"] = segment
    out["t_s"] = cols["t"].astype(np.float64) + t0_s
    out["raw"] = cols["raw"]
    out["pressure_kpa"] = cols["pressure_kpa"]
    out["force_n"] = units.force_n(out["pressure_kpa"], probe_area_cm2)
    return out


def split_segments(rows: np.ndarray) -> list[np.ndarray]:
    """Rows cut where the segment changes (a chunk belongs to one segment)."""
    if len(rows) == 0:
        return []
    cuts = np.flatnonzero(np.diff(rows["segment"]) != 0) + 1
    return np.split(rows, cuts)


def read(chunk_rows, probe_area_cm2: float) -> np.ndarray:
    """Rows (SAMPLE_DTYPE) of stored chunks, in the order given: each ``(data, n, first_seq, t0_s,
    segment)`` as the chunk tables keep them (an application's ``sample_chunks``, a training trial's
    ``training_sample_chunks``)."""
    parts = [decode(r[0], r[1], r[2], r[3], r[4], probe_area_cm2) for r in chunk_rows]
    return np.concatenate(parts) if parts else np.zeros(0, SAMPLE_DTYPE)

