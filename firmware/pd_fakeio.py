"""Fake host-link streams for tests and benchmarks (unix port; not needed on a board).

Both work with ``select.poll`` through the stream ``ioctl`` protocol; tests and
the benchmark pair them with ``FakePoller`` because polling a non-file object
on the unix port costs about a millisecond.

Usage::

    inp = FakeIn(); out = FakeOut(capture=4096)
    inp.feed(b"1 hello\\n")
    dev = Device(cfg, sensor, FakeClock(), inp, out)
    dev.step(); out.data()      # the bytes written
"""
import io
from micropython import const

_POLL = const(3)            # MP_STREAM_POLL
_GET_FILENO = const(10)     # MP_STREAM_GET_FILENO: -1 = no file descriptor, poll via ioctl
_POLLIN = const(0x0001)
_POLLOUT = const(0x0004)
_POLLHUP = const(0x0010)


class FakeIn(io.IOBase):
    def __init__(self, size=4096):
        self._buf = bytearray(size)
        self._r = 0
        self._w = 0
        self.closed_ = False    # True: end of input once drained

    def feed(self, data):
        if self._r == self._w:
            self._r = self._w = 0
        for b in data:
            self._buf[self._w] = b
            self._w += 1

    def pending(self):
        return self._w - self._r

    def ioctl(self, req, arg):
        if req == _POLL:
            if self._r < self._w:
                return arg & _POLLIN
            if self.closed_:
                return _POLLHUP
            return 0
        if req == _GET_FILENO:
            return -1
        return 0

    def readinto(self, buf, n=-1):
        if n < 0:
            n = len(buf)
        k = 0
        while k < n and self._r < self._w:
            buf[k] = self._buf[self._r]
            self._r += 1
            k += 1
        return k


class FakeOut(io.IOBase):
    """Counts (and optionally captures) what is written; ``writable`` can be switched off."""

    def __init__(self, capture=0, limit=0):
        self.writable = True
        self.limit = limit      # >0: accept at most this many bytes per write
        self.nbytes = 0
        self.writes = 0
        self._cap = bytearray(capture) if capture else None
        self._n = 0

    def ioctl(self, req, arg):
        if req == _POLL:
            return arg & _POLLOUT if self.writable else 0
        if req == _GET_FILENO:
            return -1
        return 0

    def write(self, buf, off=0, n=-1):
        if n < 0:
            n = len(buf) - off
        if self.limit and n > self.limit:
            n = self.limit
        self.writes += 1
        self.nbytes += n
        c = self._cap
        if c is not None:
            k = self._n
            if k + n > len(c):
                raise OSError(28)   # ENOSPC: the test's capture buffer is too small
            for i in range(n):
                c[k + i] = buf[off + i]
            self._n = k + n
        return n

    def data(self):
        return bytes(self._cap[:self._n]) if self._cap is not None else b""

    def take(self):
        d = self.data()
        self._n = 0
        return d


class FakePin:
    """A GPIO stand-in (unix port): ``value()`` reads/writes ``level``, ``tone(hz)`` is recorded.

    Outputs (LED, buzzer) count their changes; inputs (buttons) are "pressed" by setting
    ``level`` (``sim button`` does this through ``pd_cue.Buttons.sim_press``).
    """

    def __init__(self, name="pin", level=0):
        self.name = name
        self.level = level
        self.hz = 0
        self.changes = 0

    def value(self, v=None):
        if v is None:
            return self.level
        v = 1 if v else 0
        if v != self.level:
            self.level = v
            self.changes += 1

    def tone(self, hz):
        self.hz = hz


class FakePoller:
    """Stands in for ``pd_device.StreamPoller`` over fake streams.

    (``select.poll`` accepts objects with an ``ioctl``, but on the unix port
    polling a non-file object costs about a millisecond per call.)
    """

    def __init__(self, inp, out):
        self._in = inp
        self._out = out

    def poll(self):
        f = _POLLOUT if self._out.writable else 0
        if self._in.pending() or self._in.closed_:
            f |= _POLLIN
        return f

    def readable(self):
        return self._in.pending() > 0 or self._in.closed_

    def wait_input(self, ms):
        pass
