"""The app's controller: picks the data source, owns the link, runs commands off the GUI thread.

One worker thread ("pointdose-controller") does everything that can block: scanning ports,
starting the simulated device, opening the link (hello), and the commands the buttons send
(tare, start, stop). The render thread only calls :meth:`Controller.status` (a snapshot, never
blocks on I/O) and the ``request_*`` methods (which queue a job and return at once).

Choosing the source:

1. ``port`` given → that port, nothing else (an error there is the user's to fix); the board
   behind it is still looked up by USB id for its line handling (:mod:`pointdose.device`).
2. ``force_sim`` → the simulated device.
3. otherwise scan (:func:`pointdose.device.scan`); the first board that answers is used; with none, the
   simulated device starts and the app says so plainly (SIMULATED banner).

On the simulated device, ``sim_demo`` makes the controller press it every 10 s (the firmware's
``sim profile`` command), so a first look without hardware shows a press, a hold and a release.
Whatever needs the sensor left alone (the calibration wizard, a verification, the zero-drift
check) pauses the demo presses while it runs (:meth:`Controller.pause_sim_demo`), and may set the
simulated force itself (:meth:`Controller.request_sim_force`: the firmware's ``sim force N``), so a
calibration reaches steady readings without hardware.

The three actions (find boards, open a link, start the simulator) are injectable so tests can
hand in fakes; the defaults use :mod:`pointdose.link` and :mod:`pointdose.sim`.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from pointdose.app.model import SourceStatus
from pointdose.errors import UserError


# Demo presses on the simulated device: ramp to 25 N (250 kPa on 1 cm²) in 2 s, hold, release by 7 s.
DEMO_PROFILE = "sim profile 2:25,4:27,6:25,7:0"
DEMO_PERIOD_S = 10.0
SIM_FORCE_RAMP_S = 0.5  # request_sim_force: a half-second ramp, as a hand would put a load on
COMMAND_ERROR_S = 8.0  # how long a failed command's message stays up


@dataclass
class BoardChoice:
    """A port to open and how: ``bridge`` is True behind a USB-UART bridge (fixed baud rate)."""

    port: str
    description: str = ""
    bridge: bool = False
    board: object | None = None  # the pointdose.link Board it came from, when found by a scan


@dataclass
class SimHandle:
    """A running simulated device: where to connect, what runs it, how to stop it."""

    port: str
    backend_label: str
    close: Callable[[], None]


# ---------------------------------------------------------------------------- defaults


def default_find_boards() -> list[BoardChoice]:
    from pointdose.device import scan

    return [BoardChoice(port=c.port, description=str(c.board), bridge=c.board.bridge, board=c.board) for c in scan()]


def default_open_link(choice: BoardChoice):
    """A DeviceLink on ``choice``; it says hello as it opens (NotAPointdoseDevice if nothing answers).

    A port named by the user is looked up among the USB boards too (:func:`pointdose.device.choose_device`),
    so it gets its chip's baud rate and DTR handling."""
    from pointdose.device import DeviceChoice, choose_device, open_link

    if choice.board is not None:
        return open_link(DeviceChoice(choice.port, choice.board))
    return open_link(choose_device(choice.port))


def default_start_sim(sim_board: str | None = None) -> SimHandle:
    """The simulated device (``sim_board``: "unix", the default, or "pico", the emulated RP2040)."""
    from pointdose.device import DeviceChoice, start_sim

    sim = start_sim(DeviceChoice(None, sim_board=sim_board))
    return SimHandle(port=sim.port, backend_label=sim.label or str(sim.backend), close=sim.close)


# ---------------------------------------------------------------------------- controller


