"""Where calibrations live: the device's flash (travels with the sensor) and a host cache.

Device: the firmware keeps one opaque blob of at most 1024 bytes in flash, written atomically
(``link.read_calibration() -> bytes | None``, ``link.write_calibration(blob)``,
``link.clear_calibration()``); it refuses writes while streaming, so :func:`write_device` stops the
stream first and restarts it after. A firmware without these commands is detected with
``hasattr`` (:func:`device_storage_supported`) and the UI says so; the host copy is used then.

Host cache: ``<user data dir>/calibrations/<device uid>/<id>.json`` (every calibration ever made or
seen for the device, never deleted) and ``latest.json`` (the one in use). The user data dir is
platformdirs' (``~/.local/share/pointdose`` on Linux), or ``$POINTDOSE_DATA_DIR`` when set.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pointdose.calibration.record import (DEFAULT_MAX_AGE_DAYS, Assessment, CalibrationRecord, SensorConfig,
                                          assess)
from pointdose.errors import UserError, read_user_file

ENV_DATA_DIR = "POINTDOSE_DATA_DIR"


def data_dir() -> Path:
    """pointdose's user data folder ($POINTDOSE_DATA_DIR overrides, e.g. for tests)."""
    override = os.environ.get(ENV_DATA_DIR)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("pointdose", appauthor=False))


def _safe(uid: str) -> str:
    if not re.fullmatch(r"[0-9A-Za-z_.-]{1,64}", str(uid)):
        raise UserError(f"device id {uid!r} cannot name a folder: is this a pointdose device?")
    return str(uid)


def _write_atomic(path: Path, text: str) -> None:
    from pointdose.files import private_dir, write_private

    private_dir(path.parent)
    write_private(path, text)  # atomic, 0600


class HostCache:
    """Calibrations kept on this computer, by device uid."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else data_dir() / "calibrations"

    def folder(self, uid: str) -> Path:
        return self.root / _safe(uid)

    def save(self, record: CalibrationRecord, *, make_latest: bool = True) -> Path:
        path = self.folder(record.device_uid) / f"{record.id}.json"
        text = record.to_json()
        _write_atomic(path, text)
        if make_latest:
            _write_atomic(self.folder(record.device_uid) / "latest.json", text)
        return path

    def latest(self, uid: str) -> CalibrationRecord | None:
        """The calibration in use for ``uid``; None when there is none. A damaged file is a UserError
        naming it (it is left in place)."""
        path = self.folder(uid) / "latest.json"
        if not path.is_file():
            return None
        return self._read(path)

    def get(self, uid: str, record_id: str) -> CalibrationRecord | None:
        path = self.folder(uid) / f"{record_id}.json"
        return self._read(path) if path.is_file() else None

    def history(self, uid: str) -> list[CalibrationRecord]:
        """Every calibration kept for ``uid``, oldest first (damaged files skipped)."""
        out = []
        folder = self.folder(uid)
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
            if path.name == "latest.json":
                continue
            try:
                out.append(self._read(path))
            except UserError:
                continue
        return sorted(out, key=lambda r: r.created)

    @staticmethod
    def _read(path: Path) -> CalibrationRecord:
        try:
            text = read_user_file(path, what="calibration file", max_bytes=4 * 1024 * 1024,
                                  hint="move the file away to go on")
            return CalibrationRecord.from_json(text)
        except (OSError, ValueError, RecursionError) as exc:
            raise UserError(f"{path}: cannot read this calibration ({exc}); move the file away to go on") from None


# --------------------------------------------------------------------------- device


def device_storage_supported(link) -> bool:
    """Does this link (and so this firmware) offer calibration storage on the device?"""
    return all(callable(getattr(link, name, None)) for name in ("read_calibration", "write_calibration",
                                                                  "clear_calibration"))


NO_DEVICE_STORAGE = ("this firmware cannot store a calibration on the device yet (update it with pointdose flash); "
                     "the calibration is kept on this computer only")


def read_device(link) -> CalibrationRecord | None:
    """The calibration stored on the device; None when it has none (or cannot store one).

    A blob that is not a calibration record is a UserError saying so (the blob is left alone)."""
    if not device_storage_supported(link):
        return None
    blob = link.read_calibration()
    if not blob:
        return None
    try:
        return CalibrationRecord.from_json(bytes(blob))
    except ValueError as exc:
        raise UserError(f"the calibration stored on the device cannot be read ({exc}): calibrate again") from None


def _is_streaming(link) -> bool:
    state = getattr(link, "state", None)
    name = getattr(state, "name", None) or str(state)
    return name.split(".")[-1].lower() == "streaming"


def write_device(link, record: CalibrationRecord) -> bool:
    """Write ``record`` to the device's flash (stopping the stream meanwhile); False if unsupported."""
    if not device_storage_supported(link):
        return False
    blob = record.to_blob()
    was_streaming = _is_streaming(link)
    if was_streaming:
        link.stop()
    try:
        link.write_calibration(blob)
    finally:
        if was_streaming:
            link.start()
    return True


