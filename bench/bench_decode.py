"""Host decode rate on a captured 1 kHz stream with the firmware's default batching.

Builds ~60 s of stream with the wire encoder: 1 kHz samples, batch_us 4000 on USB, so a frame
closes at 4 samples or when its oldest sample is 4 ms old (4–5 samples once poll delay is
added), HX711-like counts, and a STATUS frame each second. Decodes it whole (file re-analysis)
and in 4 KiB reads (live-like), median of several runs.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from pointdose.protocol import wire
from pointdose.protocol.decoder import ReferenceDecoder, StreamDecoder

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


def _rate(decoder_cls, data: bytes, chunk: int) -> float:
    dec = decoder_cls()
    t0 = time.perf_counter()
    n = 0
    for off in range(0, len(data), chunk):
        n += len(dec.feed(data[off : off + chunk]).samples)
    return n / (time.perf_counter() - t0)


def run() -> list[tuple[str, float, str]]:
    data, n = build_stream()
    whole = statistics.median(_rate(StreamDecoder, data, len(data)) for _ in range(RUNS))
    reads = statistics.median(_rate(StreamDecoder, data, 4096) for _ in range(RUNS))
    small = data[: len(data) // 20]
    ref = statistics.median(_rate(ReferenceDecoder, small, 4096) for _ in range(3))
    return [
        ("decode, whole capture (vectorised)", whole, "samples/s"),
        ("decode, 4 KiB reads (vectorised)", reads, "samples/s"),
        ("decode, reference byte-at-a-time", ref, "samples/s"),
        ("stream bytes per sample", len(data) / n, "B"),
    ]


if __name__ == "__main__":
    for label, value, unit in run():
        print(f"{label}: {value:,.6g} {unit}")
