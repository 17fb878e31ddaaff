"""Text that leaves the program: terminal lines, JSON, CSV cells.

* :func:`clean` — what is printed to a terminal: control characters (ESC, BEL, CR, …) taken out of
  anything that came from a user or a file (client codes and names, point labels, protocol titles),
  so a name cannot move the cursor, change colours or ring the bell.
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


def finite(value: Any) -> Any:
    """The value with non-finite floats (NaN, ±inf) replaced by None, through lists and dicts."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    try:  # numpy scalars
        import numpy as np

        if isinstance(value, np.floating):
            return float(value) if np.isfinite(value) else None
        if isinstance(value, np.integer):
            return int(value)
    except ImportError:  # pragma: no cover
        pass
    return value


def json_text(value: Any, **kwargs) -> str:
    """``json.dumps`` that never writes NaN or Infinity (they become null)."""
    kwargs.setdefault("default", str)
    return json.dumps(finite(value), allow_nan=False, **kwargs)


def csv_cell(value: Any) -> Any:
    """A value safe to put in a CSV cell that a spreadsheet opens (see the module docstring)."""
    if value is None or isinstance(value, (int, float)):
        return value
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text
