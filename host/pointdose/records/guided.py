"""What one application was guided to do and how it went, read back from its recording.

Target and band of each hold, the time the pressure stayed in each phase's band (the engine's own
count: holds and eases, each against its own band), the cues given (phase changes, steps, caps,
pain caps and alarms), the ratings and how it ended. The engine's summary at the end
(``applications.summary``) is used when there is one; an application whose app was killed has none,
so the ``phase_start`` / ``phase_end`` events are read instead. Reports and exports show this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pointdose.records.store import Store

CUE_KINDS = ("phase_start", "step", "cap", "pain_cap", "pain_stop", "alarm")


@dataclass
class Guided:
    bands: list[tuple[float | None, float, float]] = field(default_factory=list)  # (target, lo, hi) per distinct hold band
    time_in_band_s: float | None = None  # None: no phase had a band
    cues: int = 0
    signals: int = 0  # release / pain signals given by the user
    pain: dict[str, list[int]] = field(default_factory=dict)  # stage -> ratings, in order
    end: str = "interrupted (app closed)"

    @property
    def target_kpa(self) -> float | None:
        return self.bands[0][0] if self.bands else None

    def band_text(self) -> str | None:
        """``"236–288 kPa (target 262)"``; several bands joined with ``; ``; None without a band."""
        if not self.bands:
            return None
        parts = [f"{lo:.0f}–{hi:.0f} kPa" + (f" (target {t:.0f})" if t is not None else "") for t, lo, hi in self.bands[:3]]
        more = f"; … {len(self.bands) - 3} more" if len(self.bands) > 3 else ""
        return "; ".join(parts) + more

    def pain_text(self) -> str:
        if not any(self.pain.values()):
            return "not rated"
        def one(stage):
            values = self.pain.get(stage) or []
            return ", ".join(str(v) for v in values) if values else "not rated"
        during = f" · during {one('during')}" if self.pain.get("during") else ""
        return f"before {one('before')}{during} · after {one('after')}"


def _band(target, lo, hi) -> tuple[float | None, float, float] | None:
    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        return None
    t = None
    try:
        t = float(target) if target is not None else None
    except (TypeError, ValueError):
        pass
    return (None if t is None else round(t, 1), round(lo, 1), round(hi, 1))


def guided(store: Store, app: dict) -> Guided:
    """``app``: a row of :meth:`Store.applications` (its ``summary`` already parsed)."""
    out = Guided(end=app.get("end_reason") or "interrupted (app closed)")
    events = store.events(app["id"])
    summary = app.get("summary") if isinstance(app.get("summary"), dict) else None
    phases = (summary or {}).get("phases")
    if not isinstance(phases, list):  # no end written: the events say as much
        phases = [dict(e["data"] or {}) for e in events if e["kind"] == "phase_start"]
        ends = [e["data"] or {} for e in events if e["kind"] == "phase_end"]
        for ph, end in zip(phases, ends):
            ph["time_in_band_s"] = end.get("time_in_band_s")
    tib, banded = 0.0, False
    for ph in phases:
        if not isinstance(ph, dict):
            continue
        kind = ph.get("phase")
        if kind == "hold":
            band = _band(ph.get("target_kpa"), ph.get("band_lo_kpa"), ph.get("band_hi_kpa"))
            if band is not None and band not in out.bands:
                out.bands.append(band)
        if kind in ("hold", "ease") and ph.get("band_hi_kpa") is not None:
            banded = True
            try:
                tib += float(ph.get("time_in_band_s") or 0.0)
            except (TypeError, ValueError):
                pass
    if summary is not None and summary.get("time_in_band_s") is not None and banded:
        tib = float(summary["time_in_band_s"])
    out.time_in_band_s = tib if banded and out.bands else None  # a PPT's ramps and rests are no target
    if not out.bands and app.get("band_low_kpa") is not None and app.get("band_high_kpa") is not None:
        out.bands.append((None, float(app["band_low_kpa"]), float(app["band_high_kpa"])))  # a band given by hand
    out.cues = sum(1 for e in events if e["kind"] in CUE_KINDS)
    out.signals = sum(1 for e in events if e["kind"] == "signal")
    for r in store.query("SELECT stage, value FROM pain WHERE application_id=? ORDER BY id", (app["id"],)):
        out.pain.setdefault(r["stage"], []).append(int(r["value"]))
    return out