# --------------------------------------------------------------------------- what to use


@dataclass(frozen=True)
class Loaded:
    """The calibration chosen for a device, where it came from, and what to tell the user."""

    record: CalibrationRecord | None  # usable record, or None (the app falls back to hello's factory scale)
    source: str  # "device", "host", "none"
    assessment: Assessment
    storage_supported: bool
    notes: tuple[str, ...] = ()  # facts worth saying (device empty but host copy used, …)
    candidate: CalibrationRecord | None = None  # the record found, even when refused

    @property
    def messages(self) -> tuple[str, ...]:
        out = list(self.notes)
        if self.assessment.refusal:
            out.append(self.assessment.refusal)
        out.extend(self.assessment.warnings)
        return tuple(out)


def load_for_device(link, config: SensorConfig, *, cache: HostCache | None = None, now=None,
                    max_age_days: float = DEFAULT_MAX_AGE_DAYS) -> Loaded:
    """Choose the calibration for the device behind ``link``: the device's own first (it travels
    with the sensor), else the host's copy for this uid; then check it against this configuration.

    The device copy is also saved in the host cache (so a device's calibration is never only in one
    place). Runs link I/O: call it off the GUI thread.
    """
    cache = cache or HostCache()
    from pointdose.link.info import device_info

    uid = device_info(link).uid
    supported = device_storage_supported(link)
    notes: list[str] = []
    record = None
    source = "none"
    if supported:
        record = read_device(link)
        if record is not None:
            source = "device"
            if uid and record.device_uid == uid:
                try:
                    known = cache.get(uid, record.id)
                    if known is None:
                        cache.save(record)  # keep the device's copy on this computer too
                    else:
                        record = _merge_checks(known, record)
                except (OSError, UserError):
                    pass
    else:
        notes.append(NO_DEVICE_STORAGE)
    if record is None and uid:
        host = cache.latest(uid)
        if host is not None:
            record, source = host, "host"
            if supported:
                notes.append("the device has no calibration stored; using the copy kept on this computer "
                             f"(made {host.created}) — save it to the device from the Calibrate tab")
    result = assess(record, device_uid=uid, config=config, now=now, max_age_days=max_age_days)
    return Loaded(record if result.usable else None, source, result, supported, tuple(notes), record)


def _merge_checks(host: CalibrationRecord, device: CalibrationRecord) -> CalibrationRecord:
    """The host copy has every point and check; add checks only the device copy has."""
    from dataclasses import replace

    seen_v = {json.dumps(v, sort_keys=True) for v in host.verifications}
    seen_d = {json.dumps(d, sort_keys=True) for d in host.drift_checks}
    extra_v = tuple(v for v in device.verifications if json.dumps(v, sort_keys=True) not in seen_v)
    extra_d = tuple(d for d in device.drift_checks if json.dumps(d, sort_keys=True) not in seen_d)
    return replace(host, verifications=host.verifications + extra_v, drift_checks=host.drift_checks + extra_d)


def save_everywhere(link, record: CalibrationRecord, cache: HostCache | None = None) -> tuple[bool, Path]:
    """Save ``record`` in the host cache and on the device. Returns (written to device, host path).

    The host copy is written first, so a failure on the device never loses the calibration."""
    cache = cache or HostCache()
    path = cache.save(record)
    on_device = write_device(link, record) if link is not None else False
    return on_device, path
