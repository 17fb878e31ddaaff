"""Text that leaves the program: terminal lines, JSON, CSV cells.

* :func:`terminal_safe` / :class:`SafeWriter` — what is printed to a terminal: control characters
  (ESC, BEL, CR, …) taken out of everything a command prints (``pointdose.cli`` wraps stdout once),
  so a client's name, a point label or a protocol title cannot move the cursor, change colours or
  ring the bell. :func:`clean` does the same for one value and also flattens newlines (messages).
* :func:`json_text` — JSON that is JSON: NaN and ±Infinity become ``null`` (Python's ``json`` would
  write the non-standard ``NaN``/``Infinity``).
* :func:`csv_cell` — a spreadsheet opens a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
  or a carriage return as a formula; such text is written with a leading ``'`` so it stays text.
  Numbers are written as numbers (a negative number is not a formula).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# C0 and C1 control characters and DEL; tab and newline are replaced by a space too
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def clean(value: Any) -> str:
    """``str(value)`` with every control character replaced by a space (for terminal output)."""
    return _CONTROL.sub(" ", str(value))


# the one control sequence pointdose itself writes: back to the start of the line and clear it
# (the session's status line on a terminal); every other control character is dropped on output
STATUS_REWRITE = "\r\x1b[2K"
_UNSAFE_OUT = re.compile(r"\r\x1b\[2K|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Text for a terminal: newlines and tabs kept, :data:`STATUS_REWRITE` kept, every other control
    character (ESC, BEL, a lone CR, …) dropped."""
    return _UNSAFE_OUT.sub(lambda m: m.group(0) if m.group(0) == STATUS_REWRITE else "", text)


class SafeWriter:
    """A text stream that passes what is written through :func:`terminal_safe` (``pointdose.cli``
    puts one around stdout, so no command can print a name's escape sequences raw)."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(terminal_safe(text))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def finite(value: Any) -> Any:
    """The value with non-finite floats (NaN, ±inf) replaced by None, through lists and dicts."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    import numpy as np  # a dependency; imported here so that `pointdose --help` does not load it

    if isinstance(value, np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def json_text(value: Any, **kwargs) -> str:
    """``json.dumps`` that never writes NaN or Infinity (they become null)."""
    kwargs.setdefault("default", str)
    return json.dumps(finite(value), allow_nan=False, **kwargs)


def csv_cell(value: Any) -> Any:
    """A value safe to put in a CSV cell that a spreadsheet opens (see the module docstring).

    Text that is a plain number ("-1.5") is left alone. A text that already starts with ``'`` before
    a formula character gets one more, so :func:`csv_text` gives back exactly what was written."""
    if value is None or isinstance(value, (int, float)):
        return value
    text = str(value)
    if text.lstrip("'").startswith(FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def csv_text(cell: str) -> str:
    """The text :func:`csv_cell` was given (for files pointdose reads back, e.g. a training export)."""
    if cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_START):
        return cell[1:]
    return cell


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
