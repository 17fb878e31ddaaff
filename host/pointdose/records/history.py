"""History per client and point across sessions: PPT trend, dose, duration — and what may be compared.

Rules (docs/records.md, "History"; docs/metrics.md, "PPT change"):

* A PPT change is labelled against the measurement error with :mod:`pointdose.pptchange`: the
  MDC95 from this client's own repeated trials at the point (SEM of a mean of their trials), so a
  change inside that error is never shown as an effect. With too few repeated trials there is no
  error estimate, and the label says so.
* Two PPTs are compared only when probe area and ramp rate match (PPT depends on both, domain
  notes); otherwise the entry says why it is not compared.
* PPTs taken under different calibrations are compared after recomputing the earlier one under
  the later (current) calibration from raw counts — the samples at its trials' signal times when
  they were recorded, else the raw reading its stored value implies under its own calibration —
  and the comparison says so. When that is impossible (a calibration not on record), it is not
  compared, and says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pointdose import pptchange, units
from pointdose.records import calib
from pointdose.records.store import Store, StoreError


@dataclass(frozen=True)
class Conditions:
    """What a PPT depends on besides the tissue: probe area, ramp rate, calibration."""

    probe_area_cm2: float | None
    ramp_kpa_s: float | None
    calibration_id: str | None

    def differences(self, other: "Conditions", *, calibration: bool = True) -> list[str]:
        out = []
        if not _same(self.probe_area_cm2, other.probe_area_cm2):
            out.append(f"probe {_num(self.probe_area_cm2)} vs {_num(other.probe_area_cm2)} cm²")
        if not _same(self.ramp_kpa_s, other.ramp_kpa_s):
            out.append(f"ramp {_num(self.ramp_kpa_s)} vs {_num(other.ramp_kpa_s)} kPa/s")
        if calibration and self.calibration_id != other.calibration_id:
            out.append(f"calibration {self.calibration_id or 'none'} vs {other.calibration_id or 'none'}")
        return out


def _same(a, b, rel: float = 0.02) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= rel * max(abs(a), abs(b))


def _num(v) -> str:
    return "?" if v is None else f"{v:g}"


@dataclass
class Entry:
    """One application at the point, with the session's PPTs there."""

    application_id: int
    session_id: int
    date: str
    protocol: str | None
    end_reason: str
    duration_s: float
    contact_s: float
    dose_kpa_s: float
    peak_kpa: float | None
    mean_contact_kpa: float | None
    in_band_pct: float | None
    gaps: int
    probe_area_cm2: float
    calibration_id: str | None
    ppt_before_kpa: float | None = None
    ppt_after_kpa: float | None = None
    ppt_conditions: Conditions | None = None
    within_session: pptchange.ChangeLabel | None = None  # before → after in this session
    vs_previous: pptchange.ChangeLabel | None = None  # PPT before vs the latest earlier session measured alike
    compared_with: str | None = None  # that session's date
    not_compared: str | None = None  # why vs_previous is missing, or which sessions in between were skipped
    recomputed: str | None = None  # "earlier PPT recomputed under calibration …" when calibrations differed
    ppt_before_rows: list = field(default_factory=list, repr=False)

    def change_notes(self) -> str:
        """What to say beside the numbers: PPT changes against the noise, comparability, gaps, how it ended."""
        notes = []
        if self.within_session:
            notes.append("in session " + self.within_session.short())
        if self.vs_previous:
            notes.append(f"vs {self.compared_with} " + self.vs_previous.short())
        if self.recomputed:
            notes.append(self.recomputed)
        if self.not_compared:
            notes.append(self.not_compared)
        if self.gaps:
            notes.append(f"{self.gaps} gap(s) in the stream, not integrated")
        if self.end_reason != "completed":
            notes.append(self.end_reason)
        return "; ".join(notes)


@dataclass
class PointHistory:
    point_id: int
    label: str
    location: str
    side: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.label} ({self.side})"


def _ppt(store: Store, point_id: int, session_id: int, stage: str) -> tuple[float | None, Conditions | None, list]:
    rows = store.session_ppt(point_id, session_id)[stage]
    if not rows:
        return None, None, []
    conds = {Conditions(r["probe_area_cm2"], r["ramp_kpa_s"], r["calibration_id"]) for r in rows}
    value = sum(r["kpa"] for r in rows) / len(rows)
    return value, (conds.pop() if len(conds) == 1 else None), rows


