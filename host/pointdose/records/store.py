"""The records database: one SQLite file in the user data directory (or wherever ``--db`` says),
or a PostgreSQL server shared by many stations (``--db postgresql://user@host/db``: the dialect
layer and the station's journal are in :mod:`pointdose.records.pg`).

    >>> store = Store(tmp / "records.sqlite")                    # doctest: +SKIP
    >>> cid = store.add_client("C-0042", name=None)              # doctest: +SKIP
    >>> sid = store.start_session(cid)                           # doctest: +SKIP

Guarantees
    * Created readable by its owner only (0600; SQLite gives its -wal/-shm files the same mode).
    * WAL journal, ``synchronous=NORMAL``: every commit survives the app being killed; a power cut
      may lose the last commits, never the file's consistency.
    * Schema steps from :mod:`pointdose.records.schema`; a file from a newer pointdose is refused
      before anything is written to it; an older one is copied to ``<name>.before-vN`` and then
      migrated.
    * Every SQLite failure reaches the user as a :class:`StoreError` naming the file and what to do
      (locked, damaged, disk full, not writable).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
from zlib import error as zlib_error

from pointdose import metrics as metrics_mod
from pointdose import units
from pointdose.errors import UserError
from pointdose.files import private_dir
from pointdose.listeners import SAMPLE_DTYPE
from pointdose.records import calib, chunks, pg, schema

DB_FILENAME = "records.sqlite"
ENV_DB = "POINTDOSE_DB"
BUSY_TIMEOUT_S = 5.0
MIN_FREE_BYTES = 1024 * 1024  # a recording needs room: about 1.5 min at 1 kHz (11.5 B per sample)

HOLD_PHASE_KINDS = ("phase", "phase_start")  # data {"phase": "hold", …}; the next phase event ends it
PHASE_END_KINDS = ("phase_end",)
CYCLE_KINDS = ("cycle", "cycle_done", "cycle_completed")


class StoreError(UserError):
    """The records database cannot be used as asked; the message says why and what to do."""


class NewerDatabaseError(StoreError):
    pass


CODE_MAX_LEN = 32
CODE_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,%d}" % (CODE_MAX_LEN - 1))
CODE_HELP = ("1–32 characters: letters A–Z a–z, digits, '.', '_' or '-', starting with a letter or digit "
             "(a pseudonym such as C-0042)")


def shown(code, max_len: int = 40) -> str:
    """A code (or any user text) fit for one line of a message: quoted, no control characters, cut."""
    from pointdose.textout import clean

    text = clean(code)
    return repr(text if len(text) <= max_len else text[:max_len] + "…")


def check_code(code) -> str:
    """``code`` without surrounding blanks, or StoreError saying the rule (docs/records.md).

    Every way a code enters the records goes through here: ``clients add``, ``session --client``,
    ``clients import`` (and ``--as``), the app's Add button, the training import."""
    if not isinstance(code, str) or not code.strip():
        raise StoreError(f"a client needs a code: {CODE_HELP}")
    code = code.strip()
    if not CODE_RULE.fullmatch(code):
        raise StoreError(f"client code {shown(code)} is not allowed: use {CODE_HELP}")
    return code


def default_db_path() -> Path | str:
    """``$POINTDOSE_DB`` (a file, or a ``postgresql://`` URL kept as text), else ``records.sqlite``
    in the user data directory."""
    env = os.environ.get(ENV_DB)
    if env:
        return _location(env, f"${ENV_DB}")
    import platformdirs

    return Path(platformdirs.user_data_dir("pointdose", appauthor=False)) / DB_FILENAME


def db_location(db=None) -> Path | str:
    """Where ``--db`` (or, without it, ``$POINTDOSE_DB`` / the default) points: a Path, or a URL."""
    if db is None or db == "":
        return default_db_path()
    return _location(db, "--db")


def _location(db, given: str) -> Path | str:
    """A records server's URL (checked, so a typo is said at once), else a file's path."""
    text = str(db)
    if pg.is_url(text):
        problem = pg.url_problem(text)
    elif "://" in text or re.match(r"postgres(?:ql)?:", text, re.I):
        problem = "it names no records server this program opens"
    else:
        return Path(db).expanduser()
    if problem:
        raise StoreError(f"{given} {shown(pg.redact(text), 120)} is not usable ({problem}): give a records file's "
                         "path, or a server as postgresql://user@host[:port]/database")
    return text


def db_exists(location) -> bool:
    """A records file that exists, or a server (which may hold records: opening it tells)."""
    return pg.is_url(str(location)) or Path(location).is_file()


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _parse_iso(text: str | None) -> datetime | None:
    try:
        out = datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None
    return out if out.tzinfo is not None else out.replace(tzinfo=timezone.utc)


def explain(exc: BaseException, path: Path | str, doing: str) -> StoreError:
    """A user-facing error for an SQLite/OS failure while ``doing`` something with ``path``."""
    text = str(exc)
    low = text.lower()
    if pg.is_url(str(path)) and (isinstance(exc, pg.ServerUnreachable) or low.startswith("server:")):
        text = re.sub(r"^(cannot reach the records server|server):\s*", "", text)  # said once, by this message
        msg = (f"cannot reach the records server {path} while {doing} ({text}): check that it runs and that this "
               "station may connect (docs/records.md, \"Many stations\"), or use a local file with --db FILE")
    elif "locked" in low or "busy" in low:
        msg = (f"the records database {path} is locked by another program (another pointdose?) while {doing}: "
               "close the other program and try again")
    elif "full" in low or getattr(exc, "errno", None) == 28 or ("disk i/o error" in low and _disk_full(path)):
        msg = (f"the disk holding {path} is full while {doing}: free some space and try again "
               "(nothing already saved is lost)")
    elif "not a database" in low or "malformed" in low or "corrupt" in low or "file is encrypted" in low:
        msg = (f"{path} is damaged or is not a pointdose records database ({text}): restore a backup "
               "(`pointdose backup` makes them) or move the file aside to start a new one; it was not changed")
    elif "readonly" in low or "read-only" in low or "permission" in low or "unable to open" in low:
        msg = (f"cannot write the records database {path} while {doing} ({text}): the file or its folder is "
               "read-only (permissions, a read-only disk, or an immutable file: see lsattr); make it writable, "
               "or choose another file with --db")
    else:
        msg = f"records database {path}: {text} while {doing}"
    err = StoreError(msg)
    err.__cause__ = exc
    return err


def _disk_full(path) -> bool:
    """SQLite says "disk I/O error" when it cannot create its -shm file on a full disk."""
    try:
        return shutil.disk_usage(Path(path).parent).free < MIN_FREE_BYTES
    except OSError:
        return False


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _loads(text):
    return None if text in (None, "") else json.loads(text)


