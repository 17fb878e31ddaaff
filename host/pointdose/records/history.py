"""History per client and point across sessions: PPT trend, dose, duration — and what may be compared.

Rules (docs/records.md, "History"):

* A PPT change is labelled with :func:`pointdose.metrics.ppt_change` (Persson 2004: repeats differ
  by 53–102 kPa), so a change inside the noise is never shown as an effect.
* Two measurements are compared only when probe area, ramp rate and calibration match (PPT depends
  on probe area and ramp rate, domain notes); otherwise the entry says why it is not compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pointdose import metrics
from pointdose.records.store import Store


@dataclass(frozen=True)
class Conditions:
    """What a PPT depends on besides the tissue: probe area, ramp rate, calibration."""

    probe_area_cm2: float | None
    ramp_kpa_s: float | None
    calibration_id: str | None

    def differences(self, other: "Conditions") -> list[str]:
        out = []
        if not _same(self.probe_area_cm2, other.probe_area_cm2):
            out.append(f"probe {_num(self.probe_area_cm2)} vs {_num(other.probe_area_cm2)} cm²")
        if not _same(self.ramp_kpa_s, other.ramp_kpa_s):
            out.append(f"ramp {_num(self.ramp_kpa_s)} vs {_num(other.ramp_kpa_s)} kPa/s")
        if self.calibration_id != other.calibration_id:
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
    within_session: metrics.PptChange | None = None  # before → after in this session
    vs_previous: metrics.PptChange | None = None  # PPT before vs the latest earlier session measured alike
    compared_with: str | None = None  # that session's date
    not_compared: str | None = None  # why vs_previous is missing, or which sessions in between were skipped

    def change_notes(self) -> str:
        """What to say beside the numbers: PPT changes against the noise, comparability, gaps, how it ended."""
        notes = []
        if self.within_session:
            notes.append("in session " + self.within_session.short())
        if self.vs_previous:
            notes.append(f"vs {self.compared_with} " + self.vs_previous.short())
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


def _ppt(store: Store, point_id: int, session_id: int, stage: str) -> tuple[float | None, Conditions | None]:
    rows = store.session_ppt(point_id, session_id)[stage]
    if not rows:
        return None, None
    conds = {Conditions(r["probe_area_cm2"], r["ramp_kpa_s"], r["calibration_id"]) for r in rows}
    value = sum(r["kpa"] for r in rows) / len(rows)
    return value, (conds.pop() if len(conds) == 1 else None)


def point_history(store: Store, point_id: int) -> PointHistory:
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
            e.ppt_before_kpa, before_c = _ppt(store, point_id, app["session_id"], "before")
            e.ppt_after_kpa, after_c = _ppt(store, point_id, app["session_id"], "after")
            e.ppt_conditions = before_c
            if e.ppt_before_kpa is not None and e.ppt_after_kpa is not None:
                if before_c is not None and after_c is not None and not before_c.differences(after_c):
                    e.within_session = metrics.ppt_change(e.ppt_before_kpa, e.ppt_after_kpa)
            if e.ppt_before_kpa is not None and measured:
                if before_c is None:
                    e.not_compared = "not compared: mixed probes, ramp rates or calibrations in this session"
                else:
                    skipped = []
                    for earlier in reversed(measured):
                        diffs = before_c.differences(earlier.ppt_conditions) if earlier.ppt_conditions else ["mixed"]
                        if not diffs:
                            e.vs_previous = metrics.ppt_change(earlier.ppt_before_kpa, e.ppt_before_kpa)
                            e.compared_with = earlier.date
                            break
                        skipped.append(f"{earlier.date}: {'; '.join(diffs)}")
                    if skipped:
                        e.not_compared = (("not compared with " if e.vs_previous else "not compared: ")
                                          + " | ".join(skipped[:3]))
            if e.ppt_before_kpa is not None:
                measured.append(e)
        hist.entries.append(e)
    return hist


def client_history(store: Store, code: str, point_id: int | None = None) -> list[PointHistory]:
    client = store.client(code)
    points = store.points(client["id"])
    if point_id is not None:
        points = [p for p in points if p["id"] == point_id]
        if not points:
            raise ValueError(f"client {code} has no point {point_id}")
    return [point_history(store, p["id"]) for p in points]
