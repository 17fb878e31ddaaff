"""The simulated device never outlives its host (issue 13 item 4).

A real host process (``pointdose sim``, or a script that starts the device from a thread that then
ends) is killed by SIGTERM, SIGHUP or SIGKILL; every process it started and its temp folder must be
gone soon after. Deadlines are generous (the machine may be busy); the lifetime itself is not a
speed figure: without the fix the firmware runs on forever.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from waiting import wait_until

import pointdose

HOST = str(Path(pointdose.__file__).resolve().parents[1])
SIGNALS = [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL]


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            parents[int(entry)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        if state[state.rindex(")") + 2] != "Z":
            alive.add(p)
    return alive


def _start_host(code: str) -> tuple[subprocess.Popen, Path]:
    env = dict(os.environ, PYTHONPATH=HOST + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, text=True)
    folder = None
    lines = []
    for line in proc.stdout:  # the host prints its temp folder once the device answers
        lines.append(line)
        m = re.search(r"(/\S*pointdose-sim-[^/\s]+)", line)
        if m:
            folder = Path(m.group(1))
            break
    assert folder is not None, "".join(lines)
    return proc, folder


def _kill_and_check(proc: subprocess.Popen, folder: Path, sig: int) -> None:
    try:
        assert wait_until(lambda: _children(proc.pid), timeout=10), "the device is not running"
        kids = _children(proc.pid)
        assert folder.is_dir()
        os.kill(proc.pid, sig)
        proc.wait(timeout=10)
        left = set()
        if not wait_until(lambda: not _alive(kids), timeout=10):
            left = _alive(kids)
            for pid in left:  # don't leave them spinning after a failure
                os.kill(pid, signal.SIGKILL)
        assert not left, f"left running after the host's {sig.name}: {left}"
        assert wait_until(lambda: not folder.exists(), timeout=10), f"left behind: {folder}"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()


SIM_CLI = """
    import sys
    from pointdose.cli import main
    sys.exit(main(["sim", "--backend", "{backend}"]))
"""

# The device is started from a short-lived thread: PR_SET_PDEATHSIG follows the forking *thread*,
# so a naive preexec_fn would kill the device as soon as that thread returned.
FROM_THREAD = """
    import threading, time
    from pointdose.sim import SimulatedDevice
    box = []
    t = threading.Thread(target=lambda: box.append(SimulatedDevice(backend="{backend}").start()))
    t.start(); t.join()
    sim = box[0]
    time.sleep(0.5)
    assert sim._proc.poll() is None, "device died with the thread that started it"
    print("folder", sim.log_path.parent, flush=True)
    time.sleep(600)
"""


@pytest.mark.needs_unix_port
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_pointdose_sim_dies_with_its_host(sig):
    proc, folder = _start_host(SIM_CLI.format(backend="micropython-unix"))
    _kill_and_check(proc, folder, sig)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_shim_device_dies_with_its_host(sig):
    proc, folder = _start_host(SIM_CLI.format(backend="cpython-shim"))
    _kill_and_check(proc, folder, sig)


@pytest.mark.needs_unix_port
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=lambda s: s.name)
def test_device_started_from_a_thread_lives_with_the_host_and_dies_with_it(sig):
    proc, folder = _start_host(FROM_THREAD.format(backend="micropython-unix"))
    _kill_and_check(proc, folder, sig)
