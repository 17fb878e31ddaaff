"""DeviceLink: one board (or the simulated device) over a serial port, with a reader thread.

Design (after pyserial's ``serial/threaded``): one reader thread owns the port's reads, the decoder,
the clock and the reconnect loop; callers' threads only write command lines (under a write lock)
and wait for their own REPLY, routed to them by command id. Everything that touches
:class:`DeviceClock` runs on the reader thread, so a ``start`` reply's ``seq=`` takes effect before
the samples that follow it on the wire.

Every way the link can end (I/O error, unplug, a callback raising, no answer to the reconnect
``hello``) goes through :meth:`DeviceLink._connection_lost`: state becomes LOST, samples already
received stay in the ring, pending commands fail with :class:`LinkLost`, and the reader thread
re-opens the same port path every ``reconnect_interval`` s (or the board with the same USB serial
number, if it came back under another name). When the device answers ``hello`` again, a changed
boot id starts a new segment, streaming is restarted if it was on, and ``stats.reconnects`` grows.

A device that fell into the MicroPython REPL (a stray Ctrl-C byte while it was not streaming, also
after the watchdog stopped a stream, or a crash) shows its prompt on the link: bytes that are not a
frame, ending in ``>>> `` and followed by silence. The reader thread then sends Ctrl-C (drop the
line) and Ctrl-D (soft reset: a board runs ``main.py`` again; the unix port exits and the simulated
device's launcher boots the firmware again), asks ``hello`` until the firmware answers, and carries
on as after a reboot: a new segment, the limit and cue re-applied, streaming restarted if it was
on. Each recovery is kept in :attr:`DeviceLink.recoveries` with the gap it cost, and counted in
``stats.repl_recoveries`` / ``stats.repl_gap_s``. A device that keeps falling back into the REPL
(``main.py`` missing or failing) is given up after :data:`REPL_MAX_TRIES` tries with one clear
line. After the ``repl`` command (asked for on purpose, e.g. before ``mpremote``) nothing is done.

Device features (docs/protocol.md): the calibration blob kept on the device
(:meth:`DeviceLink.read_calibration` / :meth:`~DeviceLink.write_calibration` /
:meth:`~DeviceLink.clear_calibration`), the cue it shows (:meth:`~DeviceLink.send_cue`, echoed in
:attr:`~DeviceLink.cue_state`), its own over-pressure limit (:meth:`~DeviceLink.set_limit`, re-applied
after a reconnect or reboot; crossings arrive as ERROR code 5 in :attr:`~DeviceLink.errors`) and its
buttons (:attr:`~DeviceLink.on_button`, :attr:`~DeviceLink.buttons`).

Example::

    with DeviceLink("/dev/ttyACM0") as link:
        link.start()
        time.sleep(1)
        rows = link.ring.window(1.0)
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Callable, NamedTuple

import numpy as np

from pointdose.errors import UserError
from pointdose.link.clock import DeviceClock
from pointdose.link.discovery import Board, find_board_by_uid
from pointdose.link.info import DeviceInfo
from pointdose.link.ring import RING_DTYPE, SampleRing
from pointdose.protocol.decoder import StreamDecoder
from pointdose.protocol.wire import (
    CAL_MAX,
    CALW_CHUNK,
    CUE_BANDS,
    CUE_PHASES,
    ButtonEvent,
    CalibrationChunk,
    CueState,
    DeviceError,
    ErrorCode,
    Reply,
    ReplyStatus,
    Status,
    crc16,
)

MAX_LINE = 80
REPL_PROMPTS = (b">>> ", b"raw REPL; CTRL-B to exit\r\n>")  # MicroPython's friendly and raw REPL prompts
REPL_QUIET_S = 0.25  # a prompt followed by this much silence is the REPL waiting, not a frame in transit
REPL_WAKE = b"\x03\x04"  # Ctrl-C drops the line typed so far; Ctrl-D on an empty line: soft reset
REPL_BOOT_S = 0.5  # first hello this long after the soft reset, then every REPL_HELLO_INTERVAL_S
REPL_HELLO_INTERVAL_S = 1.0
REPL_RECOVERY_TIMEOUT_S = 15.0  # a recovery whose hellos go unanswered this long is given up
REPL_MAX_TRIES = 3  # soft resets within REPL_TRIES_WINDOW_S before the device is given up
REPL_TRIES_WINDOW_S = 60.0
LINK_BUDGET = 0.70  # share of a UART link the stream may use (docs/protocol.md)
UART_BATCH_US = 20000  # firmware default batching on a UART link


class ButtonPress(NamedTuple):
    """A device button press: ``t_dev_s`` on the samples' time scale (device time mapped to host seconds)."""

    t_dev_s: float
    name: str


