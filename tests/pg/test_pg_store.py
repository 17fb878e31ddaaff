"""The records store on a real PostgreSQL server (tests/pg/conftest.py starts one): the same
answers as the SQLite file, several stations at once, every command with --db URL / POINTDOSE_DB."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from datetime import datetime, timezone

import numpy as np
import pytest

from pointdose.cli import main
from pointdose.records import demo, history, pg, schema
from pointdose.records.listener import RecordingListener
from pointdose.records.store import NewerDatabaseError, Store, StoreError


def _history_json(store: Store, code: str) -> list:
    """A client's history without the ids (they differ between databases)."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.endswith("id") and k != "id"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(json.loads(json.dumps([asdict(p) for p in history.client_history(store, code)], default=str)))


START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def test_server_store_gives_the_same_history_as_a_file(pg_url, tmp_path):
    with Store(tmp_path / "records.sqlite") as local:
        demo.make_demo(local, "C-0001", sessions=3, start=START)
        expected = _history_json(local, "C-0001")
        local_apps = local.applications(client_id=local.client("C-0001")["id"])
        local_samples = [local.samples(a["id"]) for a in local_apps]
        local_metrics = [a["metrics"] for a in local_apps]
    with Store(pg_url, journal=tmp_path / "journal.sqlite") as server:
        assert server.backend == "postgresql" and server.schema_version() == schema.LATEST
        demo.make_demo(server, "C-0001", sessions=3, start=START)
        assert _history_json(server, "C-0001") == expected
        apps = server.applications(client_id=server.client("C-0001")["id"])
        assert [a["n_samples"] for a in apps] == [a["n_samples"] for a in local_apps]
        for a, want, metrics in zip(apps, local_samples, local_metrics):
            got = server.samples(a["id"])
            assert np.array_equal(got["seq"], want["seq"]) and np.allclose(got["pressure_kpa"], want["pressure_kpa"])
            assert a["metrics"] == metrics
        assert server.integrity_check() == "ok"
        # the station's journal mirrors what it wrote, and nothing is pending
        assert server.pending() == 0


def test_a_visit_started_on_one_station_is_read_and_continued_on_another(pg_url, tmp_path):
    a = Store(pg_url, journal=tmp_path / "a.sqlite")
    b = Store(pg_url, journal=tmp_path / "b.sqlite")
    try:
        cid = a.add_client("C-0002")
        with pytest.raises(StoreError, match="already a client with code 'C-0002'"):
            b.add_client("C-0002")  # the server's unique code, said as on a file
        sid = a.start_session(cid)
        listener = RecordingListener(a, session_id=sid, autoflush=False)
        rows = demo.synth_rows(demo.hold_profile(120.0, hold_s=5.0), 200.0, t0_s=10.0)
        app_a = demo.record(listener, "upper_trapezius.1:L", rows, ppt_before=300.0)
        listener.close()
        # station B sees the client, the visit still open, and adds an application to it
        assert b.client("C-0002")["id"] == cid
        assert b.open_visit(cid, window_s=3600) == sid
        listener = RecordingListener(b, session_id=sid, autoflush=False)
        app_b = demo.record(listener, "upper_trapezius.1:L", demo.synth_rows(demo.hold_profile(130.0, hold_s=5.0),
                                                                               200.0, t0_s=50.0), ppt_after=340.0)
        listener.close()
        for store in (a, b):
            apps = store.applications(session_id=sid)
            assert [x["id"] for x in apps] == [app_a, app_b]
            assert len(store.samples(app_a)) == len(rows)
            ppt = store.session_ppt(apps[0]["point_id"], sid)
            assert [r["kpa"] for r in ppt["before"]] == [300.0] and [r["kpa"] for r in ppt["after"]] == [340.0]
    finally:
        a.close()
        b.close()


def test_stations_writing_at_once_get_unique_ids_and_lose_nothing(pg_url, tmp_path):
    stations = [Store(pg_url, journal=tmp_path / f"station{i}.sqlite") for i in range(4)]
    cid = stations[0].add_client("C-0003")
    errors, made = [], {}

    def work(i: int, store: Store) -> None:
        try:
            sid = store.start_session(cid)
            listener = RecordingListener(store, session_id=sid, autoflush=False)
            ids = []
            for k in range(3):
                rows = demo.synth_rows(demo.hold_profile(100.0 + k, hold_s=2.0), 200.0, t0_s=100.0 * k, seed=i)
                ids.append((demo.record(listener, f"point {i}", rows, block=20), len(rows)))
            listener.close()
            made[i] = ids
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(stations)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    reader = stations[0]
    all_ids = [app_id for ids in made.values() for app_id, _ in ids]
    assert len(set(all_ids)) == 12
    for ids in made.values():
        for app_id, n in ids:
            assert len(reader.samples(app_id)) == n
    chunk_ids = [r["id"] for r in reader.query("SELECT id FROM sample_chunks")]
    assert len(chunk_ids) == len(set(chunk_ids))
    assert reader.integrity_check() == "ok"
    for s in stations:
        s.close()


