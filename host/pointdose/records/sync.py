"""Merge a station's SQLite records file into a PostgreSQL server (``pointdose records sync --from``).

The file's ids are its own (1, 2, 3 … on every station), so each row gets a server id and the
pair is kept in ``pointdose_sync_map`` under the file's station id (``training_meta``'s
``station_uid``, made on the first sync). Syncing the same file again — after more recording on
it, or after a sync cut short — updates the rows already sent and adds the new ones: no
duplicates, no gaps. A row equal to one already on the server by a unique key (a client's code, a
client's point, a class's name) is that row: the file's sessions of client C-0042 join the
server's C-0042. Everything happens in one server transaction (foreign keys are checked at its
commit), so a failed sync leaves the server as it was.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from pointdose.records.pg import existing_row, on_conflict, unique_keys
from pointdose.records.store import Store, StoreError

SKIP_TABLES = ("training_meta",)  # a station's own identity stays with it


@dataclass
class MergeReport:
    source: str
    station: str
    added: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    matched: dict[str, int] = field(default_factory=dict)  # rows that were already on the server by a unique key

    def summary(self) -> str:
        def fmt(counts):
            return ", ".join(f"{n} {t}" for t, n in counts.items() if n) or "nothing"
        return (f"{self.source}: added {fmt(self.added)}; updated {fmt(self.updated)}"
                + (f"; joined existing {fmt(self.matched)}" if any(self.matched.values()) else ""))


def merge_file(source: str | Path, store: Store, progress=None) -> MergeReport:
    """Send every row of the SQLite records file ``source`` to the server ``store``."""
    if store.backend != "postgresql":
        raise StoreError("records sync --from FILE merges a station's file into a server: give the server with "
                         "--db postgresql://user@host/db (or POINTDOSE_DB)")
    if not store.online:
        raise StoreError(f"the records server {store.path} is away: sync the file when it is back")
    source = Path(source).expanduser()
    if not source.is_file():
        raise StoreError(f"there is no records file at {source}: give the station's records.sqlite with --from")
    with Store(source, create=False) as src:  # migrated to this version first (an older file is kept aside)
        station = src.station_uid()  # the file's own id, made on its first sync
        report = MergeReport(str(source), station)
        with store.guard("merging a station's file"):
            server = store.conn.server
            try:
                with server.transaction():
                    _merge(src.conn, server, station, report, progress)
            except Exception as exc:  # noqa: BLE001 — psycopg's errors, as one line
                if isinstance(exc, StoreError):
                    raise
                raise StoreError(f"merging {source} into {store.path} failed ({str(exc).strip().splitlines()[0]}); "
                                 "the server was left as it was") from exc
    return report


def _tables(src: sqlite3.Connection) -> list[str]:
    return [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                                      "AND name NOT LIKE 'journal_%' ORDER BY rowid")
            if r[0] not in SKIP_TABLES]


def _merge(src: sqlite3.Connection, server, station: str, report: MergeReport, progress) -> None:
    tables = _tables(src)
    order = {t: i for i, t in enumerate(tables)}
    info = {}
    for t in tables:
        cols = src.execute(f"PRAGMA table_info({t})").fetchall()
        pk = [r[1] for r in sorted((r for r in cols if r[5]), key=lambda r: r[5])]
        fks = {r[3]: (r[2], r[4] or "id") for r in src.execute(f"PRAGMA foreign_key_list({t})")}
        info[t] = ([r[1] for r in cols], pk, fks)
    int_id = {t for t, (cols, pk, _) in info.items()
              if pk == ["id"] and str(src.execute(f"SELECT type FROM pragma_table_info('{t}') WHERE name='id'")
                                      .fetchone()[0]).upper() == "INTEGER"}
    id_map: dict[str, dict] = {t: {} for t in tables}
    for tbl, src_id, dst_id in server.execute("SELECT tbl, src_id, dst_id FROM pointdose_sync_map WHERE source=%s",
                                              (station,)):
        if tbl in id_map:
            id_map[tbl][src_id] = dst_id
    uniques = unique_keys(server)
    deferred: list[tuple[str, object, str, str, object]] = []  # (table, dst key, column, ref table, src value)

    def mapped(table, col, value, ref, dst_key_later):
        if value is None or ref not in id_map:
            return value
        if ref in int_id or ref == "training_classes":
            if value in id_map[ref]:
                return id_map[ref][value]
            if order.get(ref, -1) >= order[table]:  # a reference forward (or to its own table): set after
                dst_key_later.append((col, ref, value))
                return None
            if ref == "training_classes":
                return value
            raise StoreError(f"{table}.{col} = {value} refers to a {ref} row the file does not have: "
                             "check the file (`pointdose backup` checks integrity) before syncing it")
        return value

    for table in tables:
        cols, pk, fks = info[table]
        report.added[table] = report.updated[table] = report.matched[table] = 0
        rows = src.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {', '.join(pk) or 'rowid'}").fetchall()
        for row in rows:
            values = dict(zip(cols, row))
            later: list = []
            for col, (ref, _ref_col) in fks.items():
                values[col] = mapped(table, col, values[col], ref, later)
            if table in int_id:
                src_id = values.pop("id")
                dst = id_map[table].get(src_id)
                if dst is not None:
                    _update(server, table, values, "id", dst)
                    report.updated[table] += 1
                else:
                    dst = existing_row(server, table, values, uniques.get(table, []))
                    if dst is not None:
                        report.matched[table] += 1
                    else:
                        names = list(values)
                        dst = server.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES "
                                             f"({', '.join(['%s'] * len(names))}) RETURNING id",
                                             [values[c] for c in names]).fetchone()[0]
                        report.added[table] += 1
                    id_map[table][src_id] = dst
                    server.execute("INSERT INTO pointdose_sync_map (source, tbl, src_id, dst_id) VALUES (%s,%s,%s,%s)",
                                   (station, table, src_id, dst))
                key_col, key = "id", dst
            elif table == "training_classes":
                existing = server.execute("SELECT uid FROM training_classes WHERE uid=%s OR name=%s "
                                          "ORDER BY uid=%s DESC", (values["uid"], values["name"], values["uid"])).fetchone()
                id_map[table][values["uid"]] = existing[0] if existing else values["uid"]
                if existing:
                    report.matched[table] += 1
                else:
                    _upsert(server, table, values, pk)
                    report.added[table] += 1
                continue
            else:
                added = _upsert(server, table, values, pk)
                report.added[table] += added
                report.updated[table] += 1 - added
                key_col, key = (pk[0], values[pk[0]]) if len(pk) == 1 else (None, None)
            for col, ref, value in later:
                deferred.append((table, key_col, key, col, ref, value))
        if progress:
            progress(table, len(rows))
    for table, key_col, key, col, ref, value in deferred:
        target = id_map[ref].get(value)
        if key_col is not None and target is not None:
            server.execute(f"UPDATE {table} SET {col}=%s WHERE {key_col}=%s", (target, key))


def _update(server, table: str, values: dict, key_col: str, key) -> None:
    names = list(values)
    server.execute(f"UPDATE {table} SET {', '.join(f'{c}=%s' for c in names)} WHERE {key_col}=%s",
                   [values[c] for c in names] + [key])


def _upsert(server, table: str, values: dict, pk: list[str]) -> int:
    """Insert or update by the primary key; 1 when the row was new."""
    names = list(values)
    row = server.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
                         + on_conflict(pk, names) + " RETURNING (xmax = 0)",
                         [values[c] for c in names]).fetchone()
    return 1 if row and row[0] else 0
