"""Per-client export (JSON with everything, CSV summaries and samples) and import back.

``export_client`` writes a folder ``<out>/<code>/``:

    <code>.json          the client, points, sessions, applications (protocol, probe, calibration,
                         events, metrics, samples as columns), PPT, pain ratings, notes
    points.csv           one row per application: the point, duration, contact, dose, band, PPT before/after
    samples/app-<id>.csv seq, segment, t_s, raw, force_n, pressure_kpa — readable by `pointdose analyze`

Floats are written with Python's shortest round-trip repr, so an import gives back the same numbers.
The real name is left out unless asked for (``include_name``): a code is what travels.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

import numpy as np

from pointdose.errors import UserError, read_user_file
from pointdose.files import inside, open_private, private_dir, safe_name, write_private
from pointdose.listeners import SAMPLE_DTYPE
from pointdose.records import schema
from pointdose.records.guided import guided
from pointdose.records.store import Store, StoreError, check_code, compute_and_store_metrics, shown
from pointdose.textout import csv_cell, json_text

EXPORT_FORMAT = "pointdose-records-export"
EXPORT_VERSION = 1
SAMPLE_COLUMNS = ("seq", "segment", "t_s", "raw", "force_n", "pressure_kpa")
SUMMARY_COLUMNS = ("session_id", "session_started", "application_id", "point_id", "point", "location", "side",
                   "protocol", "started_at", "end_reason", "probe_area_cm2", "calibration_id", "contact_kpa",
                   "duration_s", "contact_s", "dose_kpa_s", "dose_n_s", "mean_contact_kpa", "peak_kpa",
                   "band_low_kpa", "band_high_kpa", "in_band_s", "in_band_pct", "above_ppt_s", "gap_s", "gaps",
                   "cycles_completed", "ppt_before_kpa", "ppt_after_kpa", "pain_before", "pain_after",
                   "target_kpa", "bands", "guided_in_band_s", "cues", "signals", "pain_during",
                   "trp_kind", "trp_finding", "reference_point")


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="sample", unit_scale=True, disable=not enabled, leave=False)


def _ppt_for(store: Store, point_id: int, session_id: int, stage: str) -> float | None:
    rows = store.session_ppt(point_id, session_id)[stage]
    return sum(r["kpa"] for r in rows) / len(rows) if rows else None


def _pain_for(store: Store, app_id: int, stage: str) -> int | None:
    row = store.query("SELECT value FROM pain WHERE application_id=? AND stage=? ORDER BY id DESC LIMIT 1",
                      (app_id, stage))
    return row[0]["value"] if row else None


def summary_row(store: Store, app: dict) -> dict:
    """One application as a flat row of SUMMARY_COLUMNS (metrics from the cache or computed now)."""
    m = app.get("metrics") or store.metrics(app["id"])
    g = guided(store, app)
    return {
        "session_id": app["session_id"], "session_started": app["session_started"], "application_id": app["id"],
        "point_id": app["point_id"], "point": app["point_label"], "location": app["location"], "side": app["side"],
        "protocol": app["protocol"], "started_at": app["started_at"], "end_reason": app["end_reason"] or "interrupted",
        "probe_area_cm2": app["probe_area_cm2"], "calibration_id": app["calibration_id"],
        "contact_kpa": m["contact_kpa"], "duration_s": m["duration_s"], "contact_s": m["contact_s"],
        "dose_kpa_s": m["dose_kpa_s"], "dose_n_s": m["dose_n_s"], "mean_contact_kpa": m["mean_contact_kpa"],
        "peak_kpa": m["peak_kpa"], "band_low_kpa": app["band_low_kpa"], "band_high_kpa": app["band_high_kpa"],
        "in_band_s": m["in_band_s"], "in_band_pct": m["in_band_pct"], "above_ppt_s": m["above_ppt_s"],
        "gap_s": m["gap_s"], "gaps": len(m["gaps"]), "cycles_completed": m["cycles_completed"],
        "ppt_before_kpa": _ppt_for(store, app["point_id"], app["session_id"], "before"),
        "ppt_after_kpa": _ppt_for(store, app["point_id"], app["session_id"], "after"),
        "pain_before": _pain_for(store, app["id"], "before"), "pain_after": _pain_for(store, app["id"], "after"),
        # what it was guided to (records/guided.py): every hold's band, the engine's time in band, cues
        "target_kpa": g.target_kpa, "bands": g.band_text(), "guided_in_band_s": g.time_in_band_s,
        "cues": g.cues, "signals": g.signals, "pain_during": " ".join(str(v) for v in g.pain.get("during", [])) or None,
        **_clinical_cells(store, app),
    }


def _clinical_cells(store: Store, app: dict) -> dict:
    """The point's findings in the application's session and its reference site (records/clinical.py)."""
    from pointdose.records import clinical

    f = clinical.latest_finding(store, app["point_id"], app["session_id"])
    ref = clinical.reference(store, app["point_id"])
    return {"trp_kind": f.kind if f else None, "trp_finding": f.short() if f else None,
            "reference_point": f"{ref['label']} ({ref['side']})" if ref else None}


def _cell(value) -> str:
    """A CSV cell: floats in shortest round-trip form; text a spreadsheet would run as a formula
    (``=``, ``+``, ``-``, ``@``, tab, CR first) starts with ``'`` (pointdose.textout.csv_cell)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (int, np.integer)):
        return str(value)
    return csv_cell(str(value))


