"""Files pointdose writes: readable by their owner only, with names that stay in their folder.

Every file the app writes holds health data or settings about a person, so it is created 0600 and
every folder it creates 0700, whatever the umask (docs/records.md, "File modes"). A name made from
user data (a client code, a point label) goes through :func:`safe_name`, and :func:`inside`
checks that the result is a file directly in the chosen folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")  # "a..b" is a harmless name, but one that looks like a way up
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def safe_name(text: str, *, fallback: str = "unnamed", max_len: int = 40) -> str:
    """A file-name part from user data: letters, digits, ``.``, ``_``, ``-`` only; never empty, ``.``,
    ``..``, hidden, or a Windows device name; at most ``max_len`` characters (plus a short hash).

    A text that had to be changed gets a hash of the original appended, so two different codes
    never share a file name ("a/b" → "a_b-3f2c1e", "a_b" stays "a_b").
    """
    text = str(text)
    name = re.sub(r"_{2,}", "_", _DOTS.sub("_", _UNSAFE.sub("_", text))).strip("._-")[:max_len].rstrip("._-")
    if name.split(".")[0].upper() in _RESERVED:
        name = "_" + name
    if name != text or not name:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:6]
        name = f"{name or fallback}-{digest}"
    return name


def inside(folder: str | Path, name: str) -> Path:
    """``folder / name``, checked to be a file directly in ``folder`` (ValueError otherwise)."""
    folder = Path(folder)
    path = folder / name
    if path.parent != folder or name in ("", ".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"{name!r} is not a plain file name")
    return path


def private_dir(path: str | Path) -> Path:
    """Create ``path`` and any missing parents with mode 0700 (folders that exist are left as they are)."""
    path = Path(path).expanduser()
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for p in reversed(missing):
        with contextlib.suppress(FileExistsError):
            p.mkdir(mode=DIR_MODE)
        os.chmod(p, DIR_MODE)  # whatever the umask
    return path


def open_private(path: str | Path, mode: str = "w", **kwargs):
    """``open(path, mode)`` for writing, the file created or truncated with mode 0600."""
    if not any(c in mode for c in "wax"):
        raise ValueError("open_private is for writing")
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0)
    flags |= os.O_EXCL if "x" in mode else os.O_APPEND if "a" in mode else os.O_TRUNC
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # an existing file keeps its mode otherwise
    except (AttributeError, OSError):
        pass
    return os.fdopen(fd, mode.replace("x", "w"), **kwargs)


def write_private(path: str | Path, data: bytes | str, *, encoding: str = "utf-8") -> Path:
    """Write the whole file atomically (a 0600 temporary beside it, then a rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open_private(tmp, "wb") as fh:
            fh.write(data.encode(encoding) if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path
