"""Training records in the one records database (``pointdose.records``): students, classes,
sessions, blocks and trials, CSV export and merging another station's export.

Students are ``clients`` rows with role ``student`` (one database, distinct roles). Every session,
block and trial has a UUID, so a class spread over several laptops merges without duplicates:
importing the same export twice, or an export that contains this station's own trials, adds
nothing the second time. The tables are the records schema's step 3
(:mod:`pointdose.records.schema`).

Each trial is written when it ends, in its own transaction, with its samples: an app killed mid
block keeps every finished trial.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from pointdose import units
from pointdose.errors import UserError
from pointdose.listeners import SAMPLE_DTYPE
from pointdose.files import open_private
from pointdose.textout import csv_cell, csv_text
from pointdose.records import chunks
from pointdose.records.store import Store, StoreError, check_code, now_iso
from pointdose.training.drill import Drill, DrillError
from pointdose.training.runner import BLOCK_KINDS, Block, TrialRecord
from pointdose.training.schedule import Schedule
from pointdose.training.scores import BlockScore, TrialScore, score_block
from pointdose.errors import read_user_file

# CSV export: one row per trial. Order matters only for people reading it; import goes by name.
CSV_COLUMNS = (
    "trial_uid", "block_uid", "session_uid", "station", "student", "class_uid", "class_name",
    "session_started_at", "block_position", "block", "quantity", "unit", "target", "band_lo", "band_hi",
    "tolerance_pct", "ramp_s", "hold_s", "release_s", "rest_s", "trials", "surface", "probe_area_cm2",
    "schedule", "schedule_json", "trial", "planned_feedback", "requested_before", "requested_after",
    "feedback_s", "kr_shown", "outcome", "peak", "error", "in_band_pct", "time_to_band_s", "overshoot",
    "hold_coverage", "notes",
)
REQUIRED_COLUMNS = ("trial_uid", "block_uid", "session_uid", "student", "session_started_at", "block_position",
                    "block", "schedule_json", "trial", "target", "band_lo", "band_hi", "quantity", "surface",
                    "ramp_s", "hold_s", "release_s", "rest_s", "trials", "tolerance_pct", "probe_area_cm2")
_UNIT = {"pressure": "kPa", "force": "N"}
FOLLOW_KIND = "follow"  # a follow attempt's block (save_follow); not one of the drills' BLOCK_KINDS


class TrainingImportError(UserError):
    pass


def write_trial_samples(conn, trial_uid: str, rows: np.ndarray) -> int:
    """A trial's samples as the records keep an application's: chunks of one segment each, in the
    records' chunk format (:mod:`pointdose.records.chunks`); returns the chunks written."""
    return Store.write_chunks(conn, "training_sample_chunks", "trial_uid", trial_uid,
                              np.asarray(rows, dtype=SAMPLE_DTYPE))


@dataclass
class ImportReport:
    students_added: list[str] = field(default_factory=list)
    classes_added: list[str] = field(default_factory=list)
    sessions_added: int = 0
    blocks_added: int = 0
    trials_added: int = 0
    trials_already_here: int = 0
    conflicts: list[str] = field(default_factory=list)  # same uid, different values: ours kept

    def describe(self) -> str:
        text = (f"{self.trials_added} trial(s) added in {self.blocks_added} block(s) of {self.sessions_added} "
                f"session(s); {self.trials_already_here} already here")
        if self.students_added:
            text += f"; new students {', '.join(self.students_added)}"
        if self.classes_added:
            text += f"; new classes {', '.join(self.classes_added)}"
        if self.conflicts:
            text += f"; {len(self.conflicts)} conflict(s), this station's values kept: " + "; ".join(self.conflicts[:3])
        return text


def _b(v) -> int | None:
    return None if v is None else int(bool(v))


def _f(v) -> float | None:
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)


