"""A synthetic data source with the public surface of ``pointdose.link`` (ring + link).

Used where the simulated device is not available, and by the model tests: a thread appends
load-cell-like counts (a slow press-and-release with noise and one spike) to a ring at a fixed
rate. It stands in only for the pieces the app reads: ``ring.window``, ``ring.last``,
``ring.version``, ``ring.total_appended``; ``link.device``, ``.stats``, ``.state``, ``.ring``,
``.start()``, ``.stop()``, ``.tare()``, ``.close()``.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from pointdose.link.info import DeviceInfo

DTYPE = np.dtype([("seq", np.int64), ("t_dev_s", np.float64), ("t_host_rx_s", np.float64),
                  ("raw", np.int32), ("segment", np.int32)])


class FakeRing:
    def __init__(self, capacity: int = 120_000):
        self._data = np.zeros(capacity, dtype=DTYPE)
        self._n = 0
        self._lock = threading.Lock()
        self.version = 0

    @property
    def total_appended(self) -> int:
        return self._n

    def append(self, rows: np.ndarray) -> None:
        with self._lock:
            cap = self._data.size
            for row in rows:  # small batches: simple is fine for a fake
                self._data[self._n % cap] = row
                self._n += 1
            self.version += 1

    def _ordered(self) -> np.ndarray:
        cap = self._data.size
        if self._n <= cap:
            return self._data[: self._n]
        start = self._n % cap
        return np.concatenate([self._data[start:], self._data[:start]])

    def last(self, n: int) -> np.ndarray:
        with self._lock:
            return self._ordered()[-n:].copy()

    def window(self, seconds: float) -> np.ndarray:
        with self._lock:
            data = self._ordered()
            if data.size == 0:
                return data.copy()
            t = data["t_dev_s"]
            return data[np.searchsorted(t, t[-1] - seconds):].copy()


class State(enum.Enum):
    CONNECTING = 1
    CONNECTED = 2
    STREAMING = 3
    LOST = 4
    CLOSED = 5


@dataclass
class Stats:
    samples: int = 0
    lost_samples: int = 0
    device_overflow: int = 0
    crc_errors: int = 0
    framing_errors: int = 0
    reconnects: int = 0
    boot_changes: int = 0
    last_sample_host_time: float = 0.0


COUNTS_PER_N = 2000.0
ZERO = 50_000


def force_profile(t: float) -> float:
    """Newtons: a 6 s press to ~30 N (300 kPa on 1 cm²), hold, release, rest; repeated."""
    phase = t % 10.0
    if phase < 2.0:
        return 15.0 * phase
    if phase < 6.0:
        return 30.0 + 2.0 * math.sin(2 * math.pi * 0.5 * phase)
    if phase < 7.0:
        return 30.0 * (7.0 - phase)
    return 0.0


class FakeLink:
    def __init__(self, rate_hz: float = 200.0, *, calibrated: bool = True, batch: int = 4, history_s: float = 0.0):
        self.ring = FakeRing()
        self.rate_hz = rate_hz
        self.batch = batch
        self.state = State.CONNECTING
        self.stats = Stats()
        self.device = DeviceInfo.from_fields({
            "fw": "0.1.0-fake", "proto": "1", "board": "fake", "sensor": "sim", "rate": str(int(rate_hz)),
            "uid": "fa4e0001", "boot": "00000000", "raw_min": "-8388608", "raw_max": "8388607",
            "tare": "0", "cal": f"linear:{COUNTS_PER_N}:{ZERO}" if calibrated else "none"})
        self._seq = 0
        self._stop = threading.Event()
        self._streaming = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = np.random.default_rng(1)
        self._t0 = time.monotonic()
        if history_s:
            self._fill_history(history_s)

    def _rows(self, times: np.ndarray, rx: np.ndarray) -> np.ndarray:
        rows = np.zeros(times.size, dtype=DTYPE)
        rows["seq"] = np.arange(self._seq, self._seq + times.size)
        self._seq += times.size
        rows["t_dev_s"] = times
        rows["t_host_rx_s"] = rx
        force = np.array([force_profile(t - self._t0) for t in times])
        noise = self._rng.normal(0, 40, times.size)
        rows["raw"] = (ZERO + force * COUNTS_PER_N + noise).astype(np.int32)
        return rows

    def _fill_history(self, seconds: float) -> None:
        now = time.monotonic()
        times = np.arange(now - seconds, now, 1.0 / self.rate_hz)
        self._t0 = times[0]
        self.ring.append(self._rows(times, times + 0.002))

    def open(self) -> None:
        self.state = State.CONNECTED

    def start(self) -> None:
        self.state = State.STREAMING
        self._streaming.set()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fake-link-reader", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._streaming.clear()
        if self.state != State.CLOSED:
            self.state = State.CONNECTED

    def tare(self) -> None:
        time.sleep(0.2)
        recent = self.ring.last(max(1, int(self.rate_hz / 2)))
        if recent.size:
            self.device = self.device.with_fields(tare=int(recent["raw"].mean()))

    def close(self) -> None:
        self._stop.set()
        self._streaming.clear()
        self.state = State.CLOSED
        if self._thread is not None:
            self._thread.join(2)

    def _run(self) -> None:
        period = 1.0 / self.rate_hz
        next_t = time.monotonic()
        while not self._stop.is_set():
            next_t += period * self.batch
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if not self._streaming.is_set():
                next_t = time.monotonic()
                continue
            now = time.monotonic()
            times = now - period * np.arange(self.batch - 1, -1, -1)
            rows = self._rows(times, np.full(self.batch, now))
            self.ring.append(rows)
            self.stats.samples += rows.size
            self.stats.last_sample_host_time = now
