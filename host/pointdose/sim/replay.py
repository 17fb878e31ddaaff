"""A recorded application as the simulated device's force: ``pointdose sim --replay``.

The host reads the recording (an application in the records, or a samples CSV with ``t_s`` and
``force_n`` or ``pressure_kpa``), turns it into ``MS NEWTONS`` lines — times from 0, divided by
``--speed`` — and hands the file to the firmware (``POINTDOSE_REPLAY``). The firmware's simulated
sensor plays it by device time, looped, through the same conversion as any other simulated force
(``firmware/pd_simsensor.py``), so the link, sessions, LSL and every tool see a live device that
still says it is simulated. No noise or drift is added: the recording carries its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pointdose import units
from pointdose.errors import UserError

MAX_POINTS = 50000  # firmware/pd_simsensor.py MAX_REPLAY; longer recordings are thinned evenly
SPEED_RANGE = (0.05, 20.0)  # setting: slower than 1/20 or faster than 20x is no longer a pressure a hand makes
FORCE_LIMIT_N = 1000.0  # the simulated sensor's force range
MAX_DURATION_S = 24 * 3600.0  # a round longer than a day is not an application (the firmware takes ~6 days)


@dataclass(frozen=True)
class Replay:
    """Times (s, from 0, already divided by the speed) and forces (N) the firmware will play."""

    t_s: np.ndarray
    force_n: np.ndarray
    source: str  # "application 12" or the CSV's name
    speed: float = 1.0

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1])

    def lines(self) -> list[str]:
        """``MS NEWTONS`` lines: whole milliseconds, strictly increasing, at most MAX_POINTS."""
        ms = np.rint(self.t_s * 1000.0).astype(np.int64)
        keep = np.concatenate(([True], np.diff(ms) > 0))  # a speed-up can put two samples in one ms
        ms, f = ms[keep], self.force_n[keep]
        if len(ms) > MAX_POINTS:
            idx = np.unique(np.linspace(0, len(ms) - 1, MAX_POINTS).round().astype(np.int64))
            ms, f = ms[idx], f[idx]
        return [f"{int(m)} {float(v):.4f}" for m, v in zip(ms, f)]

    def write(self, path: Path) -> Path:
        Path(path).write_text(f"# pointdose replay of {self.source}, speed {self.speed:g}\n"
                              + "\n".join(self.lines()) + "\n", encoding="utf-8")
        return Path(path)


def check_speed(speed: float) -> float:
    lo, hi = SPEED_RANGE
    try:
        speed = float(speed)
    except (TypeError, ValueError):
        raise UserError(f"--speed {speed!r} is not a number: give e.g. 1 (as recorded) or 2 (twice as fast)") from None
    if not math.isfinite(speed) or not lo <= speed <= hi:
        raise UserError(f"--speed {speed:g} is out of range: give {lo:g} to {hi:g} (1 plays as recorded)")
    return speed


def check_area(area) -> float:
    try:
        area = float(area)
    except (TypeError, ValueError):
        raise UserError(f"--probe-area {area!r} is not a number: give the probe's area in cm², e.g. 1") from None
    if not (math.isfinite(area) and 0.01 <= area <= 100):
        raise UserError(f"--probe-area {area:g} cm² is out of range: give 0.01 to 100")
    return area


def from_samples(t_s, force_n, source: str, speed: float = 1.0) -> Replay:
    """A Replay from a trace; out-of-order times (a device restart) are dropped, not sorted in."""
    speed = check_speed(speed)
    t = np.asarray(t_s, dtype=np.float64)
    f = np.asarray(force_n, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(f)
    t, f = t[ok], f[ok]
    if len(t):
        keep = t > np.maximum.accumulate(np.concatenate(([-np.inf], t[:-1])))
        t, f = t[keep], f[keep]
    if len(t) < 2 or t[-1] - t[0] < 0.01:
        raise UserError(f"{source} has too few samples to replay (need at least 2 over 10 ms or more)")
    if np.max(np.abs(f)) > FORCE_LIMIT_N:
        raise UserError(f"{source} holds forces beyond ±{FORCE_LIMIT_N:g} N, more than the simulated sensor "
                        f"reads: check its force_n/pressure_kpa column")
    if (t[-1] - t[0]) / speed > MAX_DURATION_S:
        raise UserError(f"{source} would play for {(t[-1] - t[0]) / speed / 3600:.0f} h: a replay lasts at most "
                        f"{MAX_DURATION_S / 3600:g} h (check its t_s column is in seconds, or raise --speed)")
    return Replay((t - t[0]) / speed, f, source, speed)


def load(source: str, *, db: str | None = None, speed: float = 1.0,
         probe_area_cm2: float | None = None) -> Replay:
    """``source``: an application id in the records (``db``) or a samples CSV file.

    A CSV without ``force_n`` converts its ``pressure_kpa`` with ``probe_area_cm2`` (default
    pointdose.units.DEFAULT_PROBE_AREA_CM2, a setting).
    """
    speed = check_speed(speed)
    text = str(source).strip()
    if text.isdigit() and not Path(text).is_file():
        return _from_records(int(text), db, speed)
    if probe_area_cm2 is not None:
        probe_area_cm2 = check_area(probe_area_cm2)
    from pointdose.records.trace_csv import read_trace  # read_user_file: one clear line for any bad CSV

    cols = read_trace(text)
    if "force_n" in cols:
        force = cols["force_n"]
    else:
        force = units.force_n(np.asarray(cols["pressure_kpa"]), probe_area_cm2 or units.DEFAULT_PROBE_AREA_CM2)
    return from_samples(cols["t_s"], force, Path(text).name, speed)


def _from_records(app_id: int, db: str | None, speed: float) -> Replay:
    from pointdose.records.store import Store

    with Store(db, readonly=True, create=False) as store:
        store.application(app_id)  # "there is no application N in the records"
        rows = store.samples(app_id)
    if len(rows) == 0:
        raise UserError(f"application {app_id} has no samples to replay")
    return from_samples(rows["t_s"], rows["force_n"], f"application {app_id}", speed)
