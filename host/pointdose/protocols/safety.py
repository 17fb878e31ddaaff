"""Region cautions as the engine and the runner see them: ``PointContext.region`` names them.

The table and every decision live in :mod:`pointdose.protocols.cautions` (one key spelling,
``anterior_neck``; ``-`` is read as ``_``). Here only what the engine and the runner need as a
last line: the region's lower limits, and a warning that must have been acknowledged. The full
start decision (refusals, the client's screening, targets against the PPT) is
:func:`pointdose.protocols.cautions.decide`, called by ``pointdose session`` and the Session tab.
"""

from __future__ import annotations

from pointdose import metrics
from pointdose.protocols.cautions import REGIONS, RegionCaution, region_keys
from pointdose.protocols.model import Limits, ProtocolError

CAUTIONS = REGIONS
Caution = RegionCaution


def caution(region: str | None) -> RegionCaution | None:
    """The first region caution named in ``region`` ("anterior_neck,axilla"), None for none."""
    keys = region_keys(region)
    return REGIONS[keys[0]] if keys else None


def limits_for(base: Limits, region: str | None) -> Limits:
    out = base
    for key in region_keys(region):
        c = REGIONS[key]
        out = out.lowered(max_kpa=c.max_kpa, max_hold_s=c.max_hold_s)
    return out


def check_caution_acknowledged(region: str | None, acknowledged: bool, protocol=None) -> None:
    """Raise unless the region's cautions were acknowledged; with ``protocol``, also refuse what a
    region never allows (sustained compression over the carotid sinus), whatever was acknowledged."""
    keys = region_keys(region)
    if protocol is not None:
        from pointdose.protocols.cautions import sustained

        for key in keys:
            c = REGIONS[key]
            if c.no_sustained and sustained(protocol):
                raise ProtocolError(f"refused — {c.label}: no sustained compression (the {protocol.name} protocol "
                                    f"keeps the pressure on). {c.warning}")
    if keys and not acknowledged:
        c = REGIONS[keys[0]]
        raise ProtocolError(f"{c.label}: {c.warning} Confirm you have read this before starting "
                            "(--accept-caution on the command line, the acknowledgement box in the app).")


class LimitGuard:
    """The host's own limit checks, sample by sample: the one place they are decided, for the
    protocol engine and for the live loop's training drills alike.

    In order: a saturated reading, a pressure past the calibrated range (``calibrated_max_kpa``),
    past ``max_kpa``, and continuous contact (the one contact definition,
    :class:`pointdose.metrics.ContactTracker`, kept in ``contact``) for over ``max_hold_s``.
    ``None`` switches a check off (a force drill on the thumb sensor has no pressure to limit).
    """

    def __init__(self, *, max_kpa: float | None, max_hold_s: float | None, calibrated_max_kpa: float | None,
                 contact_kpa: float) -> None:
        self.max_kpa = max_kpa
        self.max_hold_s = max_hold_s
        self.calibrated_max_kpa = calibrated_max_kpa
        self.contact = metrics.ContactTracker(contact_kpa)
        self._t: float | None = None

    @classmethod
    def for_limits(cls, limits: Limits) -> "LimitGuard":
        """The checks of a protocol's :class:`pointdose.protocols.model.Limits`."""
        return cls(max_kpa=limits.max_kpa, max_hold_s=limits.max_hold_s,
                   calibrated_max_kpa=limits.calibrated_max_kpa, contact_kpa=limits.contact_kpa)

    def sample(self, t: float, p: float, saturated: bool) -> tuple[str, str] | None:
        """One sample in time order: ``(kind, text)`` of the limit it passes, None when within."""
        self._t = t
        if saturated:
            return "saturation", "the sensor is saturated (reading at the end of its range): release"
        if self.calibrated_max_kpa is not None and p > self.calibrated_max_kpa:
            return "out_of_range", (f"{p:.0f} kPa is beyond the calibrated range "
                                    f"({self.calibrated_max_kpa:.0f} kPa): release")
        if self.max_kpa is not None and p > self.max_kpa:
            return "max_pressure", f"{p:.0f} kPa is over the {self.max_kpa:.0f} kPa limit: release"
        if self.contact.update(t, p) and self.max_hold_s is not None and t - self.contact.since > self.max_hold_s:
            return "max_hold", f"pressed continuously for over {self.max_hold_s:.0f} s: release"
        return None

    def check(self, t_s, pressure_kpa, saturated) -> tuple[int, str, str] | None:
        """``(index, kind, text)`` of the first sample past a limit, None when every one is within. A
        sample earlier than the newest seen (a clock correction) is not checked, as in the engine."""
        for i in range(len(t_s)):
            t = float(t_s[i])
            if self._t is not None and t < self._t - 1e-9:
                continue
            hit = self.sample(t, float(pressure_kpa[i]), bool(saturated[i]))
            if hit is not None:
                return (i, *hit)
        return None