def write_samples_csv(path: Path, rows: np.ndarray) -> None:
    with open_private(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(SAMPLE_COLUMNS)
        cols = [rows[c].tolist() for c in SAMPLE_COLUMNS]
        w.writerows(zip(*cols))


def client_document(store: Store, code: str, *, include_name: bool = False, with_samples: bool = True,
                    progress: bool = False) -> dict:
    """Everything recorded about one client, as one JSON-ready dict."""
    client = store.client(code)
    apps = store.applications(client_id=client["id"])
    total = int(sum(a["n_samples"] for a in apps))
    doc_client = {k: client[k] for k in ("code", "role", "created_at", "notes")}
    if include_name:
        doc_client["name"] = client["name"]
    doc = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "schema": schema.LATEST,
           "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "client": doc_client,
           "points": store.points(client["id"]), "sessions": [], "calibrations": {}}
    notes = store.query("SELECT * FROM notes WHERE client_id=? ORDER BY id", (client["id"],))
    doc["notes"] = notes
    doc["screening"] = store.query("SELECT item, present, note, recorded_at FROM screening WHERE client_id=? "
                                   "ORDER BY id", (client["id"],))
    # the clinical record per point (records/clinical.py): findings, renames/moves; points carry their reference site
    doc["findings"] = store.query("SELECT f.* FROM findings f JOIN points p ON f.point_id=p.id WHERE p.client_id=? "
                                  "ORDER BY f.id", (client["id"],))
    doc["point_changes"] = store.query("SELECT c.* FROM point_changes c JOIN points p ON c.point_id=p.id "
                                       "WHERE p.client_id=? ORDER BY c.id", (client["id"],))
    bar = _progress(total, f"export {code}", progress)
    try:
        for session in store.sessions(client["id"]):
            s = dict(session)
            s["applications"] = []
            s["ppt"] = store.query("SELECT * FROM ppt WHERE session_id=? ORDER BY id", (session["id"],))
            s["pain"] = store.query("SELECT * FROM pain WHERE session_id=? ORDER BY id", (session["id"],))
            for app in (a for a in apps if a["session_id"] == session["id"]):
                a = {k: v for k, v in app.items() if k not in ("point_label", "location", "side", "client_id",
                                                                "session_started", "n_samples")}
                a["events"] = store.events(app["id"])
                a["cautions"] = store.application_cautions(app["id"])
                if app["calibration_id"]:
                    doc["calibrations"][app["calibration_id"]] = store.calibration(app["calibration_id"])
                if with_samples:
                    rows = store.samples(app["id"])
                    a["samples"] = {c: rows[c].tolist() for c in SAMPLE_COLUMNS if c != "force_n"}
                    bar.update(len(rows))
                s["applications"].append(a)
            doc["sessions"].append(s)
    finally:
        bar.close()
    return doc


