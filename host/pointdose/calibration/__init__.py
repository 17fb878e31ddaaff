"""Calibration a therapist can trust: models and fits, the wizard, the record, where it is kept.

Pure Python + numpy (no GUI); the app's Calibrate tab and ``pointdose calibrate`` drive it.
What other packages call:

* raw → newtons for arrays: ``record.converter(tare=device_tare).force_n(raw)`` (and
  ``.out_of_range(force, raw)`` for flags), or :func:`converter_for` from a hello dict;
* :func:`check_reachable` before a protocol uses a target;
* ``record.to_dict()`` / ``record.id`` to keep with a session record.

See docs/calibration.md.
"""

from pointdose.calibration.models import (FSR, LINEAR, LOAD, UNLOAD, CalibrationRefused, FitResult, FsrModel,
                                          LinearModel, Point, Tolerance, fit_points, model_from_dict)
from pointdose.calibration.record import (Assessment, CalibrationRecord, Converter, Reachability, SensorConfig,
                                          assess, check_reachable, require_reachable)
from pointdose.calibration.stability import StabilityCriterion, StabilityDetector, StabilityStatus
from pointdose.calibration.store import (HostCache, Loaded, data_dir, device_storage_supported, load_for_device,
                                         read_device, save_everywhere, write_device)
from pointdose.calibration.wizard import (CalibrationWizard, DriftRun, Step, VerificationRun, WizardSettings,
                                          ZeroCheck)


def converter_for(info: dict | None, record: CalibrationRecord | None = None) -> Converter | None:
    """The converter for a device's readings now: through ``record`` when given (shifted by the
    device's current tare from ``info``), else hello's factory ``cal=linear:COUNTS_PER_N:ZERO``,
    else None (uncalibrated)."""
    info = info or {}
    try:
        tare = float(info.get("tare") or 0.0)
    except ValueError:
        tare = 0.0
    if record is not None:
        return record.converter(tare=tare)
    parts = str(info.get("cal", "none")).split(":")
    if len(parts) != 3 or parts[0].lower() != "linear":
        return None
    try:
        cpn, zero = float(parts[1]), float(parts[2])
    except ValueError:
        return None
    if cpn == 0 or cpn != cpn or zero != zero:
        return None
    try:
        limits = (float(info["raw_min"]), float(info["raw_max"]))
    except (KeyError, ValueError):
        limits = None
    # the factory scale's offset is its zero; a non-zero device tare replaces it (same rule as a record)
    return Converter(model=LinearModel(cpn, zero), shift=(tare - zero) if tare else 0.0, raw_limits=limits,
                     source="factory")


__all__ = [
    "FSR", "LINEAR", "LOAD", "UNLOAD", "Assessment", "CalibrationRecord", "CalibrationRefused", "CalibrationWizard",
    "Converter", "DriftRun", "FitResult", "FsrModel", "HostCache", "LinearModel", "Loaded", "Point", "Reachability",
    "SensorConfig", "StabilityCriterion", "StabilityDetector", "StabilityStatus", "Step", "Tolerance",
    "VerificationRun", "WizardSettings", "ZeroCheck", "assess", "check_reachable", "converter_for", "data_dir",
    "device_storage_supported", "fit_points", "load_for_device", "model_from_dict", "read_device",
    "require_reachable", "save_everywhere", "write_device",
]
