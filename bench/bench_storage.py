"""Records storage at 1 kHz: samples written per second through the RecordingListener, and the
database size one hour of recording takes.

Writes 120 s of 1 kHz load-cell-like samples (noise on a press-and-hold profile, raw counts and
pressure, as the session runner hands them on) in 20-sample blocks, committed every 0.5 s as in the
app, to a fresh database in a temporary folder; then the bytes per sample give the size per hour.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

RATE_HZ = 1000
SECONDS = 120
BLOCK = 20
RUNS = 3


def _one_run(folder: Path) -> tuple[float, float, int]:
    from pointdose.records import RecordingListener, Store
    from pointdose.records.demo import hold_profile, synth_rows

    rows = synth_rows(hold_profile(250.0, hold_s=50.0, cycles=2, rest_s=4.0), RATE_HZ, noise_kpa=1.5)
    rows = rows[: SECONDS * RATE_HZ]
    db = folder / f"bench-{time.monotonic_ns()}.sqlite"
    store = Store(db)
    cid = store.add_client("BENCH")
    sid = store.start_session(cid)
    point = store.point(cid, "upper_trapezius.1", "L")
    now = [float(rows["t_s"][0])]
    # the listener's clock follows sample time, so it commits every 0.5 s of recording as it would live
    listener = RecordingListener(store, session_id=sid, autoflush=False, clock=lambda: now[0])
    listener.on_application_start({"point": point, "probe_area_cm2": 1.0, "t_s": float(rows["t_s"][0])})
    busy = 0.0
    for i in range(0, len(rows), BLOCK):
        part = rows[i:i + BLOCK]
        now[0] = float(part["t_s"][-1])
        t0 = time.perf_counter()
        listener.on_samples(part)
        busy += time.perf_counter() - t0
    t0 = time.perf_counter()
    listener.on_application_end(float(rows["t_s"][-1]), "completed", {})
    busy += time.perf_counter() - t0
    listener.close()
    store.query("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    size = sum(p.stat().st_size for p in folder.iterdir() if p.name.startswith(db.name))
    chunks = len(rows) // (RATE_HZ // 2)
    return len(rows) / busy, size / len(rows), chunks


def run() -> list[tuple[str, float, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        results = [_one_run(Path(tmp)) for _ in range(RUNS)]
    rate = statistics.median(r[0] for r in results)
    per_sample = statistics.median(r[1] for r in results)
    return [
        ("records: samples written (chunked, committed every 0.5 s, incl. end-of-application metrics)", rate,
         "samples/s"),
        ("records: bytes per sample on disk", per_sample, "B"),
        ("records: database size per hour at 1 kHz", per_sample * RATE_HZ * 3600 / 1e6, "MB/h"),
        ("records: write headroom at 1 kHz", rate / RATE_HZ, "× real time"),
    ]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    for name, value, unit in run():
        print(f"{name}: {value:,.6g} {unit}")