def export_client(store: Store, code: str, out_dir: str | Path, *, formats: Iterable[str] = ("json", "csv"),
                  include_name: bool = False, progress: bool = False, on_progress=None) -> list[Path]:
    """Write the client's export folder; returns the files written.

    ``on_progress(done, total)``, if given, counts the CSV's samples written (the app's Export button
    shows it)."""
    formats = set(formats)
    unknown = formats - {"json", "csv"}
    if unknown:
        raise UserError(f"unknown export format {', '.join(sorted(unknown))}: choose json and/or csv")
    client = store.client(code)
    folder = inside(Path(out_dir).expanduser(), safe_name(client["code"], fallback="client"))
    try:
        private_dir(folder)
    except OSError as exc:
        raise UserError(f"cannot create the export folder {folder} ({exc}): choose another with --out") from None
    written: list[Path] = []
    try:
        if "json" in formats:
            doc = client_document(store, code, include_name=include_name, progress=progress)
            path = inside(folder, f"{folder.name}.json")
            write_private(path, json_text(doc, indent=1))
            written.append(path)
        if "csv" in formats:
            apps = store.applications(client_id=client["id"])
            path = folder / "points.csv"
            with open_private(path, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=SUMMARY_COLUMNS)
                w.writeheader()
                for app in apps:
                    w.writerow({k: _cell(v) for k, v in summary_row(store, app).items()})
            written.append(path)
            private_dir(folder / "samples")
            total = int(sum(a["n_samples"] for a in apps))
            bar = _progress(total, f"samples {code}", progress)
            done = 0
            try:
                for app in apps:
                    rows = store.samples(app["id"])
                    path = folder / "samples" / f"app-{app['id']:05d}.csv"
                    write_samples_csv(path, rows)
                    written.append(path)
                    bar.update(len(rows))
                    done += len(rows)
                    if on_progress is not None:
                        on_progress(min(done, total), total)
            finally:
                bar.close()
    except OSError as exc:
        raise UserError(f"writing the export to {folder} failed ({exc}): check free space and permissions") from None
    return written


# --------------------------------------------------------------------------- import


MAX_IMPORT_BYTES = 1024 * 1024 * 1024  # samples are in the JSON: about 60 MB per hour at 1 kHz


def _check_document(doc, path: Path) -> None:
    """The export's outline (format, version, client, points, sessions) or UserError naming what is off."""
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise UserError(f"{path} is not a pointdose records export (no \"format\": \"{EXPORT_FORMAT}\")")
    version = doc.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise UserError(f"{path}: \"version\" is {shown(version)}, not a whole number: the export is damaged; "
                        "nothing was imported")
    if version > EXPORT_VERSION:
        raise UserError(f"{path} was exported by a newer pointdose (export version {version}): update pointdose")
    for key, kind in (("client", dict), ("points", list), ("sessions", list)):
        if key not in doc:
            raise UserError(f"{path}: the export has no \"{key}\": it is incomplete; nothing was imported")
        if not isinstance(doc[key], kind):
            raise UserError(f"{path}: \"{key}\" should be {'an object' if kind is dict else 'a list'}: "
                            "the export is damaged; nothing was imported")
    if not isinstance(doc["client"].get("code"), str):
        raise UserError(f"{path}: the client has no code: the export is damaged; nothing was imported")


