"""Many stations recording at once to one server, with an outage: the load test and ``make bench``.

A *station* is a process with its own Store (own journal) and a RecordingListener (its writer
thread commits every 0.5 s, as in the app), fed generated samples at ``rate`` Hz in real time —
the recording path without firmware. Each application is tagged (``protocol = "load S A"``) and
its sample count reported, so the checker can find every application once with every sample.

    python tests/pg/pg_load.py URL JOURNAL INDEX SECONDS RATE OUT.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

APP_S = 3.0  # each simulated application lasts this long
BLOCK_S = 0.05  # samples are handed on in blocks of 50 ms, as a device stream arrives


def station(url: str, journal: str, index: int, seconds: float, rate: float, out: str) -> None:
    import numpy as np

    from pointdose.listeners import SAMPLE_DTYPE
    from pointdose.records import pg
    from pointdose.records.listener import RecordingListener
    from pointdose.records.store import Store

    store = Store(url, journal=journal)
    cid = store.add_client(f"LOAD-{index:02d}")
    sid = store.start_session(cid)
    listener = RecordingListener(store, session_id=sid)
    block = max(1, int(round(rate * BLOCK_S)))
    per_app = int(rate * APP_S)
    apps, offline_seen = [], False
    print("ready", flush=True)
    t_begin = time.monotonic()
    a = 0
    while time.monotonic() - t_begin < seconds:
        tag = f"load {index} {a}"
        t0 = 100.0 * a
        listener.on_application_start({"point": f"upper_trapezius.1:{'LR'[a % 2]}", "protocol": tag,
                                       "probe_area_cm2": 1.0, "t_s": t0, "params": {"band_kpa": [90, 110]}})
        listener.on_event(t0, "phase_start", {"phase": "hold"})
        due = time.monotonic()
        for i in range(0, per_app, block):
            n = min(block, per_app - i)
            rows = np.zeros(n, SAMPLE_DTYPE)
            rows["seq"] = np.arange(i, i + n)
            rows["t_s"] = t0 + rows["seq"] / rate
            rows["pressure_kpa"] = 100.0 + 20.0 * np.sin(rows["t_s"] * 2.0) + (index % 7)
            rows["raw"] = np.round(rows["pressure_kpa"] * 100).astype(np.int32)
            rows["force_n"] = rows["pressure_kpa"] / 10.0
            listener.on_samples(rows)
            if i == (per_app // 2) // block * block:
                listener.on_event(float(rows["t_s"][-1]), "pain", {"value": a % 11, "stage": "during"})
            offline_seen = offline_seen or not store.online
            due += n / rate
            time.sleep(max(0.0, due - time.monotonic()))
        listener.on_application_end(t0 + (per_app - 1) / rate, "completed", {})
        apps.append({"tag": tag, "n": per_app})
        a += 1
    listener.close()
    deadline = time.monotonic() + 90.0  # the server may still be starting again: hand the journal over
    while store.sync() and time.monotonic() < deadline:
        time.sleep(0.5)
    journal_ids = store.conn.journal.conn.execute("SELECT COUNT(*) FROM sample_chunks WHERE id >= ?",
                                                  (pg.ID_BASE,)).fetchone()[0]
    result = {"apps": apps, "fault": str(listener.fault) if listener.fault else None,
              "error": str(listener.error) if listener.error else None, "pending": store.pending(),
              "offline_seen": offline_seen or journal_ids > 0, "journal_chunks": journal_ids,
              "samples_written": listener.samples_written}
    store.close()
    Path(out).write_text(json.dumps(result))


def run_stations(cluster, url: str, folder: Path, *, stations: int, seconds: float, rate: float,
                 outage_at: float | None = None, outage_s: float = 0.0) -> list[dict]:
    """Start the stations, stop the server ``outage_s`` seconds at ``outage_at`` after they all
    began, wait for them; each station's result dict (module docstring)."""
    host = Path(__file__).resolve().parents[2] / "host"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(host), os.environ.get("PYTHONPATH")) if p))
    procs = []
    for i in range(stations):
        out = folder / f"station{i}.json"
        procs.append((subprocess.Popen([sys.executable, __file__, url, str(folder / f"journal{i}.sqlite"), str(i),
                                        str(seconds), str(rate), str(out)],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env), out))
    try:
        for p, _ in procs:
            line = p.stdout.readline()  # blocks until the station is recording (or died)
            if line.strip() != "ready":
                raise RuntimeError(f"a station did not start: {p.stderr.read()[-2000:]}")
        if outage_at is not None:
            time.sleep(outage_at)
            cluster.stop()
            time.sleep(outage_s)
            cluster.start()
        results = []
        for p, out in procs:
            _, err = p.communicate(timeout=seconds + 180)
            if p.returncode != 0:
                raise RuntimeError(f"a station failed ({p.returncode}): {err[-2000:]}")
            results.append(json.loads(out.read_text()))
        return results
    finally:
        for p, _ in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if not cluster.running():
            cluster.start()


def check(url: str, results: list[dict]) -> dict:
    """Every reported application once, with every sample in order; what was found."""
    import numpy as np

    from pointdose.records import pg
    from pointdose.records.store import Store

    with Store(url, readonly=True) as reader:
        apps = {r["protocol"]: r for r in reader.applications()}
        expected = [a for r in results for a in r["apps"]]
        problems = []
        for a in expected:
            row = apps.get(a["tag"])
            if row is None:
                problems.append(f"{a['tag']}: missing")
                continue
            samples = reader.samples(row["id"])
            if len(samples) != a["n"] or not np.array_equal(samples["seq"], np.arange(a["n"])):
                problems.append(f"{a['tag']}: {len(samples)} samples of {a['n']}")
            if row["end_reason"] != "completed" or row["metrics"] is None:
                problems.append(f"{a['tag']}: end {row['end_reason']!r}, metrics {row['metrics'] is not None}")
        tags = [r["protocol"] for r in reader.query("SELECT protocol FROM applications")]
        ids = [r["id"] for r in reader.query("SELECT id FROM sample_chunks")]
        return {"expected_apps": len(expected), "apps": len(tags), "duplicate_apps": len(tags) - len(set(tags)),
                "samples": sum(a["n"] for a in expected),
                "samples_found": reader.query("SELECT COALESCE(SUM(n), 0) AS n FROM sample_chunks")[0]["n"],
                "chunks": len(ids), "duplicate_chunk_ids": len(ids) - len(set(ids)),
                "chunks_from_journals": sum(1 for i in ids if i >= pg.ID_BASE),
                "pain": reader.query("SELECT COUNT(*) AS n FROM pain")[0]["n"],
                "integrity": reader.integrity_check(), "problems": problems}


if __name__ == "__main__":
    url_, journal_, index_, seconds_, rate_, out_ = sys.argv[1:7]
    station(url_, journal_, int(index_), float(seconds_), float(rate_), out_)
