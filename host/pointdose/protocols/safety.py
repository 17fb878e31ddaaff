"""Body-region cautions: lower limits and a warning the user must acknowledge before starting.

The regions come from the project's domain notes ("Cautions: anterior neck / carotid region
(sternocleidomastoid), suboccipitals, popliteal fossa, a calf with suspected thrombosis,
anticoagulant use: lower limits and a warning before pressing"). No published figure fixes the
limits, so they are conservative settings, well under the typical PPTs of 100–600 kPa on 1 cm²
(domain notes, "Pressure-pain threshold"): change them only with clinical judgement.
"""

from __future__ import annotations

from dataclasses import dataclass

from pointdose.protocols.model import Limits, ProtocolError


@dataclass(frozen=True)
class Caution:
    key: str
    label: str
    max_kpa: float
    max_hold_s: float
    warning: str


CAUTIONS: dict[str, Caution] = {c.key: c for c in (
    Caution("anterior-neck", "anterior neck / carotid region", 100.0, 30.0,
            "Anterior neck: the carotid artery and sinus lie under the sternocleidomastoid. Press lightly, "
            "never over a pulse, and stop at any dizziness. Limit lowered to 100 kPa, holds to 30 s."),
    Caution("suboccipital", "suboccipitals", 200.0, 60.0,
            "Suboccipitals: the vertebral artery and occipital nerves are close. Press gently and stop at "
            "dizziness, visual change or tingling. Limit lowered to 200 kPa, holds to 60 s."),
    Caution("popliteal-fossa", "popliteal fossa (back of the knee)", 100.0, 30.0,
            "Back of the knee: the popliteal artery, vein and tibial nerve are superficial. Avoid the centre "
            "of the fossa. Limit lowered to 100 kPa, holds to 30 s."),
    Caution("calf-thrombosis", "calf with suspected thrombosis", 30.0, 10.0,
            "Suspected deep-vein thrombosis (a swollen, warm, tender calf): do NOT massage it; see a doctor "
            "first. Limit lowered to 30 kPa, holds to 10 s, for a light touch only."),
    Caution("anticoagulants", "anticoagulant use (any region)", 200.0, 60.0,
            "Anticoagulants: bruising comes easily. Press gently. Limit lowered to 200 kPa, holds to 60 s."),
)}


def caution(region: str | None) -> Caution | None:
    """The caution for ``region`` (None for a region without one); ProtocolError for an unknown key
    that looks like one of ours is not raised: any free-text region without a caution is allowed."""
    if not region:
        return None
    return CAUTIONS.get(region.strip().lower())


def limits_for(base: Limits, region: str | None) -> Limits:
    c = caution(region)
    return base if c is None else base.lowered(max_kpa=c.max_kpa, max_hold_s=c.max_hold_s)


def check_caution_acknowledged(region: str | None, acknowledged: bool) -> None:
    c = caution(region)
    if c is not None and not acknowledged:
        raise ProtocolError(f"{c.warning} Confirm you have read this before starting "
                            "(--accept-caution on the command line, the Start button's confirmation in the app).")
