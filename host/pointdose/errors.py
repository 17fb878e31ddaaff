"""Errors that reach the user as one line: what went wrong and what to do.

:func:`read_user_file` is the one way to read a file the user names (a trace, a calibration CSV,
a protocol, an export, a points file): regular files only, a size cap, UTF-8 with a clear word for
anything else, and never a hang on a FIFO or a device.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MB = 1024 * 1024
MAX_USER_FILE_BYTES = 64 * MB  # the default cap; callers with bigger files give their own


class UserError(Exception):
    """A problem the user can fix; the command line prints it without a traceback."""

    exit_code = 1


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n / MB:.0f} MB" if n >= MB else f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def read_user_bytes(path, *, what: str = "file", hint: str = "", error: type[Exception] = UserError,
                    max_bytes: int = MAX_USER_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``, or ``error`` saying what is wrong.

    Opened without blocking (a FIFO with no writer does not hang the open) and checked with
    ``fstat`` on the open file before anything is read: a FIFO, a device (``/dev/zero``), a folder
    or a socket is refused at once, and so is a file over the cap (also one that grows past it).
    """
    path = Path(path)
    tail = f": {hint}" if hint else ""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{path}: no such {what}{tail}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror or exc}){tail}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{path} is {_kind(st.st_mode)}, not a {what}: {hint or 'give the path of a regular file'}")
        too_big = error(f"{path} is too big for a {what} (over {_size(max_bytes)}): give a smaller file")
        if st.st_size > max_bytes:
            raise too_big
        parts, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
            if total > max_bytes:  # it grew while being read
                raise too_big
        return b"".join(parts)
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror or exc}){tail}") from None
    finally:
        os.close(fd)


def decode_text(data: bytes, where, *, what: str = "file", hint: str = "",
                error: type[Exception] = UserError) -> str:
    """UTF-8 text (a BOM is dropped); UTF-16 or another encoding is named with the line it fails on.
    (``hint`` is not repeated here: the fix is always to save the file as UTF-8.)"""
    head = data[:1000]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (head and head.count(0) * 4 >= len(head)):
        raise error(f"{where} is UTF-16 text or binary; a {what} must be UTF-8 text: save it again as UTF-8 "
                    f"(\"CSV UTF-8\" or plain text)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start:exc.start + 1].hex()
        raise error(f"{where}, line {line}: byte 0x{bad} is not UTF-8 (the file is in another encoding, e.g. "
                    f"Latin-1): save it again as UTF-8") from None


def read_user_file(path, *, what: str = "file", hint: str = "", error: type[Exception] = UserError,
                   max_bytes: int = MAX_USER_FILE_BYTES) -> str:
    """The text of a file the user named (UTF-8, a BOM is dropped), or ``error`` saying what is wrong.

    ``what`` names the file in the message ("protocol file"); ``hint`` says what to give instead;
    ``max_bytes`` is the size cap (see :func:`read_user_bytes`).
    """
    data = read_user_bytes(path, what=what, hint=hint, error=error, max_bytes=max_bytes)
    return decode_text(data, Path(path), what=what, hint=hint, error=error)
