"""Every number a user or a file can set, checked here: finite, of the right kind, in its range.

One checker for ``pointdose session --set``, protocol files (TOML), the app and ``pointdose train``,
so that NaN, ±inf, a negative or a huge value is refused the same way everywhere — with one line
naming the setting and what is allowed — instead of slipping past a comparison (every comparison
with NaN is false, so ``not lo <= x <= hi`` alone lets it through and ``x > limit`` never fires).

::

    >>> number("60", "ischemic: hold_s", 5, 600)
    60.0
    >>> number("nan", "max_kpa", 10, 2000)
    Traceback (most recent call last):
    UserError: max_kpa: nan is not a finite number; write a number from 10 to 2000

The ranges of the settings that several places share live here too (:data:`RANGES`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pointdose.errors import UserError


@dataclass(frozen=True)
class Range:
    """Allowed values: ``lo`` … ``hi`` (``lo`` itself excluded when ``lo_open``), whole numbers
    when ``integer``."""

    lo: float
    hi: float
    integer: bool = False
    lo_open: bool = False
    unit: str = ""

    def text(self) -> str:
        what = "a whole number" if self.integer else "a number"
        u = f" {self.unit}" if self.unit else ""
        if self.lo_open:
            return f"{what} above {self.lo:g} and at most {self.hi:g}{u}"
        return f"{what} from {self.lo:g} to {self.hi:g}{u}"

    def span(self) -> str:
        u = f" {self.unit}" if self.unit else ""
        return f"{'above ' if self.lo_open else ''}{self.lo:g} … {self.hi:g}{u}"


# Settings shared by several places (protocol limits, phases, the training drill options). Each
# is either cited where its default is set (pointdose.protocols.builtin, model.Limits) or a setting.
RANGES: dict[str, Range] = {
    # limits (model.Limits)
    "max_kpa": Range(10.0, 2000.0, unit="kPa"),
    "max_hold_s": Range(5.0, 600.0, unit="s"),
    "compression_cap_s": Range(5.0, 600.0, unit="s"),
    "cap_rest_s": Range(1.0, 300.0, unit="s"),
    "point_cap_s": Range(5.0, 3600.0, unit="s"),
    "pain_stop_rating": Range(1, 10, integer=True),
    "pain_cap_pct": Range(50.0, 99.0, unit="%"),
    "contact_kpa": Range(1.0, 200.0, unit="kPa"),
    "rest_max_kpa": Range(1.0, 100.0, unit="kPa"),
    "min_band_kpa": Range(0.5, 100.0, unit="kPa"),
    "stale_s": Range(0.05, 5.0, unit="s"),
    "stale_end_s": Range(0.1, 30.0, unit="s"),
    "calibrated_max_kpa": Range(0.0, 1e6, lo_open=True, unit="kPa"),
    # phases (model.Phase)
    "duration_s": Range(0.1, 3600.0, unit="s"),
    "max_s": Range(0.5, 3600.0, unit="s"),
    "tolerance_pct": Range(0.5, 100.0, unit="%"),
    "rate_kpa_s": Range(-500.0, 500.0, unit="kPa/s"),
    "rate_tolerance_pct": Range(1.0, 100.0, unit="%"),
    "steps": Range(0, 3, integer=True),
    "repetitions": Range(1, 100, integer=True),
    # targets, by unit (builtin.parse_target); %PPT above 100 is allowed, within reason
    "target_kpa": Range(0.0, 2000.0, lo_open=True, unit="kPa"),
    "target_n": Range(0.0, 2000.0, lo_open=True, unit="N"),
    "target_pct_ppt": Range(0.0, 300.0, lo_open=True, unit="%PPT"),
    # training drills (pointdose.training.drill.check; `pointdose train run` and the Training tab); settings
    "drill_target_kpa": Range(0.0, 2000.0, lo_open=True, unit="kPa"),
    "drill_target_n": Range(0.0, 2000.0, lo_open=True, unit="N"),
    "drill_tolerance_pct": Range(0.5, 50.0, unit="%"),
    "drill_ramp_s": Range(0.1, 60.0, unit="s"),
    "drill_hold_s": Range(0.5, 600.0, unit="s"),
    "drill_release_s": Range(0.0, 60.0, unit="s"),
    "drill_rest_s": Range(0.0, 600.0, unit="s"),
    "drill_trials": Range(1, 200, integer=True),
    "drill_test_trials": Range(1, 50, integer=True),
    "drill_practice_blocks": Range(1, 50, integer=True),
    "drill_get_ready_s": Range(0.0, 60.0, unit="s"),
    # the probe, the PPT the user types in
    "probe_area_cm2": Range(0.1, 20.0, unit="cm²"),
    "ppt_kpa": Range(0.0, 2000.0, lo_open=True, unit="kPa"),
}


def number(value: Any, where: str, lo: float | Range, hi: float | None = None, *, integer: bool = False,
           lo_open: bool = False, error: type[Exception] = UserError) -> float | int:
    """``value`` (a number, or text such as ``"60"``) as a float (an int when ``integer``), or
    ``error`` with one line: ``where: what is wrong; write …``.

    ``lo`` may be a :class:`Range` (then ``hi``/``integer``/``lo_open`` come from it)."""
    rng = lo if isinstance(lo, Range) else Range(float(lo), float(hi), integer, lo_open)
    want = rng.text()
    if isinstance(value, bool) or value is None:
        raise error(f"{where}: {value!r} is not allowed; write {want}")
    if isinstance(value, str):
        text = value.strip()
        try:
            v = float(text)
        except ValueError:
            raise error(f"{where}: {value!r} is not a number; write {want}") from None
    elif isinstance(value, int):
        if abs(value) > 10 ** 15:
            raise error(f"{where}: {value} is outside the allowed {rng.span()}")
        v = float(value)
    elif isinstance(value, float):
        v = value
    else:
        try:
            v = float(value)  # numpy scalars
        except (TypeError, ValueError):
            raise error(f"{where}: {value!r} is not a number; write {want}") from None
    if not math.isfinite(v):
        raise error(f"{where}: {value.strip() if isinstance(value, str) else _g(v)} is not a finite number; "
                    f"write {want}")
    if rng.integer and not v.is_integer():
        raise error(f"{where}: {_g(v)} is not a whole number; write {want}")
    below = v <= rng.lo if rng.lo_open else v < rng.lo
    if below or v > rng.hi:
        raise error(f"{where}: {_g(v)} is outside the allowed {rng.span()}")
    return int(v) if rng.integer else v


def setting(value: Any, key: str, where: str | None = None, *, error: type[Exception] = UserError) -> float | int:
    """:func:`number` with the range of the shared setting ``key`` (:data:`RANGES`)."""
    return number(value, where or key, RANGES[key], error=error)


def _g(v: float) -> str:
    return f"{v:g}"
