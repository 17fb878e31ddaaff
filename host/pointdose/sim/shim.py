"""Run the firmware modules under CPython, where the MicroPython unix port is not available.

This is the fallback of :class:`pointdose.sim.SimulatedDevice` (backend ``cpython-shim``). It
supplies the few MicroPython names the firmware uses — ``micropython.const`` and ``kbd_intr``,
``time.ticks_us`` and friends, ``select.poll().ipoll``, and streams whose ``write(buf, off, n)``
and ``readinto(buf, n)`` take MicroPython's extra arguments — then runs ``firmware/main.py``
with its stdin and stdout on a loopback TCP connection (pyserial ``socket://`` URL).

It proves the logic, not the board limits: CPython allocates freely and its ints never
overflow, so allocation and small-int checks stay with the unix-port tests.

Usage (the launcher does this): ``python -m pointdose.sim.shim FIRMWARE_DIR`` with the listening
socket's descriptor in ``POINTDOSE_SHIM_LISTEN_FD``.
"""

from __future__ import annotations

import builtins
import os
import runpy
import select
import socket
import sys
import time
import types

_TICKS_PERIOD = 1 << 30


def _micropython_module() -> types.ModuleType:
    mod = types.ModuleType("micropython")
    mod.const = lambda value: value
    mod.kbd_intr = lambda char: None  # no terminal signal to disable: the link is a socket
    mod.native = mod.viper = lambda func: func
    mod.alloc_emergency_exception_buf = lambda size: None
    mod.mem_info = lambda *args: None
    mod.schedule = lambda func, arg: func(arg)
    return mod


def _add_ticks_to_time() -> None:
    """MicroPython's ticks API on CPython's monotonic clock, wrapping at 2^30 like the boards."""
    time.ticks_us = lambda: (time.monotonic_ns() // 1000) % _TICKS_PERIOD
    time.ticks_ms = lambda: (time.monotonic_ns() // 1_000_000) % _TICKS_PERIOD
    time.ticks_add = lambda t, delta: (t + delta) % _TICKS_PERIOD
    half = _TICKS_PERIOD // 2
    time.ticks_diff = lambda a, b: ((a - b + half) % _TICKS_PERIOD) - half
    time.sleep_us = lambda us: time.sleep(us / 1e6)
    time.sleep_ms = lambda ms: time.sleep(ms / 1e3)


class _Poll:
    """``select.poll`` with MicroPython's ``ipoll`` and objects (not descriptors) in its results."""

    _real_poll = staticmethod(select.poll)

    def __init__(self) -> None:
        self._poll = self._real_poll()
        self._objects: dict[int, object] = {}

    def register(self, obj, mask: int = select.POLLIN | select.POLLOUT) -> None:
        fd = obj.fileno()
        self._objects[fd] = obj
        self._poll.register(fd, mask)

    def modify(self, obj, mask: int) -> None:
        self._poll.modify(obj.fileno(), mask)

    def unregister(self, obj) -> None:
        fd = obj.fileno()
        self._objects.pop(fd, None)
        self._poll.unregister(fd)

    def poll(self, timeout: int = -1):
        events = self._poll.poll(None if timeout is None or timeout < 0 else timeout)
        return [(self._objects.get(fd, fd), ev) for fd, ev in events]

    ipoll = poll


class _SocketStream:
    """A byte stream on a connected socket with MicroPython's stream call signatures."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()

    def readinto(self, buf, n: int = -1) -> int:
        view = memoryview(buf)
        if n >= 0:
            view = view[:n]
        try:
            return self._sock.recv_into(view)
        except BlockingIOError:
            return None

    def read(self, n: int = -1) -> bytes:
        return self._sock.recv(4096 if n < 0 else n)

    def write(self, buf, off: int = 0, n: int | None = None) -> int:
        view = memoryview(buf)[off:] if n is None else memoryview(buf)[off:off + n]
        return self._sock.send(view)

    def flush(self) -> None:
        pass


class _TextStream:
    """Stands in for ``sys.stdin``/``sys.stdout``: the firmware uses only ``.buffer``."""

    def __init__(self, stream: _SocketStream) -> None:
        self.buffer = stream

    def write(self, text: str) -> int:  # a stray print() from the firmware goes to the log
        return sys.stderr.write(text)

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return self.buffer.fileno()


def install(connection: socket.socket) -> None:
    """Make this CPython look enough like the unix port for the firmware modules."""
    sys.modules["micropython"] = _micropython_module()
    # viper's pointer casts (micropython.viper is the identity here): index the buffer itself; a
    # str is read as its UTF-8 bytes, as viper's ptr8 reads it (pd_frame's reply text)
    builtins.ptr16 = builtins.ptr32 = lambda buf: buf
    builtins.ptr8 = lambda buf: buf.encode() if isinstance(buf, str) else buf
    _add_ticks_to_time()
    select.poll = _Poll
    # One duplex object, as on rp2 and esp32 (sys.stdin.buffer is sys.stdout.buffer).
    sys.stdin = sys.stdout = _TextStream(_SocketStream(connection))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m pointdose.sim.shim FIRMWARE_DIR", file=sys.stderr)
        return 2
    firmware = argv[0]
    listener = socket.socket(fileno=int(os.environ["POINTDOSE_SHIM_LISTEN_FD"]))
    connection, _ = listener.accept()  # one host at a time, as one USB cable
    listener.close()
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    install(connection)
    sys.path.insert(0, firmware)
    try:
        runpy.run_path(os.path.join(firmware, "main.py"), run_name="__main__")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the host closed the connection: the supervisor boots a fresh device
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
