"""Guard process of the simulated device (see :mod:`pointdose.sim.lifetime`).

Run as ``python -I -S _guard.py HOST_PID`` with a pipe on stdin that only the host writes to. Lines:
``pg PID`` / ``unpg PID`` (a device process group to kill), ``dir PATH`` / ``undir PATH`` (a temp
folder to remove). At EOF (the host has exited, however it died) every registered group gets
SIGKILL and every registered folder is removed. Standard library only, no site-packages: it must
start fast and work whatever the host had imported.
"""

import os
import shutil
import signal
import sys
import time


def _running(pid):
    """Still running (a zombie waiting for a parent that may never reap it is not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2] != "Z"
    except OSError:
        pass
    if os.path.isdir("/proc/self"):
        return False
    try:
        os.killpg(pid, 0)  # no /proc: the best there is
        return True
    except OSError:
        return False


def cleanup(groups, dirs):
    for pid in groups:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    # give the killed processes a moment to be gone, so nothing writes into the folders behind us
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline and any(_running(pid) for pid in groups):
        time.sleep(0.01)
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)


def main():
    groups, dirs = set(), set()
    # A hang-up or Ctrl-C aimed at the host's terminal is not ours; a SIGTERM (system shutdown)
    # still cleans up first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def on_term(signum, frame):
        cleanup(list(groups), list(dirs))
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
        verb, _, arg = line.partition(" ")
        if verb == "pg" and arg.isdigit():
            groups.add(int(arg))
        elif verb == "unpg" and arg.isdigit():
            groups.discard(int(arg))
        elif verb == "dir" and arg:
            dirs.add(arg)
        elif verb == "undir":
            dirs.discard(arg)
    cleanup(list(groups), list(dirs))


if __name__ == "__main__":
    main()
