"""The app controller's choice of source and its worker thread, with fakes (no display)."""

import threading
import time

import pytest

from pointdose.app.controller import BoardChoice, Controller, SimHandle
from pointdose.errors import UserError


class Link:
    def __init__(self, choice):
        self.choice = choice
        self.calls = []
        self.thread_names = []
        self.state = "CONNECTED"

    def _log(self, name):
        self.calls.append(name)
        self.thread_names.append(threading.current_thread().name)

    def start(self):
        self._log("start")
        self.state = "STREAMING"

    def stop(self):
        self._log("stop")

    tare_gate = threading.Event()  # a tare takes half a second of samples on the device: held here
    tare_gate.set()

    def tare(self):
        self.tare_gate.wait(10)
        self._log("tare")

    def close(self):
        self._log("close")


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def make(**kw):
    sims = []

    def start_sim():
        sims.append("started")
        return SimHandle(port="/tmp/sim/ttySIM0", backend_label="real firmware on the MicroPython unix port",
                         close=lambda: sims.append("closed"))

    kw.setdefault("find_boards", lambda: [])
    kw.setdefault("open_link", Link)
    return Controller(start_sim=start_sim, **kw), sims


def test_no_board_found_starts_the_simulator():
    c, sims = make()
    c.start()
    assert wait_for(lambda: c.status().phase == "connected")
    s = c.status()
    assert s.simulated and "unix port" in s.backend_label and s.port == "/tmp/sim/ttySIM0"
    assert s.link.calls == ["start"] and s.link.thread_names == ["pointdose-controller"]
    c.close()
    assert sims == ["started", "closed"] and s.link.calls[-1] == "close"


def test_a_found_board_wins_over_the_simulator():
    c, sims = make(find_boards=lambda: [BoardChoice("/dev/ttyACM0", "Pico", bridge=False)])
    c.start()
    assert wait_for(lambda: c.status().phase == "connected")
    assert not c.status().simulated and c.status().port == "/dev/ttyACM0" and sims == []
    c.close()


def test_explicit_port_skips_the_scan():
    scanned = []
    c, sims = make(port="/dev/ttyUSB3", find_boards=lambda: scanned.append(1) or [])
    c.start()
    assert wait_for(lambda: c.status().phase == "connected")
    assert scanned == [] and sims == [] and c.status().link.choice.port == "/dev/ttyUSB3"
    c.close()


def test_scan_runs_off_the_calling_thread_and_status_shows_it():
    release = threading.Event()
    scan_done = threading.Event()

    def slow_scan():
        release.wait(10)
        scan_done.set()
        return []

    c, _ = make(find_boards=slow_scan)
    c.start()
    assert not scan_done.is_set()  # start() returned while the scan was still held: it did not wait
    assert wait_for(lambda: c.status().phase == "scanning")
    assert "Scanning" in c.status().message
    release.set()
    assert wait_for(lambda: c.status().phase == "connected")
    c.close()


def test_not_a_device_is_a_user_error_kept_for_exit():
    class NotAPointdoseDevice(UserError):
        pass

    def refuse(choice):
        raise NotAPointdoseDevice(f"{choice.port} did not answer hello: is it a pointdose device?")

    c, _ = make(port="/dev/ttyS0", open_link=refuse)
    c.start()
    assert wait_for(lambda: c.status().phase == "error")
    assert "did not answer" in c.status().error
    assert isinstance(c.fatal_error, UserError)
    c.close()


def test_tare_runs_on_the_worker_and_shows_busy(monkeypatch):
    gate = threading.Event()
    monkeypatch.setattr(Link, "tare_gate", gate)
    c, _ = make()
    c.start()
    assert wait_for(lambda: c.status().phase == "connected")
    c.request_tare()
    # request_tare() returned while the tare is still held on the worker: the GUI thread was not held
    assert "tare" not in c.status().link.calls
    assert wait_for(lambda: c.status().busy_action.startswith("Taring"))
    gate.set()
    assert wait_for(lambda: "tare" in c.status().link.calls and not c.status().busy_action)
    link = c.status().link
    assert set(link.thread_names) == {"pointdose-controller"}
    c.request_stop()
    c.request_start()
    assert wait_for(lambda: link.calls[-2:] == ["stop", "start"])
    c.close()


