"""30-bit microsecond clock, wrap-safe arithmetic and a drift-free schedule.

The boards' ``time.ticks_us`` wraps at 2^30 (about 17.9 minutes) while the unix
port's wraps at 2^62, so everything here works on 30-bit ticks
(``t & 0x3FFFFFFF``) with its own wrap-safe ``diff``/``add``.  Every
intermediate value stays inside the boards' small-int range (-2^30 .. 2^30-1),
so none of these functions allocates on a board.

Usage::

    clk = Clock()                   # or Clock(start=0x3FFFFFFF - 10**6)
    t0 = clk.now()
    ...
    elapsed = diff(clk.now(), t0)   # correct across the wrap
"""
import time
import micropython
from micropython import const

MASK = const(0x3FFFFFFF)    # 2^30 - 1: ticks, sequence numbers, counters
_HALF = const(0x20000000)   # 2^29


@micropython.native
def diff(a, b):
    """Signed a - b in ticks, wrap-safe, result in [-2^29, 2^29)."""
    d = (a - b) & MASK
    if d >= _HALF:
        d = d - _HALF - _HALF
    return d


@micropython.native
def add(a, d):
    """(a + d) mod 2^30 for 0 <= a < 2^30 and -2^30 < d < 2^30, no big ints."""
    if d >= 0:
        t = a - MASK + d - 1        # in [-2^30, 2^30 - 2]
        if t < 0:
            t = t + MASK + 1
        return t
    t = a + d                       # in (-2^29, 2^30)
    if t < 0:
        t = t + MASK + 1
    return t


class Clock:
    """The device clock: ``time.ticks_us`` reduced to 30 bits plus a start offset.

    ``start`` (µs) sets the value ``now()`` returns at construction time, so a
    test can start the clock just before the 2^30 wrap
    (env ``POINTDOSE_TICKS_START`` on the unix port).
    """

    poll_sleep = True   # the device loop may sleep in poll() to wake on input

    def __init__(self, start=None):
        self._off = 0
        if start is not None:
            raw = time.ticks_us() & MASK
            self._off = (int(start) - raw) & MASK

    @micropython.native
    def now(self):
        t = time.ticks_us() & MASK
        if self._off:
            t = add(t, self._off)
        return t

    @micropython.native
    def sleep_us(self, us):
        if us > 0:
            time.sleep_us(us)


class FakeClock:
    """A clock that only moves when told to (tests and benchmarks).

    ``auto`` µs are added on every ``now()`` call, so code that waits on the
    clock (a driver's deadline) still terminates.
    """

    def __init__(self, start=0, auto=0):
        self.t = start & MASK
        self.auto = auto

    @micropython.native
    def now(self):
        if self.auto:
            self.t = add(self.t, self.auto)
        return self.t

    def advance(self, us):
        self.t = add(self.t, us & MASK)

    def set(self, t):
        self.t = t & MASK

    @micropython.native
    def sleep_us(self, us):
        if us > 0:
            self.advance(us)

    def ticks_ms(self):
        """A ``time.ticks_ms`` stand-in driven by this clock (wraps at 2^30 µs)."""
        return self.now() // 1000


class Schedule:
    """Drift-free periodic schedule: ``next_due += period``, never ``now + period``.

    After a stall longer than one period the missed slots are skipped, not
    burst-sampled: the next sample is taken once, immediately, and the
    following one stays on the original phase grid.  ``missed`` counts the
    skipped slots (saturating below 2^30).
    """

    def __init__(self, period_us, now):
        self.period = period_us
        self.next_due = now
        self.missed = 0
        self._fresh = False

    def reset(self, now):
        """Restart: the next ``due()`` call samples and anchors the grid there."""
        self.next_due = now
        self._fresh = True

    def set_period(self, period_us, now):
        self.period = period_us
        self.reset(now)

    @micropython.native
    def due(self, now):
        """True when a sample is due at ``now``; advances the schedule."""
        p = self.period
        if self._fresh:
            self._fresh = False
            self.next_due = add(now, p)
            return True
        late = (now - self.next_due) & MASK    # diff(), inlined: runs on every pass
        if late >= _HALF:
            return False
        if late < p:
            n = self.next_due - MASK + p - 1   # add(), inlined, below 2^30 throughout
            if n < 0:
                n = n + MASK + 1
            self.next_due = n
            return True
        # Stall: skip the slots that went by, keep the phase grid.
        k = late // p
        if self.missed < MASK - k:
            self.missed += k
        self.next_due = add(self.next_due, (k + 1) * p)
        return True

    def wait_us(self, now):
        """µs until the next slot (0 when due)."""
        d = diff(self.next_due, now)
        return d if d > 0 else 0