# --------------------------------------------------------------------------- metrics of one application


def load_samples(conn: sqlite3.Connection, app_id: int, probe_area_cm2: float) -> np.ndarray:
    rows = conn.execute("SELECT data, n, first_seq, t0_s, segment FROM sample_chunks WHERE application_id=? "
                        "ORDER BY t0_s, id", (app_id,)).fetchall()  # ids written offline sort apart
    return chunks.read(rows, probe_area_cm2)


def holds_and_cycles(events: list[dict], t_end: float | None) -> tuple[list[tuple[float, float]], int | None]:
    """Hold windows and completed cycles from the engine's events (docs/records.md, "Events")."""
    holds, start, cycles, seen_cycle = [], None, 0, False
    for ev in events:
        kind, data = ev["kind"], ev.get("data") or {}
        phase = str(data.get("phase", data.get("name", ""))).lower()
        if kind in HOLD_PHASE_KINDS or kind in PHASE_END_KINDS:
            if start is not None:
                holds.append((start, ev["t_s"]))
                start = None
            if kind in HOLD_PHASE_KINDS and "hold" in phase:
                start = ev["t_s"]
        elif kind in CYCLE_KINDS:
            cycles += 1
            seen_cycle = True
        elif kind == "stop" and start is not None:
            holds.append((start, ev["t_s"]))
            start = None
    if start is not None and t_end is not None:
        holds.append((start, t_end))
    return holds, (cycles if seen_cycle else None)


def session_ppt(conn: sqlite3.Connection, point_id: int, session_id: int) -> dict[str, list[dict]]:
    """The PPTs at a point in a session, as {"before": [...], "after": [...]} rows (kpa, probe_area_cm2,
    ramp_kpa_s, calibration_id; id, application_id and repeats, the single trials or None).

    A PPT tagged with a stage keeps it. An untagged one (a PPT protocol run as its own application)
    is "before" when its application came before the first treatment at the point in that session,
    "after" when it came after the last one; with no treatment there it counts as "before".
    Treatments are the applications at the point that recorded no PPT.
    """
    rows = conn.execute("SELECT id, application_id, stage, kpa, probe_area_cm2, ramp_kpa_s, calibration_id, repeats "
                        "FROM ppt WHERE point_id=? AND session_id=? ORDER BY id", (point_id, session_id)).fetchall()
    # the session's applications in the order they ran (ids alone are not: a station that recorded
    # while the records server was away numbers from its own range, docs/records.md "Many stations")
    order, treat = {}, []
    for app, at_point, measured in conn.execute(
            "SELECT a.id, a.point_id=?, EXISTS (SELECT 1 FROM ppt WHERE ppt.application_id=a.id) FROM applications a "
            "WHERE a.session_id=? ORDER BY a.started_at, a.t_start_s, a.id", (point_id, session_id)):
        order[app] = len(order)
        if at_point and not measured:
            treat.append(order[app])
    out: dict[str, list[dict]] = {"before": [], "after": []}
    for ppt_id, app_id, stage, kpa, area, ramp, cal, repeats in rows:
        if stage not in ("before", "after"):
            rank = order.get(app_id)
            if not treat or rank is None or rank < treat[0]:
                stage = "before"
            elif rank > treat[-1]:
                stage = "after"
            else:
                continue  # between two treatments: neither before nor after the session's work
        out[stage].append({"kpa": kpa, "probe_area_cm2": area, "ramp_kpa_s": ramp, "calibration_id": cal,
                           "id": ppt_id, "application_id": app_id, "repeats": _loads(repeats)})
    return out


def application_metrics(conn: sqlite3.Connection, app_id: int, samples: np.ndarray | None = None) -> metrics_mod.Metrics:
    """pointdose.metrics for one stored application (its own threshold, band, PPT and events)."""
    app = conn.execute("SELECT probe_area_cm2, contact_kpa, band_low_kpa, band_high_kpa, t_end_s, point_id, "
                       "session_id FROM applications WHERE id=?", (app_id,)).fetchone()
    if app is None:
        raise StoreError(f"there is no application {app_id} in the records")
    area, contact, lo, hi, t_end, point_id, session_id = app
    if samples is None:
        samples = load_samples(conn, app_id, area)
    events = [{"t_s": r[0], "kind": r[1], "data": _loads(r[2])}
              for r in conn.execute("SELECT t_s, kind, data FROM events WHERE application_id=? ORDER BY t_s, id",
                                    (app_id,))]
    if t_end is None and len(samples):
        t_end = float(samples["t_s"][-1])
    holds, cycles = holds_and_cycles(events, t_end)
    before = session_ppt(conn, point_id, session_id)["before"]
    ppt = sum(r["kpa"] for r in before) / len(before) if before else None
    return metrics_mod.compute(samples["t_s"], samples["pressure_kpa"], contact_kpa=contact,
                               force_n=samples["force_n"], seq=samples["seq"], segment=samples["segment"],
                               band_kpa=(lo, hi) if lo is not None and hi is not None else None,
                               ppt_kpa=ppt, holds=holds, cycles_completed=cycles)


def compute_and_store_metrics(conn: sqlite3.Connection, app_id: int, samples: np.ndarray | None = None) -> metrics_mod.Metrics:
    m = application_metrics(conn, app_id, samples)
    conn.execute("INSERT OR REPLACE INTO application_metrics (application_id, json, contact_s, dose_kpa_s, peak_kpa, "
                 "computed_at) VALUES (?,?,?,?,?,?)",
                 (app_id, json.dumps(m.to_dict()), m.contact_s, m.dose_kpa_s, m.peak_kpa, now_iso()))
    return m


# --------------------------------------------------------------------------- the store


