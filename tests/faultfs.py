"""Real file-system faults for tests: a small tmpfs that can be filled, an immutable file.

Both need root (``mount``, ``chattr``); without it the test is skipped with the reason, never
faked. Used by tests/host/test_records_faults.py and tests/e2e/test_session_faults.py.
"""

from __future__ import annotations

import contextlib
import errno
import subprocess
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "4m"):
    """A tmpfs of ``size`` mounted at ``path`` (made here) for the duration."""
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write zeros into ``folder/filler`` until the disk says it is full; returns the file."""
    filler = folder / "filler"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as fh:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    fh.write(block[:size])
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
    return filler


@contextlib.contextmanager
def immutable(path: Path):
    """``chattr +i`` on ``path`` for the duration (even root cannot write it then)."""
    r = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot make a file immutable here (needs root and ext4/xfs/tmpfs): {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