class Controller:
    """Owns the link and the simulated device; every blocking call runs on its worker thread."""

    def __init__(
        self,
        *,
        port: str | None = None,
        force_sim: bool = False,
        find_boards: Callable[[], list[BoardChoice]] = default_find_boards,
        open_link: Callable[[BoardChoice], Any] = default_open_link,
        start_sim: Callable[[], SimHandle] = default_start_sim,
        autostart_stream: bool = True,
        sim_demo: bool = False,
    ):
        self._port = port
        self._force_sim = force_sim
        self._find_boards = find_boards
        self._open_link = open_link
        self._start_sim = start_sim
        self._autostart = autostart_stream
        self._sim_demo = sim_demo
        self._next_demo = 0.0
        self._demo_paused_by: set[str] = set()
        self._error_until = 0.0
        self._jobs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._shutdown_lock = threading.Lock()
        self._status = SourceStatus(phase="idle", message="Starting…")
        self._sim: SimHandle | None = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.fatal_error: UserError | None = None  # raised by the command after the window closes

    # ---- called from the render thread (never blocks on I/O)
    def stop_sim_demo(self) -> None:
        """Stop the demo presses on the simulated device (a session or drill now drives it)."""
        self._sim_demo = False

    def pause_sim_demo(self, owner: str) -> None:
        """No demo press while ``owner`` (e.g. "calibration") needs the sensor alone; a press under
        way is cut short (the force goes to 0 at once). :meth:`resume_sim_demo` ends the pause."""
        first = not self._demo_paused_by
        self._demo_paused_by.add(owner)
        if first and self._sim_demo and self.status().simulated:
            self.request_sim_force(0.0, ramp_s=0.0)

    def resume_sim_demo(self, owner: str) -> None:
        self._demo_paused_by.discard(owner)
        if not self._demo_paused_by:
            self._next_demo = time.monotonic() + DEMO_PERIOD_S  # not at once: the user just finished

    @property
    def sim_demo_running(self) -> bool:
        """The demo presses are on now (simulated device, not stopped, not paused)."""
        return self._sim_demo and not self._demo_paused_by and self.status().simulated

    def request_sim_force(self, newtons: float, ramp_s: float = SIM_FORCE_RAMP_S) -> bool:
        """Press the simulated device with ``newtons`` (the firmware's ``sim force N RAMP_S``), held
        until changed. False (nothing sent) when the device is not simulated or the value is not a
        force the simulated sensor takes (-1000…1000 N, docs/firmware.md)."""
        from pointdose.calibration.wizard import sim_force_command

        if not self.status().simulated:
            return False
        try:
            command = sim_force_command(newtons, ramp_s)
        except UserError as exc:
            self._command_error(str(exc))
            return False
        self._submit(f"Simulated device: {float(newtons):g} N…", lambda link: link.command(command))
        return True

    def status(self) -> SourceStatus:
        with self._lock:
            return self._status

    @property
    def link(self):
        return self.status().link

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="pointdose-controller", daemon=True)
        self._thread.start()
        self._jobs.put(("connect", self._connect))

    def request_tare(self) -> None:
        self._submit("Taring… keep the probe unloaded", lambda link: link.tare())

    def request_start(self) -> None:
        self._submit("Starting stream…", lambda link: link.start())

    def request_stop(self) -> None:
        self._submit("Stopping stream…", lambda link: link.stop())

    def close(self, timeout: float = 5.0) -> None:
        """Stop the stream, close the link, stop the simulator; waits for the worker."""
        self._closed.set()
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        self._shutdown_source()

    # ---- worker thread
    def _set(self, **changes) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def submit(self, busy: str, action: Callable[[Any], Any]) -> None:
        """Run ``action(link)`` on the worker thread (for panels); errors are shown, not raised."""
        self._submit(busy, action)

    def _submit(self, busy: str, action: Callable[[Any], Any]) -> None:
        link = self.link
        if link is None or self._closed.is_set():
            return

        def job() -> None:
            self._set(busy_action=busy)
            try:
                action(link)
            except UserError as exc:
                self._command_error(str(exc))
            except Exception as exc:  # a failed command is shown, the app stays up
                self._command_error(f"{busy.split('…')[0]} failed: {exc}")
            else:
                self._set(error="")
            finally:
                self._set(busy_action="")

        self._jobs.put((busy, job))

    def _command_error(self, text: str) -> None:
        """Show a failed command for a while; the stream is usually fine, so it does not stay red."""
        self._error_until = time.monotonic() + COMMAND_ERROR_S
        self._set(error=text)

    def _work(self) -> None:
        while True:
            try:
                item = self._jobs.get(timeout=0.25)
            except queue.Empty:
                self._tick()
                continue
            if item is None:
                return
            _, job = item
            if self._closed.is_set():
                continue
            job()
            self._tick()

    def _tick(self) -> None:
        if self._error_until and time.monotonic() > self._error_until and self.status().phase == "connected":
            self._error_until = 0.0
            self._set(error="")
        self._maybe_demo()

    def _maybe_demo(self) -> None:
        """On the simulated device, press it now and then so the trace shows what a press looks like."""
        status = self.status()
        if not (self._sim_demo and status.simulated and status.link is not None) or self._closed.is_set():
            return
        if self._demo_paused_by:
            return
        now = time.monotonic()
        if now < self._next_demo:
            return
        self._next_demo = now + DEMO_PERIOD_S
        try:
            status.link.command(DEMO_PROFILE)
        except Exception:
            self._sim_demo = False  # a firmware without the sim command: leave it be

    def _connect(self) -> None:
        try:
            self._connect_steps()
        finally:
            if self._closed.is_set():  # closed while we were connecting: undo what we started
                self._shutdown_source()

    def _connect_steps(self) -> None:
        try:
            if self._port:
                candidates = [BoardChoice(port=self._port)]
            elif self._force_sim:
                candidates = [self._launch_sim()]
            else:
                self._set(phase="scanning", message="Scanning for boards…")
                candidates = self._find_boards() or [self._launch_sim(reason="No board found — ")]
            link = self._open_first(candidates)
            if link is None:
                return
            self._set(link=link, phase="connected", message="Connected")
            if self._closed.is_set():
                return
            if self._autostart:
                link.start()
        except UserError as exc:
            self.fatal_error = exc
            self._set(phase="error", error=str(exc), message=str(exc))
        except Exception as exc:  # unexpected: keep the window up and say what happened
            self.fatal_error = UserError(f"could not connect: {exc}")
            self._set(phase="error", error=f"Could not connect: {exc}", message=str(exc))

    def _open_first(self, candidates: list[BoardChoice]):
        """The link to the first candidate that answers hello; if none does, the first one's error."""
        first_error: BaseException | None = None
        for choice in candidates:
            if self._closed.is_set():
                return None
            self._set(phase="connecting", message=f"Connecting to {choice.port}…", port=choice.port)
            try:
                return self._open_link(choice)
            except UserError as exc:  # e.g. a board with other firmware: try the next one
                first_error = first_error or exc
        assert first_error is not None
        raise first_error

    def _launch_sim(self, reason: str = "") -> BoardChoice:
        self._set(phase="starting-sim", message=f"{reason}starting the simulated device…", simulated=True)
        self._sim = self._start_sim()
        self._set(backend_label=self._sim.backend_label)
        return BoardChoice(port=self._sim.port, description="simulated device")

    def _shutdown_source(self) -> None:
        with self._shutdown_lock:
            self._shutdown_source_locked()

    def _shutdown_source_locked(self) -> None:
        link = self.status().link
        if link is not None:
            try:
                link.close()  # stops the stream first if the device can still hear us
            except Exception:
                pass  # the device may be gone; closing must still finish
        if self._sim is not None:
            try:
                self._sim.close()
            finally:
                self._sim = None
        self._set(link=None, phase="closed", message="Closed")