class Store:
    """One open records database. Thread-safe: calls are serialised on one connection."""

    def __init__(self, path: str | Path | None = None, *, readonly: bool = False, create: bool = True,
                 timeout_s: float = BUSY_TIMEOUT_S, journal: str | Path | None = None) -> None:
        """``path``: a file, a ``postgresql://`` URL, or None (``$POINTDOSE_DB``, else the default
        file). ``journal``: where a writable store on a server keeps its journal (default
        ``$POINTDOSE_JOURNAL``, else one per server in the user data folder)."""
        location = db_location(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        self.migrated: list[str] = []
        self.backup_before_migration: Path | None = None
        self.backend = "postgresql" if isinstance(location, str) else "sqlite"
        if self.backend == "postgresql":
            self.url = location
            self.path = pg.redact(location)  # what messages show: never the password
            self._open_server(location, journal, readonly, timeout_s)
            return
        self.path = location
        existed = self.path.exists()
        if existed and not self.path.is_file():
            raise StoreError(f"{self.path} is not a file: give the path of a records database with --db")
        if not existed:
            if readonly or not create:
                raise StoreError(f"there is no records database at {self.path} yet: record a session first, "
                                 "or give the right file with --db")
            self._create_file()
        else:
            self._check_version_readonly(timeout_s)
        try:
            if readonly:
                self.conn = self._connect_readonly(timeout_s)
            else:
                self.conn = sqlite3.connect(str(self.path), timeout=timeout_s, isolation_level=None,
                                            check_same_thread=False)
            self.conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{self.path}: SQLite would not use its WAL journal here ({mode}); "
                                     "keep the records on a local disk")
                self.conn.execute("PRAGMA synchronous = NORMAL")
                self._migrate()
        except sqlite3.Error as exc:
            with contextlib.suppress(Exception):
                self.conn.close()
            raise explain(exc, self.path, "opening it") from exc

    # ------------------------------------------------------------------ opening

    def _open_server(self, url: str, journal, readonly: bool, timeout_s: float) -> None:
        import importlib.util

        if importlib.util.find_spec("psycopg") is None:
            raise StoreError(f"{self.path} is a PostgreSQL server, and psycopg (its driver) is not installed: "
                             "pip install 'pointdose[postgresql]', or use a local file with --db FILE")
        if readonly:
            journal = None
        elif journal is None:
            journal = pg.default_journal(url)
        try:
            self.conn = pg.PgConnection(url, journal=journal, timeout_s=min(timeout_s, pg.CONNECT_TIMEOUT_S))
        except sqlite3.Error as exc:
            raise explain(exc, self.path, "opening it") from exc
        if self.conn.offline:
            return  # the journal is as new as this pointdose (it was migrated when opened)
        try:
            found = schema.version(self.conn) if self._server_has_schema() else 0
            if found > schema.LATEST:
                raise NewerDatabaseError(
                    f"the records server {self.path} was set up by a newer pointdose (records schema {found}; this "
                    f"version knows up to {schema.LATEST}): update pointdose on this station. Nothing was changed.")
            if readonly:
                if found < schema.LATEST:
                    raise StoreError(f"the records server {self.path} has {'no' if not found else 'older'} records "
                                     "tables: open it once from a station that records (not read-only)")
            else:
                self.migrated = schema.migrate(self.conn)
            self.conn.after_migrate()
        except sqlite3.Error as exc:
            with contextlib.suppress(Exception):
                self.conn.close()
            raise explain(exc, self.path, "opening it") from exc
        except BaseException:
            with contextlib.suppress(Exception):
                self.conn.close()
            raise

    def _server_has_schema(self) -> bool:
        rows = self.conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
                                 "AND table_name = ?", (schema.VERSION_TABLE,)).fetchall()
        return bool(rows)

    @property
    def online(self) -> bool:
        """False while a server store records to its journal (the server is away)."""
        return self.backend == "sqlite" or not self.conn.offline

    def station_uid(self) -> str:
        """This station's id: on a records server the station's own (a UUID kept in its journal),
        else the database's (a UUID made on first use: a file is its station)."""
        if self.backend == "postgresql" and self.conn.journal is not None:
            with self._lock:
                return self.conn.journal.station_uid()
        with self.transaction("reading the station id") as conn:
            row = conn.execute("SELECT value FROM training_meta WHERE key='station_uid'").fetchone()
            if row:
                return row[0]
            uid = str(uuid.uuid4())
            conn.execute("INSERT INTO training_meta (key, value) VALUES ('station_uid', ?)", (uid,))
            return uid

    def pending(self) -> int:
        """Rows recorded to the journal that the server has not had yet (0 for a file)."""
        if self.backend == "sqlite":
            return 0
        with self._lock:
            return self.conn.pending()

    def sync(self) -> int:
        """Send the journal's pending rows to the server now; returns how many are still pending
        (0: everything is on the server). A file has nothing to send."""
        if self.backend == "sqlite":
            return 0
        with self.guard("sending the journal to the server"):
            self.conn.try_sync()
            return self.conn.pending()

    def _connect_readonly(self, timeout_s: float) -> sqlite3.Connection:
        """A read-only connection; on a read-only disk (or folder) too.

        SQLite reads a WAL database through a ``-shm`` file it must be able to create; where it
        cannot, and no ``-wal`` file is there (so nobody is writing: a writer needs both), the file
        is opened as immutable, which needs neither."""
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        wal = self.path.with_name(self.path.name + "-wal")

        def connect(extra: str = "") -> sqlite3.Connection:
            conn = sqlite3.connect(uri + extra, uri=True, timeout=timeout_s, isolation_level=None,
                                   check_same_thread=False)
            try:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # opens the file for real
            except BaseException:
                conn.close()
                raise
            return conn

        try:
            conn = connect()
        except sqlite3.OperationalError as exc:
            if "unable to open" not in str(exc).lower() or wal.exists():
                raise
            conn = connect("&immutable=1")
        if self._version_on_open == 0:  # an empty file, or one never written: nothing to read
            conn.close()
            raise StoreError(f"{self.path} holds no records yet (an empty database): record a session first, "
                             "or give the right file with --db")
        return conn

    def _create_file(self) -> None:
        folder = self.path.parent
        try:
            private_dir(folder)
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
            os.chmod(self.path, 0o600)  # whatever the umask
        except FileExistsError:
            pass
        except OSError as exc:
            raise explain(exc, self.path, "creating it") from exc

    def _check_version_readonly(self, timeout_s: float) -> None:
        """Read the schema version without writing anything; refuse newer and foreign files.

        The file's header is read directly first (SQLite keeps ``user_version`` at offset 60), so a
        newer or damaged file is refused before SQLite could create its -wal/-shm beside it.
        """
        try:
            with open(self.path, "rb") as fh:
                header = fh.read(100)
        except OSError as exc:
            raise explain(exc, self.path, "opening it") from exc
        if not header:
            self._version_on_open = 0  # an empty file: a database not yet written
            return
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            raise StoreError(f"{self.path} is damaged or is not a pointdose records database (no SQLite header): "
                             "restore a backup (`pointdose backup` makes them) or move the file aside to start a "
                             "new one; it was not changed")
        header_version = int.from_bytes(header[60:64], "big")
        if header_version > schema.LATEST:
            raise NewerDatabaseError(
                f"{self.path} was written by a newer pointdose (records schema {header_version}; this version knows "
                f"up to {schema.LATEST}): update pointdose to open it, or choose another file with --db. "
                "Nothing was changed.")
        wal = self.path.with_name(self.path.name + "-wal")
        # without a WAL file nothing can change under us: immutable=1 creates no -shm
        uri = f"{self.path.resolve().as_uri()}?mode=ro" + ("" if wal.exists() else "&immutable=1")
        try:
            probe = sqlite3.connect(uri, uri=True, timeout=timeout_s)
        except sqlite3.Error as exc:
            raise explain(exc, self.path, "opening it") from exc
        try:
            version = probe.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in probe.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.Error as exc:
            raise explain(exc, self.path, "reading its version") from exc
        finally:
            probe.close()
        if version > schema.LATEST:
            raise NewerDatabaseError(
                f"{self.path} was written by a newer pointdose (records schema {version}; this version knows up to "
                f"{schema.LATEST}): update pointdose to open it, or choose another file with --db. Nothing was changed.")
        if version == 0 and tables:
            raise StoreError(f"{self.path} is an SQLite file but not a pointdose records database "
                             f"(it has tables {', '.join(sorted(tables)[:5])}): choose another file with --db; "
                             "it was not changed")
        self._version_on_open = version

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if 0 < version < schema.LATEST:
            # keep the file as it was before the first step a user's data goes through
            copy = self.path.with_name(f"{self.path.name}.before-v{schema.LATEST}")
            if not copy.exists():
                self.backup(copy)
            self.backup_before_migration = copy
        self.migrated = schema.migrate(self.conn)
        if 0 < version < schema.BACKFILL_METRICS_BELOW:
            with self.transaction("computing the metrics of the applications recorded before version 2") as conn:
                for (app_id,) in conn.execute("SELECT id FROM applications WHERE id NOT IN "
                                              "(SELECT application_id FROM application_metrics) ORDER BY id").fetchall():
                    compute_and_store_metrics(conn, app_id)

    # ------------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def guard(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection, with the lock held and SQLite errors turned into StoreError."""
        with self._lock:
            try:
                yield self.conn
            except sqlite3.Error as exc:
                raise explain(exc, self.path, doing) from exc

    @contextlib.contextmanager
    def transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self.guard(doing) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                if not self.readonly and self.backend == "sqlite":
                    self.conn.execute("PRAGMA optimize")
            self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_writable(self, doing: str = "starting a recording") -> None:
        """StoreError now, before anything is recorded, when the file refuses writes (read-only or
        immutable file, read-only disk, a lock held past SQLite's wait). Writes nothing."""
        if self.readonly:
            raise StoreError(f"the records database {self.path} was opened read-only: it cannot record")
        with self.transaction(doing) as conn:
            conn.execute("UPDATE clients SET code=code WHERE 0")  # a write statement that changes no row
        if self.backend != "sqlite":
            return  # the server's disk is the server's; the journal's folder was written when it opened
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError:
            return
        if free < MIN_FREE_BYTES:
            raise StoreError(f"the disk holding {self.path} is full ({free // 1024} KB free) while {doing}: "
                             "free some space and try again")

    def schema_version(self) -> int:
        with self.guard("reading its version") as conn:
            return schema.version(conn)

    def integrity_check(self) -> str:
        """"ok", or what is wrong. SQLite: its own check. A server: every foreign key has its row
        and every sample chunk decodes to its stated length (PostgreSQL checks its pages itself)."""
        with self.guard("checking it") as conn:
            if self.backend == "sqlite":
                return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
            problems = []
            fks = conn.execute(
                "SELECT tc.table_name, kcu.column_name, ccu.table_name, ccu.column_name "
                "FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu "
                "ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema "
                "JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name "
                "AND ccu.table_schema = tc.table_schema WHERE tc.constraint_type = 'FOREIGN KEY' "
                "AND tc.table_schema = current_schema()").fetchall()
            for table, col, ref, ref_col in fks:
                n = conn.execute(f"SELECT COUNT(*) FROM {table} t WHERE t.{col} IS NOT NULL AND NOT EXISTS "
                                 f"(SELECT 1 FROM {ref} r WHERE r.{ref_col} = t.{col})").fetchone()[0]
                if n:
                    problems.append(f"{n} rows of {table}.{col} without their {ref}")
            for chunk_id, blob, n in conn.execute("SELECT id, data, n FROM sample_chunks").fetchall():
                try:
                    chunks.decode(bytes(blob), n, 0, 0.0, 0, 1.0)
                except (ValueError, zlib_error) as exc:
                    problems.append(f"sample chunk {chunk_id}: {exc}")
            return "; ".join(problems) or "ok"

    def query(self, sql: str, params=()) -> list[dict]:
        with self.guard("reading it") as conn:
            cur = conn.execute(sql, params)
            if cur.description is None:  # a statement that returns no rows
                return []
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    # ------------------------------------------------------------------ clients

    def add_client(self, code: str, *, name: str | None = None, role: str = "client", notes: str | None = None) -> int:
        code = check_code(code)
        if role not in schema.ROLES:
            raise StoreError(f"unknown role {role!r}: choose one of {', '.join(schema.ROLES)}")
        try:
            with self.transaction("adding a client") as conn:
                return conn.execute("INSERT INTO clients (code, name, role, created_at, notes) VALUES (?,?,?,?,?)",
                                    (code, name, role, now_iso(), notes)).lastrowid
        except StoreError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise StoreError(f"there is already a client with code {shown(code)}: choose another code") from None
            raise

    def client(self, code_or_id: str | int) -> dict:
        col = "id" if isinstance(code_or_id, int) else "code"
        rows = self.query(f"SELECT * FROM clients WHERE {col}=?", (code_or_id,))
        if not rows:
            known = ", ".join(shown(r["code"])[1:-1] for r in self.query("SELECT code FROM clients ORDER BY code LIMIT 8"))
            raise StoreError(f"no client {shown(code_or_id)} in {self.path}" + (f" (clients: {known})" if known else
                                                                            " (no clients yet: `pointdose clients add CODE`)"))
        return rows[0]

    def clients(self, role: str | None = None) -> list[dict]:
        if role:
            return self.query("SELECT * FROM clients WHERE role=? ORDER BY code", (role,))
        return self.query("SELECT * FROM clients ORDER BY code")

    def erase_client(self, code_or_id: str | int) -> dict:
        """Delete a client and everything recorded about them; overwrite the freed space."""
        client = self.client(code_or_id)
        counts = {}
        with self.guard("erasing a client") as conn:
            if self.backend != "sqlite" and not self.online:
                raise StoreError("the records server is away: a client can be erased only on the server; "
                                 "try again when it is back")
            for table, where in (("sessions", "client_id=?"), ("points", "client_id=?"),
                                 ("applications", "session_id IN (SELECT id FROM sessions WHERE client_id=?)"),
                                 ("sample_chunks", "application_id IN (SELECT a.id FROM applications a JOIN sessions s "
                                                   "ON a.session_id=s.id WHERE s.client_id=?)")):
                counts[table] = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", (client["id"],)).fetchone()[0]
            if self.backend != "sqlite":
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DELETE FROM clients WHERE id=?", (client["id"],))  # cascades
                conn.execute("COMMIT")
                conn.forget_client(client["id"])  # and the station's journal copy, overwritten
                return counts
            conn.execute("PRAGMA secure_delete = ON")
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DELETE FROM clients WHERE id=?", (client["id"],))  # cascades
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            finally:
                conn.execute("PRAGMA secure_delete = OFF")
            conn.execute("VACUUM")  # no free page keeps the old content
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # nor the WAL
        return counts

    # ------------------------------------------------------------------ sessions and points

    def start_session(self, client_id: int, *, operator: str | None = None, started_at: str | None = None) -> int:
        from pointdose import __version__

        with self.transaction("starting a session") as conn:
            return conn.execute("INSERT INTO sessions (client_id, started_at, operator, app_version) VALUES (?,?,?,?)",
                                (client_id, started_at or now_iso(), operator, __version__)).lastrowid

    def open_visit(self, client_id: int, window_s: float, *, now: datetime | None = None) -> int | None:
        """The client's visit still going on: their newest session, not ended, whose last application
        ended (or which began, without any) less than ``window_s`` ago; None when there is none.
        Applications of one sitting then form one session, so PPT and pain before/after pair
        (docs/records.md, "Visits")."""
        rows = self.query("SELECT id, started_at, ended_at FROM sessions WHERE client_id=? "
                          "ORDER BY started_at DESC, id DESC LIMIT 1", (client_id,))
        if not rows or rows[0]["ended_at"]:
            return None
        last = _parse_iso(rows[0]["started_at"])
        for a in self.query("SELECT started_at, t_start_s, t_end_s FROM applications WHERE session_id=?",
                            (rows[0]["id"],)):
            began = _parse_iso(a["started_at"])
            if began is None:
                continue
            ran = (a["t_end_s"] - a["t_start_s"]) if a["t_end_s"] is not None else 0.0
            ended = began.timestamp() + max(0.0, ran)
            if last is None or ended > last.timestamp():
                last = datetime.fromtimestamp(ended, timezone.utc)
        if last is None:
            return None
        age = ((now or datetime.now(timezone.utc)) - last).total_seconds()
        return rows[0]["id"] if -60.0 <= age < window_s else None  # a clock a minute off still counts

    def end_session(self, session_id: int) -> None:
        with self.transaction("ending a session") as conn:
            conn.execute("UPDATE sessions SET ended_at=? WHERE id=?", (now_iso(), session_id))

    def sessions(self, client_id: int) -> list[dict]:
        return self.query("SELECT * FROM sessions WHERE client_id=? ORDER BY started_at, id", (client_id,))

    def session(self, session_id: int) -> dict:
        rows = self.query("SELECT * FROM sessions WHERE id=?", (session_id,))
        if not rows:
            raise StoreError(f"there is no session {session_id} in {self.path}: `pointdose history --client CODE` lists them")
        return rows[0]

    def point(self, client_id: int, location: str, side: str, *, label: str | None = None, view: str | None = None,
              x: float | None = None, y: float | None = None, landmarks: dict | None = None) -> int:
        """The id of this client's point at ``location``/``side`` (created on first use)."""
        from pointdose import bodymap

        if side not in ("L", "R", "mid"):
            raise StoreError(f"side must be L, R or mid, not {side!r}")
        if location == "unplaced":  # named by a session runner, not yet put on the body map
            if not label:
                raise StoreError("an unplaced point needs a name")
        elif location == "custom":
            if not label:
                raise StoreError("a point placed by hand needs a name: type one")
            if x is None or y is None or view not in ("front", "back"):
                raise StoreError("a point placed by hand needs its place on the figure (view, x, y)")
        else:
            loc = bodymap.location(location)  # raises for an unknown id
            label = label or loc.label
        find = ("SELECT id FROM points WHERE client_id=? AND location=? AND side=? AND label=?",
                (client_id, location, side, label))
        try:
            with self.transaction("saving a point") as conn:
                row = conn.execute(*find).fetchone()
                if row:
                    return row[0]
                return conn.execute("INSERT INTO points (client_id, location, side, label, view, x, y, landmarks, "
                                    "created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                                    (client_id, location, side, label, view, x, y, _json(landmarks),
                                     now_iso())).lastrowid
        except StoreError as exc:  # another station made the same point meanwhile (a server): it is this one
            rows = self.query(*find) if isinstance(exc.__cause__, sqlite3.IntegrityError) else []
            if rows:
                return rows[0]["id"]
            raise

    def points(self, client_id: int) -> list[dict]:
        rows = self.query("SELECT * FROM points WHERE client_id=? ORDER BY id", (client_id,))
        for r in rows:
            r["landmarks"] = _loads(r["landmarks"])
        return rows

    def point_row(self, point_id: int) -> dict:
        rows = self.query("SELECT * FROM points WHERE id=?", (point_id,))
        if not rows:
            raise StoreError(f"there is no point {point_id} in the records")
        rows[0]["landmarks"] = _loads(rows[0]["landmarks"])
        return rows[0]

    # ------------------------------------------------------------------ calibrations

    def save_calibration(self, cal: dict | None, conn: sqlite3.Connection | None = None) -> str | None:
        if not cal:
            return None
        cid = calib.calibration_id(cal)
        sql = "INSERT OR IGNORE INTO calibrations (id, json) VALUES (?, ?)"
        if conn is not None:
            conn.execute(sql, (cid, _json(cal)))
        else:
            with self.transaction("saving a calibration") as c:
                c.execute(sql, (cid, _json(cal)))
        return cid

    def calibration(self, cal_id: str | None) -> dict | None:
        if cal_id is None:
            return None
        rows = self.query("SELECT json FROM calibrations WHERE id=?", (cal_id,))
        return _loads(rows[0]["json"]) if rows else None

    # ------------------------------------------------------------------ applications

    def begin_application(self, session_id: int, point_id: int, *, t_start_s: float, probe_area_cm2: float,
                          protocol: str | None = None, params: dict | None = None, probe: str | None = None,
                          calibration: dict | None = None, device_uid: str | None = None,
                          contact_kpa: float = metrics_mod.DEFAULT_CONTACT_KPA,
                          band_kpa: tuple[float, float] | None = None, started_at: str | None = None,
                          tare_raw: float | None = None) -> int:
        """``calibration``: the model as recorded (its id is the record's, or a hash of the model's
        parameters); ``tare_raw``: the device's tare at the start (raw counts, 0/None = none), kept
        apart so a re-tare never makes a "new" calibration and recomputing can apply it."""
        if not (probe_area_cm2 and probe_area_cm2 > 0):
            raise StoreError(f"probe area must be a positive number of cm², got {probe_area_cm2!r}")
        with self.transaction("starting an application") as conn:
            cal_id = self.save_calibration(calibration, conn)
            return conn.execute(
                "INSERT INTO applications (session_id, point_id, started_at, t_start_s, protocol, protocol_params, probe, "
                "probe_area_cm2, calibration_id, device_uid, contact_kpa, band_low_kpa, band_high_kpa, tare_raw) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (session_id, point_id, started_at or now_iso(), float(t_start_s), protocol, _json(params), probe,
                 float(probe_area_cm2), cal_id, device_uid, float(contact_kpa),
                 band_kpa[0] if band_kpa else None, band_kpa[1] if band_kpa else None,
                 None if tare_raw is None else float(tare_raw))).lastrowid

    @staticmethod
    def write_samples(conn: sqlite3.Connection, app_id: int, rows: np.ndarray) -> int:
        """Insert rows as chunks (inside the caller's transaction); returns chunks written."""
        return Store.write_chunks(conn, "sample_chunks", "application_id", app_id, rows)

    @staticmethod
    def write_chunks(conn, table: str, owner_col: str, owner, rows: np.ndarray) -> int:
        """Insert ``rows`` as chunks of one segment each (:mod:`pointdose.records.chunks`) into a chunk
        table (``sample_chunks`` under an application's id, ``training_sample_chunks`` under a trial's
        uid), inside the caller's transaction; returns the chunks written."""
        written = 0
        for part in chunks.split_segments(rows):
            first_seq, t0, t1, blob = chunks.encode(part)
            conn.execute(f"INSERT INTO {table} ({owner_col}, segment, first_seq, n, t0_s, t1_s, data) "
                         "VALUES (?,?,?,?,?,?,?)", (owner, int(part["segment"][0]), first_seq, len(part), t0, t1, blob))
            written += 1
        return written

    @staticmethod
    def write_event(conn: sqlite3.Connection, app_id: int, t_s: float, kind: str, data: dict | None) -> None:
        conn.execute("INSERT INTO events (application_id, t_s, kind, data) VALUES (?,?,?,?)",
                     (app_id, float(t_s), str(kind), _json(data)))

    @staticmethod
    def write_end(conn: sqlite3.Connection, app_id: int, t_end_s: float, reason: str, summary: dict | None) -> None:
        """The application's end (inside the caller's transaction, with its last samples)."""
        conn.execute("UPDATE applications SET t_end_s=?, end_reason=?, summary=? WHERE id=?",
                     (float(t_end_s), str(reason), _json(summary), app_id))

    @staticmethod
    def write_band(conn: sqlite3.Connection, app_id: int, low_kpa: float, high_kpa: float) -> None:
        """The application's target band, unless it already has one (the first hold's band is the
        application's: a %PPT or N target is only known in kPa once running)."""
        conn.execute("UPDATE applications SET band_low_kpa=?, band_high_kpa=? WHERE id=? AND "
                     "band_low_kpa IS NULL AND band_high_kpa IS NULL", (float(low_kpa), float(high_kpa), app_id))

    def set_application_ppt(self, app_id: int, ppt_id: int, conn: sqlite3.Connection | None = None) -> None:
        """The PPT row a %PPT target of the application was computed from."""
        sql, params = "UPDATE applications SET ppt_id=? WHERE id=?", (int(ppt_id), app_id)
        if conn is not None:
            conn.execute(sql, params)
        else:
            with self.transaction("saving the application's PPT") as c:
                c.execute(sql, params)

    def end_application(self, app_id: int, t_end_s: float, reason: str, summary: dict | None = None) -> metrics_mod.Metrics:
        with self.transaction("ending an application") as conn:
            self.write_end(conn, app_id, t_end_s, reason, summary)
            return compute_and_store_metrics(conn, app_id)

    def store_metrics(self, app_id: int) -> metrics_mod.Metrics:
        """Compute the application's metrics from its stored samples and keep them (the cache)."""
        with self.transaction("computing the application's metrics") as conn:
            return compute_and_store_metrics(conn, app_id)

    def application(self, app_id: int) -> dict:
        rows = self.query("SELECT a.*, p.label AS point_label, p.location, p.side, s.client_id, s.started_at AS session_started "
                          "FROM applications a JOIN points p ON a.point_id=p.id JOIN sessions s ON a.session_id=s.id "
                          "WHERE a.id=?", (app_id,))
        if not rows:
            raise StoreError(f"there is no application {app_id} in the records")
        row = rows[0]
        row["protocol_params"] = _loads(row["protocol_params"])
        row["summary"] = _loads(row["summary"])
        return row

    def applications(self, *, session_id: int | None = None, point_id: int | None = None,
                     client_id: int | None = None) -> list[dict]:
        where, params = [], []
        for col, val in (("a.session_id", session_id), ("a.point_id", point_id), ("s.client_id", client_id)):
            if val is not None:
                where.append(f"{col}=?")
                params.append(val)
        sql = ("SELECT a.*, p.label AS point_label, p.location, p.side, s.client_id, s.started_at AS session_started, "
               "m.json AS metrics_json, (SELECT COALESCE(SUM(n),0) FROM sample_chunks c WHERE c.application_id=a.id) "
               "AS n_samples FROM applications a JOIN points p ON a.point_id=p.id JOIN sessions s ON a.session_id=s.id "
               "LEFT JOIN application_metrics m ON m.application_id=a.id")
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.query(sql + " ORDER BY s.started_at, a.t_start_s, a.id", params)
        for r in rows:
            r["protocol_params"] = _loads(r["protocol_params"])
            r["summary"] = _loads(r["summary"])
            r["metrics"] = _loads(r.pop("metrics_json"))
        return rows

    def samples(self, app_id: int) -> np.ndarray:
        area = self.application(app_id)["probe_area_cm2"]
        with self.guard("reading samples") as conn:
            return load_samples(conn, app_id, area)

    def events(self, app_id: int) -> list[dict]:
        rows = self.query("SELECT t_s, kind, data FROM events WHERE application_id=? ORDER BY t_s, id", (app_id,))
        for r in rows:
            r["data"] = _loads(r["data"])
        return rows

    def metrics(self, app_id: int, *, refresh: bool = False) -> metrics_mod.Metrics | dict:
        """The application's metrics: computed now from its samples (``refresh``) or the cached dict."""
        with self.guard("computing metrics") as conn:
            if refresh:
                return application_metrics(conn, app_id)
            row = conn.execute("SELECT json FROM application_metrics WHERE application_id=?", (app_id,)).fetchone()
            if row:
                return json.loads(row[0])
            return application_metrics(conn, app_id).to_dict()

    # ------------------------------------------------------------------ PPT, pain, notes

    def add_ppt(self, point_id: int, session_id: int, kpa: float, *, probe_area_cm2: float, ramp_kpa_s: float | None,
                stage: str | None = None, application_id: int | None = None, probe: str | None = None,
                calibration: dict | None = None, repeats: list[float] | None = None,
                conn: sqlite3.Connection | None = None, protocol: str | None = None, sd_kpa: float | None = None,
                n: int | None = None, planned: int | None = None, measured_rate_kpa_s: float | None = None,
                censored: bool = False, source: str = "measured", note: str | None = None,
                measured_at: str | None = None) -> int:
        if stage not in (None, "before", "after"):
            raise StoreError(f"a PPT is taken 'before' or 'after' an application, not {stage!r}")
        if not (kpa > 0) or kpa == float("inf"):
            raise StoreError(f"a PPT must be a positive pressure in kPa, got {kpa!r}")
        if not (probe_area_cm2 and 0 < probe_area_cm2 < float("inf")):
            raise StoreError(f"a PPT needs the probe area it was measured with (cm² > 0), got {probe_area_cm2!r}")
        if n is None and repeats is not None:
            n = len(repeats)

        def insert(c):
            cal_id = self.save_calibration(calibration, c)
            return c.execute("INSERT INTO ppt (point_id, session_id, application_id, stage, kpa, probe, probe_area_cm2, "
                             "ramp_kpa_s, calibration_id, repeats, measured_at, protocol, sd_kpa, n, planned, "
                             "measured_rate_kpa_s, censored, source, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                             (point_id, session_id, application_id, stage, float(kpa), probe, float(probe_area_cm2),
                              ramp_kpa_s, cal_id, _json(repeats), measured_at or now_iso(), protocol, sd_kpa, n, planned,
                              measured_rate_kpa_s, 1 if censored else 0, source, note)).lastrowid
        if conn is not None:
            return insert(conn)
        with self.transaction("saving a PPT") as c:
            return insert(c)

    def add_pain(self, session_id: int, value: int, stage: str, *, point_id: int | None = None,
                 application_id: int | None = None, t_s: float | None = None,
                 conn: sqlite3.Connection | None = None) -> int:
        if stage not in ("before", "during", "after"):
            raise StoreError(f"a pain rating is 'before', 'during' or 'after', not {stage!r}")
        if int(value) != value or not 0 <= int(value) <= 10:
            raise StoreError(f"a pain rating is a whole number from 0 to 10, got {value!r}")
        sql = ("INSERT INTO pain (session_id, point_id, application_id, stage, value, t_s, rated_at) "
               "VALUES (?,?,?,?,?,?,?)")
        params = (session_id, point_id, application_id, stage, int(value), t_s, now_iso())
        if conn is not None:
            return conn.execute(sql, params).lastrowid
        with self.transaction("saving a pain rating") as c:
            return c.execute(sql, params).lastrowid

    def add_note(self, client_id: int, text: str, *, session_id: int | None = None, point_id: int | None = None,
                 application_id: int | None = None) -> int:
        if not text or not text.strip():
            raise StoreError("a note needs some text")
        with self.transaction("saving a note") as conn:
            return conn.execute("INSERT INTO notes (client_id, session_id, point_id, application_id, text, written_at) "
                                "VALUES (?,?,?,?,?,?)",
                                (client_id, session_id, point_id, application_id, text, now_iso())).lastrowid

    def session_point_totals(self, session_id: int) -> tuple[dict[int, float], dict[int, float]]:
        """Per point id treated in the session, from the cached metrics: its dose (kPa·s) and its
        time under pressure (contact, s)."""
        doses: dict[int, float] = {}
        contact: dict[int, float] = {}
        for row in self.query("SELECT a.point_id, COALESCE(m.dose_kpa_s, 0) AS dose, COALESCE(m.contact_s, 0) "
                              "AS contact FROM applications a LEFT JOIN application_metrics m "
                              "ON m.application_id=a.id WHERE a.session_id=?", (session_id,)):
            doses[row["point_id"]] = doses.get(row["point_id"], 0.0) + row["dose"]
            contact[row["point_id"]] = contact.get(row["point_id"], 0.0) + row["contact"]
        return doses, contact

    def session_ppt(self, point_id: int, session_id: int) -> dict[str, list[dict]]:
        with self.guard("reading PPTs") as conn:
            return session_ppt(conn, point_id, session_id)

    # ------------------------------------------------------------------ a client's own PPTs, screening, cautions

    def free_point(self, client_id: int, name: str) -> int | None:
        """The client's free-text point called ``name`` (side parsed as the listener does): by its
        current name (a placed one first), else by a name it had before a rename (the newest such
        change). None: no such point. The rule a recording of that name is filed by."""
        from pointdose import bodymap

        label, side = bodymap.split_side(name or "")
        if not label:
            return None
        rows = self.query("SELECT id FROM points WHERE client_id=? AND location IN ('unplaced', 'custom') AND label=? "
                          "AND side=? ORDER BY location='custom' DESC, id", (client_id, label, side))
        if rows:
            return rows[0]["id"]
        rows = self.query("SELECT c.point_id FROM point_changes c JOIN points p ON c.point_id=p.id WHERE p.client_id=? "
                          "AND c.old_label=? AND c.old_side=? ORDER BY c.id DESC LIMIT 1", (client_id, label, side))
        return rows[0]["point_id"] if rows else None

    def find_point(self, client_id: int, name: str) -> int | None:
        """This client's point called ``name`` (``location:side``, a body-map id, or the label of an
        unplaced/custom point: the recording listener's rule), without creating it; None when none."""
        name = (name or "").strip()
        if not name:
            return None
        location, _, side = name.partition(":")
        from pointdose import bodymap

        try:
            bodymap.location(location)
            rows = self.query("SELECT id FROM points WHERE client_id=? AND location=? AND side=? ORDER BY id",
                              (client_id, location, side or "mid"))
        except ValueError:  # free text: the point a recording of this name goes to (placed, moved or renamed
            found = self.free_point(client_id, name)  # since), else the name as typed (older rows)
            if found is not None:
                return found
            rows = self.query("SELECT id FROM points WHERE client_id=? AND location IN ('unplaced', 'custom') AND "
                              "label=? ORDER BY id", (client_id, name))
        return rows[0]["id"] if rows else None

    def client_ppt(self, point_id: int, probe_area_cm2: float | None = None) -> dict | None:
        """The newest usable PPT at this client point (all trials done, none censored): the newest with
        ``probe_area_cm2`` when one was measured with it, else the newest with any probe (so the
        caller can say it needs measuring again with this probe). None: never measured here."""
        rows = self.query("SELECT p.*, pt.client_id, c.code AS client_code FROM ppt p JOIN points pt ON p.point_id=pt.id "
                          "JOIN clients c ON pt.client_id=c.id WHERE p.point_id=? AND p.censored=0 AND "
                          "(p.planned IS NULL OR p.n IS NULL OR p.n >= p.planned) ORDER BY p.measured_at DESC, p.id DESC",
                          (point_id,))
        if not rows:
            return None
        if probe_area_cm2 is not None:
            same = [r for r in rows if abs(r["probe_area_cm2"] - probe_area_cm2) < 1e-6]
            if same:
                return same[0]
        return rows[0]

    def add_screening(self, client_id: int, answers: dict[str, bool], note: str | None = None) -> None:
        """Record screening answers for a client (``{"anticoagulants": True, "pregnancy": False}``),
        dated now; older answers stay as history."""
        from pointdose.protocols.cautions import canonical, screening_keys

        if not answers:
            raise StoreError("a screening needs at least one answer: --set ITEM, --clear ITEM or --none")
        screening_keys(answers)  # one line naming the valid items for a wrong one
        norm = {canonical(k): bool(v) for k, v in answers.items()}
        stamp = now_iso()
        with self.transaction("saving a screening") as conn:
            for key, present in norm.items():
                conn.execute("INSERT INTO screening (client_id, item, present, note, recorded_at) VALUES (?,?,?,?,?)",
                             (client_id, key, 1 if present else 0, note, stamp))

    def screening(self, client_id: int) -> dict:
        """``{"active": [keys present], "answers": {key: row}, "screened_at": newest date or None}``;
        ``active`` is None when the client was never screened."""
        rows = self.query("SELECT item, present, note, recorded_at FROM screening WHERE client_id=? "
                          "ORDER BY recorded_at, id", (client_id,))
        answers = {r["item"]: r for r in rows}  # the newest answer per item wins
        if not answers:
            return {"active": None, "answers": {}, "screened_at": None}
        return {"active": sorted(k for k, r in answers.items() if r["present"]), "answers": answers,
                "screened_at": max(r["recorded_at"] for r in answers.values())}

    def add_application_cautions(self, app_id: int, record: dict, conn: sqlite3.Connection | None = None) -> None:
        """Keep the start decision with the application (pointdose.protocols.cautions.Decision.record)."""
        stamp = now_iso()

        def insert(c):
            for f in record.get("findings", []):
                ack = (f["action"] == "acknowledge" and record.get("acknowledged")) or \
                      (f["action"] == "confirm" and record.get("confirmed"))
                c.execute("INSERT INTO application_cautions (application_id, key, origin, action, text, max_kpa, "
                          "max_hold_s, acknowledged, recorded_at) VALUES (?,?,?,?,?,?,?,?,?)",
                          (app_id, f["key"], f["origin"], f["action"], f["text"], f.get("max_kpa"),
                           f.get("max_hold_s"), 1 if ack else 0, stamp))
        if conn is not None:
            insert(conn)
        else:
            with self.transaction("saving the cautions of an application") as c:
                insert(c)

    def application_cautions(self, app_id: int) -> list[dict]:
        return self.query("SELECT * FROM application_cautions WHERE application_id=? ORDER BY id", (app_id,))

    # ------------------------------------------------------------------ recalibration

    def recompute(self, app_id: int, raw_to_n=None, *, calibration: dict | None = None,
                  save: bool = False) -> metrics_mod.Metrics:
        """Metrics of ``app_id`` with force recomputed from the stored raw counts.

        ``raw_to_n``: a ``raw → N`` function used as it is; or a calibration dict (or None with
        ``calibration``; or neither: the application's own stored calibration), applied with the
        device's tare stored for the application (``force = model(raw − (tare − zero_raw))``,
        docs/calibration.md). With ``save``, the stored pressures, the application's calibration
        (required) and its cached metrics are replaced in one transaction, and a ``recalibrated``
        event names the calibration it had before.
        """
        app = self.application(app_id)
        if isinstance(raw_to_n, dict):
            calibration = calibration or raw_to_n
            raw_to_n = None
        if raw_to_n is None:
            cal = calibration if calibration is not None else self.calibration(app["calibration_id"])
            if not cal:
                raise StoreError(f"application {app_id} has no calibration on record: give one to recompute it")
            try:
                raw_to_n = calib.raw_to_n(cal, tare=app.get("tare_raw"))
            except ValueError as exc:
                raise StoreError(f"application {app_id} cannot be recomputed: {exc}") from None
        if save and not calibration:
            raise StoreError("to save a recomputed application, give the calibration it was recomputed with")
        area = app["probe_area_cm2"]
        rows = self.samples(app_id)
        rows["force_n"] = np.asarray(raw_to_n(rows["raw"]), dtype=np.float64)
        rows["pressure_kpa"] = units.pressure_kpa(rows["force_n"], area)
        if not save:
            with self.guard("recomputing") as conn:
                return application_metrics(conn, app_id, rows)
        with self.transaction("saving a recomputed application") as conn:
            cal_id = self.save_calibration(calibration, conn)
            chunk_rows = conn.execute("SELECT id, n FROM sample_chunks WHERE application_id=? ORDER BY t0_s, id",
                                      (app_id,)).fetchall()
            start = 0
            for chunk_id, n in chunk_rows:
                part = rows[start:start + n]
                start += n
                first_seq, t0, t1, blob = chunks.encode(part)
                conn.execute("UPDATE sample_chunks SET data=? WHERE id=?", (blob, chunk_id))
            self.write_event(conn, app_id, float(app["t_end_s"] or app["t_start_s"]), "recalibrated",
                             {"from": app["calibration_id"], "to": cal_id})
            conn.execute("UPDATE applications SET calibration_id=? WHERE id=?", (cal_id, app_id))
            return compute_and_store_metrics(conn, app_id, rows)

    # ------------------------------------------------------------------ backup

    def backup(self, dest: str | Path, progress=None) -> Path:
        """A consistent copy of the database at ``dest`` (owner-only), made while it stays in use."""
        if self.backend != "sqlite":
            raise StoreError(f"the records are on the server {self.path}: back them up there, with "
                             "`pg_dump -Fc DBNAME > records.dump` (docs/records.md, \"Many stations\")")
        dest = Path(dest).expanduser()
        if dest.resolve() == self.path.resolve():
            raise StoreError("the backup must go to another file than the database itself")
        if dest.exists():
            raise StoreError(f"{dest} already exists: choose a new file name for the backup")
        try:
            private_dir(dest.parent)
            fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
            target = sqlite3.connect(str(dest))
        except OSError as exc:
            raise explain(exc, dest, "making a backup") from exc
        try:
            with self.guard("making a backup") as conn:
                conn.backup(target, pages=256,
                            progress=(lambda status, remaining, total: progress(total - remaining, total))
                            if progress else None)
            check = target.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise StoreError(f"the backup {dest} failed its integrity check ({check}): try again on another disk")
        except (sqlite3.Error, StoreError) as exc:
            target.close()
            dest.unlink(missing_ok=True)
            if isinstance(exc, StoreError):
                raise
            raise explain(exc, dest, "making a backup") from exc
        target.close()
        return dest