class TrainingStore:
    """Training records on an open :class:`pointdose.records.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def open(cls, path=None) -> "TrainingStore":
        return cls(Store(path))

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ station
    def station(self) -> str:
        """This station's id (:meth:`pointdose.records.store.Store.station_uid`)."""
        return self.store.station_uid()

    # ------------------------------------------------------------------ people
    def add_student(self, code: str, *, name: str | None = None) -> int:
        return self.store.add_client(code, name=name, role="student")

    def student(self, code: str) -> dict:
        row = self.store.query("SELECT * FROM clients WHERE code=?", (code,))
        if not row:
            known = ", ".join(r["code"] for r in self.students()[:8])
            raise StoreError(f"no student {code!r} in {self.store.path}" +
                             (f" (students: {known})" if known else " (none yet: `pointdose class student CODE`)"))
        if row[0]["role"] != "student":
            raise StoreError(f"{code!r} is a {row[0]['role']}, not a student: training records are kept for students; "
                             "add the person as a student under another code")
        return row[0]

    def students(self, class_name: str | None = None) -> list[dict]:
        if class_name is None:
            return self.store.clients(role="student")
        cls = self.class_(class_name)
        return self.store.query("SELECT c.* FROM clients c JOIN class_members m ON m.client_id=c.id "
                                "WHERE m.class_uid=? ORDER BY c.code", (cls["uid"],))

    def add_class(self, name: str, *, uid: str | None = None) -> str:
        name = (name or "").strip()
        if not name:
            raise StoreError("a class needs a name")
        uid = uid or str(uuid.uuid4())
        try:
            with self.store.transaction("adding a class") as conn:
                conn.execute("INSERT INTO training_classes (uid, name, created_at) VALUES (?,?,?)", (uid, name, now_iso()))
        except StoreError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise StoreError(f"there is already a class named {name!r}: choose another name") from None
            raise
        return uid

    def class_(self, name: str) -> dict:
        rows = self.store.query("SELECT * FROM training_classes WHERE name=?", (name,))
        if not rows:
            known = ", ".join(r["name"] for r in self.classes())
            raise StoreError(f"no class {name!r}" + (f" (classes: {known})" if known else " (none yet: `pointdose class add NAME`)"))
        return rows[0]

    def classes(self) -> list[dict]:
        return self.store.query("SELECT * FROM training_classes ORDER BY name")

    def enrol(self, class_name: str, codes: Iterable[str]) -> None:
        cls = self.class_(class_name)
        ids = [self.student(c)["id"] for c in codes]
        with self.store.transaction("enrolling students") as conn:
            for cid in ids:
                conn.execute("INSERT OR IGNORE INTO class_members (class_uid, client_id) VALUES (?,?)", (cls["uid"], cid))

    # ------------------------------------------------------------------ recording
    def start_session(self, student_code: str, *, class_name: str | None = None, instructor: str | None = None) -> str:
        from pointdose import __version__

        student = self.student(student_code)
        class_uid = self.class_(class_name)["uid"] if class_name else None
        uid = str(uuid.uuid4())
        station = self.station()
        with self.store.transaction("starting a training session") as conn:
            conn.execute("INSERT INTO training_sessions (uid, client_id, class_uid, station, instructor, started_at, "
                         "app_version) VALUES (?,?,?,?,?,?,?)",
                         (uid, student["id"], class_uid, station, instructor, now_iso(), __version__))
        return uid

    def end_session(self, session_uid: str) -> None:
        with self.store.transaction("ending a training session") as conn:
            conn.execute("UPDATE training_sessions SET ended_at=? WHERE uid=?", (now_iso(), session_uid))

    def begin_block(self, session_uid: str, position: int, block: Block) -> str:
        d, plan = block.drill, block.plan()
        with self.store.transaction("starting a training block") as conn:
            conn.execute("INSERT INTO training_blocks (uid, session_uid, position, kind, drill, schedule, feedback_trials, "
                         "quantity, target, band_lo, band_hi, surface, started_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         (block.uid, session_uid, int(position), block.kind, json.dumps(d.to_dict(), sort_keys=True),
                          json.dumps(block.schedule.to_dict(), sort_keys=True),
                          json.dumps(list(plan.chosen)) if None not in plan.concurrent else None,
                          d.quantity, d.target, d.band[0], d.band[1], d.surface, now_iso()))
        return block.uid

    def save_trial(self, rec: TrialRecord) -> None:
        """The trial, its scores and its samples; saved again (after a request for its result), only
        the request flags change."""
        s = rec.score
        with self.store.transaction("saving a trial") as conn:
            new = conn.execute("SELECT 1 FROM training_trials WHERE uid=?", (rec.uid,)).fetchone() is None
            conn.execute(
                "INSERT INTO training_trials (uid, block_uid, number, t_start_s, planned_feedback, requested_before, "
                "requested_after, feedback_s, kr_shown, outcome, peak, error, in_band_pct, time_to_band_s, overshoot, "
                "hold_coverage, notes, n_samples) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(uid) DO UPDATE SET requested_after=excluded.requested_after, kr_shown=excluded.kr_shown",
                (rec.uid, rec.block_uid, rec.number, rec.t_start, _b(rec.planned_feedback), int(rec.requested_before),
                 int(rec.requested_after), float(rec.feedback_s), int(rec.kr_shown),
                 *(_f(getattr(s, k)) if s else None for k in ("outcome", "peak", "error", "in_band_pct",
                                                                "time_to_band_s", "overshoot", "hold_coverage")),
                 json.dumps(list(s.notes)) if s else None, len(rec.rows)))
            if new:
                write_trial_samples(conn, rec.uid, rec.rows)

    def end_block(self, block_uid: str, reason: str = "completed") -> None:
        with self.store.transaction("ending a training block") as conn:
            conn.execute("UPDATE training_blocks SET ended_at=?, end_reason=? WHERE uid=?", (now_iso(), reason, block_uid))

    # ------------------------------------------------------------------ follow an expert's curve
    def save_follow(self, session_uid: str, curve, score, rows: np.ndarray, *, probe_area_cm2: float,
                    band_pct: float | None = None, uid: str | None = None) -> str:
        """One follow attempt (pointdose.training.follow) as a block of kind ``follow`` with one trial:
        the block's drill is the expert's curve summarised (target = its mean pressure, hold = its
        duration, ``name`` = its source), the trial's ``error`` is the attempt's CE, ``in_band_pct``
        the share within ±``band_pct`` % of the expert's pressure then, ``hold_coverage`` the curve's
        coverage, ``notes`` the whole score (CE, AE, VE, E over the trace) as JSON; the samples are
        the attempt's, from the first contact. Returns the block's uid."""
        from pointdose.training.follow import FOLLOW_BAND_PCT, in_band_pct

        band_pct = FOLLOW_BAND_PCT if band_pct is None else band_pct
        t = rows["t_s"] - float(rows["t_s"][0]) if len(rows) else np.zeros(0)
        y = rows["pressure_kpa"] if len(rows) else np.zeros(0)
        drill = Drill(target=max(float(np.mean(curve.kpa)), 1e-3), quantity="pressure", tolerance_pct=band_pct,
                      ramp_s=0.1, hold_s=min(max(curve.duration_s, 0.5), 600.0), release_s=0.0, rest_s=0.0,
                      trials=1, probe_area_cm2=probe_area_cm2, name=f"follow {curve.source}")
        block_uid = uid or str(uuid.uuid4())
        summary = {"follow": curve.source, **score.to_dict()}
        inside = y[(t >= 0) & (t <= curve.duration_s)] if len(y) else y
        with self.store.transaction("saving a follow attempt") as conn:
            position = conn.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM training_blocks WHERE session_uid=?",
                                    (session_uid,)).fetchone()[0]
            conn.execute("INSERT INTO training_blocks (uid, session_uid, position, kind, drill, schedule, feedback_trials, "
                         "quantity, target, band_lo, band_hi, surface, started_at, ended_at, end_reason) "
                         "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         (block_uid, session_uid, int(position), FOLLOW_KIND, json.dumps(drill.to_dict(), sort_keys=True),
                          json.dumps(Schedule.constant().to_dict(), sort_keys=True), None, "pressure", drill.target,
                          drill.band[0], drill.band[1], drill.surface, now_iso(), now_iso(),
                          "completed" if score.coverage >= 0.9 else "incomplete"))
            trial_uid = str(uuid.uuid4())
            conn.execute("INSERT INTO training_trials (uid, block_uid, number, t_start_s, planned_feedback, feedback_s, "
                         "kr_shown, outcome, peak, error, in_band_pct, hold_coverage, notes, n_samples) "
                         "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         (trial_uid, block_uid, 1, float(rows["t_s"][0]) if len(rows) else None, 1,
                          float(curve.duration_s), 1, _f(float(np.mean(inside))) if len(inside) else None,
                          _f(float(np.max(inside))) if len(inside) else None, _f(score.constant_error),
                          _f(in_band_pct(t, y, curve, band_pct)), _f(score.coverage),
                          json.dumps([json.dumps(summary, sort_keys=True)]), len(rows)))
            write_trial_samples(conn, trial_uid, rows)
        return block_uid

    def follow_attempts(self, student: str) -> list[dict]:
        """The student's follow attempts, oldest first: when, whose curve, and the score over the trace
        (CE, |CE|, AE, VE, E in kPa, coverage), as saved."""
        out = []
        for r in self.trials(student=student):
            if r["block"] != FOLLOW_KIND:
                continue
            score = {}
            for note in json.loads(r["notes"] or "[]"):
                try:
                    found = json.loads(note)
                except (TypeError, ValueError):
                    continue
                if isinstance(found, dict) and "follow" in found:
                    score = found
            out.append({"session_uid": r["session_uid"], "session_started_at": r["session_started_at"],
                        "block_uid": r["block_uid"], "source": score.get("follow"), "in_band_pct": r["in_band_pct"],
                        "score": score})
        return out

    # ------------------------------------------------------------------ reading
    def trials(self, *, student: str | None = None, class_name: str | None = None,
               session_uid: str | None = None) -> list[dict]:
        where, params = [], []
        if student is not None:
            where.append("c.id=?")
            params.append(self.student(student)["id"])
        if class_name is not None:
            cls = self.class_(class_name)
            where.append("c.id IN (SELECT client_id FROM class_members WHERE class_uid=?)")
            params.append(cls["uid"])
        if session_uid is not None:
            where.append("s.uid=?")
            params.append(session_uid)
        sql = ("SELECT t.*, b.kind AS block, b.position AS block_position, b.drill, b.schedule, b.quantity, b.target, "
               "b.band_lo, b.band_hi, b.surface, s.uid AS session_uid, s.station, s.started_at AS session_started_at, "
               "s.class_uid, k.name AS class_name, c.code AS student "
               "FROM training_trials t JOIN training_blocks b ON t.block_uid=b.uid "
               "JOIN training_sessions s ON b.session_uid=s.uid JOIN clients c ON s.client_id=c.id "
               "LEFT JOIN training_classes k ON k.uid=s.class_uid")
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self.store.query(sql + " ORDER BY c.code, s.started_at, s.uid, b.position, t.number", params)

    def trial_samples(self, trial_uid: str) -> np.ndarray:
        """The trial's samples (SAMPLE_DTYPE), read by the records' chunk reader; force from the
        stored pressure on the drill's probe area (the default probe's for the thumb sensor, as live)."""
        rows = self.store.query("SELECT b.drill FROM training_trials t JOIN training_blocks b ON t.block_uid=b.uid "
                                "WHERE t.uid=?", (trial_uid,))
        if not rows:
            raise StoreError(f"there is no trial {trial_uid}")
        area = json.loads(rows[0]["drill"]).get("probe_area_cm2") or units.DEFAULT_PROBE_AREA_CM2
        found = self.store.query("SELECT data, n, first_seq, t0_s, segment FROM training_sample_chunks "
                                 "WHERE trial_uid=? ORDER BY id", (trial_uid,))
        return chunks.read([(r["data"], r["n"], r["first_seq"], r["t0_s"], r["segment"]) for r in found], area)

    @staticmethod
    def _score(rows: list[dict]) -> BlockScore:
        scores = [TrialScore(target=r["target"], band=(r["band_lo"], r["band_hi"]), outcome=r["outcome"], peak=r["peak"],
                             error=r["error"], abs_error=None if r["error"] is None else abs(r["error"]),
                             in_band_pct=r["in_band_pct"], time_to_band_s=r["time_to_band_s"],
                             overshoot=r["overshoot"], overshoot_pct=None, hold_coverage=r["hold_coverage"] or 0.0)
                  for r in rows]
        return score_block(scores)

    def block_scores(self, *, student: str | None = None, class_name: str | None = None) -> list[dict]:
        """One row per recorded block: student, session, kind, target and its BlockScore."""
        out: dict[str, dict] = {}
        for r in self.trials(student=student, class_name=class_name):
            if r["block"] == FOLLOW_KIND:  # scored over the trace, not as a block of trials: follow_attempts
                continue
            entry = out.setdefault(r["block_uid"], {
                "student": r["student"], "session_uid": r["session_uid"], "session_started_at": r["session_started_at"],
                "block_uid": r["block_uid"], "block": r["block"], "position": r["block_position"],
                "quantity": r["quantity"], "target": r["target"], "schedule": json.loads(r["schedule"]), "rows": []})
            entry["rows"].append(r)
        result = []
        for entry in out.values():
            entry["score"] = self._score(entry.pop("rows"))
            result.append(entry)
        return result

    def progress(self, student: str) -> list[dict]:
        """The student's blocks in time order (their sessions, then position)."""
        return sorted(self.block_scores(student=student), key=lambda e: (e["session_started_at"], e["session_uid"],
                                                                           e["position"]))

    def yoked_schedule(self, partner: str, block_uid: str | None = None) -> tuple[Schedule, int]:
        """The schedule a yoked learner replays, and the trial count it needs: the feedback the
        self-controlled ``partner`` asked for in their latest self-controlled practice block (or
        ``block_uid``) — the trials they asked on, and the kind of feedback those requests gave.
        Stored with the yoked block (schedule JSON: trials, feedback, partner block), so it replays."""
        pid = self.student(partner)["id"]
        rows = self.store.query(
            "SELECT b.uid, b.drill, b.schedule FROM training_blocks b JOIN training_sessions s ON b.session_uid=s.uid "
            "WHERE s.client_id=? AND b.kind='practice' ORDER BY s.started_at DESC, b.position DESC", (pid,))
        blocks = [r for r in rows if json.loads(r["schedule"]).get("kind") == "self"
                  and (block_uid is None or r["uid"] == block_uid)]
        if not blocks:
            where = f"no self-controlled practice block {block_uid}" if block_uid else "no self-controlled practice block yet"
            raise StoreError(f"{partner} has {where}: the yoked partner must practise with a self-controlled "
                             "schedule (--schedule self) first")
        block = blocks[0]
        partner_schedule = Schedule.from_dict(json.loads(block["schedule"]))
        trials = self.store.query("SELECT number, requested_before, requested_after FROM training_trials "
                                  "WHERE block_uid=? ORDER BY number", (block["uid"],))
        asked = [r["number"] for r in trials if r["requested_before"] or r["requested_after"]]
        n = int(json.loads(block["drill"])["trials"])
        return Schedule.yoked(asked, feedback=partner_schedule.feedback, partner=block["uid"]), n

    def class_comparison(self, class_name: str, kind: str) -> list[dict]:
        """Per student of the class: their latest block of ``kind`` (e.g. retention) and its scores."""
        if kind not in BLOCK_KINDS:
            raise StoreError(f"unknown block {kind!r}: choose one of {', '.join(BLOCK_KINDS)}")
        latest: dict[str, dict] = {}
        for e in self.block_scores(class_name=class_name):
            if e["block"] != kind:
                continue
            key = (e["session_started_at"], e["session_uid"], e["position"])
            if e["student"] not in latest or key > latest[e["student"]]["_key"]:
                latest[e["student"]] = {**e, "_key": key}
        members = [s["code"] for s in self.students(class_name)]
        out = []
        for code in sorted(set(members) | set(latest)):
            e = latest.get(code)
            if e:
                e.pop("_key")
            out.append({"student": code, **(e or {"score": None})})
        return out

    # ------------------------------------------------------------------ CSV
    def export_csv(self, path, *, student: str | None = None, class_name: str | None = None) -> int:
        rows = self.trials(student=student, class_name=class_name)
        path = Path(path)
        try:
            with open_private(path, "w", newline="", encoding="utf-8") as fh:  # 0600, like every file written
                w = csv.DictWriter(fh, CSV_COLUMNS)
                w.writeheader()
                for r in rows:
                    d = json.loads(r["drill"])
                    sch = Schedule.from_dict(json.loads(r["schedule"]))
                    w.writerow({k: csv_cell(v) for k, v in {  # formula-like text stays text
                        "trial_uid": r["uid"], "block_uid": r["block_uid"], "session_uid": r["session_uid"],
                        "station": r["station"], "student": r["student"], "class_uid": r["class_uid"] or "",
                        "class_name": r["class_name"] or "", "session_started_at": r["session_started_at"],
                        "block_position": r["block_position"], "block": r["block"], "quantity": r["quantity"],
                        "unit": _UNIT[r["quantity"]], "target": repr(r["target"]), "band_lo": repr(r["band_lo"]),
                        "band_hi": repr(r["band_hi"]), "tolerance_pct": d["tolerance_pct"], "ramp_s": d["ramp_s"],
                        "hold_s": d["hold_s"], "release_s": d["release_s"], "rest_s": d["rest_s"], "trials": d["trials"],
                        "surface": r["surface"], "probe_area_cm2": "" if d["probe_area_cm2"] is None else d["probe_area_cm2"],
                        "schedule": sch.describe(), "schedule_json": r["schedule"], "trial": r["number"],
                        **{k: "" if r[k] is None else (repr(r[k]) if isinstance(r[k], float) else r[k])
                           for k in ("planned_feedback", "requested_before", "requested_after", "feedback_s", "kr_shown",
                                     "outcome", "peak", "error", "in_band_pct", "time_to_band_s", "overshoot",
                                     "hold_coverage")},
                        "notes": r["notes"] or "",
                    }.items()})
        except OSError as exc:
            raise StoreError(f"cannot write {path} ({exc.strerror or exc}): choose a folder you may write to") from None
        return len(rows)

    def import_csv(self, path) -> ImportReport:
        """Merge another station's export; nothing is written unless the whole file is valid."""
        parsed = read_export(path)
        report = ImportReport()
        with self.store.transaction(f"importing {path}") as conn:
            for row in parsed:
                self._import_row(conn, row, report)
        return report

    def _import_row(self, conn: sqlite3.Connection, r: dict, report: ImportReport) -> None:
        code = r["student"]
        found = conn.execute("SELECT id, role FROM clients WHERE code=?", (code,)).fetchone()
        if found is None:
            try:
                check_code(code)  # a new code follows the records' rules (docs/records.md)
            except StoreError as exc:
                raise TrainingImportError(f"line {r['_line']}: {exc} (nothing was imported)") from None
            cid = conn.execute("INSERT INTO clients (code, role, created_at) VALUES (?, 'student', ?)",
                               (code, now_iso())).lastrowid
            report.students_added.append(code)
        else:
            cid, role = found
            if role != "student":
                raise TrainingImportError(f"line {r['_line']}: {code!r} is a {role} in this database, not a student: "
                                          "rename one of them before merging (nothing was imported)")
        class_uid = r["class_uid"] or None
        if class_uid:
            have = conn.execute("SELECT name FROM training_classes WHERE uid=?", (class_uid,)).fetchone()
            if have is None:
                clash = conn.execute("SELECT uid FROM training_classes WHERE name=?", (r["class_name"],)).fetchone()
                if clash:  # the same class made separately on two stations: merge into ours by name
                    class_uid = clash[0]
                else:
                    conn.execute("INSERT INTO training_classes (uid, name, created_at) VALUES (?,?,?)",
                                 (class_uid, r["class_name"] or class_uid[:8], now_iso()))
                    report.classes_added.append(r["class_name"])
            conn.execute("INSERT OR IGNORE INTO class_members (class_uid, client_id) VALUES (?,?)", (class_uid, cid))
        s = conn.execute("SELECT client_id FROM training_sessions WHERE uid=?", (r["session_uid"],)).fetchone()
        if s is None:
            conn.execute("INSERT INTO training_sessions (uid, client_id, class_uid, station, started_at) VALUES (?,?,?,?,?)",
                         (r["session_uid"], cid, class_uid, r["station"] or None, r["session_started_at"]))
            report.sessions_added += 1
        elif s[0] != cid:
            raise TrainingImportError(f"line {r['_line']}: session {r['session_uid']} belongs to another student here: "
                                      "the file does not match this database's records (nothing was imported)")
        b = conn.execute("SELECT session_uid FROM training_blocks WHERE uid=?", (r["block_uid"],)).fetchone()
        if b is None:
            d = r["_drill"]
            conn.execute("INSERT INTO training_blocks (uid, session_uid, position, kind, drill, schedule, quantity, target, "
                         "band_lo, band_hi, surface, started_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                         (r["block_uid"], r["session_uid"], r["block_position"], r["block"],
                          json.dumps(d.to_dict(), sort_keys=True), r["schedule_json"], d.quantity, r["target"],
                          r["band_lo"], r["band_hi"], d.surface, r["session_started_at"]))
            report.blocks_added += 1
        t = conn.execute("SELECT outcome, number, block_uid FROM training_trials WHERE uid=?", (r["trial_uid"],)).fetchone()
        if t is not None:
            report.trials_already_here += 1
            same = (t[1] == r["trial"] and t[2] == r["block_uid"] and
                    ((t[0] is None and r["outcome"] is None) or
                     (t[0] is not None and r["outcome"] is not None and abs(t[0] - r["outcome"]) < 1e-9)))
            if not same:
                report.conflicts.append(f"trial {r['trial_uid']} (line {r['_line']})")
            return
        conn.execute("INSERT INTO training_trials (uid, block_uid, number, planned_feedback, requested_before, "
                     "requested_after, feedback_s, kr_shown, outcome, peak, error, in_band_pct, time_to_band_s, "
                     "overshoot, hold_coverage, notes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     (r["trial_uid"], r["block_uid"], r["trial"], r["planned_feedback"], r["requested_before"] or 0,
                      r["requested_after"] or 0, r["feedback_s"] or 0.0, r["kr_shown"] or 0, r["outcome"], r["peak"],
                      r["error"], r["in_band_pct"], r["time_to_band_s"], r["overshoot"], r["hold_coverage"],
                      r["notes"] or None))
        report.trials_added += 1


