"""The one answer to "how do this device's raw counts become newtons?", for every feature.

In order: the calibration made with the wizard for this device (its uid) and configuration (sensor,
gain, channel); else the device's factory scale (hello's ``cal=linear:COUNTS_PER_N:ZERO``); else
uncalibrated (no converter: pressures cannot be shown or guided). Live view, sessions, training,
records and reports all take their converter from here.

* :func:`scale_for` is pure: the device's :class:`~pointdose.link.info.DeviceInfo` (or a link) and
  the record already chosen; the render thread may call it.
* :func:`load_scale` does the I/O first (the device's stored calibration, else the host's copy for
  this uid, :func:`~pointdose.calibration.store.load_for_device`), then :func:`scale_for`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pointdose import units
from pointdose.calibration.models import LinearModel
from pointdose.calibration.record import CalibrationRecord, Converter, SensorConfig, assess
from pointdose.errors import UserError
from pointdose.link.info import device_info

CALIBRATION, FACTORY, UNCALIBRATED = "calibration", "factory", "uncalibrated"
NOT_CALIBRATED = ("the device has no calibration, so pressures cannot be shown or guided: calibrate it first "
                  "(pointdose calibrate run, or the Calibrate tab)")


@dataclass(frozen=True)
class DeviceScale:
    """The converter for one device now, where it comes from, and what to tell the user about it."""

    converter: Converter | None  # None: uncalibrated
    source: str  # CALIBRATION, FACTORY or UNCALIBRATED
    record: CalibrationRecord | None = None  # the wizard's calibration in use (source CALIBRATION)
    messages: tuple[str, ...] = ()

    @property
    def calibrated(self) -> bool:
        return self.converter is not None

    def require(self) -> Converter:
        """The converter; a UserError saying to calibrate when there is none."""
        if self.converter is None:
            raise UserError(NOT_CALIBRATED)
        return self.converter


def sensor_config(device: Any, probe_area_cm2: float | None = units.DEFAULT_PROBE_AREA_CM2) -> SensorConfig:
    """What a calibration for this device must have been made for (sensor, gain, channel, probe)."""
    return SensorConfig.from_info(device_info(device), probe_area_cm2)


def factory_converter(device: Any) -> Converter | None:
    """The device's factory scale as a converter (a non-zero device tare replaces its zero), or None."""
    dev = device_info(device)
    s = dev.factory_scale
    if s is None:
        return None
    return Converter(model=LinearModel(s.counts_per_n, s.zero), shift=(dev.tare - s.zero) if dev.tare else 0.0,
                     raw_limits=dev.raw_range, source="factory")


def scale_for(device: Any, record: CalibrationRecord | None = None, *,
              probe_area_cm2: float | None = units.DEFAULT_PROBE_AREA_CM2) -> DeviceScale:
    """The scale for ``device`` (a DeviceInfo, a link or a hello dict) with ``record`` the wizard's
    calibration chosen for it (None: none). A record made on another device or for another sensor
    or gain is not used (the factory scale, if any, is; the reason is in ``messages``)."""
    dev = device_info(device)
    messages: tuple[str, ...] = ()
    if record is not None:
        config = sensor_config(dev, probe_area_cm2)
        if dev.sensor is None:  # a device that does not say is judged on what it says (uid, gain)
            config = replace(config, sensor=record.config.sensor)
        verdict = assess(record, device_uid=dev.uid, config=config, max_age_days=1e9)
        if verdict.usable:
            return DeviceScale(record.converter(tare=dev.tare), CALIBRATION, record, verdict.warnings)
        messages = (verdict.refusal,)
    factory = factory_converter(dev)
    if factory is not None:
        return DeviceScale(factory, FACTORY, None, messages)
    return DeviceScale(None, UNCALIBRATED, None, messages)


def load_scale(link: Any, *, probe_area_cm2: float | None = units.DEFAULT_PROBE_AREA_CM2, cache=None,
               now=None, max_age_days: float | None = None) -> DeviceScale:
    """Read the calibration kept for the device behind ``link`` (on the device, else on this
    computer) and return its scale. Link I/O: call it off the GUI thread."""
    from pointdose.calibration.store import DEFAULT_MAX_AGE_DAYS, load_for_device

    loaded = load_for_device(link, sensor_config(link, probe_area_cm2), cache=cache, now=now,
                             max_age_days=DEFAULT_MAX_AGE_DAYS if max_age_days is None else max_age_days)
    scale = scale_for(link, loaded.record, probe_area_cm2=probe_area_cm2)
    messages = list(loaded.messages)
    if scale.source == FACTORY:
        messages.append("until then, pressures go through the device's own factory scale "
                        "(uncalibrated: error unknown)")
    return DeviceScale(scale.converter, scale.source, scale.record, tuple(dict.fromkeys(messages)))

