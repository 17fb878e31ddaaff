"""Preallocated sample ring: value, device time and sequence number per sample.

When full, ``push`` overwrites the oldest unsent sample and counts it in
``dropped`` (saturating at 2^30 - 1).  Nothing allocates after construction.

Usage::

    r = Ring(512)
    r.push(value, t_us, seq)
    i = r.tail                      # oldest: r.val[i], r.time[i], r.seq[i]
    r.pop(n)                        # after sending n samples
"""
from array import array
from micropython import const

_MAX = const(0x3FFFFFFF)


class Ring:
    def __init__(self, cap):
        if cap < 2:
            raise ValueError("ring capacity")
        self.cap = cap
        z = bytes(4 * cap)
        self.val = array("i", z)
        self.time = array("i", z)
        self.seq = array("i", z)
        self.head = 0       # next slot to write
        self.tail = 0       # oldest sample
        self.count = 0
        self.dropped = 0    # overwritten before they were sent, since boot

    def push(self, v, t, s):
        """Store one sample; returns 1 when the oldest one was dropped, else 0."""
        h = self.head
        self.val[h] = v
        self.time[h] = t
        self.seq[h] = s
        h += 1
        if h == self.cap:
            h = 0
        self.head = h
        if self.count < self.cap:
            self.count += 1
            return 0
        # Full: the slot just written was the oldest one.
        self.tail = h
        if self.dropped < _MAX:
            self.dropped += 1
        return 1

    def pop(self, n):
        if n > self.count:
            n = self.count
        t = self.tail + n
        if t >= self.cap:
            t -= self.cap
        self.tail = t
        self.count -= n

    def clear(self):
        self.head = self.tail = self.count = 0
