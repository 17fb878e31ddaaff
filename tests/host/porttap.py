"""A watched serial port between DeviceLink and the real (simulated) device.

The device is the firmware itself on the MicroPython unix port (:class:`pointdose.sim.SimulatedDevice`);
nothing here answers a command. ``PortTap`` wraps the pyserial port the link opens and

* records what the host does to it: every command line written (``lines``), the modem lines at
  each ``open()`` (``opens``);
* decodes every frame handed to the host (``frames``: parsed wire objects, in order), so a test
  knows exactly which samples and replies arrived;
* injects faults the firmware would not make on demand: extra frames (``inject``), a frame
  changed or dropped on the way (``rewrite``, a function of the parsed frame returning bytes to
  deliver instead, or ``b""`` to drop it), a port that fails like a pulled cable (``fail``).

    tap = PortTap()
    link = DeviceLink(sim.port, serial_factory=tap.serial)
"""

from __future__ import annotations

import threading

import serial

from pointdose.protocol import wire


class PortTap:
    def __init__(self) -> None:
        self.lines: list[str] = []  # command lines as the host wrote them (without the newline)
        self.opens: list[tuple[bool, bool]] = []  # (dtr, rts) at each open()
        self.frames: list[object] = []  # every frame delivered to the host, parsed
        self.rewrite = None  # frame -> bytes | None (None: deliver unchanged)
        self.fail = False  # every port call raises as an unplugged USB device does
        self._inject = bytearray()
        self._lock = threading.Lock()

    def serial(self, url: str) -> "TappedSerial":
        """A ``serial_factory`` for DeviceLink."""
        return TappedSerial(self, serial.serial_for_url(url, do_not_open=True))

    def inject(self, frame: bytes) -> None:
        """Hand ``frame`` (encoded, with its delimiter) to the host before the device's next bytes."""
        with self._lock:
            self._inject += frame

    def sent(self, verb: str) -> list[str]:
        """The command lines with this verb (after the id)."""
        return [line for line in self.lines if line.split()[1:2] == [verb]]

    def samples(self) -> list[tuple[int, int]]:
        """(seq, raw) of every sample delivered to the host, in order."""
        out = []
        for f in list(self.frames):
            if isinstance(f, wire.DataFrame):
                out += [((f.seq + k) % wire.SEQ_MOD, v) for k, v in enumerate(f.values)]
        return out


class TappedSerial:
    """The pyserial port, with every byte in and out seen by the tap."""

    def __init__(self, tap: PortTap, inner) -> None:
        object.__setattr__(self, "_tap", tap)
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_partial", bytearray())  # device bytes up to the next delimiter
        object.__setattr__(self, "_ready", bytearray())  # whole frames for the host
        object.__setattr__(self, "_written", bytearray())

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def __setattr__(self, name, value) -> None:
        setattr(self._inner, name, value)

    def _check(self) -> None:
        if self._tap.fail:
            raise serial.SerialException("device reports readiness to read but returned no data "
                                         "(device disconnected or multiple access on port?)")

    def open(self) -> None:
        self._check()
        self._tap.opens.append((bool(self._inner.dtr), bool(self._inner.rts)))
        self._inner.open()

    def write(self, data: bytes) -> int:
        self._check()
        self._written.extend(data)
        while b"\n" in self._written:
            line, _, rest = bytes(self._written).partition(b"\n")
            self._written[:] = rest
            self._tap.lines.append(line.decode("ascii", "replace"))
        return self._inner.write(data)

    def _pull(self) -> None:
        """Move the device's bytes into whole frames, passing each through the tap."""
        tap = self._tap
        with tap._lock:
            if tap._inject:
                self._deliver(bytes(tap._inject))
                tap._inject.clear()
        waiting = self._inner.in_waiting
        data = self._inner.read(waiting if waiting > 0 else 1)
        self._partial.extend(data)
        while b"\x00" in self._partial:
            frame, _, rest = bytes(self._partial).partition(b"\x00")
            self._partial[:] = rest
            frame += b"\x00"
            rewrite = tap.rewrite
            if rewrite is not None:
                parsed = _parse(frame)
                if parsed is not None:
                    changed = rewrite(parsed)
                    if changed is not None:
                        frame = changed
            self._deliver(frame)

    def _deliver(self, data: bytes) -> None:
        for part in data.split(b"\x00")[:-1]:
            parsed = _parse(part + b"\x00")
            if parsed is not None:
                self._tap.frames.append(parsed)
        self._ready.extend(data)

    @property
    def in_waiting(self) -> int:
        self._check()
        return len(self._ready) + self._inner.in_waiting

    def read(self, size: int = 1) -> bytes:
        self._check()
        if not self._ready:
            self._pull()
        data = bytes(self._ready[:size])
        del self._ready[:len(data)]
        return data

    def reset_input_buffer(self) -> None:
        self._partial.clear()
        self._ready.clear()
        self._inner.reset_input_buffer()

    def close(self) -> None:
        self._inner.close()


def _parse(frame: bytes):
    try:
        return wire.parse_frame(wire.cobs_decode(frame[:-1]))
    except (wire.FrameError, ValueError):
        return None