@dataclass
class ReplRecovery:
    """A device found at the MicroPython REPL and brought back (times: host ``time.monotonic()`` s)."""

    detected_s: float  # when the prompt was seen
    recovered_s: float | None = None  # when the firmware answered hello again
    last_sample_s: float | None = None  # the newest sample before (device time mapped to host s)

    @property
    def gap_s(self) -> float | None:
        """Seconds without data: from the last sample before (or the detection) to the answer."""
        if self.recovered_s is None:
            return None
        start = self.last_sample_s if self.last_sample_s is not None else self.detected_s
        return max(0.0, self.recovered_s - min(start, self.detected_s))


class LinkState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    STREAMING = "streaming"
    LOST = "lost"
    CLOSED = "closed"


@dataclass
class LinkStats:
    samples: int = 0
    lost_samples: int = 0  # gaps in the sequence numbers
    device_overflow: int = 0  # device ring overflow (STATUS), summed over boots
    device_missed: int = 0  # sample slots the device fell behind on (STATUS, protocol 2), summed over boots
    device_lost_frames: int = 0  # frames the device dropped for want of output buffer (STATUS, protocol 2)
    replies_asked_again: int = 0  # lost replies the device sent again (``ID again``, protocol 2)
    crc_errors: int = 0
    framing_errors: int = 0  # COBS and length errors
    version_errors: int = 0
    unknown_frames: int = 0
    reconnects: int = 0
    boot_changes: int = 0
    repl_recoveries: int = 0  # times the device was found at the MicroPython REPL and brought back
    repl_gap_s: float = 0.0  # seconds those recoveries cost, summed (see ReplRecovery.gap_s)
    last_sample_host_time: float | None = None


class LinkError(UserError):
    """The link cannot do what was asked (port missing, connection lost, no reply)."""


class LinkLost(LinkError):
    pass


class CommandTimeout(LinkError):
    pass


class NotAPointdoseDevice(LinkError):
    pass


class DeviceCommandError(UserError):
    """The device answered a command with a non-zero status."""

    def __init__(self, command: str, reply: Reply) -> None:
        super().__init__(f"the device refused '{command}': {reply.text or f'status {reply.status}'}")
        self.command = command
        self.reply = reply
        self.status = reply.status


