"""RecordingListener: keeps what a session runner hands on (pointdose.listeners contract).

The runner's calls only buffer: they take a short lock that is never held during database I/O, so
a database locked by another program (SQLite may wait up to BUSY_TIMEOUT_S) never delays the
runner's safety checks. The listener's own writer thread commits samples and events together at
least every ``flush_interval_s`` (0.5 s by default), and at once when an application starts or
ends, so a killed app loses at most the last interval and the database stays consistent.
``close()`` drains everything. A write that fails
(disk full, read-only or immutable file, database locked past SQLite's wait) never raises into the
runner and never drops data silently: the rows stay in memory, the next flush tries again, and
``fault`` is set for good. The session runner watches ``fault`` and ends the application at once
with an alarm (``alarm: recording``), so a session never goes on unrecorded; ``unsaved()`` then
says what could not be written.

What ``on_application_start(info)`` reads (all optional except the point and the session):

    session_id        int (or give session_id to the constructor; with neither, the recording goes
                      to a session of the client "unassigned", so nothing is dropped)
    point_id / point  a points.id (int), or {"id": …}, or {"location": id, "side": "L"|"R"|"mid",
                      "label", "view", "x", "y", "landmarks"}, or "location_id:side"
                      ("upper_trapezius.1:L"), or any other name (kept as an unplaced point, its side
                      parsed from a first or last word L/R/left/right: bodymap.split_side)
    protocol, params  name and parameter dict (params may hold contact_kpa and band_kpa [low, high])
    probe, probe_area_cm2, device_uid, t_s (host monotonic start)
    calibration       the model as a dict: a CalibrationRecord.to_dict() (with its id), or the factory
                      scale {"model": "linear", "counts_per_n", "zero", "source": "factory"}
    tare_raw          the device's tare at the start (raw counts; 0: none), applied on recomputing
    ppt_id            the ppt row a %PPT target was computed from (the client's own)
    cautions          the start decision's record (pointdose.protocols.cautions.Decision.record):
                      findings, and whether they were acknowledged / confirmed

Events with their own tables (``on_event(t_s, kind, data)``): ``ppt`` {"kpa", "stage", "ramp_kpa_s",
"repeats"} and ``pain`` {"value" 0–10, "stage" before/during/after}; the first hold's ``phase_start``
sets the application's band (``band_low_kpa``/``band_high_kpa``) unless params gave one; every event,
these included, is also kept in ``events`` (:mod:`pointdose.records.guided` reads them back).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from pointdose import bodymap
from pointdose import metrics as metrics_mod
from pointdose import units
from pointdose.listeners import SAMPLE_DTYPE
from pointdose.records.store import Store, StoreError


UNASSIGNED = "unassigned"


class _Batch:
    """What one application still has to write: its start, rows, events and end."""

    def __init__(self, info: dict) -> None:
        self.info: dict | None = info  # None once the application row exists
        self.app_id: int | None = None
        self.probe_area = float(info.get("probe_area_cm2") or units.DEFAULT_PROBE_AREA_CM2)
        self.rows: list[np.ndarray] = []
        self.events: list[tuple[float, str, dict]] = []
        self.end: tuple[float, str, dict] | None = None
        self.ended = False  # on_application_end was called
        self.last_t: float | None = None  # newest sample time handed on (written or not)
        # what the side tables (ppt, pain) need of the application, kept when its row is made
        self.session_id: int | None = None
        self.point_id: int | None = None
        self.probe: str | None = info.get("probe")
        self.calibration: dict | None = info.get("calibration")
        self.protocol: str | None = info.get("protocol")

    def empty(self) -> bool:
        return self.info is None and not self.rows and not self.events and self.end is None


UNNAMED_POINT = "unnamed point"


class RecordingListener:
    """The runner's calls only buffer (a short lock, never held during I/O); a writer thread of its
    own commits (``autoflush``, the default). With ``autoflush=False`` nothing is written until
    :meth:`flush` or :meth:`close` (tests, replays)."""

    def __init__(self, store: Store, *, session_id: int | None = None, flush_interval_s: float = 0.5,
                 autoflush: bool = True, default_contact_kpa: float = metrics_mod.DEFAULT_CONTACT_KPA,
                 clock=time.monotonic) -> None:
        if not 0 < flush_interval_s <= 1.0:
            raise ValueError("flush_interval_s must be in (0, 1] s: samples are committed at least once a second")
        self.store = store
        self.session_id = session_id
        self.flush_interval_s = flush_interval_s
        self.default_contact_kpa = default_contact_kpa
        self.clock = clock  # what "every flush_interval_s" is measured on (a replay may pass sample time)
        self.error: StoreError | None = None  # the last failure; cleared when a write succeeds again
        self.fault: StoreError | None = None  # the first failure to write the recording; never cleared
        self.last_metrics: metrics_mod.Metrics | None = None
        self.last_application_id: int | None = None
        self.samples_written = 0
        self._lock = threading.Lock()  # the buffers only: held for appends and swaps, never during I/O
        self._io = threading.RLock()  # one writer at a time (the writer thread, flush(), close())
        self._batches: list[_Batch] = []  # oldest first; the last one is open unless ended
        self._last_flush = self.clock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # an application started or ended: write it now
        self._thread = None
        if autoflush:
            self._thread = threading.Thread(target=self._writer, name="records-writer", daemon=True)
            self._thread.start()

    @property
    def application_id(self) -> int | None:
        """The open application's id (None between applications or before its start is written)."""
        with self._lock:
            cur = self._current()
            return cur.app_id if cur else None

    def _current(self) -> _Batch | None:
        if self._batches and not self._batches[-1].ended:
            return self._batches[-1]
        return None

    # ------------------------------------------------------------------ the contract (buffer only)

    def on_application_start(self, info: dict[str, Any]) -> None:
        with self._lock:
            cur = self._current()
            if cur is not None:  # the runner never ended it: close it at its last sample
                last_t = cur.last_t if cur.last_t is not None else float(info.get("t_s", time.monotonic()))
                cur.end = (last_t, "stopped", {"note": "a new application started before this one ended"})
                cur.ended = True
            self._batches.append(_Batch(dict(info)))
        self._wake.set()

    def on_samples(self, rows: np.ndarray) -> None:
        if len(rows) == 0:
            return
        copy = np.array(rows, dtype=SAMPLE_DTYPE, copy=True)
        with self._lock:
            cur = self._current()
            if cur is None:
                return  # no application is running: nothing to attach the samples to
            cur.rows.append(copy)
            cur.last_t = float(copy["t_s"][-1])

    def on_event(self, t_s: float, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            cur = self._current()
            if cur is not None:
                cur.events.append((float(t_s), str(kind), dict(data or {})))

    def on_application_end(self, t_s: float, reason: str, summary: dict[str, Any]) -> None:
        with self._lock:
            cur = self._current()
            if cur is None:
                return
            cur.end = (float(t_s), str(reason), dict(summary or {}))
            cur.ended = True
        self._wake.set()

    # ------------------------------------------------------------------ writing

    def flush(self) -> bool:
        """Commit everything buffered, oldest first; False (``error`` set) when the database refused.

        Runs on the caller's thread (the writer thread, or a test / close()); the buffers stay open
        to the runner's calls while it writes."""
        with self._io:
            with self._lock:
                self._last_flush = self.clock()
            while True:
                with self._lock:
                    if not self._batches:
                        return True
                    batch = self._batches[0]
                    # take what is there now; the runner may keep appending to the open batch meanwhile
                    rows, events, end = batch.rows, batch.events, batch.end
                    batch.rows, batch.events, batch.end = [], [], None
                ok = False
                try:
                    ok = self._write(batch, rows, events, end)
                finally:
                    if not ok:  # put it back in front of anything added meanwhile: nothing dropped
                        with self._lock:
                            batch.rows[:0] = rows
                            batch.events[:0] = events
                            if end is not None:
                                batch.end = end
                if not ok:
                    return False
                with self._lock:
                    if not batch.ended:
                        return True  # the open application (always the last one): written up to now
                    done = batch.empty()  # else its end arrived while writing: write that too
                    if done:
                        self._batches.pop(0)
                if done:
                    self._metrics(batch.app_id)

    def _write(self, batch: _Batch, parts: list[np.ndarray], events: list, end) -> bool:
        if batch.info is not None and not self._begin(batch):
            return False
        if not parts and not events and end is None:
            return True
        rows = np.concatenate(parts) if parts else np.zeros(0, SAMPLE_DTYPE)
        try:
            with self.store.transaction("saving samples") as conn:
                if len(rows):
                    self.store.write_samples(conn, batch.app_id, rows)
                for t_s, kind, data in events:
                    self.store.write_event(conn, batch.app_id, t_s, kind, data)
                    self._side_table(conn, batch, t_s, kind, data)
                if end is not None:
                    t_end, reason, summary = end
                    self.store.write_end(conn, batch.app_id, t_end, reason, summary)
        except StoreError as exc:
            self._failed(exc)
            return False
        self.samples_written += len(rows)
        self.error = None
        return True

    def _metrics(self, app_id: int) -> None:
        self.last_application_id = app_id
        try:
            self.last_metrics = self.store.store_metrics(app_id)
        except StoreError as exc:  # the samples are saved; the metrics can be recomputed later
            self.error = exc
        except Exception as exc:  # a bug in the metrics must never lose the recording nor reach the runner
            self.last_metrics = None
            self.error = StoreError(
                f"application {app_id} was saved (samples, events and end), but its metrics could not be "
                f"computed ({type(exc).__name__}: {exc}); they are computed again when it is shown")
            self.error.__cause__ = exc

    def pending_samples(self) -> int:
        with self._lock:
            return int(sum(len(r) for b in self._batches for r in b.rows))

    def unsaved(self) -> str | None:
        """What is still not written, in words (None when everything is): samples, their time span,
        and whether an application's start or end is missing."""
        with self._lock:
            parts = [r for b in self._batches for r in b.rows]
            starts = sum(1 for b in self._batches if b.info is not None)
            ends = sum(1 for b in self._batches if b.end is not None)
            events = sum(len(b.events) for b in self._batches)
        n = int(sum(len(r) for r in parts))
        if not n and not starts and not ends and not events:
            return None
        what = []
        if n:
            t0 = min(float(r["t_s"][0]) for r in parts if len(r))
            t1 = max(float(r["t_s"][-1]) for r in parts if len(r))
            what.append(f"{n} samples ({t1 - t0:.1f} s)")
        if events:
            what.append(f"{events} events")
        if starts:
            what.append("the application itself" if starts == 1 else f"{starts} applications")
        elif ends:
            what.append("the application's end")
        return ", ".join(what)

    def close(self) -> None:
        """Stop the writer and write what is left (an application still open stays without an end)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30.0)  # a locked database makes each try wait up to BUSY_TIMEOUT_S
        self._safe_flush()

    def __enter__(self) -> "RecordingListener":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _safe_flush(self) -> bool:
        try:
            return self.flush()
        except Exception as exc:  # never die silently: say so, keep the rows, try again next time
            err = StoreError(f"writing the records failed ({type(exc).__name__}: {exc}); "
                             "the samples stay in memory and are written again")
            err.__cause__ = exc
            self._failed(err)
            return False

    def _failed(self, exc: StoreError) -> None:
        self.error = exc
        if self.fault is None:
            self.fault = exc

    def _writer(self) -> None:
        """The only thread that writes while recording: at least every flush_interval_s, at once when
        an application starts or ends, and everything left when the listener closes."""
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval_s / 4)
            urgent = self._wake.is_set()
            self._wake.clear()
            if self._stop.is_set():
                break
            with self._lock:
                due = self.clock() - self._last_flush >= self.flush_interval_s
                busy = any(not b.empty() for b in self._batches)
            if busy and (due or urgent):
                self._safe_flush()
        self._safe_flush()

    def _begin(self, batch: _Batch) -> bool:
        info = batch.info
        try:
            session_id = info.get("session_id", self.session_id)
            if session_id is None:  # nobody chose a client: keep it under "unassigned", never drop it
                session_id = self.session_id = self._unassigned_session()
            point_id = self._point_id(info.get("point_id", info.get("point")), session_id)
            params = info.get("params") or info.get("parameters") or {}
            contact = _number(params.get("contact_kpa")) if isinstance(params, dict) else None
            band = params.get("band_kpa") if isinstance(params, dict) else None
            if band is not None:
                band = (float(band[0]), float(band[1]))
            batch.session_id, batch.point_id = session_id, point_id
            batch.app_id = self.store.begin_application(
                session_id, point_id, t_start_s=float(info.get("t_s", time.monotonic())),
                probe_area_cm2=batch.probe_area, protocol=info.get("protocol"), params=params,
                probe=info.get("probe"), calibration=info.get("calibration"), device_uid=info.get("device_uid"),
                contact_kpa=contact if contact is not None else self.default_contact_kpa, band_kpa=band,
                tare_raw=_number(info.get("tare_raw")))
        except StoreError as exc:
            self._failed(exc)
            return False
        batch.info = None
        try:  # after the application row exists: a failure here never makes a second one
            self._safety(batch.app_id, info)
            before = _number(info.get("pain_before"))  # asked before the start (records/pain.py)
            if before is not None and before == int(before) and 0 <= before <= 10:
                self.store.add_pain(batch.session_id, int(before), "before", point_id=batch.point_id,
                                    application_id=batch.app_id, t_s=_number(info.get("t_s")))
        except StoreError as exc:
            self.error = exc
        return True

    def _safety(self, app_id: int, info: dict) -> None:
        """The PPT the %PPT targets used and the start decision's cautions (what was acknowledged)."""
        ppt_id, cautions = info.get("ppt_id"), info.get("cautions")
        if ppt_id is None and not cautions:
            return
        with self.store.transaction("saving the application's PPT and cautions") as conn:
            if ppt_id is not None:
                self.store.set_application_ppt(app_id, ppt_id, conn=conn)
            if cautions:
                self.store.add_application_cautions(app_id, cautions, conn=conn)

    def _unassigned_session(self) -> int:
        try:
            client_id = self.store.client(UNASSIGNED)["id"]
        except StoreError:  # the first recording without a client
            client_id = self.store.add_client(
                UNASSIGNED, notes="recordings made before a client was chosen: move or erase them")
        return self.store.start_session(client_id)

    def _point_id(self, point, session_id: int) -> int:
        if isinstance(point, (int, np.integer)):
            return int(point)
        if isinstance(point, str) and point.strip():
            client_id = self.store.session(session_id)["client_id"]
            location, _, side = point.partition(":")
            try:
                bodymap.location(location)
                return self.store.point(client_id, location, side or "mid")
            except ValueError:  # a runner's own name for the point: kept with its side, to be placed later
                from pointdose.records.clinical import find_free_point

                found = find_free_point(self.store, client_id, point)  # placed, moved or renamed since
                if found is not None:
                    return found
                label, side = bodymap.split_side(point)
                return self.store.point(client_id, "unplaced", side, label=label)
        if isinstance(point, dict) and point.get("id") is not None:
            return int(point["id"])
        if isinstance(point, dict) and point.get("location"):
            client_id = self.store.session(session_id)["client_id"]
            return self.store.point(client_id, point["location"], point.get("side", "mid"), label=point.get("label"),
                                    view=point.get("view"), x=point.get("x"), y=point.get("y"),
                                    landmarks=point.get("landmarks"))
        if point is None or (isinstance(point, str) and not point.strip()):
            # nobody named the point: keep the application under an unplaced one, never drop it
            client_id = self.store.session(session_id)["client_id"]
            return self.store.point(client_id, "unplaced", "mid", label=UNNAMED_POINT)
        raise StoreError(f"the application's point {point!r} is not one the records know: "
                         "give a point id or {'location': …, 'side': …}")

    def _side_table(self, conn, batch: _Batch, t_s: float, kind: str, data: dict) -> None:
        """Events with tables of their own, written through the Store in the samples' transaction."""
        app_id = batch.app_id
        kpa = _number(data.get("kpa"))
        if kind == "ppt" and kpa is not None and kpa > 0:
            stage = data.get("stage") if data.get("stage") in ("before", "after") else None
            trials = [t for t in data.get("trials") or [] if isinstance(t, dict)]
            rates = [r for r in (_number(t.get("rate_kpa_s")) for t in trials if t.get("ppt_kpa") is not None)
                     if r is not None]
            repeats = data.get("repeats")
            self.store.add_ppt(batch.point_id, batch.session_id, kpa, probe_area_cm2=batch.probe_area,
                               ramp_kpa_s=_number(data.get("ramp_kpa_s")), stage=stage, application_id=app_id,
                               probe=batch.probe, calibration=batch.calibration,
                               repeats=repeats, conn=conn, protocol=batch.protocol,
                               sd_kpa=_number(data.get("sd_kpa")), n=_int(data.get("n"), repeats),
                               planned=_int(data.get("planned")),
                               measured_rate_kpa_s=sum(rates) / len(rates) if rates else None,
                               censored=_censored(data, trials))
        elif kind == "phase_start" and data.get("phase") == "hold":
            # the target band as guided (a %PPT or N target is only known in kPa once running): the first
            # hold's band is the application's, so its metrics (time in band) use it
            lo, hi = _number(data.get("band_lo_kpa")), _number(data.get("band_hi_kpa"))
            if lo is not None and hi is not None:
                self.store.write_band(conn, app_id, lo, hi)
        elif kind in ("pain", "pain_rating") and _number(data.get("value")) is not None:
            value = int(data["value"])
            stage = data.get("stage") if data.get("stage") in ("before", "during", "after") else "during"
            if 0 <= value <= 10:
                self.store.add_pain(batch.session_id, value, stage, point_id=batch.point_id, application_id=app_id,
                                    t_s=t_s, conn=conn)


def _censored(data: dict, trials: list[dict]) -> bool:
    """The engine's own flag (a counted trial reached the ceiling without a signal) when it gives one,
    else: some trial ended without a PPT."""
    if "censored" in data:
        return bool(data["censored"])
    return any(t.get("ppt_kpa") is None for t in trials)


def _int(value, fallback_list=None) -> int | None:
    num = _number(value)
    if num is None and isinstance(fallback_list, list):
        return len(fallback_list)
    return None if num is None else int(num)


def _number(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None
