"""The app's controller: picks the data source, owns the link, runs commands off the GUI thread.

One worker thread ("pointdose-controller") does everything that can block: scanning ports,
starting the simulated device, opening the link (hello), and the commands the buttons send
(tare, start, stop). The render thread only calls :meth:`Controller.status` (a snapshot, never
blocks on I/O) and the ``request_*`` methods (which queue a job and return at once).

Choosing the source:

1. ``port`` given → that port, nothing else (an error there is the user's to fix).
2. ``force_sim`` → the simulated device.
3. otherwise scan with ``find_boards()``; the first board found is used; with none, the
   simulated device starts and the app says so plainly (SIMULATED banner).

The three actions (find boards, open a link, start the simulator) are injectable so tests can
hand in fakes; the defaults use :mod:`pointdose.link` and :mod:`pointdose.sim`.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, replace
from typing import Any, Callable

from pointdose.app.model import SourceStatus
from pointdose.errors import UserError


@dataclass
class BoardChoice:
    """A port to open and how: ``bridge`` is True behind a USB-UART bridge (fixed baud rate)."""

    port: str
    description: str = ""
    bridge: bool = False


@dataclass
class SimHandle:
    """A running simulated device: where to connect, what runs it, how to stop it."""

    port: str
    backend_label: str
    close: Callable[[], None]


# ---------------------------------------------------------------------------- defaults


def default_find_boards() -> list[BoardChoice]:
    from pointdose.link.discovery import find_boards

    found = []
    for info in find_boards():
        port = _attr(info, "device", None) or _attr(info, "port", None) or _attr(info, "path", None)
        if port:
            found.append(BoardChoice(port=str(port), description=str(_attr(info, "description", "") or ""),
                                     bridge=bool(_attr(info, "bridge", False))))
    return found


def default_open_link(choice: BoardChoice):
    """Open a DeviceLink on ``choice`` (says hello; NotAPointdoseDevice if nothing answers)."""
    from pointdose.link import DeviceLink

    link = DeviceLink(choice.port, bridge=choice.bridge)
    try:
        link.open()
    except BaseException:
        link.close()
        raise
    return link


def default_start_sim() -> SimHandle:
    from pointdose.sim import SimulatedDevice

    sim = SimulatedDevice()
    sim.start()
    return SimHandle(port=sim.port, backend_label=sim.label or str(sim.backend), close=sim.close)


def _attr(obj, name, default=None):
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


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
    ):
        self._port = port
        self._force_sim = force_sim
        self._find_boards = find_boards
        self._open_link = open_link
        self._start_sim = start_sim
        self._autostart = autostart_stream
        self._jobs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._shutdown_lock = threading.Lock()
        self._status = SourceStatus(phase="idle", message="Starting…")
        self._sim: SimHandle | None = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.fatal_error: UserError | None = None  # raised by the command after the window closes

    # ---- called from the render thread (never blocks on I/O)
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

    def _submit(self, busy: str, action: Callable[[Any], Any]) -> None:
        link = self.link
        if link is None or self._closed.is_set():
            return

        def job() -> None:
            self._set(busy_action=busy)
            try:
                action(link)
            except UserError as exc:
                self._set(error=str(exc))
            except Exception as exc:  # a failed command is shown, the app stays up
                self._set(error=f"{busy.split('…')[0]} failed: {exc}")
            else:
                self._set(error="")
            finally:
                self._set(busy_action="")

        self._jobs.put((busy, job))

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            _, job = item
            if self._closed.is_set():
                continue
            job()

    def _connect(self) -> None:
        try:
            self._connect_steps()
        finally:
            if self._closed.is_set():  # closed while we were connecting: undo what we started
                self._shutdown_source()

    def _connect_steps(self) -> None:
        try:
            if self._port:
                choice = BoardChoice(port=self._port)
            elif self._force_sim:
                choice = self._launch_sim()
            else:
                self._set(phase="scanning", message="Scanning for boards…")
                boards = self._find_boards()
                choice = boards[0] if boards else self._launch_sim(reason="No board found — ")
            if self._closed.is_set():
                return
            self._set(phase="connecting", message=f"Connecting to {choice.port}…", port=choice.port)
            link = self._open_link(choice)
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
            for step in ("stop", "close"):
                try:
                    getattr(link, step)()
                except Exception:
                    pass  # the device may be gone; closing must still finish
        if self._sim is not None:
            try:
                self._sim.close()
            finally:
                self._sim = None
        self._set(link=None, phase="closed", message="Closed")
