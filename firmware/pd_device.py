"""The device loop: sample, batch, send, answer commands, keep the host alive.

One ``step()`` does, without blocking:

1. sample when due -- a scheduled sensor (ADC, sim) on the drift-free
   ``Schedule``, an HX711 when its DOUT says ready -- into the ring;
2. poll the host link once (``ipoll``, no allocation): read command bytes,
   note whether the output is writable;
3. once a second while streaming: a STATUS frame; check the liveness
   watchdog;
4. when the output is writable: first pending control frames (the outbox),
   else one DATA frame once the batch is full or its oldest sample is
   ``batch_us`` old.

Sampling never waits on the host: when the output stays unwritable the ring
overwrites its oldest samples and counts them (STATUS ``overflow``; ERROR 3
once per stream).  ``run()`` calls ``step()`` and sleeps until the next
sample is due.  Clock, streams, poller and ``kbd_intr`` are injected so the
same loop runs on a board, on the unix port behind a pty and in tests.

Usage::

    dev = Device(cfg, sensor, Clock(), inp, out, board_name="unix", uid="5349")
    dev.run()       # returns on `repl`, Ctrl-C while not streaming, or end of input
"""
import select
import sys
from array import array
import micropython
from micropython import const

try:
    import os
except ImportError:     # pragma: no cover
    import uos as os

import pd_commands as pc
import pd_cue as cue
from pd_clock import MASK, Schedule, add, diff
from pd_frame import CAL_CHUNK, MAX_SAMPLES, Framer, copy, crc16
from pd_ring import Ring

FW_VERSION = "0.2.0"
PROTO = const(2)        # hello `proto`: 2 = STATUS carries `missed` and `lost` (docs/protocol.md)

_POLLIN = const(0x0001)
_POLLOUT = const(0x0004)
_POLLHUP = const(0x0010)
_POLLERR = const(0x0008)
_POLLIN_ANY = const(0x0019)   # POLLIN | POLLERR | POLLHUP
_SECOND = const(1000000)
_HALF = const(0x20000000)   # (t - deadline) & MASK below this: the deadline has passed
_MAX16 = const(65535)
_WRITE_CHUNK = const(64)    # most bytes per write: one USB packet
_STEP_MAX = const(256)      # most bytes written per step
_SLOW_US = const(5000)      # a write that held the loop this long: the host has stopped reading
_TRUST = const(256)         # bytes taken one at a time, POLLOUT each time: the host reads again
_READ_MAX = const(64)       # most command bytes read per step

F_STREAMING = const(1)
F_KBD_OFF = const(2)
F_WATCHDOG = const(4)
F_FAULT = const(8)

E_WATCHDOG = const(1)
E_SENSOR = const(2)
E_OVERFLOW = const(3)
E_CONFIG = const(4)
E_OVER = const(5)

CAL_MAX = const(1024)       # bytes in the calibration blob
_I24_HI = const(8388608)    # "no limit": above every raw value
_I24_LO = const(-8388609)
_CALM_US = const(500000)    # the firmware alarm ends after this long back inside the limit
_TEXT_MAX = const(243)      # characters of text a REPLY holds (pd_frame.MAX_FRAME - 7)
_BUDGET_US = const(700000)  # µs per second the sampling may take: 70 %, the rest for writes and commands


def _kbd_intr_default(c):
    import micropython
    micropython.kbd_intr(c)