def link_load(rate_hz: float, batch_us: int) -> float:
    """Bytes per second the stream needs: ``rate×5 + frames/s×15`` with the firmware's batching."""
    period_us = 1e6 / rate_hz
    per_frame = max(1, min(40, int(batch_us // period_us)))
    return rate_hz * 5 + rate_hz / per_frame * 15


def repl_stranded_message(port: str) -> str:
    return (f"{port} is at the MicroPython REPL and falls back into it after a soft reset (Ctrl-D): "
            "its main.py is missing or fails at start; install the firmware again (pointdose flash)")


def open_error_message(port: str, exc: BaseException) -> str:
    """Why a port would not open, in words that say what to do (pyserial's own text is a chain)."""
    errno_ = getattr(exc, "errno", None)
    text = str(exc)
    if errno_ == 2 or "No such file" in text:
        return (f"there is no port {port}: check the cable and the name "
                "(leave out --port to let pointdose find a board, or use --sim)")
    if errno_ in (13, 1) or "Permission denied" in text:
        return (f"not allowed to open {port}: add yourself to the port's group "
                "(on Debian/Ubuntu: sudo usermod -aG dialout $USER, then log in again)")
    if errno_ == 16 or "busy" in text.lower():
        return f"{port} is busy: close the other program using it (another pointdose, a serial terminal, Thonny)"
    return f"could not open {port}: {text}"


class _Pending:
    __slots__ = ("event", "reply", "error", "hook", "deadline", "text")

    def __init__(self, text: str, hook: Callable[[Reply | None], None] | None = None, deadline: float | None = None):
        self.event = threading.Event()
        self.reply: Reply | None = None
        self.error: BaseException | None = None
        self.hook = hook  # runs on the reader thread; None reply = timed out (async only)
        self.deadline = deadline  # async commands only: the reader gives up then
        self.text = text


def _default_factory(port: str):
    import serial

    return serial.serial_for_url(port, do_not_open=True)


class DeviceLink:
    def __init__(self, port: str, *, baudrate: int = 115200, bridge: bool = False, ring: SampleRing | None = None,
                 hello_timeout: float = 2.0, ping_interval: float = 0.5, reconnect_interval: float = 0.5,
                 reconnect: bool = True, read_timeout: float = 0.02, write_timeout: float = 1.0,
                 usb_serial: str | None = None, serial_factory: Callable[[str], object] | None = None,
                 on_message: Callable[[object], None] | None = None, stall_timeout: float = 2.5) -> None:
        self.port = port
        self.baudrate = baudrate
        self.bridge = bridge
        self.ring = ring if ring is not None else SampleRing()
        self.hello_timeout = hello_timeout
        self.ping_interval = ping_interval
        self.reconnect_interval = reconnect_interval
        self.stall_timeout = stall_timeout
        self.usb_serial = usb_serial
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.device = DeviceInfo()  # the device's hello, typed; re-parsed when a command changes a field
        self.status: Status | None = None
        self.errors: deque[tuple[float, DeviceError]] = deque(maxlen=100)
        self.buttons: deque[ButtonPress] = deque(maxlen=256)  # presses, newest last
        self.button_events: deque[tuple[float, ButtonEvent]] = deque(maxlen=256)  # (t_dev_s, press or release)
        self.on_button: Callable[[float, str], None] | None = None  # called on the reader thread, presses only
        self.cue_state: CueState | None = None  # the cue the device last said it shows
        self._cal_chunks: dict[int, CalibrationChunk] = {}
        self._cal_lock = threading.Lock()
        self._limit: tuple[int | None, int | None] = (None, None)
        self._cue: str | None = None
        self.last_error: BaseException | None = None
        self.clock = DeviceClock()
        self._factory = serial_factory or _default_factory
        self._reconnect = reconnect
        self._on_message_cb = on_message
        self._decoder = StreamDecoder()
        self._stats = LinkStats()
        self._overflow_base = 0
        self._missed_base = self._lost_base = 0
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._next_id = 0
        self._state = LinkState.CONNECTING
        self._want_streaming = False
        self._restart_in_flight = False
        self._closing = threading.Event()
        self._last_tx = 0.0
        self._last_rx = time.monotonic()
        self._last_probe = 0.0
        self._reconnect_at = 0.0
        self._ever_connected = False
        self.recoveries: deque[ReplRecovery] = deque(maxlen=50)  # newest last
        self.on_repl_recovery: Callable[[ReplRecovery], None] | None = None  # reader thread, after each
        self._last_byte_rx = time.monotonic()
        self._repl_wanted = False  # the host sent `repl` itself: leave the REPL alone
        self._repl_gave_up = False
        self._recovery: ReplRecovery | None = None
        self._recovery_tries: list[float] = []
        self._recovery_hello_at = 0.0
        self._recovery_deadline = 0.0
        self._recovery_done = threading.Event()  # a recovery ended (brought back or given up)
        try:
            self._ser = self._open(port)
        except Exception as exc:
            raise LinkError(open_error_message(port, exc)) from exc
        self._thread = threading.Thread(target=self._run, name=f"pointdose-link {port}", daemon=True)
        self._thread.start()
        try:
            try:
                self.command("hello", timeout=hello_timeout, hook=self._on_hello)
            except CommandTimeout:
                # our hello may have met the REPL (its echo and prompt): the reader thread is bringing
                # the firmware back; its own hello fills in self.device
                if not self._wait_for_recovery():
                    raise
        except CommandTimeout:
            self._shutdown()
            if self._repl_gave_up:
                raise NotAPointdoseDevice(repl_stranded_message(port)) from None
            raise NotAPointdoseDevice(
                f"{port} did not answer as a pointdose device within {hello_timeout:g} s: "
                "is the pointdose firmware installed? (pointdose flash)") from None
        except BaseException:
            self._shutdown()
            raise
        self._ever_connected = True
        with self._lock:
            if self._state == LinkState.CONNECTING:
                self._state = LinkState.CONNECTED

    @classmethod
    def for_board(cls, board: Board, **kwargs) -> "DeviceLink":
        """Open a board found by :func:`~pointdose.link.discovery.find_boards` with the right line settings."""
        return cls(board.port, baudrate=board.baudrate, bridge=board.bridge, usb_serial=board.uid, **kwargs)

    # --- public API -----------------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def stats(self) -> LinkStats:
        """A copy of the counters (safe to keep)."""
        c = self._decoder.counters()
        with self._lock:
            return replace(self._stats, crc_errors=c["crc_errors"], framing_errors=c["cobs_errors"] + c["length_errors"],
                           version_errors=c["version_errors"], unknown_frames=c["unknown_types"],
                           lost_samples=self.clock.lost_samples, boot_changes=self.clock.boot_changes)

    def command(self, text: str, timeout: float = 2.0, *, hook: Callable[[Reply | None], None] | None = None) -> Reply:
        """Send one command line and wait for its REPLY; raises :class:`DeviceCommandError` on a non-zero status.

        ``hook`` (internal) runs on the reader thread when the reply arrives, before later frames.
        """
        pending = _Pending(text, hook)
        cmd_id = self._send(text, pending)
        if not pending.event.wait(timeout):
            with self._lock:
                self._pending.pop(cmd_id, None)
            if pending.reply is None and pending.error is None and self._ask_again(cmd_id, pending, timeout) is None:
                raise CommandTimeout(f"{self.port}: no reply to '{text}' within {timeout:g} s")
        if pending.error is not None:
            raise pending.error
        assert pending.reply is not None
        if not pending.reply.ok:
            raise DeviceCommandError(text, pending.reply)
        return pending.reply

    def _ask_again(self, cmd_id: int, original: _Pending, timeout: float) -> Reply | None:
        """A reply never came: ask the device to send the reply it kept for ``cmd_id`` once more
        (``ID again``, protocol 2; the command itself is never run twice). None when the device has no
        reply for that id (the command never arrived, is still running, or another came after it)."""
        proto = self.device.proto
        if not (proto or "").isdigit() or int(proto) < 2 or original.text.split()[:1] in (["hello"], ["info"]):
            return None
        probe = _Pending(f"again ({original.text})")
        try:
            self._send("again", probe, cmd_id=cmd_id)
        except (LinkError, ValueError):
            return None
        if not probe.event.wait(min(timeout, 2.0)):
            with self._lock:
                self._pending.pop(cmd_id, None)
            return None
        reply = probe.reply
        if reply is None or (reply.status == ReplyStatus.NOT_NOW and reply.text.startswith("no reply kept")):
            return None
        with self._lock:
            self._stats.replies_asked_again += 1
        original.reply = reply
        if original.hook is not None:
            original.hook(reply)
        return reply

    def start(self, timeout: float = 2.0) -> Reply:
        self._want_streaming = True
        return self.command("start", timeout, hook=self._after_start)

    def stop(self, timeout: float = 2.0) -> Reply:
        self._want_streaming = False
        return self.command("stop", timeout, hook=self._after_stop)

    def ping(self, token: str | None = None, timeout: float = 2.0) -> Reply:
        return self.command("ping" if token is None else f"ping {token}", timeout)

    def set_rate(self, hz: int, timeout: float = 2.0) -> Reply:
        """Change the sample rate; refused here already when a 115200 bridge cannot carry it."""
        hz = int(hz)
        if hz < 1:
            raise UserError(f"rate must be at least 1 Hz, not {hz}")
        if self.bridge:
            batch_us = self.device.batch_us or UART_BATCH_US
            need, have = link_load(hz, batch_us), self.baudrate / 10
            if need > LINK_BUDGET * have:
                raise UserError(f"{hz} Hz needs {need:,.0f} bytes/s, more than {LINK_BUDGET:.0%} of this "
                                f"{self.baudrate}-baud link ({have:,.0f} bytes/s): choose a lower rate")
        reply = self.command(f"rate {hz}", timeout)
        self.device = self.device.with_fields(rate=reply.fields.get("rate", str(hz)))
        return reply

    def tare(self, n: int | None = None, timeout: float | None = None) -> Reply:
        """Ask the device to tare over ``n`` samples (default: half a second); waits until it is done."""
        if timeout is None:
            rate = self.device.rate_hz or 10.0
            timeout = 2.0 + (n if n is not None else rate / 2) / max(rate, 1)
        reply = self.command("tare" if n is None else f"tare {int(n)}", timeout)
        if "tare" in reply.fields:
            self.device = self.device.with_fields(tare=reply.fields["tare"])
        return reply

    # --- calibration blob, cues, limit ---------------------------------------------------------

    def read_calibration(self, timeout: float = 3.0) -> bytes | None:
        """The calibration blob stored on the device, or None when it has none."""
        with self._cal_lock:
            self._cal_chunks = {}
            reply = self.command("cal read", timeout)
            chunks, self._cal_chunks = self._cal_chunks, {}
        f = reply.fields
        if f.get("calblob", "none") == "none":
            return None
        n, crc = int(f["len"]), int(f["calblob"], 16)
        blob = bytearray(n)
        got = 0
        for off, ch in chunks.items():
            if ch.total == n and off + len(ch.data) <= n:
                blob[off:off + len(ch.data)] = ch.data
                got += len(ch.data)
        if got != n or crc16(bytes(blob)) != crc:
            raise LinkError(f"{self.port}: calibration read back incomplete or damaged "
                            f"({got} of {n} bytes, CRC {crc16(bytes(blob)):04x} ≠ {crc:04x}); try again")
        return bytes(blob)

    def write_calibration(self, blob: bytes, timeout: float = 2.0) -> Reply:
        """Store ``blob`` (≤ 1024 bytes, opaque to the device) on the device, replacing the old one.

        The device refuses while streaming (:class:`DeviceCommandError`, status 3): stop first. It writes
        a temporary file and renames it, so a power cut leaves the old or the new blob, never a mix.
        """
        blob = bytes(blob)
        if len(blob) > CAL_MAX:
            raise ValueError(f"a calibration blob holds at most {CAL_MAX} bytes, not {len(blob)}")
        if not blob:
            return self.clear_calibration(timeout)
        with self._cal_lock:
            for off in range(0, len(blob), CALW_CHUNK):
                self.command(f"calw {off} {blob[off:off + CALW_CHUNK].hex()}", timeout)
            reply = self.command(f"cal commit {len(blob)} {crc16(blob):04x}", timeout)
        self.device = self.device.with_fields(calblob=reply.fields.get("calblob", f"{crc16(blob):04x}"))
        return reply

    def clear_calibration(self, timeout: float = 2.0) -> Reply:
        """Remove the calibration blob from the device (refused while streaming, like a write)."""
        with self._cal_lock:
            reply = self.command("cal clear", timeout)
        self.device = self.device.with_fields(calblob="none")
        return reply

    def send_cue(self, phase: str, band: str = "none", level: int = 0, *, wait: bool = True,
                 timeout: float = 2.0) -> Reply | None:
        """Show a cue on the device's LED/buzzer: ``phase`` in off/press/hold/ease/rest/alarm, ``band`` in
        none/below/in/above, ``level`` 0–100 (how far outside the band). The device echoes it in a
        CUE_STATE frame (:attr:`cue_state`). ``wait=False`` (or a call from the reader thread, e.g. in
        ``on_button``) sends without waiting for the reply."""
        if phase not in CUE_PHASES:
            raise ValueError(f"cue phase {phase!r}: use one of {', '.join(CUE_PHASES)}")
        if band not in CUE_BANDS:
            raise ValueError(f"cue band {band!r}: use one of {', '.join(CUE_BANDS)}")
        level = max(0, min(100, int(round(level))))
        text = f"cue {phase} {band} {level}"
        self._cue = text
        return self._command_maybe_async(text, wait, timeout)

    def set_limit(self, max_raw: int | None, *, min_raw: int | None = None, wait: bool = True,
                  timeout: float = 2.0) -> Reply | None:
        """The device's own safety limit in raw counts: an alarm (LED, buzzer, ERROR code 5) when a
        sample goes above ``max_raw`` — counts rise with force on the reference builds — or below
        ``min_raw`` (for a cell wired so that counts fall with force). None switches a side off. The
        device keeps sampling while a limit is set, so the alarm works even when the host falls silent.
        The link re-applies the limit after a reconnect or a device reboot."""
        for v in (max_raw, min_raw):
            if v is not None and not -(1 << 23) <= int(v) < (1 << 23):
                raise ValueError(f"limit {v}: raw counts must fit in 24 bits")
        self._limit = (None if max_raw is None else int(max_raw), None if min_raw is None else int(min_raw))
        return self._send_limit(wait, timeout)

    def io(self, timeout: float = 2.0) -> dict[str, str]:
        """The device's cue pins and limit now (``led``, ``buzzer``, ``buzzer_hz``, ``alarm``, ``alarms``,
        ``limit_max``, ``limit_min``, ``buttons``, ``pressed``; docs/protocol.md, ``io``)."""
        return self.command("io", timeout).fields

    def _send_limit(self, wait: bool, timeout: float) -> Reply | None:
        hi, lo = self._limit
        if hi is None and lo is None:
            return self._command_maybe_async("limit off", wait, timeout)
        self._command_maybe_async(f"limit min {'off' if lo is None else lo}", wait, timeout)
        return self._command_maybe_async(f"limit max {'off' if hi is None else hi}", wait, timeout)

    def _command_maybe_async(self, text: str, wait: bool, timeout: float) -> Reply | None:
        if wait and threading.current_thread() is not self._thread:
            return self.command(text, timeout)
        self._send_async(text, lambda r: None, timeout)
        return None

    def _reapply_device_state(self) -> None:
        """After a reconnect or reboot (reader thread): the limit and the cue the device lost."""
        try:
            if self._limit != (None, None):
                self._send_limit(False, 2.0)
            if self._cue is not None:
                self._send_async(self._cue, lambda r: None, 2.0)
        except LinkError:
            pass

    def close(self) -> None:
        """Stop streaming if the device can still hear us, then stop the reader and close the port."""
        if self._state == LinkState.CLOSED:
            return
        if self._want_streaming and self._state == LinkState.STREAMING and threading.current_thread() is not self._thread:
            try:
                self.stop(timeout=0.5)
            except Exception:
                pass
        self._shutdown()

    def __enter__(self) -> "DeviceLink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing --------------------------------------------------------------------------------

    def _send(self, text: str, pending: _Pending, cmd_id: int | None = None) -> int:
        with self._lock:
            ser = self._ser
            if self._state == LinkState.CLOSED:
                raise LinkError(f"{self.port}: the link is closed")
            if ser is None:
                raise LinkLost(f"{self.port}: connection lost ({self.last_error}); reconnecting")
            if cmd_id is None:  # a fresh id; ``again`` reuses the id of the reply it asks for
                for _ in range(65535):
                    self._next_id = self._next_id % 65535 + 1  # ids 1 … 65535, wrapping
                    if self._next_id not in self._pending:
                        break
                cmd_id = self._next_id
            line = f"{cmd_id} {text}\n".encode("ascii", "strict")
            if text.split()[:1] == ["repl"]:
                self._repl_wanted = True
            if len(line) > MAX_LINE or any(b < 0x20 or b > 0x7E for b in line[:-1]):
                raise ValueError(f"command line must be printable ASCII of at most {MAX_LINE} bytes: {text!r}")
            self._pending[cmd_id] = pending
        try:
            with self._write_lock:
                ser.write(line)
                self._last_tx = time.monotonic()
        except Exception as exc:
            with self._lock:
                self._pending.pop(cmd_id, None)
            self._connection_lost(exc, ser)
            raise LinkLost(f"{self.port}: connection lost while sending '{text}' ({exc})") from exc
        return cmd_id

    def _send_async(self, text: str, hook: Callable[[Reply | None], None], timeout: float) -> None:
        """Send from the reader thread without waiting; ``hook`` gets the reply, or None on timeout."""
        self._send(text, _Pending(text, hook, time.monotonic() + timeout))

    # --- reader thread --------------------------------------------------------------------------

    def _open(self, port: str):
        ser = self._factory(port)
        ser.baudrate = self.baudrate
        ser.timeout = self.read_timeout
        ser.write_timeout = self.write_timeout
        if self.bridge:  # ESP32 auto-reset circuit: never toggle the modem lines
            ser.dtr = False
            ser.rts = False
        else:  # native USB CDC only sends while DTR is asserted
            ser.dtr = True
            ser.rts = False
        ser.open()
        try:
            ser.reset_input_buffer()  # stale bytes from before we opened
        except Exception:
            pass
        return ser

    def _run(self) -> None:
        while not self._closing.is_set():
            ser = self._ser
            if ser is None:
                if self._reconnect and self._ever_connected and time.monotonic() >= self._reconnect_at:
                    self._try_reopen()
                else:
                    self._closing.wait(0.05)
                continue
            try:
                waiting = ser.in_waiting
                data = ser.read(waiting if waiting > 0 else 1)
                rx = time.monotonic()
                if data:
                    self._last_byte_rx = rx
                    self._handle(data, rx)
                self._check_repl(rx, ser)
                self._housekeeping(rx)
            except Exception as exc:
                if self._closing.is_set():
                    break
                self._connection_lost(exc, ser)

    def _handle(self, data: bytes, rx: float) -> None:
        decoded = self._decoder.feed(data)
        samples, pos = decoded.samples, 0
        for msg, p in zip(decoded.messages, decoded.positions):
            if p > pos:
                self._push(samples[pos:p], rx)
                pos = p
            self._on_message(msg, rx)
        if pos < len(samples):
            self._push(samples[pos:], rx)

    def _push(self, samples: np.ndarray, rx: float) -> None:
        u = self.clock.unwrap(samples["seq30"], samples["t30_us"], rx)
        block = np.empty(len(samples), RING_DTYPE)
        block["seq"] = u.seq
        block["t_dev_s"] = u.t_host_s
        block["t_host_rx_s"] = rx
        block["raw"] = samples["raw"]
        block["segment"] = u.segments
        self.ring.append(block)
        self._last_rx = rx  # data, not just any byte: pong replies from a reset device must not hide the stall
        with self._lock:
            self._stats.samples += len(block)
            self._stats.last_sample_host_time = float(u.t_host_s[-1])

    def _on_message(self, msg, rx: float) -> None:
        if isinstance(msg, Reply):
            with self._lock:
                pending = self._pending.pop(msg.cmd_id, None)
            if pending is not None:
                pending.reply = msg
                try:
                    if pending.hook is not None:
                        pending.hook(msg)
                finally:
                    pending.event.set()
        elif isinstance(msg, Status):
            self._note_boot(msg.boot_id)
            self.status = msg
            with self._lock:
                self._stats.device_overflow = self._overflow_base + msg.overflow
                if msg.missed is not None:
                    self._stats.device_missed = self._missed_base + msg.missed
                    self._stats.device_lost_frames = self._lost_base + (msg.lost_frames or 0)
            if self._want_streaming and self._state == LinkState.STREAMING and not msg.streaming:
                self._restart_stream()
        elif isinstance(msg, CueState):
            self.cue_state = msg
        elif isinstance(msg, ButtonEvent):
            t = self.clock.event_time(msg.t_us, rx)
            self.button_events.append((t, msg))
            if msg.pressed:
                self.buttons.append(ButtonPress(t, msg.name))
                if self.on_button is not None:
                    self.on_button(t, msg.name)  # raising here ends the connection, as on_message does
        elif isinstance(msg, CalibrationChunk):
            self._cal_chunks[msg.offset] = msg
        elif isinstance(msg, DeviceError):
            self.errors.append((rx, msg))
            if msg.code == ErrorCode.WATCHDOG and self._want_streaming and self._state == LinkState.STREAMING:
                self._restart_stream()
        if self._on_message_cb is not None:
            self._on_message_cb(msg)  # raising here ends the connection, as any I/O error would

    def _note_boot(self, boot_id: str) -> None:
        old = self.clock.boot_id
        self.clock.set_boot(boot_id)
        if old is not None and old != boot_id.lower():
            with self._lock:
                self._overflow_base = self._stats.device_overflow
                self._missed_base = self._stats.device_missed
                self._lost_base = self._stats.device_lost_frames
            self._reapply_device_state()  # a rebooted device forgot its limit and cue

    def _housekeeping(self, now: float) -> None:
        expired = []
        with self._lock:
            for cmd_id, p in list(self._pending.items()):
                if p.deadline is not None and now > p.deadline:
                    expired.append(self._pending.pop(cmd_id))
        for p in expired:
            p.hook(None)
        if not self._want_streaming or self._state not in (LinkState.STREAMING, LinkState.CONNECTED):
            return
        if now - self._last_tx >= self.ping_interval:
            self._send_async("ping", lambda r: None, 5.0)  # keep-alive for the device's watchdog
        if (self._state == LinkState.STREAMING and now - self._last_rx > self.stall_timeout
                and now - self._last_probe > self.stall_timeout):
            # no data and no STATUS: the device may have reset behind a UART bridge without the port closing
            self._last_probe = now
            self._send_async("hello", self._on_probe_hello, self.hello_timeout)

    # --- hooks (reader thread) ------------------------------------------------------------------

    def _on_hello(self, reply: Reply | None) -> None:
        if reply is None or not reply.ok:
            return
        self.device = DeviceInfo.from_fields(reply.fields)
        if self.device.boot:
            self._note_boot(self.device.boot)

    def _after_start(self, reply: Reply | None) -> None:
        self._restart_in_flight = False
        if reply is not None and reply.ok:
            if "seq" in reply.fields:
                try:
                    self.clock.expect_seq(int(reply.fields["seq"]))
                except ValueError:
                    pass
            with self._lock:
                if self._state != LinkState.CLOSED and self._ser is not None:
                    self._state = LinkState.STREAMING
            self._last_rx = time.monotonic()

    def _after_stop(self, reply: Reply | None) -> None:
        if reply is not None and reply.ok:
            with self._lock:
                if self._state == LinkState.STREAMING:
                    self._state = LinkState.CONNECTED

    def _restart_stream(self) -> None:
        if not self._restart_in_flight:
            self._restart_in_flight = True
            self._send_async("start", self._after_start, 2.0)

    def _on_probe_hello(self, reply: Reply | None) -> None:
        if reply is None:
            return
        self._on_hello(reply)
        self._restart_stream()

    # --- a device at the MicroPython REPL (reader thread) ----------------------------------------

    def _check_repl(self, now: float, ser) -> None:
        if self._recovery is not None and now >= self._recovery_hello_at:
            if now > self._recovery_deadline:
                self._give_up_repl(now)
                return
            self._recovery_hello_at = now + REPL_HELLO_INTERVAL_S
            try:
                self._send_async("hello", self._on_recovery_hello, REPL_HELLO_INTERVAL_S)
            except LinkError:
                pass
        if (self._repl_wanted or self._repl_gave_up or now - self._last_byte_rx < REPL_QUIET_S
                or not self._decoder.pending.endswith(REPL_PROMPTS)):
            return
        self._recovery_tries = [t for t in self._recovery_tries if now - t < REPL_TRIES_WINDOW_S] + [now]
        if len(self._recovery_tries) > REPL_MAX_TRIES:
            self._give_up_repl(now)
            return
        if self._recovery is None:
            self._recovery = ReplRecovery(now, last_sample_s=self._stats.last_sample_host_time)
            self._recovery_deadline = now + REPL_RECOVERY_TIMEOUT_S
            self._recovery_done.clear()
            with self._lock:
                if self._state in (LinkState.CONNECTED, LinkState.STREAMING):
                    self._state = LinkState.CONNECTING
                self._restart_in_flight = False  # a start sent to the REPL never gets its reply
        self._decoder.reset()  # the REPL's text is no frame; a new prompt must show up to count again
        try:
            with self._write_lock:
                ser.write(REPL_WAKE)
                self._last_tx = now
        except Exception as exc:
            self._connection_lost(exc, ser)
            return
        self._recovery_hello_at = now + REPL_BOOT_S

    def _on_recovery_hello(self, reply: Reply | None) -> None:
        rec = self._recovery
        if reply is None or not reply.ok or rec is None:
            return  # unanswered: the next hello goes out from _check_repl
        self._recovery = None
        self._recovery_tries = []
        self._on_hello(reply)  # a new boot id: new segment, limit and cue re-applied
        rec.recovered_s = time.monotonic()
        with self._lock:
            self._stats.repl_recoveries += 1
            self._stats.repl_gap_s += rec.gap_s or 0.0
            if self._state == LinkState.CONNECTING:
                self._state = LinkState.CONNECTED
        self.recoveries.append(rec)
        with self._lock:  # whoever asked hello before the prompt was noticed gets this answer
            waiting = [i for i, p in self._pending.items() if p.text == "hello" and p.deadline is None]
            answered = [self._pending.pop(i) for i in waiting]
        for p in answered:
            p.reply = reply
            p.event.set()
        self._recovery_done.set()
        if self._want_streaming:
            self._restart_stream()
        if self.on_repl_recovery is not None:
            self.on_repl_recovery(rec)  # raising here ends the connection, as on_message does

    def _give_up_repl(self, now: float) -> None:
        self._recovery = None
        self._repl_gave_up = True
        with self._lock:
            self.last_error = LinkError(repl_stranded_message(self.port))
            if self._state != LinkState.CLOSED:
                self._state = LinkState.LOST
        self._recovery_done.set()

    def _wait_for_recovery(self) -> bool:
        """While opening: wait for a recovery the reader started (or is about to start); True when the
        firmware answered."""
        deadline = time.monotonic() + REPL_QUIET_S + 4 * self.read_timeout + 0.5
        while self._recovery is None and not self._recovery_done.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        if self._recovery is None and not self._recovery_done.is_set():
            return False
        self._recovery_done.wait(REPL_RECOVERY_TIMEOUT_S + 1.0)
        return bool(self.recoveries) and not self._repl_gave_up

    # --- connection loss and reconnect ----------------------------------------------------------

    def _connection_lost(self, exc: BaseException, ser) -> None:
        """The one path for every way the connection ends."""
        with self._lock:
            if self._closing.is_set() or self._state == LinkState.CLOSED or ser is not self._ser:
                return  # closing, or a late error from a port already given up
            self._ser = None
            self.last_error = exc
            self._state = LinkState.LOST
            self._restart_in_flight = False
            pending, self._pending = self._pending, {}
            self._reconnect_at = time.monotonic() + self.reconnect_interval
        try:
            ser.close()
        except Exception:
            pass
        for p in pending.values():
            p.error = LinkLost(f"{self.port}: connection lost ({exc}); reconnecting")
            p.event.set()

    def _try_reopen(self) -> None:
        self._reconnect_at = time.monotonic() + self.reconnect_interval
        candidates = [self.port]
        if self.usb_serial or self.device.uid:
            try:
                board = find_board_by_uid(self.usb_serial or self.device.uid)
            except Exception:
                board = None
            if board is not None and board.port != self.port:
                candidates.append(board.port)
        for port in candidates:
            try:
                ser = self._open(port)
            except Exception:
                continue
            self._decoder.reset()  # a partial frame from the old connection is not continued
            with self._lock:
                if self._closing.is_set():
                    ser.close()
                    return
                self.port = port
                self._ser = ser
                self._state = LinkState.CONNECTING
            try:
                self._send_async("hello", self._on_reconnect_hello, self.hello_timeout)
            except LinkError:
                pass
            return

    def _on_reconnect_hello(self, reply: Reply | None) -> None:
        if reply is None:
            self._connection_lost(TimeoutError(f"no answer to hello within {self.hello_timeout:g} s"), self._ser)
            return
        self._on_hello(reply)
        with self._lock:
            self._stats.reconnects += 1
            self._state = LinkState.CONNECTED
        if self._want_streaming:
            self._restart_stream()

    def _shutdown(self) -> None:
        with self._lock:
            self._closing.set()
            self._state = LinkState.CLOSED
            ser, self._ser = self._ser, None
            pending, self._pending = self._pending, {}
        for p in pending.values():
            p.error = LinkError(f"{self.port}: the link was closed")
            p.event.set()
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(timeout=2.0)
        if ser is not None:
            try:
                ser.close()
            except Exception:
                pass
