"""The simulated device never outlives its host (docs/firmware.md, "Process lifetime").

Two independent mechanisms, so that the firmware process and its temp folder go away whatever
ends the host (a clean exit, Ctrl-C, SIGTERM, SIGHUP, SIGKILL, a crash):

* :func:`spawn` starts a child with ``PR_SET_PDEATHSIG`` = SIGKILL (Linux). The kernel sends the
  signal when the *thread* that forked the child ends, so every child is forked from one
  long-lived daemon thread (``sim-spawner``) rather than from whichever thread asked: a GUI worker
  or a test thread that returns must not take the device with it.
* A guard process (:mod:`pointdose.sim._guard`, one per host process, started on first use) holds
  the read end of a pipe whose write end only the host has. When the host dies by any means the
  pipe reads EOF; the guard then kills the registered process groups and removes the registered
  folders, and exits. This is also the cleanup for SIGKILL, where the host runs no code at all,
  and the fallback where PR_SET_PDEATHSIG does not exist.

Children are started in their own session (``start_new_session``), so their pid is their process
group id and a terminal's Ctrl-C or hang-up reaches the host, not the device.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

PR_SET_PDEATHSIG = 1

_libc_prctl = None
if sys.platform.startswith("linux"):
    try:
        _libc_prctl = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        _libc_prctl = None


def _die_with_parent(parent_pid: int):
    """A ``preexec_fn``: in the forked child, ask for SIGKILL when the forking thread ends."""

    def preexec() -> None:
        if _libc_prctl is not None:
            _libc_prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died between fork and prctl
            os._exit(1)

    return preexec


class _Job:
    __slots__ = ("fn", "event", "result", "error")

    def __init__(self, fn) -> None:
        self.fn, self.event, self.result, self.error = fn, threading.Event(), None, None


class _Spawner:
    """One daemon thread that forks every child, so PR_SET_PDEATHSIG tracks the process's life."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job.result = job.fn()
            except BaseException as exc:  # handed back to the caller
                job.error = exc
            job.event.set()

    def call(self, fn):
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="sim-spawner", daemon=True)
                self._thread.start()
        if threading.current_thread() is self._thread:
            return fn()
        job = _Job(fn)
        self._jobs.put(job)
        job.event.wait()
        if job.error is not None:
            raise job.error
        return job.result


class _Guard:
    """The host side of the guard process: register process groups and folders to clean up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._owner_pid: int | None = None

    def _ensure(self) -> subprocess.Popen | None:
        if self._proc is not None and self._owner_pid == os.getpid() and self._proc.poll() is None:
            return self._proc
        script = Path(__file__).with_name("_guard.py")
        try:
            # -I -S: no user site, no site-packages scan: the guard starts in ~20 ms.
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(script), str(os.getpid())],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True,
            )
        except OSError:
            self._proc = None
        self._owner_pid = os.getpid()
        return self._proc

    def _say(self, line: str) -> None:
        with self._lock:
            proc = self._ensure()
            if proc is None or proc.stdin is None:
                return
            try:
                proc.stdin.write((line + "\n").encode("utf-8", "surrogateescape"))
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self._proc = None

    def watch_group(self, pid: int) -> None:
        self._say(f"pg {pid}")

    def forget_group(self, pid: int) -> None:
        self._say(f"unpg {pid}")

    def watch_dir(self, path: Path) -> None:
        self._say(f"dir {path}")

    def forget_dir(self, path: Path) -> None:
        self._say(f"undir {path}")


_spawner = _Spawner()
guard = _Guard()


def spawn(cmd: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen`` for a device child: own session, killed with the host, guarded."""
    kwargs.setdefault("start_new_session", True)
    parent = os.getpid()

    def fork() -> subprocess.Popen:
        return subprocess.Popen(cmd, preexec_fn=_die_with_parent(parent), **kwargs)

    proc = _spawner.call(fork)
    guard.watch_group(proc.pid)
    return proc


def stop(proc: subprocess.Popen | None, *, grace_s: float = 2.0) -> None:
    """End a child started by :func:`spawn` (SIGTERM to its group, SIGKILL after ``grace_s``)."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait(timeout=grace_s)
    guard.forget_group(proc.pid)