_FLOATS = ("target", "band_lo", "band_hi", "tolerance_pct", "ramp_s", "hold_s", "release_s", "rest_s", "feedback_s",
           "outcome", "peak", "error", "in_band_pct", "time_to_band_s", "overshoot", "hold_coverage", "probe_area_cm2")
_INTS = ("block_position", "trial", "trials", "planned_feedback", "requested_before", "requested_after", "kr_shown")
_UIDS = ("trial_uid", "block_uid", "session_uid")


def read_export(path) -> list[dict]:
    """Rows of a training export, checked; TrainingImportError naming the line and field otherwise."""
    path = Path(path)
    text = read_user_file(path, hint="give the CSV written by `pointdose train export`", error=TrainingImportError)
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if not header:
        raise TrainingImportError(f"{path} is empty: export from the other station with `pointdose train export`")
    if missing:
        raise TrainingImportError(f"{path} is not a pointdose training export: column(s) {', '.join(missing)} missing "
                                  "(export with `pointdose train export` on the other station)")
    out = []
    for line, raw in enumerate(reader, start=2):
        r: dict[str, Any] = {k: csv_text((v or "").strip()) for k, v in raw.items() if k is not None}
        r["_line"] = line

        def bad(field_: str, why: str):
            return TrainingImportError(f"{path}, line {line}, column {field_}: {why} (nothing was imported)")

        for k in _UIDS:
            try:
                r[k] = str(uuid.UUID(r[k]))
            except ValueError:
                raise bad(k, f"{r[k]!r} is not an id written by pointdose") from None
        if r.get("class_uid"):
            try:
                r["class_uid"] = str(uuid.UUID(r["class_uid"]))
            except ValueError:
                raise bad("class_uid", f"{r['class_uid']!r} is not an id written by pointdose") from None
        for k in _FLOATS:
            v = r.get(k, "")
            if v == "":
                r[k] = None
                continue
            try:
                r[k] = float(v)
            except ValueError:
                raise bad(k, f"{v!r} is not a number") from None
            if not math.isfinite(r[k]):
                raise bad(k, f"{v!r} is not a finite number")
        for k in _INTS:
            v = r.get(k, "")
            if v == "":
                r[k] = None
                continue
            try:
                r[k] = int(v)
            except ValueError:
                raise bad(k, f"{v!r} is not a whole number") from None
        if not r["student"]:
            raise bad("student", "empty: every trial needs the student's code")
        if r["block"] not in BLOCK_KINDS + (FOLLOW_KIND,):
            raise bad("block", f"{r['block']!r} is not one of {', '.join(BLOCK_KINDS + (FOLLOW_KIND,))}")
        if r["trial"] is None or r["block_position"] is None:
            raise bad("trial" if r["trial"] is None else "block_position", "empty")
        for k in ("target", "band_lo", "band_hi"):
            if r[k] is None:
                raise bad(k, "empty")
        try:
            Schedule.from_dict(json.loads(r["schedule_json"]))
        except (ValueError, TypeError) as exc:
            raise bad("schedule_json", f"not a schedule this pointdose knows ({exc})") from None
        try:
            r["_drill"] = Drill(target=r["target"], quantity=r["quantity"], tolerance_pct=r["tolerance_pct"],
                                ramp_s=r["ramp_s"], hold_s=r["hold_s"], release_s=r["release_s"], rest_s=r["rest_s"],
                                trials=r["trials"], surface=r["surface"], probe_area_cm2=r["probe_area_cm2"])
        except (DrillError, TypeError) as exc:
            raise bad("drill", str(exc)) from None
        out.append(r)
    if not out:
        raise TrainingImportError(f"{path} holds no trials: nothing to import")
    return out
