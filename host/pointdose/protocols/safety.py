"""Region cautions as the engine and the runner see them: ``PointContext.region`` names them.

The table and every decision live in :mod:`pointdose.protocols.cautions` (one key spelling,
``anterior_neck``; ``-`` is read as ``_``). Here only what the engine and the runner need as a
last line: the region's lower limits, and a warning that must have been acknowledged. The full
start decision (refusals, the client's screening, targets against the PPT) is
:func:`pointdose.protocols.cautions.decide`, called by ``pointdose session`` and the Session tab.
"""

from __future__ import annotations

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
