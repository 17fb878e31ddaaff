"""Thread-safe ring of samples: the reader thread appends, the GUI/engine copies windows out.

Readers always get copies, never views of the ring, so the writer can keep overwriting. ``version``
increases on every append, so a render loop can skip work when nothing changed.
"""

from __future__ import annotations

import threading

import numpy as np

RING_DTYPE = np.dtype([
    ("seq", np.int64),  # unwrapped sequence number (per segment)
    ("t_dev_s", np.float64),  # device time of the sample, mapped to host monotonic seconds
    ("t_host_rx_s", np.float64),  # host monotonic time the chunk holding it arrived
    ("raw", np.int32),  # raw sensor counts
    ("segment", np.int32),  # increments on each device reboot
])


class SampleRing:
    def __init__(self, capacity: int = 600_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = int(capacity)
        self._data = np.zeros(self.capacity, RING_DTYPE)
        self._lock = threading.Lock()
        self._count = 0  # valid rows
        self._head = 0  # next row to write
        self.total_appended = 0
        self.version = 0

    def __len__(self) -> int:
        return self._count

    def append(self, block: np.ndarray) -> None:
        """Append rows (any structured array with the ring's field names; values are copied)."""
        n = len(block)
        if n == 0:
            return
        if block.dtype != RING_DTYPE:
            conv = np.zeros(n, RING_DTYPE)
            for name in RING_DTYPE.names:
                conv[name] = block[name]
            block = conv
        with self._lock:
            if n >= self.capacity:
                self._data[:] = block[-self.capacity :]
                self._head = 0
            else:
                first = min(n, self.capacity - self._head)
                self._data[self._head : self._head + first] = block[:first]
                self._data[: n - first] = block[first:]
                self._head = (self._head + n) % self.capacity
            self._count = min(self.capacity, self._count + n)
            self.total_appended += n
            self.version += 1

    def clear(self) -> None:
        with self._lock:
            self._count = self._head = 0
            self.version += 1

    def _range(self, start: int, stop: int) -> np.ndarray:
        """Copy logical rows [start, stop) (0 = oldest); caller holds the lock."""
        base = (self._head - self._count) % self.capacity
        a, b = (base + start) % self.capacity, (base + stop) % self.capacity
        if stop - start <= 0:
            return np.zeros(0, RING_DTYPE)
        if a < b:
            return self._data[a:b].copy()
        return np.concatenate([self._data[a:], self._data[:b]])

    def last(self, n: int) -> np.ndarray:
        """Copy of the newest ``n`` rows (fewer if the ring holds fewer), oldest first."""
        with self._lock:
            n = max(0, min(int(n), self._count))
            return self._range(self._count - n, self._count)

    def since(self, total: int) -> tuple[int, np.ndarray]:
        """``(total_appended now, rows appended after the first `total`)`` under one lock.

        For readers that must see every row exactly once (the session runner, the monitor):
        reading ``total_appended`` and then ``last(n)`` separately lets the reader thread append in
        between, skipping rows and repeating others. Rows already overwritten are gone; the
        returned rows then start with the oldest still held.
        """
        with self._lock:
            now = self.total_appended
            n = max(0, min(now - int(total), self._count))
            return now, self._range(self._count - n, self._count)

    def window(self, seconds: float) -> np.ndarray:
        """Copy of the rows whose ``t_dev_s`` lies within ``seconds`` of the newest row's.

        Binary search over the logical order: assumes ``t_dev_s`` is (nearly) non-decreasing,
        which the clock mapping keeps within each segment and across reconnects.
        """
        with self._lock:
            if self._count == 0:
                return np.zeros(0, RING_DTYPE)
            base = (self._head - self._count) % self.capacity
            t = self._data["t_dev_s"]
            cutoff = t[(self._head - 1) % self.capacity] - seconds
            lo, hi = 0, self._count
            while lo < hi:
                mid = (lo + hi) // 2
                if t[(base + mid) % self.capacity] < cutoff:
                    lo = mid + 1
                else:
                    hi = mid
            return self._range(lo, self._count)

    def snapshot(self) -> tuple[int, np.ndarray]:
        """``(version, all rows)`` taken under one lock."""
        with self._lock:
            return self.version, self._range(0, self._count)