def point_reliability(store: Store, point_id: int, conditions: Conditions | None,
                      k: int | None = None) -> pptchange.Reliability | None:
    """The SEM of a PPT at this point from the client's own repeated trials there (same probe and
    ramp as ``conditions``); ``k`` trials per PPT (default: the usual count of the stored ones)."""
    if conditions is None:
        return None
    groups = []
    for r in store.query("SELECT repeats, probe_area_cm2, ramp_kpa_s FROM ppt WHERE point_id=? AND repeats IS NOT NULL",
                         (point_id,)):
        if Conditions(r["probe_area_cm2"], r["ramp_kpa_s"], None).differences(conditions, calibration=False):
            continue
        try:
            trials = [float(v) for v in json_list(r["repeats"]) if v is not None]
        except (TypeError, ValueError):
            continue
        if len(trials) >= 2:
            groups.append(trials)
    if not groups:
        return None
    if k is None:
        k = int(round(float(np.median([len(g) for g in groups]))))
    return pptchange.client_reliability(groups, k=k)


def json_list(text) -> list:
    import json

    value = json.loads(text) if isinstance(text, str) else text
    return list(value) if isinstance(value, (list, tuple)) else []


def _invert(f, target: float, guess: float) -> float | None:
    """The raw reading ``r`` with ``f(r) = target`` for a monotone ``f`` (bracket, then bisection)."""
    def g(r):
        return float(np.asarray(f(np.array([r], dtype=np.float64)))[0]) - target
    step, lo, hi = 1.0, guess, guess
    g0 = g(guess)
    if g0 == 0:
        return guess
    up = g(guess + 1.0) > g0  # f increasing here
    direction = 1.0 if (g0 < 0) == up else -1.0
    for _ in range(80):
        hi = guess + direction * step
        if (g(hi) > 0) != (g0 > 0):
            break
        step *= 2.0
    else:
        return None
    lo = guess
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if (g(mid) > 0) == (g0 > 0):
            lo = mid
        else:
            hi = mid
        if abs(hi - lo) < 1e-6:
            break
    return 0.5 * (lo + hi)


def recompute_ppt(store: Store, row: dict, calibration_id: str) -> tuple[float | None, str]:
    """One stored PPT row recomputed under ``calibration_id`` from raw counts: (kPa or None, how).

    With its application's samples and ``ppt_trial`` events, the pressure at each trial's signal
    time is recomputed from the raw counts there; otherwise the raw reading the stored value
    implies under the row's own calibration is recomputed (exact for the value as stored)."""
    new_cal = store.calibration(calibration_id)
    if new_cal is None:
        return None, f"calibration {calibration_id} is not on record"
    area = float(row["probe_area_cm2"])
    tare = None
    app_id = row.get("application_id")
    if app_id is not None:
        try:
            app = store.application(app_id)
            tare = app.get("tare_raw")
        except StoreError:
            app_id = None
    try:
        new_f = calib.raw_to_n(new_cal, tare=tare)
    except ValueError as exc:
        return None, str(exc)
    if app_id is not None:
        signals = [e["data"].get("t_signal_s", e["t_s"]) for e in store.events(app_id)
                   if e["kind"] == "ppt_trial" and (e["data"] or {}).get("ppt_kpa") is not None]
        if signals:
            rows = store.samples(app_id)
            if len(rows) >= 2:
                kpa = units.pressure_kpa(np.asarray(new_f(rows["raw"]), dtype=np.float64), area)
                values = np.interp(np.asarray(signals, dtype=np.float64), rows["t_s"], kpa)
                return float(np.mean(values)), "from the raw counts at its trials' signal times"
    old_cal = store.calibration(row.get("calibration_id"))
    if old_cal is None:
        return None, f"its calibration {row.get('calibration_id') or '(none)'} is not on record"
    try:
        old_f = calib.raw_to_n(old_cal, tare=tare)
    except ValueError as exc:
        return None, str(exc)
    force = float(units.force_n(row["kpa"], area))
    guess = float(old_cal.get("zero", 0.0)) if isinstance(old_cal.get("zero"), (int, float)) else 0.0
    raw = _invert(old_f, force, guess)
    if raw is None or not math.isfinite(raw):
        return None, "its raw reading could not be recovered"
    return float(units.pressure_kpa(float(np.asarray(new_f(np.array([raw])))[0]), area)), \
        "from the raw reading its stored value implies"


def _recomputed_mean(store: Store, rows: list, calibration_id: str) -> tuple[float | None, str]:
    values, how = [], ""
    for r in rows:
        if r["calibration_id"] == calibration_id:
            values.append(float(r["kpa"]))
            continue
        v, how = recompute_ppt(store, r, calibration_id)
        if v is None:
            return None, how
        values.append(v)
    return (sum(values) / len(values) if values else None), how


