"""Records on a PostgreSQL server against the SQLite file: samples written per second by one
station and by 8 at once, the server's size per hour at 1 kHz, and the 60 s × 8-station load run
with a 10 s server outage, and how fast old stations' files merge in (docs/records.md, "Many stations").

Starts a throwaway cluster as tests/pg does (skipped when the PostgreSQL binaries are absent).
Write rates: each station writes 60 s of 1 kHz samples as fast as it can through the
RecordingListener, committing every 0.5 s of recording as the app does (the listener's clock
follows sample time); on the server each commit is also mirrored into the station's journal.
For 8 stations, 8 processes do this at once — to one server, or each to its own SQLite file (the
one-file-per-station setup the server replaces).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_TESTS = ROOT / "tests" / "pg"
RATE_HZ = 1000
SECONDS = 60
BLOCK = 20
STATIONS = 8


def write_once(db: str, journal: str | None) -> dict:
    """One station writing SECONDS of 1 kHz samples as fast as it can: samples/s and sizes."""
    from pointdose.records import RecordingListener, Store
    from pointdose.records.demo import hold_profile, synth_rows

    rows = synth_rows(hold_profile(250.0, hold_s=25.0, cycles=2, rest_s=4.0), RATE_HZ, noise_kpa=1.5)
    rows = rows[: SECONDS * RATE_HZ]
    store = Store(db, journal=journal) if journal else Store(db)
    cid = store.add_client(f"BENCH-{os.getpid()}")
    sid = store.start_session(cid)
    point = store.point(cid, "upper_trapezius.1", "L")
    now = [float(rows["t_s"][0])]
    listener = RecordingListener(store, session_id=sid, autoflush=False)
    began = time.time()
    t0 = time.perf_counter()
    listener.on_application_start({"point": point, "probe_area_cm2": 1.0, "t_s": now[0]})
    last = now[0]
    for i in range(0, len(rows), BLOCK):
        part = rows[i:i + BLOCK]
        now[0] = float(part["t_s"][-1])
        listener.on_samples(part)
        if now[0] - last >= 0.5:  # a commit every 0.5 s of recording, as the writer thread makes live
            listener.flush()
            last = now[0]
    listener.on_application_end(float(rows["t_s"][-1]), "completed", {})
    listener.close()
    wall = time.perf_counter() - t0
    assert listener.samples_written == len(rows) and listener.fault is None
    store.close()
    return {"samples": len(rows), "wall_s": wall, "began": began, "ended": began + wall}


def _station_cmd(db: str, journal: str | None, out: Path) -> list[str]:
    code = ("import json, sys; sys.path.insert(0, %r); from bench.bench_pg import write_once; "
            "json.dump(write_once(%r, %r), open(%r, 'w'))") % (str(ROOT), db, journal, str(out))
    return [sys.executable, "-c", code]


def _many(dbs: list[tuple[str, str | None]], folder: Path) -> float:
    """Processes writing at once; total samples per second from the first start to the last end
    of writing (their start-up excluded)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT / "host"), os.environ.get("PYTHONPATH"))
                                                      if p))
    outs = [folder / f"out-{time.monotonic_ns()}-{i}.json" for i in range(len(dbs))]
    procs = [subprocess.Popen(_station_cmd(db, j, o), env=env) for (db, j), o in zip(dbs, outs)]
    for p in procs:
        if p.wait(timeout=900) != 0:
            raise RuntimeError("a bench station failed")
    done = [json.loads(o.read_text()) for o in outs]
    return sum(d["samples"] for d in done) / (max(d["ended"] for d in done) - min(d["began"] for d in done))


def run() -> list[tuple[str, float, str]]:
    sys.path.insert(0, str(PG_TESTS))
    from conftest import Cluster, _bindir  # the tests' throwaway cluster

    bindir = _bindir()
    if bindir is None:
        print("  PostgreSQL server binaries not found (apt-get install postgresql): skipped")
        return []
    import psycopg

    from pg_load import check, run_stations

    out = []
    cluster = Cluster(bindir)
    folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    try:
        url = cluster.new_database()
        lite = write_once(str(folder / "one.sqlite"), None)
        server = write_once(url, str(folder / "journal-one.sqlite"))
        out.append(("1 station, SQLite file", lite["samples"] / lite["wall_s"], "samples/s"))
        out.append(("1 station, PostgreSQL (+ journal mirror)", server["samples"] / server["wall_s"], "samples/s"))
        with psycopg.connect(url) as conn:
            size = conn.execute("SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relkind = 'r' "
                                "AND c.relname IN ('sample_chunks')").fetchone()[0]
        out.append(("PostgreSQL size per hour at 1 kHz (sample_chunks with index, TOAST)",
                    float(size) / server["samples"] * RATE_HZ * 3600 / 1e6, "MB"))
        out.append(("SQLite file per hour at 1 kHz",
                    (folder / "one.sqlite").stat().st_size / lite["samples"] * RATE_HZ * 3600 / 1e6, "MB"))
        lite8 = _many([(str(folder / f"s{i}.sqlite"), None) for i in range(STATIONS)], folder)
        url8 = cluster.new_database()
        server8 = _many([(url8, str(folder / f"journal8-{i}.sqlite")) for i in range(STATIONS)], folder)
        out.append((f"{STATIONS} stations at once, each its own SQLite file", lite8, "samples/s in all"))
        out.append((f"{STATIONS} stations at once, one PostgreSQL server", server8, "samples/s in all"))
        out.append((f"{STATIONS} stations on the server, per station", server8 / STATIONS, "samples/s"))
        # merging old stations' files (records sync --from): the 8 files just written, into a new database
        from pointdose.records import Store
        from pointdose.records.sync import merge_file

        url_merge = cluster.new_database()
        t0 = time.perf_counter()
        with Store(url_merge, journal=str(folder / "journal-merge.sqlite")) as target:
            for i in range(STATIONS):
                merge_file(folder / f"s{i}.sqlite", target)
            merged = target.query("SELECT COALESCE(SUM(n), 0) AS n FROM sample_chunks")[0]["n"]
        out.append(("records sync --from: old stations' files merged", merged / (time.perf_counter() - t0),
                    "samples/s"))
        # the load run: 8 stations recording live at 200 Hz for 60 s, the server stopped 10 s mid-run
        url_load = cluster.new_database()
        t0 = time.perf_counter()
        (folder / "load").mkdir()
        results = run_stations(cluster, url_load, folder / "load", stations=STATIONS, seconds=60.0, rate=200.0,
                               outage_at=20.0, outage_s=10.0)
        wall = time.perf_counter() - t0
        found = check(url_load, results)
        out.append(("load run 8 × 60 s at 200 Hz, 10 s outage: samples recorded", found["samples"], "samples"))
        out.append(("  samples lost", found["samples"] - found["samples_found"], "samples"))
        out.append(("  applications missing or doubled",
                    len(found["problems"]) + found["duplicate_apps"], "applications"))
        out.append(("  chunks written to journals during the outage, then synced", found["chunks_from_journals"],
                    "chunks"))
        out.append(("  stations that had to stop a session", sum(1 for r in results if r["fault"]), "stations"))
        out.append(("  integrity ok", 1.0 if found["integrity"] == "ok" else 0.0, "(1 = yes)"))
        out.append(("  wall time", wall, "s"))
    finally:
        cluster.destroy()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    return out


if __name__ == "__main__":
    for label, value, unit in run():
        print(f"{label}: {value:,.6g} {unit}")
