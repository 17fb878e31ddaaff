# Test helpers that run on the MicroPython unix port: a tiny runner, a frame
# decoder independent of the firmware's encoder, and a device factory.
import struct
import sys

MASK = 0x3FFFFFFF


def main(g):
    names = sys.argv[1:] or sorted(k for k in g if k.startswith("test_"))
    failed = 0
    for name in names:
        try:
            g[name]()
            print("PASS", name)
        except Exception as e:
            failed += 1
            print("FAIL", name, repr(e))
            sys.print_exception(e)
    print("DONE", len(names), failed)
    sys.exit(1 if failed else 0)


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def cobs_decode(seg):
    out = bytearray()
    i = 0
    n = len(seg)
    while i < n:
        c = seg[i]
        if c == 0 or i + c > n:
            raise ValueError("cobs")
        out.extend(seg[i + 1:i + c])
        i += c
        if c < 0xFF and i < n:
            out.append(0)
    return bytes(out)


def frames(data):
    """Decode a byte stream into (type, payload) tuples; checks CRC and version."""
    res = []
    for seg in bytes(data).split(b"\x00"):
        if not seg:
            continue
        fr = cobs_decode(seg)
        assert len(fr) >= 4, fr
        assert crc16(fr[:-2]) == (fr[-2] << 8 | fr[-1]), "crc"
        assert fr[1] == 1, "version"
        res.append((fr[0], fr[2:-2]))
    return res


def data_samples(payload):
    """[(seq, t, value)] of one DATA payload, seq and t mod 2^30."""
    seq, t0, n = struct.unpack("<IIB", payload[:9])
    assert len(payload) == 9 + 5 * n, "length"
    out = []
    t = t0
    for k in range(n):
        o = 9 + 5 * k
        v = payload[o] | payload[o + 1] << 8 | payload[o + 2] << 16
        if v & 0x800000:
            v -= 0x1000000
        dt = payload[o + 3] | payload[o + 4] << 8
        if k == 0:
            assert dt == 0
        t = (t + dt) & MASK
        out.append(((seq + k) & MASK, t, v))
    return out


def reply(payload):
    cid, st = struct.unpack("<HB", payload[:3])
    return cid, st, payload[3:].decode()


def status(payload):
    assert len(payload) == 29, len(payload)       # protocol 2
    t, nxt, ovf, cerr, fl, rate, missed, lost = struct.unpack("<IIIHBHII", payload[4:])
    return {"boot": payload[:4], "t": t, "next_seq": nxt, "overflow": ovf, "cmd_errors": cerr,
            "flags": fl, "rate": rate, "missed": missed, "lost": lost}


def kv(text):
    d = {}
    for tok in text.split():
        k, v = tok.split("=", 1)
        d[k] = v
    return d


def SimSensor_default(c):
    from pd_simsensor import SimSensor, SimSource
    return SimSensor(SimSource(), rate=c["rate"])


def cfg(**kw):
    import pd_config
    c = dict(pd_config.COMMON)
    c.update({"batch_us": 4000, "rate": 200})
    c.update(kw)
    return c


class Rig:
    """A Device on a FakeClock with ONE duplex fake stream, as a board's stdio, polled by the
    firmware's own StreamPoller through a select.poll with MicroPython's semantics.

    ``io``: a stream factory ``io(clock)`` (default ``FakeStdio``; e.g. ``CdcStdio``);
    ``poll``: a ``select.poll`` factory (default ``FakeSelectPoll``); ``two``: the unix port's
    two-object stdio instead.  ``r.inp`` and ``r.out`` are the same object unless ``two``.
    """

    def __init__(self, sensor=None, start=1000, capture=1 << 17, kbd=None, store=None, pins=None,
                 io=None, poll=None, two=False, dev_kw=None, **kw):
        from pd_clock import FakeClock
        from pd_device import Device, StreamPoller
        from pd_fakeio import FakeIn, FakeOut, FakeSelectPoll, FakeStdio
        self.clock = FakeClock(start)
        c = cfg(**kw)
        if sensor is None:
            sensor = SimSensor_default(c)
        elif sensor == "none":
            sensor = None
        self.sensor = sensor
        if two:
            self.inp = FakeIn()
            self.out = FakeOut(capture=capture)
        else:
            s = io(self.clock) if io is not None else FakeStdio(capture=capture)
            self.inp = self.out = s
        self.kbd_calls = []
        self.poller = StreamPoller(self.inp, self.out, poll=poll or FakeSelectPoll)
        self.dev = Device(c, sensor, self.clock, self.inp, self.out, uid="abcd",
                          kbd_intr=kbd or self.kbd_calls.append, boot=b"\x1a\x2b\x3c\x4d",
                          store=store, poller=self.poller, **(pins or {}), **(dev_kw or {}))
        self.pending = []
        self._rest = b""

    def run_us(self, us, step=250):
        """Advance fake time by ``us`` in steps of ``step`` µs, calling step() each time."""
        end = us
        t = 0
        while t < end:
            self.dev.step()
            self.clock.advance(step)
            t += step
        self.dev.step()

    def send(self, line, us=2000):
        self.inp.feed(line if isinstance(line, bytes) else line.encode())
        self.run_us(us)

    def frames(self):
        """Frames completed since the last call (a frame still being written waits for its end:
        the device writes at most one USB packet at a time)."""
        d = self._rest + self.out.take()
        i = d.rfind(b"\x00") + 1
        self._rest = d[i:]
        fs = frames(d[:i])
        self.pending.extend(fs)
        return fs

    def replies(self):
        return [reply(p) for t, p in self.frames() if t == 2]

    def cmd(self, line, us=2000):
        """Send a line, return the list of replies that came back."""
        self.send(line, us)
        fs = self.frames()
        self.last_frames = fs
        return [reply(p) for t, p in fs if t == 2]

    def samples(self, fs=None):
        fs = self.last_frames if fs is None else fs
        out = []
        for t, p in fs:
            if t == 1:
                out.extend(data_samples(p))
        return out
