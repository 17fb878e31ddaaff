"""Simulated load cell for the unix port (and for a board with no sensor wired).

``SimSource`` models the force applied to a load cell and turns it into
HX711-like counts: ``zero + force * counts_per_n + drift + noise``, quantised
and clamped to the signed 24-bit range.  The force follows a piecewise-linear
profile (``sim force N [RAMP_S]``, ``sim profile T:N,...`` which plays once),
or a recorded application (``load_replay``: ``POINTDOSE_REPLAY`` names a file of
``MS NEWTONS`` lines, played by device time and looped; ``sim replay`` starts it again),
plus an optional tremor (``sim tremor AMP_N HZ``: a sine from a 128-entry table);
noise is approximately Gaussian (sum of four 15-bit uniforms from a 30-bit
xorshift); drift is a slow mean-reverting random walk stepped once a second.

Per-sample arithmetic keeps every integer below 2^30 and allocates nothing.

``SimSensor`` exposes it on the ADC-like schedule (``POINTDOSE_SENSOR=sim``);
``pd_fakehx711.FakeHX711`` uses the same source for ``sim-hx711``.

Usage::

    src = SimSource()
    sen = SimSensor(src, rate=200)
    src.command(["force", "20", "2"])   # ramp to 20 N in 2 s
    counts = sen.read(clock.now())
"""
import math
from array import array
from micropython import const

_MASK = const(0x3FFFFFFF)
_I24_MIN = const(-8388608)
_I24_MAX = const(8388607)
_MAX_PTS = const(32)
MAX_REPLAY = const(50000)       # replay points (8 bytes each); the host thins longer recordings
_MAX_NOISE = const(16000)
_IH_MEAN = const(65534)     # mean of the sum of four uniforms on 0 .. 32767
_IH_SD = const(18918)       # its standard deviation: 32768 * sqrt(4 / 12)
_MS_CAP = const(0x3FFFFC00)
_TR_CYCLE = const(10000000)     # tremor phase units per cycle: µs x Hz/10
_TR_STEP = const(78125)         # _TR_CYCLE / 128 table entries
_SIN = array("h", [int(16384 * math.sin(2 * math.pi * k / 128) + (0.5 if k < 64 else -0.5))
                   for k in range(128)])    # sin x 2^14