def import_client(store: Store, path: str | Path, *, code: str | None = None, progress: bool = False) -> int:
    """Add a client from an export JSON (optionally under a new ``code``); returns the new client id."""
    path = Path(path)
    text = read_user_file(path, what="pointdose export", max_bytes=MAX_IMPORT_BYTES,
                          hint="give the CODE.json written by `pointdose export`")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise UserError(f"{path}: not a readable pointdose export ({exc})") from None
    except RecursionError:
        raise UserError(f"{path}: not a pointdose export (its JSON is nested too deeply)") from None
    _check_document(doc, path)
    c = doc["client"]
    try:
        new_code = check_code(code if code is not None else c["code"])
    except StoreError as exc:
        raise UserError(f"{path}: {exc}" + ("" if code is not None else
                                             "; import it under another code with --as NEWCODE")) from None
    if store.query("SELECT 1 FROM clients WHERE code=?", (new_code,)):
        raise UserError(f"there is already a client {shown(new_code)} in {store.path}: import under another code "
                        "with --as NEWCODE, or erase the existing one first")
    try:
        total = sum(len(a.get("samples", {}).get("seq", [])) for s in doc["sessions"] for a in s["applications"])
    except (AttributeError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: the export is incomplete or damaged ({exc!r}); nothing was imported") from None
    bar = _progress(total, f"import {new_code}", progress)
    try:
        with store.transaction("importing a client") as conn:
            cid = conn.execute("INSERT INTO clients (code, name, role, created_at, notes) VALUES (?,?,?,?,?)",
                               (new_code, c.get("name"), c.get("role", "client"), c["created_at"], c.get("notes"))).lastrowid
            for cal_id, cal in (doc.get("calibrations") or {}).items():
                conn.execute("INSERT OR IGNORE INTO calibrations (id, json) VALUES (?,?)",
                             (cal_id, json.dumps(cal, sort_keys=True)))
            points = {}
            for p in doc["points"]:
                points[p["id"]] = conn.execute(
                    "INSERT INTO points (client_id, location, side, label, view, x, y, landmarks, created_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?)",
                    (cid, p["location"], p["side"], p["label"], p.get("view"), p.get("x"), p.get("y"),
                     json.dumps(p["landmarks"]) if p.get("landmarks") is not None else None, p["created_at"])).lastrowid
            sessions, apps, ppts, app_ppt = {}, {}, {}, {}
            for s in doc["sessions"]:
                sid = conn.execute("INSERT INTO sessions (client_id, started_at, ended_at, operator, app_version) "
                                   "VALUES (?,?,?,?,?)", (cid, s["started_at"], s.get("ended_at"), s.get("operator"),
                                                         s.get("app_version"))).lastrowid
                sessions[s["id"]] = sid
                for a in s["applications"]:
                    aid = conn.execute(
                        "INSERT INTO applications (session_id, point_id, started_at, t_start_s, t_end_s, end_reason, "
                        "protocol, protocol_params, probe, probe_area_cm2, calibration_id, device_uid, contact_kpa, "
                        "band_low_kpa, band_high_kpa, summary, tare_raw) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (sid, points[a["point_id"]], a["started_at"], a["t_start_s"], a.get("t_end_s"),
                         a.get("end_reason"), a.get("protocol"), _dump(a.get("protocol_params")), a.get("probe"),
                         a["probe_area_cm2"], a.get("calibration_id"), a.get("device_uid"), a["contact_kpa"],
                         a.get("band_low_kpa"), a.get("band_high_kpa"), _dump(a.get("summary")),
                         a.get("tare_raw"))).lastrowid
                    apps[a["id"]] = aid
                    samples = a.get("samples")
                    if samples and samples.get("seq"):
                        rows = np.zeros(len(samples["seq"]), SAMPLE_DTYPE)
                        for col in ("seq", "segment", "t_s", "raw", "pressure_kpa"):
                            rows[col] = samples[col]
                        Store.write_samples(conn, aid, rows)
                        bar.update(len(rows))
                    for ev in a.get("events", []):
                        Store.write_event(conn, aid, ev["t_s"], ev["kind"], ev.get("data"))
                    for c in a.get("cautions", []):
                        conn.execute("INSERT INTO application_cautions (application_id, key, origin, action, text, "
                                     "max_kpa, max_hold_s, acknowledged, recorded_at) VALUES (?,?,?,?,?,?,?,?,?)",
                                     (aid, c["key"], c["origin"], c["action"], c["text"], c.get("max_kpa"),
                                      c.get("max_hold_s"), int(c.get("acknowledged") or 0), c["recorded_at"]))
                    if a.get("ppt_id") is not None:
                        app_ppt[aid] = a["ppt_id"]
                for r in s.get("ppt", []):
                    ppts[r["id"]] = conn.execute(
                        "INSERT INTO ppt (point_id, session_id, application_id, stage, kpa, probe, probe_area_cm2, "
                        "ramp_kpa_s, calibration_id, repeats, measured_at, protocol, sd_kpa, n, planned, "
                        "measured_rate_kpa_s, censored, source, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (points[r["point_id"]], sid, apps.get(r.get("application_id")), r.get("stage"), r["kpa"],
                         r.get("probe"), r["probe_area_cm2"], r.get("ramp_kpa_s"), r.get("calibration_id"),
                         r.get("repeats"), r["measured_at"], r.get("protocol"), r.get("sd_kpa"), r.get("n"),
                         r.get("planned"), r.get("measured_rate_kpa_s"), int(r.get("censored") or 0),
                         r.get("source") or "measured", r.get("note"))).lastrowid
                for r in s.get("pain", []):
                    conn.execute("INSERT INTO pain (session_id, point_id, application_id, stage, value, t_s, rated_at) "
                                 "VALUES (?,?,?,?,?,?,?)", (sid, points.get(r.get("point_id")),
                                                           apps.get(r.get("application_id")), r["stage"], r["value"],
                                                           r.get("t_s"), r["rated_at"]))
            for aid, old_ppt in app_ppt.items():  # the PPT a %PPT target used, once every PPT is in
                conn.execute("UPDATE applications SET ppt_id=? WHERE id=?", (ppts.get(old_ppt), aid))
            for p in doc["points"]:  # reference sites, once every point has its new id
                if p.get("reference_point_id") is not None:
                    conn.execute("UPDATE points SET reference_point_id=? WHERE id=?",
                                 (points.get(p["reference_point_id"]), points[p["id"]]))
            for f in doc.get("findings", []):
                conn.execute("INSERT INTO findings (point_id, session_id, application_id, kind, taut_band, local_twitch, "
                             "referred_text, referred_region, note, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                             (points[f["point_id"]], sessions[f["session_id"]], apps.get(f.get("application_id")),
                              f["kind"], f.get("taut_band"), f.get("local_twitch"), f.get("referred_text"),
                              f.get("referred_region"), f.get("note"), f["recorded_at"]))
            for c in doc.get("point_changes", []):
                conn.execute("INSERT INTO point_changes (point_id, old_location, old_side, old_label, old_view, old_x, "
                             "old_y, changed_at) VALUES (?,?,?,?,?,?,?,?)",
                             (points[c["point_id"]], c["old_location"], c["old_side"], c["old_label"], c.get("old_view"),
                              c.get("old_x"), c.get("old_y"), c["changed_at"]))
            for r in doc.get("screening", []):
                conn.execute("INSERT INTO screening (client_id, item, present, note, recorded_at) VALUES (?,?,?,?,?)",
                             (cid, r["item"], int(r["present"]), r.get("note"), r["recorded_at"]))
            for n in doc.get("notes", []):
                conn.execute("INSERT INTO notes (client_id, session_id, point_id, application_id, text, written_at) "
                             "VALUES (?,?,?,?,?,?)", (cid, sessions.get(n.get("session_id")), points.get(n.get("point_id")),
                                                      apps.get(n.get("application_id")), n["text"], n["written_at"]))
            for aid in apps.values():
                compute_and_store_metrics(conn, aid)
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise UserError(f"{path}: the export is incomplete or damaged ({shown(repr(exc), 80)[1:-1]}); "
                        "nothing was imported") from None
    except StoreError:
        raise
    finally:
        bar.close()
    return cid


def _dump(value):
    return None if value is None else json.dumps(value, sort_keys=True)
