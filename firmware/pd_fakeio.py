"""Fake host links and board I/O for tests and benchmarks (unix port; not needed on a board).

The boards hand the firmware ONE duplex stream (``sys.stdin.buffer is
sys.stdout.buffer`` on rp2 and esp32), so the fakes the tests use are duplex
too:

- ``FakeStdio``: one object, read and written, polled through ``ioctl``.
- ``CdcStdio``: the rp2 USB CDC as MicroPython v1.28 drives it: POLLOUT
  means one free byte in a 256-byte TX FIFO, and a write then waits (the
  clock runs) until its whole chunk fits, up to a 500 ms timeout; host bytes
  go through a 512-byte stdin ring that stops draining when full, and a
  Ctrl-C byte is acted on only as it enters the ring.
- ``FakeSelectPoll``: ``select.poll`` as extmod/modselect.c does it
  (``register()`` of an object already registered REPLACES its mask), minus
  the unix port's 1 ms wait when a polled object has no file descriptor; an
  optional ``tick_ms`` rounds timed waits up to a FreeRTOS tick like esp32.
- ``FloatingPin``: ``Pin(n, Pin.IN)`` on rp2 with no pull and nothing
  connected: it reads whatever the noise says.
- ``FakeIn``/``FakeOut``: the unix port's two stdio objects (one test keeps
  that case).

Usage::

    io = FakeStdio(capture=4096)
    io.feed(b"1 hello\\n")
    dev = Device(cfg, sensor, FakeClock(), io, io,
                 poller=StreamPoller(io, io, poll=FakeSelectPoll))
    dev.step(); io.take()      # the bytes written
"""
import io
from micropython import const

_POLL = const(3)            # MP_STREAM_POLL
_GET_FILENO = const(10)     # MP_STREAM_GET_FILENO: -1 = no file descriptor, poll via ioctl
_POLLIN = const(0x0001)
_POLLOUT = const(0x0004)
_POLLHUP = const(0x0010)


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


class FakeStdio(io.IOBase):
    """One duplex stream, as a board's stdio: ``feed()`` host bytes, ``take()`` what was written."""

    def __init__(self, capture=0, size=4096, limit=0):
        self._buf = bytearray(size)
        self._r = 0
        self._w = 0
        self.closed_ = False    # True: end of input once drained
        self.writable = True
        self.limit = limit      # >0: accept at most this many bytes per write
        self.nbytes = 0
        self.writes = 0
        self._cap = bytearray(capture) if capture else None
        self._n = 0

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
            f = arg & _POLLOUT if self.writable else 0
            if self._r < self._w:
                f |= arg & _POLLIN
            elif self.closed_:
                f |= _POLLHUP
            return f
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

    def write(self, buf, off=0, n=-1):
        if n < 0:
            n = len(buf) - off
        if self.limit and n > self.limit:
            n = self.limit
        self.writes += 1
        self.nbytes += n
        self._capture(buf, off, n)
        return n

    def _capture(self, buf, off, n):
        c = self._cap
        if c is not None:
            k = self._n
            if k + n > len(c):
                raise OSError(28)   # ENOSPC: the test's capture buffer is too small
            for i in range(n):
                c[k + i] = buf[off + i]
            self._n = k + n

    def data(self):
        return bytes(self._cap[:self._n]) if self._cap is not None else b""

    def take(self):
        d = self.data()
        self._n = 0
        return d


class FakeIn(FakeStdio):
    """The input half of the unix port's two stdio objects: never writable."""

    def __init__(self, size=4096):
        super().__init__(size=size)
        self.writable = False


class FakeOut(FakeStdio):
    """The output half: counts (and optionally captures) what is written; ``writable`` can be
    switched off; it never has input."""

    def __init__(self, capture=0, limit=0):
        super().__init__(capture=capture, size=1, limit=limit)


_FIFO = const(256)          # rp2 CDC TX FIFO (CFG_TUD_CDC_TX_BUFSIZE)
_RING = const(512)          # rp2 stdin ring buffer
_TX_TIMEOUT_MS = const(500)  # MICROPY_HW_USB_CDC_TX_TIMEOUT


