"""Units of force and pressure: one table, pure functions, no dependencies.

Internally pointdose works in newtons (force) and kilopascals (pressure); a unit the user picks
is applied only at the edge (readout, plot axis, typed targets). Pressure and force are linked by
the probe's contact area in cm² (algometer probes are usually 1 cm², 0.5–2 cm² in use)::

    >>> to_display(9.80665, "kgf/cm2", probe_area_cm2=1.0)
    1.0
    >>> round(from_display(100.0, "kPa", probe_area_cm2=1.0), 6)   # newtons
    10.0

Factors (the project's domain notes, "Units"): 1 kgf = 9.80665 N; 1 kgf/cm² = 98.0665 kPa;
1 N/cm² = 10 kPa; 1 lbf = 4.44822 N.
"""

from __future__ import annotations

from dataclasses import dataclass

N_PER_KGF = 9.80665
N_PER_LBF = 4.44822
KPA_PER_N_PER_CM2 = 10.0
KPA_PER_KGF_PER_CM2 = N_PER_KGF * KPA_PER_N_PER_CM2  # 98.0665

DEFAULT_PROBE_AREA_CM2 = 1.0
DEFAULT_UNIT = "kPa"


@dataclass(frozen=True)
class Unit:
    """A display unit: ``key`` (ASCII, for settings and the command line), ``symbol`` (for
    screens that can draw ²), ``kind`` ("pressure" or "force") and ``per_internal``: how many
    of this unit make one internal unit (1 kPa for pressure, 1 N for force)."""

    key: str
    symbol: str
    kind: str
    per_internal: float
    decimals: int  # a readout resolution that suits the unit's size (kPa: 1, kgf/cm²: 0.01)


UNITS: dict[str, Unit] = {
    u.key: u
    for u in (
        Unit("kPa", "kPa", "pressure", 1.0, 0),
        Unit("kgf/cm2", "kgf/cm²", "pressure", 1.0 / KPA_PER_KGF_PER_CM2, 2),
        Unit("N/cm2", "N/cm²", "pressure", 1.0 / KPA_PER_N_PER_CM2, 1),
        Unit("N", "N", "force", 1.0, 1),
        Unit("kgf", "kgf", "force", 1.0 / N_PER_KGF, 2),
        Unit("lbf", "lbf", "force", 1.0 / N_PER_LBF, 1),
    )
}


def unit(key: str) -> Unit:
    """The unit named ``key`` (ASCII key or its symbol, e.g. "kgf/cm²"); ValueError otherwise."""
    found = UNITS.get(key)
    if found is None:
        for candidate in UNITS.values():
            if candidate.symbol == key or candidate.key.lower() == key.lower():
                return candidate
        raise ValueError(f"unknown unit {key!r}: choose one of {', '.join(UNITS)}")
    return found


def _check_area(probe_area_cm2: float) -> float:
    if not probe_area_cm2 > 0:
        raise ValueError(f"probe area must be positive, got {probe_area_cm2!r} cm²")
    return float(probe_area_cm2)


def pressure_kpa(force_n, probe_area_cm2: float = DEFAULT_PROBE_AREA_CM2):
    """Pressure in kPa of ``force_n`` newtons on a probe of ``probe_area_cm2`` (works on arrays)."""
    return force_n / _check_area(probe_area_cm2) * KPA_PER_N_PER_CM2


def force_n(pressure_kpa_value, probe_area_cm2: float = DEFAULT_PROBE_AREA_CM2):
    """Force in N that gives ``pressure_kpa_value`` on a probe of ``probe_area_cm2``."""
    return pressure_kpa_value * _check_area(probe_area_cm2) / KPA_PER_N_PER_CM2


def to_display(force_newtons, key: str, probe_area_cm2: float = DEFAULT_PROBE_AREA_CM2):
    """A force in newtons expressed in the display unit ``key`` (scalars or numpy arrays)."""
    u = unit(key)
    if u.kind == "pressure":
        return pressure_kpa(force_newtons, probe_area_cm2) * u.per_internal
    return force_newtons * u.per_internal


def from_display(value, key: str, probe_area_cm2: float = DEFAULT_PROBE_AREA_CM2):
    """The force in newtons that ``value`` in unit ``key`` stands for (inverse of to_display)."""
    u = unit(key)
    internal = value / u.per_internal
    if u.kind == "pressure":
        return force_n(internal, probe_area_cm2)
    return internal


