"""Synthetic recordings through the real RecordingListener: for trying the history without a
device (``pointdose clients demo``), for tests and for the storage benchmark.

Every sample goes the way a live one goes: pressure profile → force → raw counts through a linear
calibration (with noise) → ``on_samples`` blocks → chunks in the store → metrics.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from pointdose import units
from pointdose.listeners import SAMPLE_DTYPE
from pointdose.records.listener import RecordingListener
from pointdose.records.store import Store

DEMO_CALIBRATION = {"id": "demo-linear-1", "model": "linear", "counts_per_n": 2280.0, "zero": 8400.0,
                    "stated_error": "±0.4 N (95 %) over 0–150 N, demo values", "source": "pointdose demo"}


def hold_profile(hold_kpa: float, hold_s: float = 30.0, ramp_s: float = 3.0, cycles: int = 1,
                 rest_kpa: float = 0.0, rest_s: float = 10.0) -> list[tuple[float, float]]:
    """Knots (t_s, kPa) of ``cycles`` press–hold–release cycles."""
    knots, t = [(0.0, 0.0)], 1.0
    knots.append((t, 0.0))
    for _ in range(cycles):
        knots += [(t + ramp_s, hold_kpa), (t + ramp_s + hold_s, hold_kpa), (t + 2 * ramp_s + hold_s, rest_kpa)]
        t += 2 * ramp_s + hold_s + rest_s
        knots.append((t, rest_kpa))
    knots.append((t + 1.0, 0.0))
    return knots


def synth_rows(knots, rate_hz: float, *, calibration=DEMO_CALIBRATION, probe_area_cm2: float = 1.0,
               t0_s: float = 0.0, noise_kpa: float = 2.0, seed: int = 0, first_seq: int = 0,
               drop: tuple[int, int] | None = None) -> np.ndarray:
    """Sample rows of the profile; ``drop=(i, j)`` removes rows i..j-1 (a gap in the stream)."""
    rng = np.random.default_rng(seed)
    t_rel = np.arange(0.0, knots[-1][0], 1.0 / rate_hz)
    p = np.interp(t_rel, [k[0] for k in knots], [k[1] for k in knots])
    p = p + rng.normal(0.0, noise_kpa, p.size) * (p > 0)
    f = units.force_n(p, probe_area_cm2)
    raw = np.round(f * calibration["counts_per_n"] + calibration["zero"]).astype(np.int32)
    rows = np.zeros(t_rel.size, SAMPLE_DTYPE)
    rows["seq"] = np.arange(t_rel.size) + first_seq
    rows["t_s"] = t_rel + t0_s
    rows["raw"] = raw
    rows["force_n"] = (raw - calibration["zero"]) / calibration["counts_per_n"]  # what a live runner computes
    rows["pressure_kpa"] = units.pressure_kpa(rows["force_n"], probe_area_cm2)
    if drop is not None:
        rows = np.concatenate([rows[: drop[0]], rows[drop[1]:]])
    return rows


def record(listener: RecordingListener, point, rows: np.ndarray, *, protocol: str = "sustained hold",
           params: dict | None = None, probe_area_cm2: float = 1.0, calibration=DEMO_CALIBRATION,
           ppt_before: float | None = None, ppt_after: float | None = None, ramp_kpa_s: float = 50.0,
           block: int = 50, events: list[tuple[float, str, dict]] = (), reason: str = "completed",
           pain: tuple[int, int] | None = None) -> int | None:
    """Play ``rows`` through ``listener`` as one application; returns its id."""
    t0 = float(rows["t_s"][0])
    listener.on_application_start({"point": point, "protocol": protocol, "params": params or {},
                                   "probe": f"{probe_area_cm2:g} cm² round", "probe_area_cm2": probe_area_cm2,
                                   "calibration": calibration, "device_uid": "53494d30303031", "t_s": t0})
    if ppt_before is not None:
        listener.on_event(t0, "ppt", {"kpa": ppt_before, "stage": "before", "ramp_kpa_s": ramp_kpa_s})
    if pain is not None:
        listener.on_event(t0, "pain", {"value": pain[0], "stage": "before"})
    pending = sorted(events)
    for i in range(0, len(rows), block):
        part = rows[i:i + block]
        while pending and pending[0][0] <= part["t_s"][-1]:
            listener.on_event(*pending.pop(0))
        listener.on_samples(part)
    for ev in pending:
        listener.on_event(*ev)
    t_end = float(rows["t_s"][-1])
    if ppt_after is not None:
        listener.on_event(t_end, "ppt", {"kpa": ppt_after, "stage": "after", "ramp_kpa_s": ramp_kpa_s})
    if pain is not None:
        listener.on_event(t_end, "pain", {"value": pain[1], "stage": "after"})
    listener.on_application_end(t_end, reason, {})
    listener.flush()  # the listener writes on its own thread (or on flush): the id exists once written
    return listener.last_application_id


def make_demo(store: Store, code: str = "DEMO-01", *, sessions: int = 4, rate_hz: float = 100.0,
              start: datetime | None = None) -> int:
    """A demo client with ``sessions`` weekly sessions on three points; returns the client id."""
    client_id = store.add_client(code, role="client", notes="synthetic demo data (pointdose clients demo)")
    start = start or datetime.now(timezone.utc) - timedelta(days=7 * sessions)
    points = [store.point(client_id, "upper_trapezius.1", "L"), store.point(client_id, "upper_trapezius.1", "R"),
              store.point(client_id, "infraspinatus.1", "L")]
    for s in range(sessions):
        when = (start + timedelta(days=7 * s)).isoformat(timespec="seconds")
        session_id = store.start_session(client_id, started_at=when)
        listener = RecordingListener(store, session_id=session_id, autoflush=False)
        t = 1000.0 * (s + 1)
        for k, point in enumerate(points):
            ppt0 = 210.0 + 28.0 * s + 15 * k  # PPT rising over the weeks (cf. ~28 kPa, Geri 2022)
            hold = 0.8 * ppt0
            knots = hold_profile(hold, hold_s=30.0 + 15 * (s % 2), cycles=2)
            rows = synth_rows(knots, rate_hz, t0_s=t, seed=s * 10 + k)
            hold_s = 30.0 + 15 * (s % 2)
            events = []
            for c in range(2):  # hold_profile's timing: 1 s rest, 3 s ramps, 10 s rests
                h0 = t + 1.0 + 3.0 + c * (2 * 3.0 + hold_s + 10.0)
                events += [(h0, "phase", {"phase": "hold"}), (h0 + hold_s, "phase", {"phase": "release"}),
                           (h0 + hold_s + 3.0, "cycle_done", {"cycle": c + 1})]
            record(listener, point, rows, params={"hold_kpa": round(hold), "band_kpa": [0.9 * hold, 1.1 * hold]},
                   ppt_before=ppt0, ppt_after=ppt0 + 25.0 + 10 * (k == 0), events=events,
                   pain=(6 - min(s, 3), max(1, 4 - s)))
            t = float(rows["t_s"][-1]) + 20.0
        listener.close()
        store.end_session(session_id)
    return client_id
