"""Host decode rate on a captured 1 kHz stream with the firmware's default batching.

Builds ~60 s of stream with the wire encoder: 1 kHz samples, batch_us 4000 on USB, so a frame
closes at 4 samples or when its oldest sample is 4 ms old (4–5 samples once poll delay is
added), HX711-like counts, and a STATUS frame each second. Decodes it whole (file re-analysis)
and in 4 KiB reads (live-like), median of several runs. Needs: a 1 kHz stream 1,000 samples/s,
replaying a capture at x100 100,000 samples/s.

Hostile input (docs/reliability.md): 10 MB with no delimiter at all (0x01 bytes), random bytes,
and junk built to look like frame starts (the most resynchronisation work per byte), each in 4 KiB
reads; the figure is MB/s, and must not fall as the input grows (linear time).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from pointdose.protocol import wire
from pointdose.protocol.decoder import StreamDecoder

RATE_HZ = 1000
SECONDS = 60
RUNS = 5


def build_stream(seconds: int = SECONDS, seed: int = 1) -> tuple[bytes, int]:
    rng = np.random.default_rng(seed)
    parts, seq, t = [], 0, 0
    n_total = seconds * RATE_HZ
    next_status = 1_000_000
    while seq < n_total:
        n = 5 if rng.random() < 0.25 else 4  # a late poll lets a fifth sample in
        dts = [0] + [1000 + int(rng.integers(-3, 4)) for _ in range(n - 1)]
        values = (85_000 + 12 * np.arange(seq, seq + n) % 4000 + rng.normal(0, 40, n)).astype(int).tolist()
        parts.append(wire.encode_data_frame(seq, t, values, dts))
        seq += n
        t += sum(dts) + 1000
        if t >= next_status:
            parts.append(wire.encode_status("1a2b3c4d", t, seq, 0, 0, 3, RATE_HZ))
            next_status += 1_000_000
    return b"".join(parts), seq


def _rate(data: bytes, chunk: int) -> float:
    dec = StreamDecoder()
    t0 = time.perf_counter()
    n = 0
    for off in range(0, len(data), chunk):
        n += len(dec.feed(data[off : off + chunk]).samples)
    return n / (time.perf_counter() - t0)


def hostile_inputs(mb: float = 10) -> dict[str, bytes]:
    size = int(mb * 1_000_000)
    rng = np.random.default_rng(2)
    lookalike = (b"\x01" + b"\x03\x01\x01" * 300 + b"\x00")  # 300 frame-like starts per segment
    return {
        "no delimiter (0x01)": b"\x01" * size,
        "random bytes": rng.integers(0, 256, size, dtype=np.uint8).tobytes(),
        "frame look-alikes": (lookalike * (size // len(lookalike) + 1))[:size],
    }


def _mb_per_s(data: bytes, chunk: int = 4096) -> float:
    dec = StreamDecoder()
    t0 = time.perf_counter()
    for off in range(0, len(data), chunk):
        dec.feed(data[off : off + chunk])
    return len(data) / 1e6 / (time.perf_counter() - t0)


def run() -> list[tuple[str, float, str]]:
    data, n = build_stream()
    whole = statistics.median(_rate(data, 1 << 20) for _ in range(RUNS))
    reads = statistics.median(_rate(data, 4096) for _ in range(RUNS))
    out = [
        ("decode, 1 MiB pieces (file re-analysis)", whole, "samples/s"),
        ("decode, 4 KiB reads (live)", reads, "samples/s"),
        ("stream bytes per sample", len(data) / n, "B"),
    ]
    for name, junk in hostile_inputs().items():
        out.append((f"decode hostile 10 MB, {name}", _mb_per_s(junk), "MB/s"))
    return out


if __name__ == "__main__":
    for label, value, unit in run():
        print(f"{label}: {value:,.6g} {unit}")