def test_failed_command_is_shown_not_raised():
    class Broken(Link):
        def tare(self):
            raise OSError("port vanished")

    c, _ = make(open_link=Broken)
    c.start()
    assert wait_for(lambda: c.status().phase == "connected")
    c.request_tare()
    assert wait_for(lambda: "port vanished" in c.status().error)
    c._error_until = time.monotonic()  # as if COMMAND_ERROR_S had passed
    assert wait_for(lambda: c.status().error == "")
    assert c.fatal_error is None  # a failed command does not fail the command line
    c.close()


@pytest.mark.timeout(20)
def test_close_while_connecting_leaves_nothing_running():
    release = threading.Event()
    opened = []

    def slow_open(choice):
        release.wait(5)
        link = Link(choice)
        opened.append(link)
        return link

    c, sims = make(open_link=slow_open)
    c.start()
    assert wait_for(lambda: c.status().phase == "connecting")
    closer = threading.Thread(target=c.close, kwargs={"timeout": 5})
    closer.start()
    time.sleep(0.05)
    release.set()
    closer.join(6)
    assert opened and opened[0].calls[-1] == "close"
    assert sims[-1] == "closed"


def test_a_board_that_does_not_answer_is_skipped_for_the_next():
    def open_link(choice):
        if choice.port == "/dev/ttyUSB0":
            raise UserError("/dev/ttyUSB0 did not answer as a pointdose device")
        return Link(choice)

    c, sims = make(find_boards=lambda: [BoardChoice("/dev/ttyUSB0", bridge=True), BoardChoice("/dev/ttyACM0")],
                   open_link=open_link)
    c.start()
    assert wait_for(lambda: c.status().phase == "connected")
    assert c.status().port == "/dev/ttyACM0" and sims == [] and c.fatal_error is None
    c.close()


def test_calibration_pauses_the_demo_presses_and_sets_the_simulated_force():
    """The demo presses the simulated device every 10 s; a pause (the Calibrate tab while its wizard
    runs) cuts a press short at once, no demo press follows until resumed, and request_sim_force
    sends the firmware's `sim force N RAMP_S` on the worker. A board gets no sim commands."""
    commands = []

    class SimLink(Link):
        def command(self, text, timeout=None):
            self._log(text)
            commands.append(text)

    c, _ = make(open_link=SimLink, sim_demo=True)
    c.start()
    assert wait_for(lambda: any(x.startswith("sim profile") for x in commands))  # the first demo press
    assert c.sim_demo_running
    c.pause_sim_demo("calibration")
    assert not c.sim_demo_running
    assert wait_for(lambda: commands[-1] == "sim force 0 0")  # the press under way is cut short
    assert c.request_sim_force(26.7)
    assert wait_for(lambda: commands[-1] == "sim force 26.7 0.5")
    assert not c.request_sim_force(5000.0) and "not a force the simulated sensor takes" in c.status().error
    c._next_demo = 0.0  # a demo press would be due now: still none while paused
    time.sleep(0.6)
    assert not any(x.startswith("sim profile") for x in commands[commands.index("sim force 0 0"):])
    c.pause_sim_demo("drift")
    c.resume_sim_demo("calibration")
    assert not c.sim_demo_running  # still held by the other owner
    c.resume_sim_demo("drift")
    assert c.sim_demo_running
    c._next_demo = 0.0
    assert wait_for(lambda: commands[-1].startswith("sim profile"))
    assert set(c.status().link.thread_names) == {"pointdose-controller"}
    c.close()

    board, _ = make(find_boards=lambda: [BoardChoice("/dev/ttyACM0", "Pico")], open_link=SimLink, sim_demo=True)
    board.start()
    assert wait_for(lambda: board.status().phase == "connected")
    n = len(commands)
    assert not board.request_sim_force(10.0)
    board.pause_sim_demo("calibration")
    time.sleep(0.3)
    assert len(commands) == n
    board.close()
