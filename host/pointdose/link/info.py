"""What a device says about itself in its ``hello`` reply, parsed once into :class:`DeviceInfo`.

The only place that reads hello's ``key=value`` fields (docs/protocol.md): everything else asks a
link for ``link.device`` (or :func:`device_info` for a link, a DeviceInfo or a hello dict) and gets
typed values: numbers as numbers, ``cal=none`` as ``None``, the tare as a float.

    dev = device_info(link)
    if dev.factory_scale is None: ...      # the board states no scale (cal=none or absent)
    dev.tare, dev.gain, dev.raw_range, dev.uid
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping


@dataclass(frozen=True)
class FactoryScale:
    """The device's own linear scale, ``cal=linear:COUNTS_PER_N:ZERO``: force = (raw − zero) / counts_per_n."""

    counts_per_n: float
    zero: float


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


def _text(value: Any) -> str | None:
    text = None if value is None else str(value).strip()
    return text or None


def parse_factory_scale(text: Any) -> FactoryScale | None:
    """``linear:COUNTS_PER_N:ZERO`` → FactoryScale; ``none``, malformed or a zero slope → None."""
    parts = str(text if text is not None else "none").strip().split(":")
    if len(parts) != 3 or parts[0].lower() != "linear":
        return None
    cpn, zero = _num(parts[1]), _num(parts[2])
    if not cpn or zero is None:
        return None
    return FactoryScale(cpn, zero)


@dataclass(frozen=True)
class DeviceInfo:
    """One device's hello, typed. Absent or unreadable fields are None (the tare: 0, none taken)."""

    board: str | None = None
    sensor: str | None = None
    fw: str | None = None
    proto: str | None = None
    rate_hz: float | None = None
    raw_range: tuple[float, float] | None = None  # (raw_min, raw_max): readings at either end are saturated
    gain: str | None = None  # HX711 gain (128/64: channel A, 32: channel B)
    channel: str | None = None
    uid: str | None = None
    boot: str | None = None
    tare: float = 0.0  # raw counts; 0: none taken
    factory_scale: FactoryScale | None = None
    calblob_crc: str | None = None  # CRC of the calibration blob kept on the device; None: none kept
    batch_us: int | None = None
    link: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)  # every field as sent

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any] | None) -> "DeviceInfo":
        """Parse hello's fields (the one hello parser)."""
        f = {str(k): str(v) for k, v in (fields or {}).items()}
        lo, hi = _num(f.get("raw_min")), _num(f.get("raw_max"))
        gain = _text(f.get("gain"))
        sensor = _text(f.get("sensor"))
        channel = _text(f.get("channel"))
        if channel is None and gain is not None and sensor == "hx711":
            channel = "B" if gain == "32" else "A"  # HX711: gain 32 is channel B (domain notes)
        calblob = _text(f.get("calblob"))
        return cls(board=_text(f.get("board")), sensor=sensor, fw=_text(f.get("fw")), proto=_text(f.get("proto")),
                   rate_hz=_num(f.get("rate")), raw_range=(lo, hi) if lo is not None and hi is not None else None,
                   gain=gain, channel=channel, uid=_text(f.get("uid")), boot=_text(f.get("boot")),
                   tare=_num(f.get("tare")) or 0.0, factory_scale=parse_factory_scale(f.get("cal")),
                   calblob_crc=None if calblob in (None, "none") else calblob, batch_us=_int(f.get("batch_us")),
                   link=_text(f.get("link")), fields=f)

    def with_fields(self, **changes: Any) -> "DeviceInfo":
        """This info after the device changed some fields (``rate=``, ``tare=``, ``calblob=``), re-parsed."""
        return DeviceInfo.from_fields({**self.fields, **{k: str(v) for k, v in changes.items()}})

    def without_factory_scale(self) -> "DeviceInfo":
        """As a board that states no scale would report (``cal=none``)."""
        return replace(self, factory_scale=None, fields={**self.fields, "cal": "none"})

    @property
    def cal_text(self) -> str:
        s = self.factory_scale
        return "none" if s is None else f"linear:{s.counts_per_n:g}:{s.zero:g}"


def device_info(source: Any) -> DeviceInfo:
    """The DeviceInfo of a link (its ``device``), of a DeviceInfo, or of hello's fields as a dict."""
    if isinstance(source, DeviceInfo):
        return source
    if source is None or isinstance(source, Mapping):
        return DeviceInfo.from_fields(source)
    dev = getattr(source, "device", None)
    return dev if isinstance(dev, DeviceInfo) else DeviceInfo()
