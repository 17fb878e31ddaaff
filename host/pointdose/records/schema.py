"""The records database's schema as a numbered list of steps.

``PRAGMA user_version`` is the number of steps applied. Opening a database runs the steps it has
not had yet, each in its own transaction, so a crash mid-migration leaves the last good version.
A database with a higher number than :data:`MIGRATIONS` knows was written by a newer pointdose and
is refused unchanged (:class:`pointdose.records.store.Store`).

Adding a step (the training module's tables, a new column): append a :class:`Migration` at the
end — never edit or reorder one that has shipped, since databases in the field already have it.
A step is SQL (run statement by statement inside the transaction) and/or a Python function
``fn(conn)`` for data changes.

One list for both backends (docs/records.md, "Many stations"). Steps are written in SQLite's DDL
within a portable subset that :func:`ddl` maps to PostgreSQL mechanically:
``INTEGER PRIMARY KEY`` (an identity there), ``INTEGER``/``REAL``/``TEXT``/``BLOB`` columns,
``REFERENCES t(c) [ON DELETE …]``, ``CHECK``, ``DEFAULT`` constants, ``UNIQUE``, ``CREATE INDEX``,
``ALTER TABLE … ADD COLUMN``; no SQLite-only functions, no ``PRAGMA``. ``fn`` gets a connection
that takes ``?`` placeholders on both. On PostgreSQL the version lives in the table
``pointdose_schema`` and a step runs under an advisory lock, so stations starting together migrate
the server once.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Callable

# Who a person row is: a therapy client, a student (training, issue 6), or the user themself.
ROLES = ("client", "student", "self")


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str = ""
    fn: Callable[[sqlite3.Connection], None] | None = None


V1_BASE = """
CREATE TABLE clients (          -- every person recorded; `role` tells clients from students
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,  -- pseudonymous code, what reports and exports show
    name TEXT,                  -- optional real name, never exported unless asked for
    role TEXT NOT NULL DEFAULT 'client',
    created_at TEXT NOT NULL,
    notes TEXT
);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    started_at TEXT NOT NULL,   -- ISO 8601 UTC wall clock
    ended_at TEXT,
    operator TEXT,
    app_version TEXT
);
CREATE INDEX sessions_client ON sessions(client_id, started_at);
CREATE TABLE points (           -- a place on one client's body, the key of its history
    id INTEGER PRIMARY KEY,
    client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    location TEXT NOT NULL,     -- pointdose.bodymap location id, or 'custom'
    side TEXT NOT NULL,         -- 'L', 'R' or 'mid'
    label TEXT NOT NULL,
    view TEXT,                  -- 'front' / 'back': where a custom point is drawn
    x REAL, y REAL,             -- figure coordinates of a custom point (0..1)
    landmarks TEXT,             -- JSON: {"landmark": distance_cm, ...}
    created_at TEXT NOT NULL,
    UNIQUE (client_id, location, side, label)
);
CREATE TABLE calibrations (     -- the calibration dicts used, stored once each
    id TEXT PRIMARY KEY,        -- the calibration's own id, else a hash of its JSON
    json TEXT NOT NULL
);
CREATE TABLE applications (     -- one protocol applied to one point, start to end
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    point_id INTEGER NOT NULL REFERENCES points(id) ON DELETE CASCADE,
    started_at TEXT NOT NULL,
    t_start_s REAL NOT NULL,    -- host monotonic seconds, the samples' time base
    t_end_s REAL,
    end_reason TEXT,            -- 'completed', 'stopped', 'alarm: ...'; NULL: never ended (app killed)
    protocol TEXT,
    protocol_params TEXT,       -- JSON
    probe TEXT,
    probe_area_cm2 REAL NOT NULL,
    calibration_id TEXT REFERENCES calibrations(id),
    device_uid TEXT,
    contact_kpa REAL NOT NULL,
    band_low_kpa REAL, band_high_kpa REAL,
    summary TEXT                -- JSON: the engine's own totals at the end
);
CREATE INDEX applications_point ON applications(point_id);
CREATE INDEX applications_session ON applications(session_id);
CREATE TABLE sample_chunks (    -- samples, as compressed column arrays (records/chunks.py)
    id INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    segment INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    n INTEGER NOT NULL,
    t0_s REAL NOT NULL,
    t1_s REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX sample_chunks_app ON sample_chunks(application_id, id);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    t_s REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT                   -- JSON
);
CREATE INDEX events_app ON events(application_id, t_s);
CREATE TABLE ppt (              -- pressure-pain thresholds at a point
    id INTEGER PRIMARY KEY,
    point_id INTEGER NOT NULL REFERENCES points(id) ON DELETE CASCADE,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    application_id INTEGER REFERENCES applications(id) ON DELETE SET NULL,
    stage TEXT,                 -- 'before', 'after' or NULL
    kpa REAL NOT NULL,
    probe TEXT,
    probe_area_cm2 REAL NOT NULL,
    ramp_kpa_s REAL,
    calibration_id TEXT REFERENCES calibrations(id),
    repeats TEXT,               -- JSON list of the single trials (kPa), when several were taken
    measured_at TEXT NOT NULL
);
CREATE INDEX ppt_point ON ppt(point_id);
CREATE TABLE pain (             -- ratings 0-10
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    point_id INTEGER REFERENCES points(id) ON DELETE CASCADE,
    application_id INTEGER REFERENCES applications(id) ON DELETE CASCADE,
    stage TEXT NOT NULL,        -- 'before', 'during', 'after'
    value INTEGER NOT NULL CHECK (value BETWEEN 0 AND 10),
    t_s REAL,
    rated_at TEXT NOT NULL
);
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
    point_id INTEGER REFERENCES points(id) ON DELETE CASCADE,
    application_id INTEGER REFERENCES applications(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    written_at TEXT NOT NULL
);
"""

V2_METRICS = """
CREATE TABLE application_metrics (  -- pointdose.metrics of each ended application, for fast history
    application_id INTEGER PRIMARY KEY REFERENCES applications(id) ON DELETE CASCADE,
    json TEXT NOT NULL,
    contact_s REAL, dose_kpa_s REAL, peak_kpa REAL,
    computed_at TEXT NOT NULL
);
"""

V3_TRAINING = """
CREATE TABLE training_meta (        -- this station's identity: key 'station_uid', 'station_name'
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE training_classes (
    uid TEXT PRIMARY KEY,           -- UUID: the same class on every station after a merge
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE class_members (        -- students (clients rows with role 'student') in a class
    class_uid TEXT NOT NULL REFERENCES training_classes(uid) ON DELETE CASCADE,
    client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    PRIMARY KEY (class_uid, client_id)
);
CREATE TABLE training_sessions (
    uid TEXT PRIMARY KEY,
    client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    class_uid TEXT REFERENCES training_classes(uid) ON DELETE SET NULL,
    station TEXT,                   -- training_meta station_uid of the station that recorded it
    instructor TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    app_version TEXT
);
CREATE INDEX training_sessions_client ON training_sessions(client_id, started_at);
CREATE TABLE training_blocks (
    uid TEXT PRIMARY KEY,
    session_uid TEXT NOT NULL REFERENCES training_sessions(uid) ON DELETE CASCADE,
    position INTEGER NOT NULL,      -- order within the session
    kind TEXT NOT NULL,             -- pre-test, practice, post-test, retention, transfer
    drill TEXT NOT NULL,            -- JSON (pointdose.training.Drill)
    schedule TEXT NOT NULL,         -- JSON (pointdose.training.Schedule, with its seed)
    feedback_trials TEXT,           -- JSON: trial numbers the schedule chose, where fixed in advance
    quantity TEXT NOT NULL, target REAL NOT NULL, band_lo REAL NOT NULL, band_hi REAL NOT NULL,
    surface TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    end_reason TEXT,
    UNIQUE (session_uid, position)
);
CREATE TABLE training_trials (
    uid TEXT PRIMARY KEY,           -- UUID: merging exports never duplicates a trial
    block_uid TEXT NOT NULL REFERENCES training_blocks(uid) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    t_start_s REAL,
    planned_feedback INTEGER,       -- 1/0, NULL: decided live (bandwidth, self-controlled)
    requested_before INTEGER NOT NULL DEFAULT 0,
    requested_after INTEGER NOT NULL DEFAULT 0,
    feedback_s REAL NOT NULL DEFAULT 0,
    kr_shown INTEGER NOT NULL DEFAULT 0,
    outcome REAL, peak REAL, error REAL, in_band_pct REAL, time_to_band_s REAL, overshoot REAL,
    hold_coverage REAL,
    notes TEXT,                     -- JSON list
    samples BLOB,                   -- the trial's samples (pointdose.training.store), NULL after an import
    n_samples INTEGER NOT NULL DEFAULT 0,
    UNIQUE (block_uid, number)
);
"""


V4_TARE = """
ALTER TABLE applications ADD COLUMN tare_raw REAL;  -- raw counts at the start; 0 or NULL: none taken
"""


V5_PPT_SCREENING = """
ALTER TABLE ppt ADD COLUMN protocol TEXT;               -- the protocol that measured it ('ppt', a TOML's name)
ALTER TABLE ppt ADD COLUMN sd_kpa REAL;
ALTER TABLE ppt ADD COLUMN n INTEGER;                   -- trials that gave a PPT (NULL: not recorded)
ALTER TABLE ppt ADD COLUMN planned INTEGER;             -- trials planned (NULL: not recorded)
ALTER TABLE ppt ADD COLUMN measured_rate_kpa_s REAL;    -- the ramp rate actually achieved, mean of the trials
ALTER TABLE ppt ADD COLUMN censored INTEGER NOT NULL DEFAULT 0;  -- 1: a trial ended without a pain signal
ALTER TABLE ppt ADD COLUMN source TEXT NOT NULL DEFAULT 'measured';  -- 'measured', 'entered', 'points-file'
ALTER TABLE ppt ADD COLUMN note TEXT;
CREATE INDEX ppt_point_time ON ppt(point_id, measured_at);
CREATE TABLE screening (        -- a client's screening answers, dated; the newest answer per item counts
    id INTEGER PRIMARY KEY,
    client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    item TEXT NOT NULL,         -- a key of pointdose.protocols.cautions.SCREENING
    present INTEGER NOT NULL CHECK (present IN (0, 1)),
    note TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX screening_client ON screening(client_id, item, recorded_at);
CREATE TABLE application_cautions (  -- what the start decision said, and what the user acknowledged
    id INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    key TEXT NOT NULL,          -- region, screening item or PPT check
    origin TEXT NOT NULL,       -- 'location', 'screening', 'ppt', 'point'
    action TEXT NOT NULL,       -- 'confirm', 'acknowledge', 'note'
    text TEXT NOT NULL,
    max_kpa REAL, max_hold_s REAL,
    acknowledged INTEGER NOT NULL DEFAULT 0,  -- 1: acknowledged (or confirmed) before the start
    recorded_at TEXT NOT NULL
);
CREATE INDEX application_cautions_app ON application_cautions(application_id);
ALTER TABLE applications ADD COLUMN ppt_id INTEGER REFERENCES ppt(id) ON DELETE SET NULL;  -- the PPT %PPT used
"""


V6_CLINICAL = """
CREATE TABLE findings (         -- trigger-point findings at a point in a session (optionally one application)
    id INTEGER PRIMARY KEY,
    point_id INTEGER NOT NULL REFERENCES points(id) ON DELETE CASCADE,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    application_id INTEGER REFERENCES applications(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('active', 'latent', 'none')),
    taut_band INTEGER CHECK (taut_band IN (0, 1)),       -- 1 present, 0 absent, NULL not examined
    local_twitch INTEGER CHECK (local_twitch IN (0, 1)), -- local twitch response, same coding
    referred_text TEXT,         -- the referred pain pattern in words
    referred_region TEXT,       -- where it refers: a body-map 'location:side' or a body part (bodymap.PARTS)
    note TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX findings_point ON findings(point_id, session_id);
CREATE TABLE point_changes (    -- a free-text point renamed or moved: what it was before (its id, so its history, stays)
    id INTEGER PRIMARY KEY,
    point_id INTEGER NOT NULL REFERENCES points(id) ON DELETE CASCADE,
    old_location TEXT NOT NULL,
    old_side TEXT NOT NULL,
    old_label TEXT NOT NULL,
    old_view TEXT,
    old_x REAL, old_y REAL,
    changed_at TEXT NOT NULL
);
CREATE INDEX point_changes_point ON point_changes(point_id);
ALTER TABLE points ADD COLUMN reference_point_id INTEGER REFERENCES points(id) ON DELETE SET NULL;  -- comparison site
"""


V7_TRAINING_CHUNKS = """
CREATE TABLE training_sample_chunks (  -- a trial's samples in the records' chunk format (records/chunks.py)
    id INTEGER PRIMARY KEY,
    trial_uid TEXT NOT NULL REFERENCES training_trials(uid) ON DELETE CASCADE,
    segment INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    n INTEGER NOT NULL,
    t0_s REAL NOT NULL,
    t1_s REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX training_sample_chunks_trial ON training_sample_chunks(trial_uid, id);
"""


def _training_samples_to_chunks(conn: sqlite3.Connection) -> None:
    """Step 3 kept a trial's samples as one blob (``0x01`` + zlib of a NumPy .npy file with the
    columns seq, segment, t_s, raw, force_n, pressure_kpa); step 7 keeps them as the records do, in
    chunks of one segment (format 1 of records/chunks.py: seq − first, t − t0 as float32, raw,
    pressure as float32; zlib). Frozen code: it reads and writes only these columns and formats."""
    import io
    import zlib

    import numpy as np

    for uid, blob in conn.execute("SELECT uid, samples FROM training_trials WHERE samples IS NOT NULL").fetchall():
        if not blob or blob[:1] != b"\x01":
            continue  # nothing readable to move: the trial keeps its scores
        rows = np.load(io.BytesIO(zlib.decompress(blob[1:])), allow_pickle=False)
        if len(rows):
            cuts = np.flatnonzero(np.diff(rows["segment"]) != 0) + 1
            for part in np.split(rows, cuts):
                first, t0 = int(part["seq"][0]), float(part["t_s"][0])
                data = b"".join(((part["seq"] - first).astype("<i4").tobytes(), (part["t_s"] - t0).astype("<f4").tobytes(),
                                 part["raw"].astype("<i4").tobytes(), part["pressure_kpa"].astype("<f4").tobytes()))
                conn.execute("INSERT INTO training_sample_chunks (trial_uid, segment, first_seq, n, t0_s, t1_s, data) "
                             "VALUES (?,?,?,?,?,?,?)", (uid, int(part["segment"][0]), first, len(part), t0,
                                                         float(part["t_s"][-1]), bytes([1]) + zlib.compress(data, 1)))
        conn.execute("UPDATE training_trials SET samples=NULL WHERE uid=?", (uid,))


def _backfill_ppt_trials(conn: sqlite3.Connection) -> None:
    """Older PPT rows kept their single trials as JSON: their count is n."""
    import json

    for row_id, repeats in conn.execute("SELECT id, repeats FROM ppt WHERE repeats IS NOT NULL").fetchall():
        try:
            n = len(json.loads(repeats))
        except (TypeError, ValueError):
            continue
        conn.execute("UPDATE ppt SET n=? WHERE id=?", (n, row_id))


MIGRATIONS: list[Migration] = [
    Migration("1: clients, sessions, points, applications, samples, events, PPT, pain, notes", sql=V1_BASE),
    Migration("2: cached metrics per application", sql=V2_METRICS),  # metrics filled by the Store
    Migration("3: training: station, classes, students' sessions, blocks and trials", sql=V3_TRAINING),
    Migration("4: the device's tare at each application's start (recomputing applies it)", sql=V4_TARE),
    Migration("5: PPT provenance per client point, client screening, cautions acknowledged per application",
              sql=V5_PPT_SCREENING, fn=_backfill_ppt_trials),
    Migration("6: trigger-point findings per point and session, point renames/moves, a reference site per point",
              sql=V6_CLINICAL),
    Migration("7: training trials' samples in the records' chunk format", sql=V7_TRAINING_CHUNKS,
              fn=_training_samples_to_chunks),
]

LATEST = len(MIGRATIONS)

# A database older than this has applications without a cached metrics row. Migration steps run
# frozen code only (SQL, and functions in this module that read just the columns of their step);
# the metrics cache is filled by the store once the schema is the latest, with today's code on
# today's columns (pointdose.records.store.Store._migrate).
BACKFILL_METRICS_BELOW = 2


# ------------------------------------------------------------------ PostgreSQL (pointdose.records.pg)

SCHEMA_LOCK = 0x706F696E74  # pg_advisory lock key while migrating ("point")
VERSION_TABLE = "pointdose_schema"  # PostgreSQL's user_version: one row
STATIONS_TABLE = "pointdose_stations"  # every station that wrote here: its number sets its journal's id range

def ddl(sql: str) -> str:
    """A migration step's SQLite DDL for PostgreSQL: 64-bit integers and identities, doubles, bytea,
    foreign keys checked at commit (so a sync may write rows in any order within a transaction)."""
    out = re.sub(r"--[^\n]*", "", sql)  # comments: their quotes and % would confuse the placeholders
    out = re.sub(r"\bINTEGER\s+PRIMARY\s+KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", out, flags=re.I)
    out = re.sub(r"\bINTEGER\b", "BIGINT", out, flags=re.I)
    out = re.sub(r"\bREAL\b", "DOUBLE PRECISION", out, flags=re.I)
    out = re.sub(r"\bBLOB\b", "BYTEA", out, flags=re.I)
    out = re.sub(r"(\bREFERENCES\s+\w+\s*\([^)]*\)(?:\s+ON\s+(?:DELETE|UPDATE)\s+(?:CASCADE|SET\s+NULL|RESTRICT|NO\s+ACTION))*)",
                 r"\1 DEFERRABLE INITIALLY DEFERRED", out, flags=re.I)
    return out


SUPPORT_DDL = (
    f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {STATIONS_TABLE} (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
    "uid TEXT NOT NULL UNIQUE, name TEXT, first_seen TIMESTAMPTZ NOT NULL DEFAULT now(), last_seen TIMESTAMPTZ)",
    "CREATE TABLE IF NOT EXISTS pointdose_sync_map (source TEXT NOT NULL, tbl TEXT NOT NULL, src_id BIGINT NOT NULL, "
    "dst_id BIGINT NOT NULL, PRIMARY KEY (source, tbl, src_id))",
)


def is_pg(conn) -> bool:
    return getattr(conn, "dialect", "sqlite") == "postgresql"


def version(conn) -> int:
    """How many steps the database has had."""
    if is_pg(conn):
        row = conn.execute(f"SELECT version FROM {VERSION_TABLE}").fetchone()
        return int(row[0]) if row else 0
    return conn.execute("PRAGMA user_version").fetchone()[0]


def _set_version(conn, number: int) -> None:
    if is_pg(conn):
        conn.execute(f"UPDATE {VERSION_TABLE} SET version=?", (number,))
    else:
        conn.execute(f"PRAGMA user_version = {int(number)}")


def _prepare_pg(conn) -> None:
    """The server's own bookkeeping tables (version, stations, sync map), once, under the lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
        for statement in SUPPORT_DDL:
            conn.execute(statement)
        conn.execute(f"INSERT INTO {VERSION_TABLE} (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM {VERSION_TABLE})")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def migrate(conn, upto: int | None = None) -> list[str]:
    """Apply the missing steps up to ``upto`` (default: all); return the names applied."""
    pg = is_pg(conn)
    if pg:
        _prepare_pg(conn)
    target = LATEST if upto is None else upto
    done = version(conn)
    applied = []
    for number in range(done + 1, target + 1):
        step = MIGRATIONS[number - 1]
        conn.execute("BEGIN IMMEDIATE")
        try:
            if pg:  # another station may have applied it while we waited for the lock
                conn.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
                if version(conn) >= number:
                    conn.execute("COMMIT")
                    continue
            for statement in _statements(step.sql):
                conn.execute(ddl(statement) if pg else statement)
            if step.fn is not None:
                step.fn(conn)
            _set_version(conn, number)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(step.name)
    return applied


def _statements(sql: str) -> list[str]:
    """Split a script into statements (executescript would commit our transaction)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return [s for s in out if s]
