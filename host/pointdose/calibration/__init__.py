"""Calibration a therapist can trust: models and fits, the wizard, the record, where it is kept.

Pure Python + numpy (no GUI); the app's Calibrate tab and ``pointdose calibrate`` drive it.
What other packages call:

* raw → newtons for arrays: ``record.converter(tare=device_tare).force_n(raw)`` (and
  ``.out_of_range(force, raw)`` for flags); the one choice of scale for a device (wizard's
  calibration, else factory, else uncalibrated) is :func:`load_scale` / :func:`scale_for`;
* :func:`check_reachable` before a protocol uses a target;
* ``record.to_dict()`` / ``record.id`` to keep with a session record.

See docs/calibration.md.
"""

from pointdose.calibration.models import (FSR, LINEAR, LOAD, UNLOAD, CalibrationRefused, FitResult, FsrModel,
                                          LinearModel, Point, Tolerance, fit_points, model_from_dict)
from pointdose.calibration.record import (Assessment, CalibrationRecord, Converter, Reachability, SensorConfig,
                                          assess, check_reachable, require_reachable)
from pointdose.calibration.scale import (CALIBRATION, FACTORY, UNCALIBRATED, DeviceScale, factory_converter,
                                         load_scale, scale_for, sensor_config)
from pointdose.calibration.stability import StabilityCriterion, StabilityDetector, StabilityStatus
from pointdose.calibration.store import (HostCache, Loaded, data_dir, device_storage_supported, load_for_device,
                                         read_device, save_everywhere, write_device)
from pointdose.calibration.wizard import (CalibrationWizard, DriftRun, Step, VerificationRun, WizardSettings,
                                          ZeroCheck)


def converter_for(info, record: CalibrationRecord | None = None) -> Converter | None:
    """The converter for a device's readings now (``info``: a link, DeviceInfo or hello dict): the
    record when it fits this device, else the factory scale, else None. See :mod:`.scale`."""
    return scale_for(info, record).converter


__all__ = [
    "CALIBRATION", "FACTORY", "UNCALIBRATED", "DeviceScale", "factory_converter", "load_scale", "scale_for",
    "sensor_config",
    "FSR", "LINEAR", "LOAD", "UNLOAD", "Assessment", "CalibrationRecord", "CalibrationRefused", "CalibrationWizard",
    "Converter", "DriftRun", "FitResult", "FsrModel", "HostCache", "LinearModel", "Loaded", "Point", "Reachability",
    "SensorConfig", "StabilityCriterion", "StabilityDetector", "StabilityStatus", "Step", "Tolerance",
    "VerificationRun", "WizardSettings", "ZeroCheck", "assess", "check_reachable", "converter_for", "data_dir",
    "device_storage_supported", "fit_points", "load_for_device", "model_from_dict", "read_device",
    "require_reachable", "save_everywhere", "write_device",
]