def convert(value, from_key: str, to_key: str, probe_area_cm2: float = DEFAULT_PROBE_AREA_CM2):
    """``value`` in unit ``from_key`` expressed in ``to_key`` (through newtons and the probe area)."""
    return to_display(from_display(value, from_key, probe_area_cm2), to_key, probe_area_cm2)


def format_value(value: float, key: str) -> str:
    """``value`` (already in unit ``key``) at the unit's readout resolution, never "-0"."""
    decimals = unit(key).decimals
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text


# --------------------------------------------------------------------------- probes

# Probe contact areas in use (the project's domain notes, "Units": 1 cm² is the common algometer
# probe; 0.5–2 cm² tips are in use — Fischer 1987, Ylinen 2007). Keys are what settings store.
PROBE_PRESETS_CM2: dict[str, float] = {"0.5 cm² tip": 0.5, "1 cm² probe": 1.0, "2 cm² tip": 2.0}
THUMB_PROBE = "thumb sensor"

# Why a thumb-worn sensor shows force only: pressure = force / contact area, and the pad of a thumb
# flattens as it presses (its contact area grows with force), so no single area turns its force
# into a true pressure. Dividing by a fixed area would overstate light presses and understate hard ones.
THUMB_NOTE = ("Worn on the thumb, the contact area grows as the thumb pad flattens under force, "
              "so pressure cannot be worked out from one area: force is shown instead.")


def probe_area(name_or_cm2) -> float | None:
    """The contact area in cm² of a preset name ("1 cm² probe", also "1", "0.5", "2 cm2"), or of a
    number; ``None`` for the thumb sensor (force only). ValueError for anything else."""
    if isinstance(name_or_cm2, (int, float)):
        return _check_area(float(name_or_cm2))
    text = str(name_or_cm2).strip()
    if text.lower() in (THUMB_PROBE, "thumb"):
        return None
    if text in PROBE_PRESETS_CM2:
        return PROBE_PRESETS_CM2[text]
    number = text.lower().replace("cm²", "").replace("cm2", "").replace("probe", "").replace("tip", "").strip()
    try:
        area = float(number)
    except ValueError:
        raise ValueError(f"unknown probe {text!r}: give an area in cm² (e.g. 1) or one of "
                         f"{', '.join(PROBE_PRESETS_CM2)}, {THUMB_PROBE}") from None
    return _check_area(area)


def probe_name(area_cm2: float | None) -> str:
    """The preset name for an area ("1 cm² probe"), the thumb sensor for None, else "N cm² probe"."""
    if area_cm2 is None:
        return THUMB_PROBE
    for name, area in PROBE_PRESETS_CM2.items():
        if abs(area - area_cm2) < 1e-9:
            return name
    return f"{area_cm2:g} cm² probe"


# --------------------------------------------------------------------------- calibration references

# What a calibration reference is read in, and the newtons one of it stands for. A mass in g or kg
# pulls with standard gravity (1 kgf = 9.80665 N); a kitchen or bathroom scale pressed by a probe
# shows force divided by g, so its "kg" (or "lb") reading is converted the same way.
REFERENCE_UNITS: dict[str, float] = {
    "g": N_PER_KGF / 1000.0,
    "kg": N_PER_KGF,
    "lb": N_PER_LBF,
    "N": 1.0,
    "kgf": N_PER_KGF,
    "lbf": N_PER_LBF,
}


def reference_unit(key: str) -> str:
    """The canonical key of a reference unit ("KG" → "kg"); ValueError naming the choices."""
    for candidate in REFERENCE_UNITS:
        if candidate.lower() == str(key).strip().lower():
            return candidate
    raise ValueError(f"unknown reference unit {key!r}: choose one of {', '.join(REFERENCE_UNITS)}")


def reference_to_n(value: float, key: str) -> float:
    """Newtons that a reference reading ``value`` in ``key`` (g, kg, lb, N, kgf, lbf) stands for."""
    return float(value) * REFERENCE_UNITS[reference_unit(key)]


def n_to_reference(force_newtons: float, key: str) -> float:
    """Inverse of :func:`reference_to_n`."""
    return float(force_newtons) / REFERENCE_UNITS[reference_unit(key)]