def _period(hz):
    return (_SECOND + hz // 2) // hz


class StreamPoller:
    """``select.poll`` over the host link, reduced to POLLIN/POLLOUT bits.

    On rp2 and esp32 the link is ONE object (``sys.stdin.buffer is
    sys.stdout.buffer``) and ``register()`` of an object already registered
    replaces its mask (extmod/modselect.c), so a duplex stream is registered
    once for POLLIN|POLLOUT; two streams (unix port pipes) once each.
    Uses ``ipoll`` (which, unlike ``poll``, allocates nothing per call).
    POLLHUP/POLLERR on the input count as readable: the read then sees the end.
    ``poll`` (a ``select.poll`` stand-in) is injected by tests.
    """

    def __init__(self, inp, out, poll=None):
        mk = poll or select.poll
        self._in = inp
        self._out = out
        self._p = mk()
        if inp is out:
            self._p.register(inp, _POLLIN | _POLLOUT)
        else:
            self._p.register(inp, _POLLIN)
            self._p.register(out, _POLLOUT)
        self._pi = mk()
        self._pi.register(inp, _POLLIN)

    @micropython.native
    def poll(self):
        f = 0
        i = self._in
        for obj, ev in self._p.ipoll(0):
            if obj is i:
                if ev & _POLLIN_ANY:
                    f |= _POLLIN
                if obj is self._out:
                    f |= ev & _POLLOUT
            else:
                f |= ev & _POLLOUT
        return f

    def readable(self):
        for _ in self._pi.ipoll(0):
            return True
        return False

    def wait_input(self, ms):
        """Sleep up to ``ms``, waking early when input arrives (then True)."""
        for _ in self._pi.ipoll(ms):
            return True
        return False


class Device:
    def __init__(self, cfg, sensor, clock, inp, out, board_name="unix", uid="0",
                 store=None, kbd_intr=None, boot=None, led=None, poller=None, buzzer=None,
                 buttons=None, tick_us=0):
        self.cfg = cfg
        self._tick = tick_us    # esp32: timed waits round up to this tick (10 ms)
        self.sensor = sensor
        self.clock = clock
        self._in = inp
        self._out = out
        self.board_name = board_name
        self.uid = uid
        self.store = store
        self._kbd = kbd_intr or _kbd_intr_default
        self.boot = boot if boot is not None else os.urandom(4)
        self.led = led          # pins: .value(v); the buzzer also .tone(hz)
        self.buzzer = buzzer
        self.link = cfg["link"]
        self.baud = 0 if self.link == "usb" else int(self.link[5:])
        self.batch_us = cfg["batch_us"]
        self.watchdog_us = cfg["watchdog_ms"] * 1000
        now = clock.now()

        self.ring = Ring(cfg["ring"])
        self.framer = Framer()
        self.lines = pc.LineReader()
        self._b1 = bytearray(1)
        # Control frames wait here in order; sized so that `stop` can queue
        # every unsent sample of the ring ahead of its reply.
        self.outbox = bytearray((cfg["ring"] // MAX_SAMPLES + 4) * 256 + 1024)
        self._ob_off = 0
        self._ob_n = 0
        self.lost_frames = 0    # frames dropped for want of outbox space (STATUS `lost`)
        # the loop's real work per sample, timed while streaming: step() passes, writes and the
        # interrupts that land in them, over the last whole second (0: no stream yet)
        self.seen_cost = 0
        self.seen_base = 0      # ... of it, µs per sample besides writing DATA frames
        self.seen_frame = 0     # µs per DATA frame written
        self._busy = 0          # µs spent in step() since the window began
        self._busy_seq = 0      # seq when it began
        self._wbusy = 0         # µs of it spent writing DATA frames
        self._wn = 0            # DATA frames written
        self._iobusy = 0        # µs of it in _io() (cues, buttons: a cost per second, not per sample)
        self._busy_t = now      # when the window began
        self.seen_io = 0        # µs per second of _io() work
        self.seen_dry = False   # the seen_* figures come from a dry run (dry_run), not a stream
        self._dry = False       # a dry run is under way: DATA goes out as delimiters only
        self._zeros = bytearray(len(self.framer.enc))
        self._trickle = False   # write a byte at a time (the host stopped reading)
        self._good = 0
        self.stalls = 0         # writes that held the loop over _SLOW_US

        self._poller = poller if poller is not None else StreamPoller(inp, out)
        self._in_open = True

        self.streaming = False
        self.kbd_off = False
        self.wd_fired = False
        self.fault = False
        self.quit = False       # leave run()
        self.dead = False       # the host link failed or ended
        self.seq = 0
        self.cmd_errors = 0
        # the last REPLY frame, kept whole so `again` can send it once more (host lost it: STATUS `lost`)
        self._last_reply = bytearray(len(self.framer.enc))
        self._last_cid = -1
        self._last_len = 0
        self._ovf_sent = False
        self.rate = sensor.rate if sensor is not None else cfg["rate"]
        self.sched = Schedule(_period(self.rate), now)
        self._spf = 1
        self._set_spf()
        self._wd_at = add(now, self.watchdog_us)   # liveness deadline
        self._next_status = now
        self._last_conv = now
        self._sampling = False

        self.tare = 0
        self.cal = cfg.get("cal")
        self._tare_buf = array("i", bytes(4 * cfg["tare_max"]))
        self._tare_n = 0        # samples wanted (0: no tare running)
        self._tare_i = 0
        self._tare_id = 0
        self._dirty = False     # tare changed while streaming: save at stop

        # cues, the firmware's own over-pressure limit, buttons
        self.cues = cue.Cues(cue.Output(led), cue.Output(buzzer))
        self._io_due = now      # next time _io() has something to do
        self._btns = None
        self._btn_due = now
        if buttons:
            self._btns = cue.Buttons([p for _, p in buttons], [cue.BUTTON_IDS[n] for n, _ in buttons],
                                     [n for n, _ in buttons])
        self._lim_on = False
        self._lim_hi = _I24_HI
        self._lim_lo = _I24_LO
        self.lim_max = None
        self.lim_min = None
        self.alarm = False      # the firmware's over-pressure alarm is on
        self.alarms = 0         # crossings since boot
        self._calm_t = -1       # when the reading came back inside the limit (-1: it has not)

        # calibration blob (opaque to the firmware): kept in RAM, saved in the store
        self.calblob = bytearray(CAL_MAX)
        self.cal_n = 0
        self.cal_crc = -1       # -1: none stored
        self._stage = bytearray(CAL_MAX)
        self._boot_problems = []
        if store is not None:
            st = store.load()
            t = st.get("tare")
            if isinstance(t, int):
                self.tare = t
            if self.cal is None and isinstance(st.get("cal"), str):
                self.cal = st["cal"]
            try:
                b = store.load_blob()
            except (ValueError, OSError) as e:
                b = None
                self._boot_problems.append("calibration blob: %s; ignored (write it again)" % e)
            if b:
                self.calblob[0:len(b)] = b
                self.cal_n = len(b)
                self.cal_crc = crc16(b, len(b))
        # A lone delimiter first, so that the host's decoder is in sync
        # before the first real frame.
        self.outbox[0] = 0
        self._ob_n = 1

    # ------------------------------------------------------------------ loop
    @micropython.native
    def run(self):
        """Loop until `repl`, Ctrl-C while not streaming, or end of input."""
        clk = self.clock
        try:
            s = self.sensor
            if s is not None and s.scheduled and not (self.seen_cost or self.streaming or self._tare_n):
                self.dry_run(self.rate)     # so a `rate` in the first stream's first second has one
            psleep = getattr(clk, "poll_sleep", False)
            while not self.quit:
                w = self.step()
                if w > 0:
                    self.idle(w, psleep)
        except KeyboardInterrupt:
            pass
        finally:
            if self.streaming:
                self._stop_stream()
                self._queue_status(self.clock.now())
            self._set_kbd(False)
            self.flush(200000)

    @micropython.native
    def idle(self, w, psleep=True):
        """Wait ``w`` µs: in ``poll()`` (wakes early on input) when that is exact enough, else
        ``sleep_us``.  On esp32 ``poll(ms)`` rounds up to the 10 ms tick, so while sampling only
        the whole ticks before the deadline are spent in ``poll()`` and the rest in ``sleep_us``,
        which busy-waits there."""
        t = self._tick
        if w >= 2000 and psleep and self._in_open:
            if not self._sampling:
                self._poller.wait_input(w // 1000)
                return
            if not t:
                # poll() waits whole ms: the sub-ms rest of the wait is slept here, not left to one
                # more loop pass (~0.5 ms on a Pico: the sample came late)
                clk = self.clock
                t0 = clk.now()
                if self._poller.wait_input(w // 1000):
                    return
                w -= diff(clk.now(), t0)
                if w <= 0:
                    return
            elif w >= t + t:
                self._poller.wait_input((w - t) // 1000)
                return
        self.clock.sleep_us(w)

    @micropython.native
    def step(self):
        """One pass of the loop; returns µs the caller may sleep.  While streaming the pass is
        timed: ``seen_cost`` (what `rate` refuses from) is the real work per sample."""
        now = self.clock.now()
        w = self._pass(now)
        if self.streaming:
            self._busy += (self.clock.now() - now) & MASK
        return w

    @micropython.native
    def _pass(self, now):
        s = self.sensor
        if self._sampling:
            if s.scheduled:
                if self.sched.due(now):
                    self._sample(s.read(now), now)
            elif s.ready(now):
                self._sample(s.read(now), now)
            elif not self.fault and diff(now, self._last_conv) > s.timeout_us:
                self._sensor_fault(now)
        if (now - self._io_due) & MASK < _HALF:
            if self.streaming:      # timed apart: it runs every 5 ms whatever the rate
                t = self.clock.now()
                self._io(now)
                self._iobusy += (self.clock.now() - t) & MASK
            else:
                self._io(now)
        ev = self._poller.poll()
        wr = ev & _POLLOUT
        if not wr and not self._trickle:
            self._slow()        # the FIFO is full: the host is not reading
        if ev & _POLLIN and self._in_open:
            self._read_input(now)
        if self.streaming:
            # deadlines compared inline: this runs on every pass
            if (now - self._wd_at) & MASK < _HALF:
                self._watchdog(now)
            elif (now - self._next_status) & MASK < _HALF:
                self._queue_status(now)
                self._note_cost()
                n = add(self._next_status, _SECOND)
                if diff(now, n) >= 0:       # fell far behind: no burst of STATUS
                    n = add(now, _SECOND)
                self._next_status = n
        if wr:
            r = self.ring
            c = r.count
            # something to send: control frames, a full batch, or a batch as old as batch_us
            if self._ob_n or (c and (c >= self._spf or (now - r.time[r.tail]) & MASK >= self.batch_us)):
                if self._write(now):
                    return 0
        # Idle: sleep until the next sample is due (at most 5 ms: command latency).
        if self._ob_n and wr:
            return 0
        if self._sampling:
            if s.scheduled:
                w = (self.sched.next_due - self.clock.now()) & MASK
                if w >= _HALF:
                    w = 0
            else:   # HX711: wake a little before its next conversion is expected
                w = _period(self.rate) - diff(self.clock.now(), self._last_conv) - 500
                if w < 250:
                    w = 250
            return w if w < 5000 else 5000
        return 5000

    # -------------------------------------------------------------- sampling
    @micropython.native
    def _sample(self, v, now):
        self._last_conv = now
        if self.fault:
            self.fault = False
        if self._lim_on:            # the firmware's own limit, host or no host
            if v > self._lim_hi or v < self._lim_lo:
                if self.alarm:
                    self._calm_t = -1
                else:
                    self._alarm_start(v, now)
            elif self.alarm:
                if self._calm_t < 0:
                    self._calm_t = now
                elif (now - self._calm_t) & MASK >= _CALM_US:
                    self._alarm_end(now)
        if self._tare_n:
            self._tare_buf[self._tare_i] = v
            self._tare_i += 1
            if self._tare_i >= self._tare_n:
                self._tare_done()
        if self.streaming:
            seq = self.seq
            r = self.ring               # Ring.push, inlined: this is the per-sample path
            h = r.head
            r.val[h] = v
            r.time[h] = now
            r.seq[h] = seq
            h += 1
            if h == r.cap:
                h = 0
            r.head = h
            if r.count < r.cap:
                r.count += 1
            else:                       # full: the oldest sample was just overwritten
                r.tail = h
                if r.dropped < MASK:
                    r.dropped += 1
                if not self._ovf_sent:
                    self._ovf_sent = True
                    self._queue_error(E_OVERFLOW, "sample ring overflowed: the host is not reading; oldest samples dropped")
            self.seq = (seq + 1) & MASK

    def _note_cost(self):
        """Close the busy-time window (once a second while streaming): µs of work per sample."""
        n = (self.seq - self._busy_seq) & MASK
        now = self.clock.now()
        if n >= 8:
            io = self._iobusy
            el = ((now - self._busy_t) & MASK) // 1000      # ms
            self.seen_cost = (self._busy + n - 1) // n
            self.seen_base = (self._busy - self._wbusy - io + n - 1) // n
            self.seen_frame = (self._wbusy + self._wn - 1) // self._wn if self._wn else 0
            # µs of _io() per second; io * 1000 could pass 2^30 (a big int on a board)
            self.seen_io = io // el * 1000 + io % el * 1000 // el if el else 0
            self.seen_dry = False
        self._busy = self._wbusy = self._wn = self._iobusy = 0
        self._busy_seq = self.seq
        self._busy_t = now

    def seen_cost_at(self, hz):
        """µs of work per sample at ``hz`` from the last timing (a stream's, or a dry run's): the
        per-sample work, a DATA frame's write shared by the samples it carries at ``hz`` (fewer,
        larger frames at higher rates: batch_us), and the cues' and buttons' work per second
        shared by ``hz`` samples; 0 before any timing."""
        if not self.seen_cost:
            return 0
        spf = self._spf_at(hz)
        return self.seen_base + (self.seen_frame + spf - 1) // spf + (self.seen_io + hz - 1) // hz

    def _update_sampling(self, now):
        # a set limit keeps the sensor sampled (not sent) when the stream stops
        on = self.sensor is not None and (self.streaming or self._tare_n > 0 or self._lim_on)
        if on and not self._sampling:
            self.sched.reset(now)
            self._last_conv = now
            self.sensor.restart(now)
        self._sampling = on

    def _sensor_fault(self, now):
        self.fault = True
        why = getattr(self.sensor, "why", None)
        self._queue_error(E_SENSOR, "sensor: no conversion for %d ms: %s" % (
            diff(now, self._last_conv) // 1000, why() if why else "wiring?"))
        self._queue_status(now)

    def _set_spf(self):
        self._spf = self._spf_at(self.rate)

    def _spf_at(self, hz):
        """Samples per DATA frame at ``hz``: as many as batch_us holds."""
        n = self.batch_us // _period(hz)
        return 1 if n < 1 else (MAX_SAMPLES if n > MAX_SAMPLES else n)

    # ------------------------------------------------- cues, alarm, buttons
    @micropython.native
    def _io(self, now):
        """Advance the LED/buzzer patterns and poll the buttons when due (no allocation)."""
        c = self.cues
        if c.active and (now - c.due) & MASK < _HALF:
            c.update(now)
        nxt = add(now, cue.FAR)
        b = self._btns
        if b is not None:
            if (now - self._btn_due) & MASK < _HALF:
                b.poll(now, self)
                self._btn_due = add(now, cue.POLL_US)
            nxt = self._btn_due
        if c.active and (c.due - nxt) & MASK >= _HALF:
            nxt = c.due
        self._io_due = nxt

    def _cue_changed(self, now):
        """Patterns changed: run _io() on the next pass and echo what is shown."""
        self._io_due = now
        self._queue_cue(now)

    def _queue_cue(self, now):
        c = self.cues
        ph = c.phase            # what is shown (no tuple: this runs in the alarm path)
        bd = c.band
        lv = c.level
        if c.fw_alarm:
            ph = cue.P_ALARM
            bd = cue.B_ABOVE
            lv = 100
        f = self.framer
        self._append(f.enc, 0, f.cue_state(now, ph, bd, lv, c.flags(), c.led_on, c.led_off,
                                           c.bz_on, c.bz_off, c.bz_hz))

    def button_event(self, t, bid, ev, count):
        f = self.framer
        self._append(f.enc, 0, f.button(t, bid, ev, count))

    def _alarm_start(self, v, now):
        self.alarm = True
        self._calm_t = -1
        if self.alarms < MASK:
            self.alarms += 1
        low = v < self._lim_lo
        f = self.framer
        self._append(f.enc, 0, f.over_pressure(E_OVER, v, self._lim_lo if low else self._lim_hi, now, low))
        self.cues.fw_alarm = True
        self.cues.apply(now)
        self._cue_changed(now)

    def _alarm_end(self, now):
        self.alarm = False
        self._calm_t = -1
        self.cues.fw_alarm = False
        self.cues.apply(now)
        self._cue_changed(now)

    # ---------------------------------------------------------------- output
    @micropython.native
    def _write(self, now):
        """Write one chunk when writable; True when more is waiting to go."""
        if self._ob_n and not self._dry:
            off = self._ob_off
            n = self._ob_n - off
            w = self._write_raw(self.outbox, off, n)
            off += w
            if off >= self._ob_n:
                self._ob_off = self._ob_n = 0
                return self.ring.count > 0
            self._ob_off = off
            return True
        r = self.ring
        c = r.count
        if c == 0:
            return False
        if c < self._spf and diff(now, r.time[r.tail]) < self.batch_us:
            return False
        f = self.framer
        t0 = self.clock.now()   # a frame's whole cost, packing to pop: shared by its samples
        m = f.data(r.seq, r.val, r.time, r.tail, r.cap, c if c < MAX_SAMPLES else MAX_SAMPLES)
        if self._dry:       # as many bytes, all delimiters: the link's cost, no frame (dry_run)
            self._write_raw(self._zeros, 0, m)
            w = m
        else:
            w = self._write_raw(f.enc, 0, m)
        if w:
            r.pop(f.n)
            if w < m:       # a partial write: the rest goes out first, via the outbox
                self._append(f.enc, w, m)
        self._wbusy += (self.clock.now() - t0) & MASK
        self._wn += 1
        if w == 0:
            return False
        return r.count >= self._spf

    @micropython.native
    def _write_raw(self, buf, off, n):
        """Write what the link takes without holding the loop; returns bytes written.

        POLLOUT promises one free byte only: on rp2 a larger write then waits until the whole
        chunk fits the 256-byte USB FIFO, up to 500 ms. So writes are at most one USB packet, and
        once a write was slow or POLLOUT was false (the host stopped reading) the bytes go one at a
        time, each after a POLLOUT, until ``_TRUST`` bytes in a row found room."""
        if self._trickle:
            pl = self._poller
            w = 0
            while w < n and w < _WRITE_CHUNK:
                if w and not pl.poll() & _POLLOUT:
                    self._good = 0
                    return w
                k = self._put(buf, off + w, 1)
                if k <= 0:
                    return w
                w += 1
                self._good += 1
            if self._good >= _TRUST:
                self._trickle = False
            return w
        if n > _STEP_MAX:
            n = _STEP_MAX
        clk = self.clock
        w = 0
        while w < n:
            if w and not self._poller.poll() & _POLLOUT:
                self._slow()
                return w
            m = n - w if n - w < _WRITE_CHUNK else _WRITE_CHUNK
            t0 = clk.now()
            k = self._put(buf, off + w, m)
            if k > 0:
                w += k
            if (clk.now() - t0) & MASK > _SLOW_US:
                self._slow()
                return w
            if k < m:
                return w
        return w

    def _slow(self):
        self._trickle = True
        self._good = 0
        if self.stalls < MASK:
            self.stalls += 1

    @micropython.native
    def _put(self, buf, off, n):
        try:
            w = self._out.write(buf, off, n)
        except OSError as e:
            if e.args and e.args[0] == 11:      # EAGAIN
                return 0
            self.quit = self.dead = True        # the host side is gone
            return n
        return n if w is None else w

    @micropython.native
    def _append(self, buf, a, b):
        """Queue buf[a:b] (an encoded frame) in the outbox."""
        n = b - a
        ob = self.outbox
        if self._ob_n + n > len(ob) and self._ob_off:
            k = self._ob_n - self._ob_off
            ob[0:k] = ob[self._ob_off:self._ob_n]
            self._ob_off = 0
            self._ob_n = k
        if self._ob_n + n > len(ob):
            if self.lost_frames < MASK:
                self.lost_frames += 1
            return
        copy(ob, self._ob_n, buf, a, n)     # a slice would allocate
        self._ob_n += n

    @micropython.native
    def _queue_reply(self, cid, status, text):
        if status and self.cmd_errors < _MAX16:
            self.cmd_errors += 1
        self._send_reply(cid, self.framer.reply(cid, status, text))

    def _send_reply(self, cid, n):
        """Queue the REPLY frame in ``framer.enc[0:n]``, kept for `again` when it has an id."""
        f = self.framer
        if cid:
            copy(self._last_reply, 0, f.enc, 0, n)
            self._last_cid = cid
            self._last_len = n
        self._append(f.enc, 0, n)

    def _queue_error(self, code, text):
        f = self.framer
        self._append(f.enc, 0, f.error(code, text))

    def flags(self):
        fl = 0
        if self.streaming:
            fl |= F_STREAMING
        if self.kbd_off:
            fl |= F_KBD_OFF
        if self.wd_fired:
            fl |= F_WATCHDOG
        if self.fault:
            fl |= F_FAULT
        return fl

    def missed(self):
        """Sample slots the loop could not keep (Schedule) plus HX711 conversions never read."""
        m = self.sched.missed
        s = self.sensor
        if s is not None and s.missed:
            m = m + s.missed if s.missed < MASK - m else MASK
        return m

    def _queue_status(self, now):
        f = self.framer
        m = f.status(self.boot, now, self.seq, self.ring.dropped, self.cmd_errors,
                     self.flags(), self.rate, self.missed(), self.lost_frames)
        self._append(f.enc, 0, m)

    def _queue_all_data(self):
        """Encode every unsent sample into the outbox (before a stop reply)."""
        r = self.ring
        f = self.framer
        while r.count:
            c = r.count
            m = f.data(r.seq, r.val, r.time, r.tail, r.cap, c if c < MAX_SAMPLES else MAX_SAMPLES)
            self._append(f.enc, 0, m)
            r.pop(f.n)

    def flush(self, timeout_us):
        """Write the outbox out, waiting up to ``timeout_us`` for the link."""
        t0 = self.clock.now()
        while self._ob_n and not self.dead:
            if self._poller.poll() & _POLLOUT:
                self._write(t0)
            elif diff(self.clock.now(), t0) > timeout_us:
                return False
            else:
                self.clock.sleep_us(1000)
        return True

    def boot_errors(self, problems):
        for p in problems + self._boot_problems:
            self._queue_error(E_CONFIG, "config: " + p)

    # ----------------------------------------------------------------- input
    @micropython.native
    def _read_input(self, now):
        inp = self._in
        b1 = self._b1
        lines = self.lines
        for _ in range(_READ_MAX):
            try:
                k = inp.readinto(b1, 1)
            except OSError:
                k = 0
            if not k:
                self._in_open = False       # end of input: the host is gone
                self.quit = True
                if self.streaming:
                    self._stop_stream()
                return
            b = b1[0]
            if b == 3:
                # Ctrl-C as a byte (kbd_intr(-1) while streaming; a raw pty). No host line
                # holds it, but mpremote sends it first: end the stream and leave the loop
                # (run() restores Ctrl-C), so the REPL is free at once, not after the watchdog.
                raise KeyboardInterrupt
            ev = lines.feed(b)
            if ev:
                self._catch_up()        # the line's bytes took a while; its handling takes more
                self._line_event(ev, now)
                self._catch_up()
            if self.quit or not self._poller.readable():
                return

    @micropython.native
    def _catch_up(self):
        """Take now a sample that fell due while a command line was read or handled, not after
        the rest of the pass: a command costs 1–2 ms on a Pico, which at 1 kHz would skip a slot."""
        if self._sampling:
            s = self.sensor
            if s.scheduled:
                now = self.clock.now()
                if self.sched.due(now):
                    self._sample(s.read(now), now)

    @micropython.native
    def _cue_line(self, buf, n, now):
        """``[ID ]cue PHASE BAND LEVEL`` with valid words, as DeviceLink sends it (up to 20 a
        second in a guided session): done in place, without allocating, as ``cmd_cue`` would do
        it; False for any other line (the parser then takes it, errors included)."""
        i = 0
        while i < n and 0x30 <= buf[i] <= 0x39:
            i += 1
        cid = 0
        if i:
            cid = pc.line_id(buf, n)
            if cid == 0:
                return False
            i += 1
        if n - i < 4 or buf[i] != 0x63 or buf[i + 1] != 0x75 or buf[i + 2] != 0x65 or buf[i + 3] != 0x20:
            return False
        i += 4
        j = pc.word_end(buf, i, n)
        ph = pc.word_at(buf, i, j, cue.PHASES_B)
        if ph < 0 or j >= n:
            return False
        i = j + 1
        j = pc.word_end(buf, i, n)
        bd = pc.word_at(buf, i, j, cue.BANDS_B)
        if bd < 0 or j >= n:
            return False
        lv = pc.uint_at(buf, j + 1, n, 100)
        if lv < 0:
            return False
        c = self.cues
        c.set(now, ph, bd, lv)
        self._cue_changed(now)
        self._send_reply(cid, self.framer.cue_reply(cid, cue.PHASES_B[ph], cue.BANDS_B[bd], lv,
                                                    1 if self.alarm else 0))
        return True

    @micropython.native
    def _line_event(self, ev, now):
        lines = self.lines
        self._wd_at = add(now, self.watchdog_us)
        if ev == pc.LONG:
            self._queue_reply(pc.line_id(lines.buf, lines.n), pc.BAD_LINE,
                              "line longer than %d bytes: discarded up to the next newline" % pc.LIMIT)
            return
        if ev == pc.LONG_END:
            return
        buf = lines.buf
        n = lines.n
        lines.reset()
        if ev == pc.BAD:
            self._queue_reply(pc.line_id(buf, n), pc.BAD_LINE,
                              "line holds a byte outside ASCII 0x20..0x7E: discarded")
            return
        k = pc.ping_id(buf, n)
        if k >= 0:              # the keep-alive, answered without allocating (cmd_ping's reply)
            self._send_reply(k, self.framer.pong(k, now))
            return
        if self._cue_line(buf, n, now):
            return
        try:
            p = pc.parse(buf, n)
        except pc.CommandError as e:
            self._queue_reply(e.cid, e.status, e.text)
            return
        except (UnicodeError, ValueError):
            self._queue_reply(0, pc.BAD_LINE, "line is not ASCII: discarded")
            return
        if p is None:
            return      # an empty line only feeds the watchdog
        cid, verb, args = p
        name = pc.VERBS.get(verb)
        if name is None:
            self._queue_reply(cid, pc.UNKNOWN, "unknown command: " + verb)
            return
        try:
            r = getattr(self, name)(cid, args, now)
        except Exception as e:      # a handler bug must not stop sampling
            r = (pc.FAULT, "device fault in %s: %r" % (verb, e))
        if r is not None:
            self._queue_reply(cid, r[0], r[1])

    # -------------------------------------------------------------- commands
    def hello_text(self):
        s = self.sensor
        cal = self.cal
        if s is not None and s.cal() is not None:
            cal = s.cal()       # a simulated sensor knows its true scale
        kind = "none" if s is None else s.kind
        t = ("fw=%s proto=%d board=%s sensor=%s rate=%d uid=%s boot=%s raw_min=%d raw_max=%d "
                "tare=%d cal=%s batch_us=%d link=%s mpy=%d watchdog_ms=%d calblob=%s") % (
            FW_VERSION, PROTO, self.board_name, kind, self.rate, self.uid,
            "".join("%02x" % b for b in self.boot),
            s.raw_min if s else 0, s.raw_max if s else 0, self.tare, cal or "none",
            self.batch_us, self.link, getattr(sys.implementation, "_mpy", 0),
            self.watchdog_us // 1000, self._calblob_text()) + (
            " gain=%d" % self.cfg["gain"] if kind == "hx711" else "")  # a calibration belongs to its gain
        # last, and only when it fits: a reply holds 243 characters
        x = " stdio=" + ("duplex" if self._in is self._out else "split")
        return t + x if len(t) + len(x) <= _TEXT_MAX else t

    def _calblob_text(self):
        return "none" if self.cal_crc < 0 else "%04x" % self.cal_crc

    def cmd_hello(self, cid, args, now):
        return pc.OK, self.hello_text()

    def _set_kbd(self, off):
        self._kbd(-1 if off else 3)
        self.kbd_off = off

    def cmd_start(self, cid, args, now):
        if self.sensor is None:
            return pc.FAULT, "no sensor: fix the configuration (see the ERROR frames at boot)"
        if not self.streaming:
            self.streaming = True
            self._ovf_sent = False
            self._set_kbd(True)
            self._update_sampling(now)
            self._next_status = add(now, _SECOND)
            self._busy = self._wbusy = self._wn = self._iobusy = 0
            self._busy_seq = self.seq
            self._busy_t = now
            self.cues.streaming = True
            self.cues.apply(now)
            self._io_due = now
            self._queue_reply(cid, pc.OK, "streaming=1 seq=%d" % self.seq)
            self._queue_status(now)
            return None
        # Already streaming (a host reconnecting, a second Start): the first sample to come is the
        # oldest one still unsent, not the next one taken, or the host would count the backlog as
        # a jump backwards (a device restart).
        r = self.ring
        return pc.OK, "streaming=1 seq=%d" % (r.seq[r.tail] if r.count else self.seq)

    def _stop_stream(self):
        self.streaming = False
        self._queue_all_data()
        self._set_kbd(False)
        now = self.clock.now()
        self._update_sampling(now)
        self.cues.streaming = False
        self.cues.apply(now)
        self._io_due = now
        if self._dirty:
            self._save()

    def cmd_stop(self, cid, args, now):
        if self.streaming:
            self._stop_stream()
            self._queue_reply(cid, pc.OK, "streaming=0 seq=%d" % self.seq)
            self._queue_status(now)
            return None
        return pc.OK, "streaming=0 seq=%d" % self.seq

    def _watchdog(self, now):
        self.wd_fired = True
        self._stop_stream()
        self._queue_error(E_WATCHDOG, "host silent for %.1f s: streaming stopped"
                          % (self.watchdog_us / 1000000))
        self._queue_status(now)
        # a cue from a host that has gone is stale: show none (the firmware's alarm stays)
        self.cues.set(now, cue.P_OFF, cue.B_NONE, 0)
        self._cue_changed(now)

    def dry_run(self, hz, n=48):
        """Time ``n`` passes of the real loop at ``hz`` while not streaming (two rounds, the lesser
        kept), each pass taking a sample: ``seen_*`` as a stream at ``hz`` would measure them, so
        `rate` is judged from the real work, also before any stream.  Sensor reads, ring, limit,
        cues and buttons, polls and DATA frames run as when streaming; each frame goes out as as
        many 0x00 delimiters (empty frames, which receivers skip: the link's cost without a
        frame).  Input, watchdog and STATUS wait; the ring, sequence number and schedule are put
        back as they were."""
        if self.streaming or self._tare_n:
            return
        sch = self.sched
        r = self.ring
        clk = self.clock
        keep = (self.seq, self._sampling, self._in_open, self._wd_at, self._next_status, self._spf,
                sch.next_due, sch._fresh, sch.missed, self._busy_seq, self._trickle, self._good,
                self.stalls)
        now = clk.now()
        self._wd_at = self._next_status = add(now, 60 * _SECOND)
        self._spf = self._spf_at(hz)
        self._sampling = True
        self._in_open = False
        self.streaming = self._dry = True
        self._busy = self._wbusy = self._wn = self._iobusy = 0
        self._busy_seq = self.seq
        self._busy_t = now
        try:
            best = None
            for _ in range(2):      # the lesser of two rounds: one preemption (unix port) refuses nothing
                for _ in range(n // 2):
                    sch.reset(clk.now())
                    self.step()
                self._note_cost()
                if best is None or self.seen_cost < best[0]:
                    best = (self.seen_cost, self.seen_base, self.seen_frame, self.seen_io)
            self.seen_cost, self.seen_base, self.seen_frame, self.seen_io = best
            self.seen_dry = True
        finally:
            self.streaming = self._dry = False
            r.clear()
            (self.seq, self._sampling, self._in_open, self._wd_at, self._next_status, self._spf,
             sch.next_due, sch._fresh, sch.missed, self._busy_seq, self._trickle, self._good,
             self.stalls) = keep
            self._busy = self._wbusy = self._wn = self._iobusy = 0

    def cost_us(self, now):
        """Measured µs of loop work per sample on this board: 8 sensor reads, 8 link polls and a
        DATA frame of 8 samples encoded (the frame is not sent). The least of 3 rounds: on a board
        only an interrupt can lengthen a round, but on the unix port a busy PC can preempt one for
        milliseconds, which would refuse a rate the loop keeps up with."""
        s = self.sensor
        clk = self.clock
        pl = self._poller
        r = self.ring
        c = 0
        for _ in range(3):
            t0 = clk.now()
            for _ in range(8):
                s.read(now)
                pl.poll()
            self.framer.data(r.seq, r.val, r.time, 0, r.cap, 8)
            d = (diff(clk.now(), t0) + 7) // 8
            if c == 0 or d < c:
                c = d
        return c

    def link_bytes(self, hz):
        """Bytes/s a stream at ``hz`` puts on the link (docs/protocol.md)."""
        n = self.batch_us // _period(hz)
        spf = 1 if n < 1 else (MAX_SAMPLES if n > MAX_SAMPLES else n)
        return hz * 5 + (hz + spf - 1) // spf * 15

    def cmd_rate(self, cid, args, now):
        if len(args) != 1:
            return pc.BAD_ARG, "rate needs one argument: HZ"
        try:
            hz = int(args[0])
        except ValueError:
            return pc.BAD_ARG, "rate %s: not a whole number of Hz" % args[0]
        st, msg = self.sensor.check_rate(hz) if hz > 0 else (pc.BAD_ARG, "rate must be positive")
        if st:
            return st, msg
        if self.sensor.scheduled:
            # what this board can sustain, from its own measured cost per sample: refused, never
            # silently thinned (a sensor with its own clock, the HX711, sets its rate itself)
            # the larger of a short bench now and the work per sample timed in the last stream
            # (writes, interrupts, the whole step()), which the bench alone underestimates
            c = self.cost_us(now)
            if not self.streaming and not self._tare_n:
                self.dry_run(hz)            # not streaming: time the real loop at this rate now
            seen = self.seen_cost_at(hz)
            if seen > c:
                c = seen
            top = _BUDGET_US // c if c > 0 else hz
            if hz > top:
                return pc.BAD_ARG, ("rate %d: this board needs %d us of work per sample%s, so it keeps up "
                                    "with at most %d Hz; use a lower rate" % (
                                        hz, c, "" if c != seen else (" (timed in a dry run of the loop)"
                                                                     if self.seen_dry else " (timed while streaming)"), top))
        if self.baud:
            need = self.link_bytes(hz)
            cap = self.baud * 7 // 100      # 70 % of baud/10 bytes/s
            if need > cap:
                return pc.BAD_ARG, ("rate %d needs %d bytes/s: more than 70%% of %s (%d bytes/s); "
                                    "use a lower rate" % (hz, need, self.link, cap))
        try:
            self.sensor.set_rate(hz)
        except (ValueError, OSError) as e:
            return pc.FAULT, "rate %d: %s" % (hz, e)
        self.rate = hz
        self.sched.set_period(_period(hz), now)
        self._set_spf()
        if self.sensor.scheduled:
            return pc.OK, "rate=%d cost_us=%d seen_us=%d" % (hz, c, seen)
        return pc.OK, "rate=%d" % hz

    def cmd_tare(self, cid, args, now):
        if self.sensor is None:
            return pc.FAULT, "no sensor to tare"
        if self._tare_n:
            return pc.NOT_NOW, "tare already running: wait for its reply"
        if len(args) > 1:
            return pc.BAD_ARG, "tare takes at most one argument: N samples"
        n = self.rate // 2 if self.rate >= 2 else 1
        if args:
            try:
                n = int(args[0])
            except ValueError:
                return pc.BAD_ARG, "tare %s: N must be a whole number of samples" % args[0]
        if not 1 <= n <= len(self._tare_buf):
            return pc.BAD_ARG, "tare %d: N must be 1..%d samples" % (n, len(self._tare_buf))
        self._tare_id = cid
        self._tare_i = 0
        self._tare_n = n
        self._update_sampling(now)
        return None         # the reply comes when N samples are in

    def _tare_done(self):
        n = self._tare_n
        buf = self._tare_buf
        v0 = buf[0]
        s = 0
        for i in range(n):
            s += buf[i] - v0
        mean = v0 + s / n
        q = 0.0
        for i in range(n):
            d = buf[i] - mean
            q += d * d
        sd = (q / (n - 1)) ** 0.5 if n > 1 else 0.0
        self.tare = int(mean + 0.5) if mean >= 0 else -int(-mean + 0.5)
        self._tare_n = 0
        self._queue_reply(self._tare_id, pc.OK, "tare=%d n=%d sd=%.1f" % (self.tare, n, sd))
        self._dirty = True
        if not self.streaming:
            self._update_sampling(self.clock.now())
            self._save()

    def _save(self):
        self._dirty = False
        if self.store is None:
            return
        try:
            st = self.store.load()
            st["tare"] = self.tare
            self.store.save(st)
        except OSError as e:
            self._queue_error(E_CONFIG, "store: cannot save tare (%s)" % e)

    def cmd_again(self, cid, args, now):
        """``ID again``: the reply to the last command once more, if that command had this id. The
        host sends it when a reply never came (STATUS `lost` counts frames dropped for want of
        outbox space); a command is never run twice."""
        if args:
            return pc.BAD_ARG, "again takes no argument: send it under the id of the lost reply"
        if cid and cid == self._last_cid and self._last_len:
            self._append(self._last_reply, 0, self._last_len)
            return None
        f = self.framer        # answered without replacing the kept reply
        self._append(f.enc, 0, f.reply(cid, pc.NOT_NOW,
                                        "no reply kept for id %d: only the last command's reply is kept" % cid))
        return None

    def cmd_ping(self, cid, args, now):
        return pc.OK, "pong=%s t=%d" % (args[0] if args else "", now)

    def cmd_status(self, cid, args, now):
        self._queue_status(now)
        return pc.OK, "ok=1"

    def cmd_repl(self, cid, args, now):
        self._queue_reply(cid, pc.OK, "repl=1")
        if self.streaming:
            self._stop_stream()
            self._queue_status(now)
        self.quit = True
        return None

    def cmd_sim(self, cid, args, now):
        if args and args[0] == "button":
            return self._sim_button(args, now)
        sim = getattr(self.sensor, "sim", None)
        if sim is None:
            return pc.NOT_NOW, "sim: only the simulated sensor takes sim commands"
        return sim.command(args)

    def _sim_button(self, args, now):
        b = self._btns
        if b is None:
            return pc.NOT_NOW, "sim button: no buttons configured (buttons in config.json)"
        if len(args) not in (2, 3):
            return pc.BAD_ARG, "sim button needs NAME [MS]"
        i = b.index(args[1])
        if i < 0:
            return pc.BAD_ARG, "sim button %s: configured buttons are %s" % (args[1], ",".join(b.names))
        if not hasattr(b.pins[i], "level"):
            return pc.NOT_NOW, "sim button: only fake pins (unix port) can be pressed by command"
        try:
            ms = int(args[2]) if len(args) == 3 else 100
        except ValueError:
            return pc.BAD_ARG, "sim button: MS must be a whole number"
        if not 30 <= ms <= 10000:
            return pc.BAD_ARG, "sim button: MS must be 30..10000"
        if b.sim_i >= 0:
            return pc.NOT_NOW, "sim button: %s is still held; try again after it" % b.names[b.sim_i]
        b.sim_press(i, now, ms * 1000)
        self._io_due = now
        return pc.OK, "button=%s ms=%d" % (args[1], ms)

    # ------------------------------------------------------- cues and limit
    def cmd_cue(self, cid, args, now):
        c = self.cues
        if args:
            if len(args) > 3:
                return pc.BAD_ARG, "cue takes PHASE [BAND [LEVEL]]"
            try:
                ph = cue.PHASES.index(args[0])
            except ValueError:
                return pc.BAD_ARG, "cue %s: PHASE must be one of %s" % (args[0], ",".join(cue.PHASES))
            bd = 0
            lv = 0
            if len(args) > 1:
                try:
                    bd = cue.BANDS.index(args[1])
                except ValueError:
                    return pc.BAD_ARG, "cue: BAND must be one of %s" % ",".join(cue.BANDS)
            if len(args) > 2:
                try:
                    lv = int(args[2])
                except ValueError:
                    lv = -1
                if not 0 <= lv <= 100:
                    return pc.BAD_ARG, "cue: LEVEL must be a whole number 0..100"
            c.set(now, ph, bd, lv)
        self._cue_changed(now)
        return pc.OK, "phase=%s band=%s level=%d alarm=%d" % (
            cue.PHASES[c.phase], cue.BANDS[c.band], c.level, 1 if self.alarm else 0)

    def _limit_text(self):
        return "limit_max=%s limit_min=%s" % (
            "off" if self.lim_max is None else "%d" % self.lim_max,
            "off" if self.lim_min is None else "%d" % self.lim_min)

    def cmd_limit(self, cid, args, now):
        if args:
            which = "max"
            a = args
            if args[0] in ("max", "min"):
                which = args[0]
                a = args[1:]
            if len(a) != 1:
                return pc.BAD_ARG, "limit takes RAW, max RAW, min RAW or off"
            if a[0] == "off":
                if which == "max" and len(args) == 1:
                    self.lim_max = self.lim_min = None
                elif which == "max":
                    self.lim_max = None
                else:
                    self.lim_min = None
            else:
                try:
                    r = int(a[0])
                except ValueError:
                    return pc.BAD_ARG, "limit %s: RAW must be a whole number of raw counts" % a[0]
                s = self.sensor
                lo = s.raw_min if s else -8388608
                hi = s.raw_max if s else 8388607
                # a max at the top of the range (or a min at the bottom) can never be passed
                if not (lo <= r < hi if which == "max" else lo < r <= hi):
                    return pc.BAD_ARG, ("limit %s %d: can never fire: the sensor reads %d..%d, so RAW "
                                        "must be %d..%d" % (which, r, lo, hi, lo if which == "max" else lo + 1,
                                                            hi - 1 if which == "max" else hi))
                if which == "max":
                    self.lim_max = r
                else:
                    self.lim_min = r
            self._lim_hi = _I24_HI if self.lim_max is None else self.lim_max
            self._lim_lo = _I24_LO if self.lim_min is None else self.lim_min
            self._lim_on = self.lim_max is not None or self.lim_min is not None
            if self.alarm and not self._lim_on:
                self._alarm_end(now)
            self._update_sampling(now)
        return pc.OK, "%s alarm=%d" % (self._limit_text(), 1 if self.alarm else 0)

    def cmd_io(self, cid, args, now):
        def lv(p):
            return "-" if p is None else "%d" % (1 if p.value() else 0)
        b = self._btns
        pressed = []
        if b is not None:
            pressed = [b.names[i] for i in range(b.n) if b.state[i]]
        return pc.OK, "led=%s buzzer=%s buzzer_hz=%d alarm=%d alarms=%d %s buttons=%s pressed=%s" % (
            lv(self.led), lv(self.buzzer), self.cues.bz.hz_now, 1 if self.alarm else 0, self.alarms,
            self._limit_text(), ",".join(b.names) if b else "none", ",".join(pressed) or "none")

    # ------------------------------------------------------- calibration blob
    def cmd_calw(self, cid, args, now):
        if self.streaming:
            return pc.NOT_NOW, "calibration: stop streaming first (written only while not streaming)"
        if len(args) != 2:
            return pc.BAD_ARG, "calw needs OFFSET HEX"
        try:
            off = int(args[0])
            h = args[1]
            n = len(h) // 2
            if len(h) != 2 * n or n == 0:
                raise ValueError
            data = bytes(int(h[2 * i:2 * i + 2], 16) for i in range(n))
        except ValueError:
            return pc.BAD_ARG, "calw: OFFSET must be a number and HEX an even number of hex digits"
        if off < 0 or off + n > CAL_MAX:
            return pc.BAD_ARG, "calw: OFFSET+bytes must stay within %d" % CAL_MAX
        self._stage[off:off + n] = data
        return pc.OK, "calw=%d n=%d" % (off, n)

    def cmd_cal(self, cid, args, now):
        sub = args[0] if args else "info"
        if sub == "info" and len(args) <= 1:
            return pc.OK, "calblob=%s len=%d" % (self._calblob_text(), self.cal_n)
        if sub == "read" and len(args) == 1:
            f = self.framer
            n = self.cal_n
            k = 0
            for off in range(0, n, CAL_CHUNK):
                m = n - off if n - off < CAL_CHUNK else CAL_CHUNK
                self._append(f.enc, 0, f.cal_chunk(self.calblob, n, off, m, self.cal_crc))
                k += 1
            return pc.OK, "calblob=%s len=%d frames=%d" % (self._calblob_text(), n, k)
        if sub not in ("commit", "clear"):
            return pc.BAD_ARG, "cal takes info, read, commit LEN CRC16 or clear"
        if self.streaming:
            return pc.NOT_NOW, "calibration: stop streaming first (written only while not streaming)"
        if self.store is None:
            return pc.FAULT, "calibration: no store on this device"
        if sub == "clear":
            if len(args) != 1:
                return pc.BAD_ARG, "cal clear takes no argument"
            try:
                self.store.clear_blob()
            except OSError as e:
                return pc.FAULT, "calibration: cannot remove the file (%s)" % e
            self.cal_n = 0
            self.cal_crc = -1
            return pc.OK, "calblob=none len=0"
        if len(args) != 3:
            return pc.BAD_ARG, "cal commit needs LEN CRC16 (4 hex digits)"
        try:
            n = int(args[1])
            want = int(args[2], 16)
        except ValueError:
            return pc.BAD_ARG, "cal commit: LEN must be a number and CRC16 hex"
        if not 1 <= n <= CAL_MAX:
            return pc.BAD_ARG, "cal commit: LEN must be 1..%d" % CAL_MAX
        got = crc16(self._stage, n)
        if got != want:
            return pc.BAD_ARG, ("cal commit: the %d bytes received have CRC %04x, not %04x: "
                                "send the chunks again" % (n, got, want))
        try:
            self.store.save_blob(self._stage, n)
        except OSError as e:
            return pc.FAULT, "calibration: cannot write the file (%s); the old one is kept" % e
        self.calblob[0:n] = self._stage[0:n]
        self.cal_n = n
        self.cal_crc = got
        return pc.OK, "calblob=%04x len=%d" % (got, n)