class SimSource:
    def __init__(self, counts_per_n=14000, zero=42000, noise=40, quant=1, seed=0x1234567,
                 drift=True):
        self.counts_per_n = counts_per_n
        self.zero = zero
        self.noise = noise
        self.quant = quant if quant > 0 else 1
        self.drift_on = drift
        self._x = (seed & _MASK) or 1
        self.drift = 0
        self._prof_t = array("i", bytes(4 * _MAX_PTS))  # ms since profile start
        self._prof_c = array("i", bytes(4 * _MAX_PTS))  # force, counts
        self._pt_t = self._prof_t       # the points played: the profile's or the replay's
        self._pt_c = self._prof_c
        self._npts = 1
        self._rp_t = None               # a recorded application (load_replay)
        self._rp_c = None
        self._rp_n = 0
        self._loop_ms = 0               # > 0: the points repeat with this period (replay)
        self._seg = 0
        self._ms = 0            # ms since profile start
        self._us = 0            # sub-ms remainder
        self._drift_at = 1000   # next drift step, ms
        self._last = -1         # time of the previous value() call
        self.force_counts = 0   # force part of the last value, counts
        self.tremor_amp = 0     # tremor amplitude, counts (0: off)
        self.tremor_hz10 = 0    # tremor frequency, Hz x 10
        self._tr_acc = 0        # tremor phase, 0 .. _TR_CYCLE

    # -- random numbers ----------------------------------------------------
    def _rand(self):
        # 30-bit xorshift (7, 11, 16), full period 2^30 - 1 (checked over GF(2));
        # masking before each left shift keeps every value below 2^30.
        x = self._x
        x ^= (x & 0x7FFFFF) << 7
        x ^= x >> 11
        x ^= (x & 0x3FFF) << 16
        self._x = x
        return x

    def gauss(self, sd):
        """Approximately N(0, sd^2) integer (Irwin-Hall, 4 terms), |result| < 2^30."""
        # two xorshift steps inlined (this runs once per sample)
        x = self._x
        x ^= (x & 0x7FFFFF) << 7
        x ^= x >> 11
        x ^= (x & 0x3FFF) << 16
        s = (x & 0x7FFF) + (x >> 15)
        x ^= (x & 0x7FFFFF) << 7
        x ^= x >> 11
        x ^= (x & 0x3FFF) << 16
        self._x = x
        s += (x & 0x7FFF) + (x >> 15)
        return (s - _IH_MEAN) * sd // _IH_SD

    # -- force profile -------------------------------------------------------
    def _force_at(self, ms):
        t = self._pt_t
        c = self._pt_c
        last = self._npts - 1
        seg = self._seg
        while seg < last and t[seg + 1] <= ms:
            seg += 1
        self._seg = seg
        if seg >= last:
            return c[last]
        t0 = t[seg]
        span = t[seg + 1] - t0
        e = ms - t0
        if span < 65536:
            p = (e << 14) // span           # progress 0 .. 2^14, e << 14 < 2^30
        else:
            p = e // ((span >> 14) + 1)
        if p > 16384:
            p = 16384
        c0 = c[seg]
        d = c[seg + 1] - c0
        # c0 + d * p / 2^14 without a product above 2^30
        return c0 + (d >> 14) * p + (((d & 0x3FFF) * p) >> 14)

    def value(self, now):
        """Counts at device time ``now`` (µs, 30-bit)."""
        last = self._last
        self._last = now
        dt = 0
        if last >= 0:
            dt = (now - last) & _MASK   # diff(), inlined; a step back reads as >= 2^29
            if 0 < dt < 0x20000000:
                us = self._us + dt
                if us >= 1000:
                    ms = self._ms + us // 1000
                    us %= 1000
                    self._ms = ms if ms < _MS_CAP else _MS_CAP
                self._us = us
        ms = self._ms
        lp = self._loop_ms
        if lp and ms >= lp:             # replay: round again, keeping the phase
            ms %= lp
            self._ms = ms
            self._seg = 0
            self._drift_at = ms + 1000
        if self._seg < self._npts - 1:
            f = self._force_at(ms)
            self.force_counts = f
        else:
            f = self.force_counts
        if ms >= self._drift_at and self.drift_on:
            self._drift_at = ms + 1000
            d = self.drift + (self._rand() % 7) - 3
            self.drift = d - (d >> 5)       # mean-reverting random walk
        v = self.zero + f + self.drift
        a = self.tremor_amp
        if a:
            if dt > 1000000 or dt >= 0x20000000:
                dt = 0
            acc = (self._tr_acc + dt * self.tremor_hz10) % _TR_CYCLE    # < 2^30: dt <= 1 s, hz10 <= 300
            self._tr_acc = acc
            sn = _SIN[acc // _TR_STEP]
            v += (a >> 14) * sn + (((a & 0x3FFF) * sn) >> 14)          # a * sin / 2^14, small ints
        if self.noise:
            v += self.gauss(self.noise)
        q = self.quant
        if q > 1:
            v -= v % q
        if v > _I24_MAX:
            return _I24_MAX
        if v < _I24_MIN:
            return _I24_MIN
        return v

    def set_profile(self, points):
        """``points``: list of (seconds, newtons); starts from the present force."""
        cur = self.force_counts
        self._pt_t = self._prof_t
        self._pt_c = self._prof_c
        self._loop_ms = 0
        self._ms = 0
        self._us = 0
        self._drift_at = 1000
        self._seg = 0
        t = self._pt_t
        c = self._pt_c
        n = 0
        if not points or points[0][0] > 0:
            t[0] = 0
            c[0] = cur
            n = 1
        for s, f in points:
            t[n] = int(s * 1000 + 0.5)
            c[n] = int(f * self.counts_per_n + (0.5 if f >= 0 else -0.5))
            n += 1
        self._npts = n
        if n == 1:
            self.force_counts = c[0]

    # -- replay of a recorded application -------------------------------------
    def load_replay(self, path):
        """Read ``MS NEWTONS`` lines (times increasing from 0) and start playing them.

        Returns the number of points; raises ValueError/OSError saying what is wrong.
        Allocates only here: playing is the profile path, on bigger arrays.
        """
        ts = array("i")
        cs = array("i")
        cpn = self.counts_per_n
        prev = -1
        with open(path) as fh:
            for line in fh:
                line = line.strip()
                if not line or line[0] == "#":
                    continue
                parts = line.split()
                if len(parts) != 2:
                    raise ValueError("replay line %d: expected MS NEWTONS" % (len(ts) + 1))
                ms = int(parts[0])
                f = float(parts[1])
                if ms <= prev or ms > _MS_CAP // 2 or not (-1000 <= f <= 1000):
                    raise ValueError("replay point %d: times must increase, forces -1000..1000 N" % (len(ts) + 1))
                if len(ts) >= MAX_REPLAY:
                    raise ValueError("replay: more than %d points" % MAX_REPLAY)
                prev = ms
                ts.append(ms)
                cs.append(int(f * cpn + (0.5 if f >= 0 else -0.5)))
        if len(ts) < 2 or ts[0] != 0:
            raise ValueError("replay: needs 2 or more points, the first at 0 ms")
        self._rp_t = ts
        self._rp_c = cs
        self._rp_n = len(ts)
        self.noise = 0              # the recording carries its own noise and drift
        self.drift_on = False
        self.drift = 0
        self.replay()
        return self._rp_n

    def replay(self):
        """Play the loaded recording from its start (the sensor is read, and time runs, while
        streaming); False when none is loaded."""
        if not self._rp_n:
            return False
        self._pt_t = self._rp_t
        self._pt_c = self._rp_c
        self._npts = self._rp_n
        self._loop_ms = self._rp_t[self._rp_n - 1]
        self._ms = 0
        self._us = 0
        self._seg = 0
        self._drift_at = 1000
        self._last = -1             # the recording starts at the next reading
        self.force_counts = self._rp_c[0]
        return True

    # -- `sim ...` commands ------------------------------------------------------
    def command(self, args):
        """Handle ``sim`` arguments; returns (status, text) as in a REPLY."""
        if not args:
            return 2, "sim needs force N [RAMP_S], profile T:N,..., noise COUNTS, tremor AMP_N HZ, replay or button NAME [MS]"
        sub = args[0]
        try:
            if sub == "force" and len(args) in (2, 3):
                f = float(args[1])
                ramp = float(args[2]) if len(args) == 3 else 0.0
                if not (-1000 <= f <= 1000) or not (0 <= ramp <= 3600):
                    return 2, "sim force: N must be -1000..1000 and RAMP_S 0..3600"
                self.set_profile([(ramp, f)])
                return 0, "force=%s ramp=%s" % (args[1], args[2] if len(args) == 3 else "0")
            if sub == "profile" and len(args) == 2:
                pts = []
                prev = -1.0
                for item in args[1].split(","):
                    s, f = item.split(":")
                    s = float(s)
                    f = float(f)
                    if s <= prev or s > 3600 or not (-1000 <= f <= 1000):
                        return 2, "sim profile: times must increase (0..3600 s), forces -1000..1000 N"
                    prev = s
                    pts.append((s, f))
                if not pts or len(pts) > _MAX_PTS - 1:
                    return 2, "sim profile: 1..%d points T:N separated by commas" % (_MAX_PTS - 1)
                self.set_profile(pts)
                return 0, "profile=%d duration=%s" % (len(pts), pts[-1][0])
            if sub == "tremor" and len(args) in (2, 3):
                if args[1] == "off" and len(args) == 2:
                    self.tremor_amp = 0
                    return 0, "tremor=off"
                if len(args) != 3:
                    return 2, "sim tremor needs AMP_N HZ (or off)"
                amp = float(args[1])
                hz = float(args[2])
                if not (0 <= amp <= 50) or not (0 <= hz <= 30):
                    return 2, "sim tremor: AMP_N must be 0..50 N and HZ 0..30"
                self.tremor_amp = int(amp * self.counts_per_n + 0.5)
                self.tremor_hz10 = int(hz * 10 + 0.5)
                return 0, "tremor=%s hz=%s" % (args[1], args[2])
            if sub == "replay" and len(args) == 1:
                if not self.replay():
                    return 2, "sim replay: no recording loaded (start the simulator with pointdose sim --replay)"
                return 0, "replay=%d duration_ms=%d" % (self._rp_n, self._loop_ms)
            if sub == "noise" and len(args) == 2:
                n = int(args[1])
                if not 0 <= n <= _MAX_NOISE:
                    return 2, "sim noise: COUNTS must be 0..%d" % _MAX_NOISE
                self.noise = n
                return 0, "noise=%d" % n
        except ValueError:
            return 2, "sim %s: bad number in %s" % (sub, " ".join(args[1:]))
        return 2, "sim needs force N [RAMP_S], profile T:N,..., noise COUNTS, tremor AMP_N HZ, replay or button NAME [MS]"

    def cal(self):
        return "linear:%d:%d" % (self.counts_per_n, self.zero)


class SimSensor:
    """The simulated load cell on the ADC-like schedule (``scheduled = True``)."""

    kind = "sim"
    scheduled = True
    raw_min = _I24_MIN
    raw_max = _I24_MAX
    timeout_us = 0
    missed = 0          # a scheduled sensor's misses are the Schedule's

    def __init__(self, source=None, rate=200, max_rate=1000):
        self.sim = source if source is not None else SimSource()
        self.rate = rate
        self.max_rate = max_rate

    def restart(self, now):
        pass

    def cal(self):
        return self.sim.cal()

    def check_rate(self, hz):
        if 1 <= hz <= self.max_rate:
            return 0, None
        return 2, "rate %d out of range: the simulated sensor runs at 1..%d Hz" % (hz, self.max_rate)

    def set_rate(self, hz):
        self.rate = hz

    def ready(self, now):
        return True

    def read(self, now):
        return self.sim.value(now)
