"""An in-process stand-in for a pointdose board, behind a serial-like object.

``FakeDevice`` answers the v1 command set with frames from :mod:`pointdose.protocol.wire` and
streams DATA frames from a thread while ``start``-ed. Each sample's raw value is its sequence
number mod 2^23, so tests can check exactly which samples arrived. It also keeps a calibration blob
across ``reboot()`` (``calw`` / ``cal commit|read|clear|info``, refused while streaming), echoes
``cue`` in CUE_STATE frames, keeps ``limit`` (``over_pressure()`` sends ERROR 5 as the firmware would)
and ``sim button NAME`` / ``press()`` send BUTTON frames. ``serial(url)`` returns an
unopened port object for ``DeviceLink(serial_factory=...)``; ``unplug()`` makes every port call
raise ``serial.SerialException`` and ``open()`` fail until ``replug()``.
"""

from __future__ import annotations

import os
import threading
import time

import serial

from pointdose.protocol import wire


class FakeDevice:
    def __init__(self, *, rate_hz: int = 500, batch_us: int = 4000, uid: str = "fa4e0001", silent: bool = False,
                 tick_start: int = 0, link: str = "usb", needs_dtr: bool = False, resets_on_modem_lines: bool = False,
                 watchdog_ms: int = 3000, max_rate: int = 2000, cal: str = "none") -> None:
        self.rate_hz = rate_hz
        self.batch_us = batch_us
        self.uid = uid
        self.silent = silent
        self.tick_start = tick_start
        self.link = link
        self.needs_dtr = needs_dtr
        self.resets_on_modem_lines = resets_on_modem_lines
        self.watchdog_ms = watchdog_ms
        self.max_rate = max_rate
        self.cal = cal
        self.tare_offset = 0
        self.cal_blob: bytes | None = None  # survives reboot(), as the device's file does
        self._stage = bytearray(wire.CAL_MAX)
        self.cue = ("off", "none", 0)
        self.limit: tuple[int | None, int | None] = (None, None)  # (max, min)
        self.button_count = 0
        self.lines: list[tuple[float, str]] = []  # (host time, line) of every command received
        self.boots: list[str] = []
        self.overflow = 0
        self.skip = 0  # the next `skip` samples are taken but never sent (a gap in seq)
        self.plugged = True
        self.opens = 0
        self._cond = threading.Condition()
        self._out = bytearray()
        self._port: FakeSerial | None = None
        self._stop = threading.Event()
        self.reboot()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fakedevice")
        self._thread.start()

    # --- test controls --------------------------------------------------------------------------

    def reboot(self) -> None:
        with self._cond:
            self.boot_id = os.urandom(4).hex()
            self.boots.append(self.boot_id)
            self._epoch = time.monotonic()
            self._taken = 0  # samples taken since boot (= next seq)
            self.streaming = False
            self._pending: list[tuple[int, int]] = []  # (seq, t_us) taken, not yet sent
            self._last_line = time.monotonic()
            self._last_status = 0.0
            self.cue = ("off", "none", 0)
            self.limit = (None, None)

    def unplug(self) -> None:
        with self._cond:
            self.plugged = False
            self._cond.notify_all()

    def replug(self, reboot: bool = False) -> None:
        if reboot:
            self.reboot()
        with self._cond:
            self.plugged = True

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def serial(self, url: str = "fake://") -> "FakeSerial":
        return FakeSerial(self, url)

    def press(self, name: str, t_us: int | None = None) -> None:
        """A button press (and its release 100 ms later in device time), as BUTTON frames."""
        with self._cond:
            t = self.now_us() if t_us is None else t_us
            for pressed, dt in ((True, 0), (False, 100_000)):
                self.button_count = (self.button_count + 1) & 0xFFFF
                self._emit(wire.encode_button((t + dt) % wire.TICK_MOD, name, pressed, self.button_count))

    def over_pressure(self, value: int) -> None:
        """What the firmware sends when a sample passes its limit."""
        hi, lo = self.limit
        low = lo is not None and value < lo
        with self._cond:
            self._emit(wire.encode_error(wire.ErrorCode.OVER_PRESSURE,
                                         f"over-pressure: raw={value} limit={'min' if low else 'max'}:"
                                         f"{lo if low else hi} t={self.now_us()}"))

    def received(self, verb: str) -> list[float]:
        """Host times at which lines with this verb arrived."""
        return [t for t, line in self.lines if line.split()[-1:] == [verb] or verb in line.split()[1:2]]

    # --- device side ----------------------------------------------------------------------------

    def now_us(self) -> int:
        return (self.tick_start + int((time.monotonic() - self._epoch) * 1e6)) % wire.TICK_MOD

    def _emit(self, frame: bytes) -> None:
        port = self._port
        if port is None or not port.is_open or not self.plugged:
            return
        if self.needs_dtr and not port.dtr:
            return  # native USB CDC: nothing goes out without DTR
        self._out += frame
        self._cond.notify_all()

    def _run(self) -> None:
        period = 1.0 / self.rate_hz
        while not self._stop.wait(self.batch_us / 4e6):
            with self._cond:
                due = int((time.monotonic() - self._epoch) / period)
                while self._taken < due:
                    self._pending.append((self._taken, (self.tick_start + int(self._taken * period * 1e6))))
                    self._taken += 1
                if not self.streaming:
                    self._pending.clear()
                    continue
                if time.monotonic() - self._last_line > self.watchdog_ms / 1000:
                    self.streaming = False
                    self._pending.clear()
                    self._emit(wire.encode_error(wire.ErrorCode.WATCHDOG, "host silent: streaming stopped"))
                    continue
                per_frame = max(1, min(40, int(self.batch_us * self.rate_hz // 1_000_000)))
                oldest_age = (time.monotonic() - self._epoch - self._pending[0][0] * period) if self._pending else 0
                while self._pending and (len(self._pending) >= per_frame or oldest_age * 1e6 >= self.batch_us):
                    batch, self._pending = self._pending[:per_frame], self._pending[per_frame:]
                    if self.skip:
                        drop = min(self.skip, len(batch))
                        self.skip -= drop
                        batch = batch[drop:]
                        if not batch:
                            continue
                    seq0, t0 = batch[0]
                    dts = [0] + [b[1] - a[1] for a, b in zip(batch, batch[1:])]
                    self._emit(wire.encode_data_frame(seq0, t0, [s % (1 << 23) for s, _ in batch], dts))
                if time.monotonic() - self._last_status >= 1.0:
                    self._send_status()

    def _calblob(self) -> str:
        return "none" if self.cal_blob is None else f"{wire.crc16(self.cal_blob):04x}"

    def _send_status(self) -> None:
        self._last_status = time.monotonic()
        self._emit(wire.encode_status(self.boot_id, self.now_us(), self._taken, self.overflow, 0,
                                      int(self.streaming) | 2 * int(self.streaming), self.rate_hz))

    def _command(self, line: str) -> None:
        self.lines.append((time.monotonic(), line))
        self._last_line = time.monotonic()
        if self.silent:
            return
        tokens = line.split()
        cmd_id = 0
        if tokens and tokens[0].isdigit():
            cmd_id = int(tokens.pop(0))
        verb, args = (tokens[0], tokens[1:]) if tokens else ("", [])

        def reply(text: str, status: int = 0) -> None:
            self._emit(wire.encode_reply(cmd_id, status, text))

        if verb in ("hello", "info"):
            reply(f"fw=0.1.0-fake proto=1 board=unix sensor=sim rate={self.rate_hz} uid={self.uid} "
                  f"boot={self.boot_id} raw_min=-8388608 raw_max=8388607 tare={self.tare_offset} cal={self.cal} "
                  f"batch_us={self.batch_us} link={self.link} mpy=6 watchdog_ms={self.watchdog_ms} "
                  f"calblob={self._calblob()}")
        elif verb == "start":
            self.streaming = True
            self._pending.clear()
            reply(f"streaming=1 seq={self._taken}")
            self._send_status()
        elif verb == "stop":
            self.streaming = False
            reply(f"streaming=0 seq={self._taken}")
        elif verb == "ping":
            reply(f"pong={args[0] if args else ''} t={self.now_us()}")
        elif verb == "rate":
            try:
                hz = int(args[0])
            except (IndexError, ValueError):
                return reply("rate needs a number of Hz, e.g. rate 80", 2)
            if not 1 <= hz <= self.max_rate:
                return reply(f"rate {hz} Hz is outside 1 … {self.max_rate} Hz", 2)
            self.rate_hz = hz
            reply(f"rate={hz}")
        elif verb == "tare":
            self.tare_offset = 1234
            reply(f"tare={self.tare_offset} n={args[0] if args else self.rate_hz // 2} sd=3.5")
        elif verb == "status":
            self._send_status()
            reply("ok=1")
        elif verb == "calw":
            if self.streaming:
                return reply("calibration: stop streaming first (written only while not streaming)", 3)
            off, data = int(args[0]), bytes.fromhex(args[1])
            self._stage[off:off + len(data)] = data
            reply(f"calw={off} n={len(data)}")
        elif verb == "cal":
            sub = args[0] if args else "info"
            if sub == "info":
                return reply(f"calblob={self._calblob()} len={len(self.cal_blob or b'')}")
            if sub == "read":
                blob = self.cal_blob or b""
                for off in range(0, len(blob), wire.CAL_CHUNK):
                    self._emit(wire.encode_calibration_chunk(len(blob), off, wire.crc16(blob),
                                                             blob[off:off + wire.CAL_CHUNK]))
                return reply(f"calblob={self._calblob()} len={len(blob)} frames={-(-len(blob) // wire.CAL_CHUNK)}")
            if self.streaming:
                return reply("calibration: stop streaming first (written only while not streaming)", 3)
            if sub == "clear":
                self.cal_blob = None
                return reply("calblob=none len=0")
            n, crc = int(args[1]), int(args[2], 16)
            if wire.crc16(bytes(self._stage[:n])) != crc:
                return reply("cal commit: CRC mismatch: send the chunks again", 2)
            self.cal_blob = bytes(self._stage[:n])
            reply(f"calblob={self._calblob()} len={n}")
        elif verb == "cue":
            if args:
                if args[0] not in wire.CUE_PHASES:
                    return reply("cue: bad PHASE", 2)
                self.cue = (args[0], args[1] if len(args) > 1 else "none", int(args[2]) if len(args) > 2 else 0)
            ph, bd, lv = self.cue
            self._emit(wire.encode_cue_state(self.now_us(), ph, bd, lv, 6, 1000, 0, 0, 0, 0))
            reply(f"phase={ph} band={bd} level={lv} alarm=0")
        elif verb == "limit":
            hi, lo = self.limit
            if args == ["off"]:
                hi = lo = None
            elif args:
                which, value = (args[0], args[1]) if args[0] in ("max", "min") else ("max", args[0])
                v = None if value == "off" else int(value)
                hi, lo = (v, lo) if which == "max" else (hi, v)
            self.limit = (hi, lo)
            reply(f"limit_max={'off' if hi is None else hi} limit_min={'off' if lo is None else lo} alarm=0")
        elif verb == "io":
            hi, lo = self.limit
            reply(f"led=1 buzzer=0 buzzer_hz=0 alarm=0 alarms=0 limit_max={'off' if hi is None else hi} "
                  f"limit_min={'off' if lo is None else lo} buttons=pain,release,stop pressed=none")
        elif verb == "sim" and args[:1] == ["button"]:
            reply(f"button={args[1]} ms=100")
            self.press(args[1])
        elif verb == "":
            pass
        else:
            reply(f"unknown command: {verb}", 1)


class FakeSerial:
    """Just enough of ``serial.Serial`` for DeviceLink."""

    def __init__(self, device: FakeDevice, url: str) -> None:
        self.device = device
        self.port = url
        self.baudrate = 115200
        self.timeout: float | None = None
        self.write_timeout: float | None = None
        self.dtr = True  # pyserial's defaults
        self.rts = True
        self.is_open = False
        self._inbuf = bytearray()

    def _check(self) -> None:
        if not self.is_open:
            raise serial.SerialException("port not open")
        if not self.device.plugged or self.device._port is not self:
            raise serial.SerialException("device reports readiness to read but returned no data "
                                         "(device disconnected or multiple access on port?)")

    def open(self) -> None:
        d = self.device
        with d._cond:
            if not d.plugged:
                raise serial.SerialException(f"[Errno 2] could not open port {self.port}: No such file or directory")
            self.is_open = True
            d.opens += 1
            d._port = self
            d._out.clear()
        if d.resets_on_modem_lines and (self.dtr or self.rts):
            d.reboot()  # an ESP32 auto-reset circuit

    def close(self) -> None:
        self.is_open = False

    @property
    def in_waiting(self) -> int:
        with self.device._cond:
            self._check()
            return len(self.device._out)

    def reset_input_buffer(self) -> None:
        with self.device._cond:
            self.device._out.clear()

    def read(self, size: int = 1) -> bytes:
        d = self.device
        deadline = time.monotonic() + (self.timeout or 0)
        with d._cond:
            while True:
                self._check()
                if d._out:
                    data = bytes(d._out[:size])
                    del d._out[:size]
                    return data
                left = deadline - time.monotonic()
                if left <= 0:
                    return b""
                d._cond.wait(left)

    def write(self, data: bytes) -> int:
        d = self.device
        with d._cond:
            self._check()
            self._inbuf += data
            while b"\n" in self._inbuf:
                line, _, rest = bytes(self._inbuf).partition(b"\n")
                self._inbuf = bytearray(rest)
                d._command(line.decode("ascii", "replace").rstrip("\r"))
        return len(data)