def test_every_command_takes_a_server_url_and_the_environment(pg_url, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("POINTDOSE_JOURNAL", str(tmp_path / "journal.sqlite"))
    assert main(["clients", "demo", "C-0004", "--sessions", "2", "--db", pg_url]) == 0
    assert main(["clients", "add", "C-0005", "--db", pg_url]) == 0
    capsys.readouterr()
    monkeypatch.setenv("POINTDOSE_DB", pg_url)  # no --db: the environment names the server
    assert main(["clients", "list"]) == 0
    out = capsys.readouterr().out
    assert "C-0004" in out and "C-0005" in out
    assert main(["history", "--client", "C-0004", "--json"]) == 0
    points = json.loads(capsys.readouterr().out)
    assert len(points) == 3 and all(len(p["entries"]) == 2 for p in points)
    assert main(["report", "--client", "C-0004", "--latest", "--out", str(tmp_path / "report.pdf")]) == 0
    assert (tmp_path / "report.pdf").read_bytes()[:4] == b"%PDF"
    assert main(["export", "--client", "C-0004", "--out", str(tmp_path / "out")]) == 0
    exported = json.loads((tmp_path / "out" / "C-0004" / "C-0004.json").read_text())
    assert len(exported["sessions"]) == 2
    # an export imports into the server as into a file: the same samples
    assert main(["clients", "import", str(tmp_path / "out" / "C-0004" / "C-0004.json"), "--as", "C-0006"]) == 0
    with Store(pg_url, readonly=True) as store:
        assert _history_json(store, "C-0006") == _history_json(store, "C-0004")
    # backup says what to do instead, in one line
    capsys.readouterr()
    assert main(["backup", str(tmp_path / "b.sqlite")]) != 0
    err = capsys.readouterr().err
    assert "pg_dump" in err and err.count("\n") == 1


def test_an_unreachable_server_is_one_line(capsys, tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("POINTDOSE_JOURNAL", str(tmp_path / "journal.sqlite"))
    url = f"postgresql://nobody:secret@127.0.0.1:{port}/records"
    assert main(["clients", "list", "--db", url]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach the records server" in err
    assert "secret" not in err  # the password never shows
    # a command that writes would use the journal, but this station never had the server: nothing to go on
    assert main(["clients", "add", "C-1", "--db", url]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "never connected" in err and "secret" not in err
    assert not (tmp_path / "journal.sqlite").exists()


def test_a_server_set_up_by_a_newer_pointdose_is_refused_unchanged(pg_url, tmp_path):
    Store(pg_url, journal=tmp_path / "j.sqlite").close()
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"UPDATE {schema.VERSION_TABLE} SET version = %s", (schema.LATEST + 1,))
    with pytest.raises(NewerDatabaseError, match="newer pointdose"):
        Store(pg_url, journal=tmp_path / "j.sqlite")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute(f"SELECT version FROM {schema.VERSION_TABLE}").fetchone()[0] == schema.LATEST + 1


def test_read_only_commands_need_a_set_up_server(pg_url):
    with pytest.raises(StoreError, match="no records tables"):
        Store(pg_url, readonly=True)


def test_dialect_translation():
    st = pg.parse("INSERT OR IGNORE INTO calibrations (id, json) VALUES (?, ?)")
    assert st.pg == "INSERT INTO calibrations (id, json) VALUES (%s, %s)" and st.or_mode == "IGNORE"
    assert pg.parse("SELECT '?%' , ? WHERE 0").pg == "SELECT '?%' , %s WHERE false"
    assert pg.parse("SELECT x FROM t WHERE 0.5 < x").pg == "SELECT x FROM t WHERE 0.5 < x"
    out = schema.ddl("CREATE TABLE t (id INTEGER PRIMARY KEY, x REAL, b BLOB, -- it's 100%\n"
                 " p INTEGER REFERENCES t(id) ON DELETE CASCADE)")
    assert "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" in out and "DOUBLE PRECISION" in out
    assert "BYTEA" in out and "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED" in out and "100%" not in out
    assert pg.redact("postgresql://u:pw@h:5433/db") == "postgresql://u:***@h:5433/db"


def test_two_stations_making_the_same_point_at_once_get_one_point(pg_url, tmp_path):
    import psycopg

    store = Store(pg_url, journal=tmp_path / "b.sqlite")
    cid = store.add_client("C-0008")
    from pointdose import bodymap

    other = psycopg.connect(pg_url)  # station A, in the middle of making the point (not committed yet)
    other.execute("INSERT INTO points (client_id, location, side, label, created_at) VALUES (%s, %s, %s, %s, %s)",
                  (cid, "upper_trapezius.1", "L", bodymap.location("upper_trapezius.1").label,
                   "2026-01-01T00:00:00+00:00"))
    got = {}
    thread = threading.Thread(target=lambda: got.update(id=store.point(cid, "upper_trapezius.1", "L")))
    thread.start()
    watch = psycopg.connect(pg_url, autocommit=True)
    from waiting import wait_until

    assert wait_until(lambda: watch.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                      .fetchone()[0] >= 1, timeout=30)  # station B's insert waits for A's
    other.commit()
    thread.join(timeout=30)
    ids = [r[0] for r in watch.execute("SELECT id FROM points WHERE client_id = %s", (cid,)).fetchall()]
    assert len(ids) == 1 and got["id"] == ids[0]
    for c in (other, watch):
        c.close()
    store.close()