class CdcStdio(FakeStdio):
    """The rp2 USB CDC stdio (one object), timed by a ``FakeClock``.

    The host drains the TX FIFO at ``host_bps`` bytes/s while ``host_reading``
    (0: it holds the port open and reads nothing).  ``write()`` waits in 1 ms
    steps, moving the clock, until the whole chunk fits -- so a write after
    POLLOUT (one free byte) can take up to 500 ms; ``blocked_us`` and
    ``max_block_us`` say how long writes held the caller.  Host bytes wait in
    ``usb`` until the 512-byte ring has room; ``kbd_intr(c)`` sets the
    interrupt character, which raises KeyboardInterrupt at the next stream
    call once it has entered the ring (it never enters it).
    """

    def __init__(self, clock, capture=0, host_bps=1000000):
        FakeStdio.__init__(self, capture=capture, size=65536)
        self.clock = clock
        self.host_bps = host_bps
        self.host_reading = True
        self.dtr = True
        self.fill = 0               # bytes in the TX FIFO
        self._t = clock.t
        self.blocked_us = 0
        self.max_block_us = 0
        self.usb = bytearray()      # host bytes not yet in the ring (NAKed on the bus)
        self._count = 0             # bytes in the ring
        self.intr = 3
        self.interrupts = 0         # Ctrl-C acted on
        self._pend = False

    def kbd_intr(self, c):
        self.intr = c

    def _drain(self):
        t = self.clock.t
        dt = (t - self._t) & 0x3FFFFFFF
        self._t = t
        if self.host_reading and self.fill:
            k = dt * self.host_bps // 1000000
            self.fill = self.fill - k if k < self.fill else 0

    def _rx(self):
        # tud_cdc_rx_cb: move bus bytes into the ring while it has room
        u = self.usb
        i = 0
        while i < len(u) and self._count < _RING:
            b = u[i]
            i += 1
            if b == self.intr:
                self._pend = True
                continue
            FakeStdio.feed(self, bytes((b,)))
            self._count += 1
        if i:
            self.usb = u[i:]
        if self._pend:
            self._pend = False
            self.interrupts += 1
            raise KeyboardInterrupt

    def feed(self, data):
        self.usb.extend(data)

    def pending(self):
        return self._w - self._r

    def ioctl(self, req, arg):
        if req == _POLL:
            self._drain()
            self._rx()
            f = 0
            if arg & _POLLOUT and (not self.dtr or self.fill < _FIFO):
                f |= _POLLOUT
            if self._r < self._w:
                f |= arg & _POLLIN
            return f
        return FakeStdio.ioctl(self, req, arg)

    def readinto(self, buf, n=-1):
        self._rx()
        k = FakeStdio.readinto(self, buf, n)
        self._count -= k
        return k

    def write(self, buf, off=0, n=-1):
        if n < 0:
            n = len(buf) - off
        self.writes += 1
        done = 0
        t0 = self.clock.t
        while done < n:
            m = n - done
            if m > _FIFO:
                m = _FIFO
            self._drain()
            if self.dtr:
                waited = 0
                while m > _FIFO - self.fill and waited < _TX_TIMEOUT_MS:
                    self.clock.advance(1000)    # mp_event_wait_ms(1)
                    self._drain()
                    waited += 1
                if m > _FIFO - self.fill:
                    break
                self.fill += m
            self._capture(buf, off + done, m)
            self.nbytes += m
            done += m
        b = (self.clock.t - t0) & 0x3FFFFFFF
        self.blocked_us += b
        if b > self.max_block_us:
            self.max_block_us = b
        return done


class FakeSelectPoll:
    """``select.poll`` with MicroPython's semantics over objects with ``ioctl``.

    ``register()`` of an object already registered replaces its mask;
    ``ipoll()`` reports POLLHUP/POLLERR whatever the mask and reuses its result
    lists (no allocation per call).  ``tick_ms``/``clock``: a timed wait with
    nothing ready runs the clock for the timeout rounded UP to whole ticks
    (esp32: 10 ms FreeRTOS ticks).
    """

    clock = None
    tick_ms = 0

    def __init__(self):
        self._objs = []
        self._masks = []
        self._pairs = []
        self._res = [[]]

    def register(self, obj, mask=_POLLIN | _POLLOUT):
        for i in range(len(self._objs)):
            if self._objs[i] is obj:
                self._masks[i] = mask
                return
        self._objs.append(obj)
        self._masks.append(mask)
        self._pairs.append([obj, 0])
        self._res.append([None] * len(self._objs))

    def ipoll(self, timeout=-1, flags=0):
        k = 0
        pairs = self._pairs
        for i in range(len(self._objs)):
            m = self._masks[i]
            ev = self._objs[i].ioctl(_POLL, m) & (m | 0x18)
            pairs[i][1] = ev
            if ev:
                k += 1
        r = self._res[k]
        j = 0
        for i in range(len(pairs)):
            if pairs[i][1]:
                r[j] = pairs[i]
                j += 1
        if k == 0 and timeout > 0 and self.clock is not None:
            t = self.tick_ms
            ms = (timeout + t - 1) // t * t if t else timeout
            self.clock.advance(ms * 1000)
        return r


def esp32_poll(clock, tick_ms=10):
    """A ``select.poll`` factory whose timed waits round up to ``tick_ms`` (esp32)."""
    def make():
        p = FakeSelectPoll()
        p.clock = clock
        p.tick_ms = tick_ms
        return p
    return make


class FloatingPin:
    """``Pin(n, Pin.IN)`` on rp2 with no pull and nothing connected: noise decides each read."""

    def __init__(self, seed=12345):
        self._s = seed

    def _bit(self):
        self._s = (self._s * 1103515245 + 12345) & 0x7FFFFFFF
        return (self._s >> 16) & 1

    def __call__(self, v=None):
        return self._bit() if v is None else None

    def value(self, v=None):
        return self._bit() if v is None else None