def point_history(store: Store, point_id: int, site: pptchange.Reliability | None = None) -> PointHistory:
    """The point's entries. ``site``: a published SEM for this site and population, with its source;
    when given it labels the changes (it includes day-to-day error), else the client's own trials do."""
    p = store.point_row(point_id)
    hist = PointHistory(point_id, p["label"], p["location"], p["side"])
    seen_sessions: set[int] = set()
    measured: list[Entry] = []  # earlier entries with a PPT before
    for app in store.applications(point_id=point_id):
        m = app["metrics"] or store.metrics(app["id"])
        e = Entry(application_id=app["id"], session_id=app["session_id"], date=app["session_started"][:10],
                  protocol=app["protocol"], end_reason=app["end_reason"] or "interrupted",
                  duration_s=m["duration_s"], contact_s=m["contact_s"], dose_kpa_s=m["dose_kpa_s"],
                  peak_kpa=m["peak_kpa"], mean_contact_kpa=m["mean_contact_kpa"], in_band_pct=m["in_band_pct"],
                  gaps=len(m["gaps"]), probe_area_cm2=app["probe_area_cm2"], calibration_id=app["calibration_id"])
        if app["session_id"] not in seen_sessions:  # PPTs belong to the session: shown on its first application
            seen_sessions.add(app["session_id"])
            e.ppt_before_kpa, before_c, e.ppt_before_rows = _ppt(store, point_id, app["session_id"], "before")
            e.ppt_after_kpa, after_c, after_rows = _ppt(store, point_id, app["session_id"], "after")
            e.ppt_conditions = before_c
            reliability = site or point_reliability(store, point_id, before_c)
            if e.ppt_before_kpa is not None and e.ppt_after_kpa is not None:
                if before_c is not None and after_c is not None and not before_c.differences(after_c, calibration=False):
                    before = e.ppt_before_kpa
                    if before_c.calibration_id != after_c.calibration_id and after_c.calibration_id:
                        before, _ = _recomputed_mean(store, e.ppt_before_rows, after_c.calibration_id)
                    if before is not None:
                        e.within_session = pptchange.label_change(before, e.ppt_after_kpa, reliability)
            if e.ppt_before_kpa is not None and measured:
                if before_c is None:
                    e.not_compared = "not compared: mixed probes, ramp rates or calibrations in this session"
                else:
                    skipped = []
                    for earlier in reversed(measured):
                        diffs = (before_c.differences(earlier.ppt_conditions, calibration=False)
                                 if earlier.ppt_conditions else ["mixed"])
                        if not diffs:
                            value, note = earlier.ppt_before_kpa, None
                            cal_now, cal_then = before_c.calibration_id, earlier.ppt_conditions.calibration_id
                            if cal_now != cal_then:
                                value, how = (_recomputed_mean(store, earlier.ppt_before_rows, cal_now) if cal_now
                                              else (None, "this session's PPT has no calibration on record"))
                                if value is None:
                                    skipped.append(f"{earlier.date}: calibration {cal_then or 'none'} vs "
                                                   f"{cal_now or 'none'}, not recomputable ({how})")
                                    continue
                                note = (f"the {earlier.date} PPT ({earlier.ppt_before_kpa:.0f} kPa under {cal_then}) "
                                        f"recomputed under the current calibration {cal_now} {how}: {value:.0f} kPa")
                            e.vs_previous = pptchange.label_change(value, e.ppt_before_kpa, reliability)
                            e.compared_with = earlier.date
                            e.recomputed = note
                            break
                        skipped.append(f"{earlier.date}: {'; '.join(diffs)}")
                    if skipped:
                        e.not_compared = (("not compared with " if e.vs_previous else "not compared: ")
                                          + " | ".join(skipped[:3]))
            if e.ppt_before_kpa is not None:
                measured.append(e)
        hist.entries.append(e)
    return hist


def client_history(store: Store, code: str, point_id: int | None = None,
                   site: pptchange.Reliability | None = None) -> list[PointHistory]:
    client = store.client(code)
    points = store.points(client["id"])
    if point_id is not None:
        points = [p for p in points if p["id"] == point_id]
        if not points:
            raise ValueError(f"client {code} has no point {point_id}")
    return [point_history(store, p["id"], site) for p in points]


@dataclass(frozen=True)
class PointsView:
    """What the body map shows for a client and a session: their points, each one's dose (kPa·s)
    and time under pressure (s)."""

    client_id: int | None
    session_id: int | None
    points: list
    doses: dict
    contact: dict


def points_view(store: Store, client_id: int | None, session_id: int | None) -> PointsView:
    """The body map's data (reads the records: call it off the render thread)."""
    points = store.points(client_id) if client_id is not None else []
    doses, contact = store.session_point_totals(session_id) if session_id is not None else ({}, {})
    return PointsView(client_id, session_id, points, doses, contact)
