"""Schema migrations: a database made by the first schema opens, migrates and keeps its data."""

import sqlite3

import numpy as np
import pytest

from pointdose import metrics
from pointdose.records import Store, StoreError, chunks, schema
from pointdose.records.demo import hold_profile, synth_rows


def make_v1(path):
    """A database as pointdose with only the first schema step wrote it (raw SQL, no Store)."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    schema.migrate(con, upto=1)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 1
    con.execute("INSERT INTO clients (id, code, role, created_at) VALUES (1, 'OLD-1', 'client', '2024-01-01T10:00:00+00:00')")
    con.execute("INSERT INTO sessions (id, client_id, started_at) VALUES (1, 1, '2024-01-01T10:00:00+00:00')")
    con.execute("INSERT INTO points (id, client_id, location, side, label, created_at) VALUES "
                "(1, 1, 'upper_trapezius.1', 'L', 'Upper trapezius TrP1', '2024-01-01T10:00:00+00:00')")
    con.execute("INSERT INTO applications (id, session_id, point_id, started_at, t_start_s, t_end_s, end_reason, "
                "probe_area_cm2, contact_kpa, band_low_kpa, band_high_kpa) VALUES "
                "(1, 1, 1, '2024-01-01T10:01:00+00:00', 0, 60, 'completed', 1.0, 10.0, 100.0, 140.0)")
    rows = synth_rows(hold_profile(120.0, hold_s=20.0), 200.0, seed=5)
    for part in np.array_split(rows, 7):
        first, t0, t1, blob = chunks.encode(part)
        con.execute("INSERT INTO sample_chunks (application_id, segment, first_seq, n, t0_s, t1_s, data) "
                    "VALUES (1, 0, ?, ?, ?, ?, ?)", (first, len(part), t0, t1, blob))
    con.close()
    return rows


def test_first_schema_migrates_to_latest_with_its_data(tmp_path):
    db = tmp_path / "records.sqlite"
    rows = make_v1(db)
    with Store(db) as store:
        assert store.schema_version() == schema.LATEST
        assert store.migrated == [m.name for m in schema.MIGRATIONS[1:]]
        assert store.backup_before_migration.exists()  # the file as it was, kept aside
        assert store.client("OLD-1")["role"] == "client"
        saved = store.samples(1)
        assert np.array_equal(saved["seq"], rows["seq"]) and np.array_equal(saved["raw"], rows["raw"])
        # step 2 filled the metrics cache for the application that was already there
        cached = store.query("SELECT contact_s, dose_kpa_s FROM application_metrics WHERE application_id=1")[0]
        expect = metrics.compute(saved["t_s"], saved["pressure_kpa"], contact_kpa=10.0, seq=saved["seq"])
        assert cached["dose_kpa_s"] == pytest.approx(expect.dose_kpa_s)
        assert cached["contact_s"] == pytest.approx(expect.contact_s)
        assert store.integrity_check() == "ok"
    with sqlite3.connect(store.backup_before_migration) as old:
        assert old.execute("PRAGMA user_version").fetchone()[0] == 1


def test_a_failing_step_leaves_the_last_good_version(tmp_path, monkeypatch):
    db = tmp_path / "records.sqlite"
    make_v1(db)

    def boom(conn):
        conn.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("disk I/O error")

    good = len(schema.MIGRATIONS)
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS + [schema.Migration(f"{good + 1}: broken", fn=boom)])
    monkeypatch.setattr(schema, "LATEST", len(schema.MIGRATIONS))
    with pytest.raises(StoreError, match="disk I/O error"):
        Store(db)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == good  # earlier steps committed, the broken one rolled back
    assert not con.execute("SELECT name FROM sqlite_master WHERE name='half_done'").fetchall()
    con.close()


def test_an_appended_step_runs_once(tmp_path, monkeypatch):
    """How the training module adds its tables: append a Migration; existing files pick it up."""
    db = tmp_path / "records.sqlite"
    with Store(db) as store:
        store.add_client("S-1", role="student")
    step = schema.Migration("3: training trials", sql="CREATE TABLE trials (id INTEGER PRIMARY KEY, "
                                                      "client_id INTEGER REFERENCES clients(id) ON DELETE CASCADE);")
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS + [step])
    monkeypatch.setattr(schema, "LATEST", len(schema.MIGRATIONS))
    with Store(db) as store:
        assert store.migrated == ["3: training trials"]
        assert store.clients(role="student")[0]["code"] == "S-1"
    with Store(db) as store:
        assert store.migrated == []
