"""Device time → host time, sequence unwrapping and gap accounting.

The device sends each sample's sequence number and µs time modulo 2^30 (about 17.9 minutes).
:class:`DeviceClock` turns them into continuous numbers and maps device time onto the host's
``time.monotonic()`` seconds.

Unwrapping
    Within one boot, the forward difference modulo 2^30 between consecutive samples is the true
    step (a sample comes at most every 65 ms). If the stream paused for longer than 2^30 µs, the
    host's own elapsed time says how many whole wraps were skipped. A new boot id (from ``hello``
    or STATUS) starts a new *segment*: counts restart and no gap is reported. A backward jump of
    the sequence number within what we believe is one boot can only be a reboot we have not yet
    been told about: it also starts a segment, which adopts the boot id when it arrives.

Time mapping (lower envelope)
    For every received chunk, ``o = rx_host_s − t_dev_s`` of its newest sample. Transport only
    ever adds delay, so ``o = offset + delay`` with ``delay ≥ 0``: the smallest ``o`` seen is the
    best offset estimate. Device and host crystals differ by up to ±200 ppm, so the minimum over
    all time would drift away; instead the minimum is kept per 2-second window (last 60 windows),
    the drift is the least-squares slope of the window minima against device time (clamped to
    ±200 ppm, only once the windows span 20 s) and the mapping is the line with that slope that
    passes through the lowest window minimum: ``t_host = t_dev·(1 + drift) + intercept``. The
    newest observation is always in the fit, so a sample is never mapped later than it arrived.
    When the estimate falls (a chunk arrives with less delay than any before), the mapping does
    not step back: a chunk that would start before the previous one is fitted between the
    previous sample and where the new estimate puts its newest sample, so mapped time never runs
    backwards within a segment (metrics, alarms and records all rely on that) and no sample is
    mapped after it arrived. Each segment starts its own estimate.

Gaps
    Missing sequence numbers within a segment are counted in ``lost_samples``. The device's own
    ring-overflow count (STATUS ``overflow``) is a separate figure kept by the link.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from pointdose.protocol.wire import TICK_MOD

HALF = TICK_MOD // 2
MAX_DRIFT = 200e-6
WINDOW_S = 2.0
WINDOWS = 60
MIN_SPAN_FOR_DRIFT_S = 20.0
MIN_STEP_S = 1e-6  # the least step between consecutive mapped samples while slewing


@dataclass
class Unwrapped:
    seq: np.ndarray  # int64, continuous within a segment
    t_dev_us: np.ndarray  # int64, device µs, continuous within a segment
    t_host_s: np.ndarray  # float64, host monotonic seconds
    segments: np.ndarray  # int32, segment of each row
    lost: int  # sequence numbers missing in front of / within this block


class DeviceClock:
    def __init__(self) -> None:
        self.segment = 0
        self.boot_id: str | None = None
        self.lost_samples = 0
        self.boot_changes = 0
        self._reset_segment()

    def _reset_segment(self) -> None:
        self._last_seq: int | None = None  # unwrapped
        self._last_t: int | None = None  # unwrapped µs
        self._last_rx: float | None = None
        self._windows: deque[list[float]] = deque(maxlen=WINDOWS)  # [window_start_rx, t_dev_s, o]
        self.drift = 0.0
        self.intercept: float | None = None
        self._last_host: float | None = None  # newest mapped time in this segment
        self._boot_pending = False  # segment started by a backward jump; boot id not yet known

    # --- segments ------------------------------------------------------------------------------

    def set_boot(self, boot_id: str) -> bool:
        """Tell the clock the device's boot id; returns True if this started a new segment."""
        boot_id = boot_id.lower()
        if self.boot_id is None or boot_id == self.boot_id:
            self.boot_id = boot_id
            self._boot_pending = False
            return False
        self.boot_id = boot_id
        self.boot_changes += 1
        if self._boot_pending:  # the backward jump already opened this segment
            self._boot_pending = False
            return False
        self._new_segment()
        return True

    def _new_segment(self) -> None:
        self.segment += 1
        self._reset_segment()

    # --- samples --------------------------------------------------------------------------------

    def expect_seq(self, next_seq30: int) -> None:
        """The device says the next sample gets ``next_seq30`` (``start`` reply): a forward jump to
        it is not a loss (the device samples, and counts, while not streaming)."""
        if self._last_seq is None:
            return
        d = (int(next_seq30) - self._last_seq) % TICK_MOD
        if 0 < d < HALF:
            self._last_seq += d - 1

    def unwrap(self, seq30: np.ndarray, t30_us: np.ndarray, rx_time: float) -> Unwrapped:
        """Unwrap one chunk's samples (in arrival order) received at host time ``rx_time``."""
        seq30 = np.asarray(seq30, np.int64)
        t30 = np.asarray(t30_us, np.int64)
        if len(seq30) == 0:
            e = np.zeros(0, np.int64)
            return Unwrapped(e, e, np.zeros(0), np.zeros(0, np.int32), 0)
        dseq = np.diff(seq30) % TICK_MOD
        back = np.flatnonzero((dseq >= HALF) | (dseq == 0))
        if len(back):  # restarts inside the chunk: each run goes to its own segment (any number of them)
            bounds = [0, *(back + 1).tolist(), len(seq30)]
            parts = [self._unwrap_run(seq30[a:b], t30[a:b], rx_time) for a, b in zip(bounds[:-1], bounds[1:])]
            return Unwrapped(*(np.concatenate([getattr(p, f) for p in parts])
                               for f in ("seq", "t_dev_us", "t_host_s", "segments")),
                             sum(p.lost for p in parts))
        return self._unwrap_run(seq30, t30, rx_time)

    def _unwrap_run(self, seq30: np.ndarray, t30: np.ndarray, rx_time: float) -> Unwrapped:
        """Unwrap samples whose sequence numbers only move forward."""
        dseq = np.diff(seq30) % TICK_MOD
        if self._last_seq is not None:
            d0 = (int(seq30[0]) - self._last_seq) % TICK_MOD
            if d0 >= HALF or d0 == 0:  # backward (or repeated): the device restarted
                self._new_segment()
                self._boot_pending = True
        n = len(seq30)
        dt = np.diff(t30) % TICK_MOD
        if self._last_seq is None:
            seq_start, t_start, lost = int(seq30[0]), int(t30[0]), 0
        else:
            d0 = (int(seq30[0]) - self._last_seq) % TICK_MOD
            lost = d0 - 1
            t_step = (int(t30[0]) - self._last_t) % TICK_MOD
            elapsed_us = (rx_time - self._last_rx) * 1e6
            wraps = max(0, round((elapsed_us - t_step) / TICK_MOD))  # pauses longer than 17.9 min
            seq_start = self._last_seq + d0
            t_start = self._last_t + t_step + wraps * TICK_MOD
        lost += int((dseq - 1).sum())
        seq = np.empty(n, np.int64)
        seq[0] = 0
        np.cumsum(dseq, out=seq[1:])
        seq += seq_start
        t = np.empty(n, np.int64)
        t[0] = 0
        np.cumsum(dt, out=t[1:])
        t += t_start
        self._last_seq, self._last_t, self._last_rx = int(seq[-1]), int(t[-1]), rx_time
        self.lost_samples += lost
        self._observe(t[-1] * 1e-6, rx_time)
        t_host = t * 1e-6 * (1.0 + self.drift) + self.intercept
        if self._last_host is not None and t_host[0] <= self._last_host:
            # the offset estimate fell (this chunk came with less delay than any before): rather than
            # step back, fit the chunk between the previous sample and where the new estimate puts
            # its newest one, so mapped time never runs backwards and never passes the arrival time
            # (a chunk wholly behind the previous sample gets MIN_STEP_S between its samples)
            lo = self._last_host + MIN_STEP_S
            hi = max(float(t_host[-1]), lo + (n - 1) * MIN_STEP_S)
            span = int(t[-1] - t[0])
            if span > 0:
                t_host = lo + (t - t[0]) * ((hi - lo) / span)
            else:
                t_host = lo + np.arange(n) * MIN_STEP_S
        self._last_host = float(t_host[-1])
        return Unwrapped(seq, t, t_host, np.full(n, self.segment, np.int32), lost)

    def _observe(self, t_dev_s: float, rx_time: float) -> None:
        o = rx_time - t_dev_s
        w = self._windows
        if w and rx_time - w[-1][0] < WINDOW_S:
            if o < w[-1][2]:
                w[-1][1], w[-1][2] = t_dev_s, o
        else:
            w.append([rx_time, t_dev_s, o])
        ts = np.array([x[1] for x in w])
        os_ = np.array([x[2] for x in w])
        drift = 0.0
        if len(w) >= 3 and ts[-1] - ts[0] >= MIN_SPAN_FOR_DRIFT_S:
            # rx = t·(1 + d) + c + delay  ⇒  o = rx − t = d·t + c + delay
            drift = float(np.polyfit(ts, os_, 1)[0])
            drift = max(-MAX_DRIFT, min(MAX_DRIFT, drift))
        self.drift = drift
        self.intercept = float(np.min(os_ - drift * ts))

    def event_time(self, t30_us: int, rx_time: float) -> float:
        """Host seconds, on the samples' ``t_dev_s`` scale, of a device event (a BUTTON edge) stamped
        ``t30_us`` (mod 2^30) in the current segment and received at ``rx_time``.

        The event is placed relative to the newest sample (before or after it, whichever the host's
        elapsed time says, so long pauses across wraps still land right). Before the segment's first
        sample there is no mapping yet: the arrival time is returned.
        """
        if self._last_t is None or self.intercept is None or self._last_rx is None:
            return rx_time
        d = (int(t30_us) - self._last_t) % TICK_MOD
        if d >= HALF:
            d -= TICK_MOD
        elapsed_us = (rx_time - self._last_rx) * 1e6
        d += round((elapsed_us - d) / TICK_MOD) * TICK_MOD
        return (self._last_t + d) * 1e-6 * (1.0 + self.drift) + self.intercept

    def to_host(self, t_dev_us: np.ndarray | float) -> np.ndarray | float:
        """Map unwrapped device µs of the current segment to host monotonic seconds."""
        if self.intercept is None:
            raise ValueError("no samples yet in this segment")
        return np.asarray(t_dev_us) * 1e-6 * (1.0 + self.drift) + self.intercept
