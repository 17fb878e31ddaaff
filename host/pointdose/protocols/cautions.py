"""What may start at a point: region cautions, the client's screening, and targets against the PPT.

One decision function, :func:`decide`, used by ``pointdose session`` and by the app's Session tab,
so the terminal and the window refuse, lower and ask the same things::

    d = decide(protocol, location=bodymap.location("sternocleidomastoid.upper"),
               screening={"anticoagulants"}, point=PointContext(ppt=...), self_massage=False)
    d.check(acknowledged=False, confirmed=False)   # ProtocolError (one line) when it may not start
    protocol = d.apply(protocol)                   # the limits lowered by every caution that applies

Where the cautions come from:

* **Region cautions** belong to body-map locations (:attr:`pointdose.bodymap.Location.cautions`),
  or are named by hand for a point off the map (``--region``).
* **Screening** belongs to the client (``pointdose clients screen``; stored, dated, in the
  records): anticoagulants, suspected DVT, … Any number combine with any region.
* **The client's own PPT** (never another client's): absolute targets above 100 % of it are
  flagged, above :data:`PPT_CEILING_PCT` they need an explicit confirmation.

Actions, strongest first: ``refuse`` (contraindicated: never starts), ``confirm`` (a target above
the PPT ceiling: starts only when confirmed), ``acknowledge`` (lower limits; starts once the user
has read the warning, and the acknowledgement is recorded with the application), ``note`` (shown).

Every number here that touches a body is either cited (``source``) or labelled a setting; the
table is in docs/protocols.md ("Cautions and contraindications").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable

from pointdose.protocols.model import Limits, PointContext, Protocol, ProtocolError

PPT_CEILING_PCT = 120.0  # setting: an absolute target above this % of the client's PPT needs a confirmation
ACTIONS = ("refuse", "confirm", "acknowledge", "note")
SETTING = "a setting (no published figure)"
ANATOMY = "standard anatomy (Gray's Anatomy)"
TRAVELL_1 = "Simons, Travell & Simons 1999, Trigger Point Manual vol. 1"
TRAVELL_2 = "Travell & Simons 1992, Trigger Point Manual vol. 2"
BATAVIA = "Batavia 2004, J Bodyw Mov Ther 8:48 (contraindications listed by massage texts)"
ESC_SYNCOPE = "Brignole et al. 2018, ESC syncope guidelines, Eur Heart J 39:1883 (carotid sinus massage)"


@dataclass(frozen=True)
class RegionCaution:
    key: str
    label: str
    max_kpa: float  # a setting
    max_hold_s: float  # a setting
    warning: str
    source: str
    no_sustained: bool = False  # refuse protocols with a sustained compression (holds)
    no_self_massage: bool = False  # refuse everything in self-massage mode


@dataclass(frozen=True)
class ScreeningItem:
    key: str
    label: str
    warning: str
    source: str
    refuse_parts: frozenset = frozenset()  # body parts where it refuses (bodymap.PARTS)
    refuse_regions: frozenset = frozenset()  # region cautions where it refuses
    parts: frozenset | None = None  # where it lowers the limits and asks (None: everywhere)
    max_kpa: float | None = None  # a setting
    max_hold_s: float | None = None  # a setting


# fmt: off
REGIONS: dict[str, RegionCaution] = {c.key: c for c in (
    RegionCaution("anterior_neck", "anterior neck / carotid sinus", 100.0, 10.0,
                  "Anterior neck: the carotid artery and sinus lie under the sternocleidomastoid; pressure on the "
                  "sinus can slow the heart and drop the blood pressure. No sustained compression here: only a "
                  "brief PPT measurement, never over a pulse; treat the SCM by pincer grasp, lifted away from the "
                  "carotid.",
                  f"{ESC_SYNCOPE}; {TRAVELL_1}, sternocleidomastoid (pincer palpation); limits {SETTING}",
                  no_sustained=True, no_self_massage=True),
    RegionCaution("posterior_triangle", "posterior triangle of the neck", 150.0, 30.0,
                  "Posterior triangle: the brachial plexus and the subclavian artery pass between the scalenes. "
                  "Press lightly and stop at tingling or numbness in the arm.",
                  f"{TRAVELL_1}, scalene muscles; {ANATOMY}; limits {SETTING}"),
    RegionCaution("suboccipital", "suboccipital region", 200.0, 60.0,
                  "Suboccipitals: the vertebral artery crosses the suboccipital triangle and the occipital nerves "
                  "are close. Press gently; stop at dizziness, visual change or tingling.",
                  f"{ANATOMY}; limits {SETTING}"),
    RegionCaution("axilla", "axilla", 150.0, 30.0,
                  "Axilla: the axillary artery and the cords of the brachial plexus run here. Press beside them, "
                  "not on a pulse; stop at tingling in the arm.",
                  f"{ANATOMY}; {TRAVELL_1}, subscapularis; limits {SETTING}"),
    RegionCaution("femoral_triangle", "femoral triangle", 150.0, 30.0,
                  "Femoral triangle: the femoral nerve, artery and vein lie side by side. Press lateral to the "
                  "artery's pulse, never on it.",
                  f"{ANATOMY}; {TRAVELL_2}, iliopsoas; limits {SETTING}"),
    RegionCaution("popliteal_fossa", "popliteal fossa (back of the knee)", 100.0, 30.0,
                  "Back of the knee: the popliteal artery, vein and tibial nerve are superficial. Avoid the centre "
                  "of the fossa.",
                  f"{ANATOMY}; limits {SETTING}"),
    RegionCaution("abdomen", "abdomen", 150.0, 30.0,
                  "Abdomen: the aorta and the viscera lie under the wall. Press beside a pulsation, never on it; "
                  "stop at deep or referred pain.",
                  f"{ANATOMY}; {TRAVELL_1}, abdominal muscles; limits {SETTING}"),
)}

SCREENING: dict[str, ScreeningItem] = {s.key: s for s in (
    ScreeningItem("anticoagulants", "takes anticoagulants",
                  "Anticoagulants: bruising and bleeding come easily. Press gently.",
                  f"domain notes (cautions); {BATAVIA}; limits {SETTING}", max_kpa=200.0, max_hold_s=60.0),
    ScreeningItem("suspected_dvt", "suspected deep-vein thrombosis",
                  "Suspected deep-vein thrombosis: no pressure on the legs (a clot could be dislodged); refer the "
                  "client to a doctor first.",
                  f"domain notes (cautions); {BATAVIA}",
                  refuse_parts=frozenset({"groin", "thigh", "knee", "lower_leg"})),
    ScreeningItem("varicose_veins", "varicose veins",
                  "Varicose veins: never press on a visible varicosity.",
                  f"{BATAVIA}; limits {SETTING}", parts=frozenset({"groin", "thigh", "knee", "lower_leg"}),
                  max_kpa=100.0, max_hold_s=30.0),
    ScreeningItem("malignancy", "cancer (current or under treatment)",
                  "Malignancy: never over a tumour or a known metastasis; bone may be fragile. Follow the "
                  "oncology team's advice.",
                  f"{BATAVIA}; limits {SETTING}", max_kpa=200.0),
    ScreeningItem("osteoporosis", "osteoporosis",
                  "Osteoporosis: ribs and vertebrae break under less force. Press gently over bone.",
                  f"limits {SETTING}", max_kpa=200.0),
    ScreeningItem("lymphoedema", "lymphoedema",
                  "Lymphoedema: no firm pressure on the affected limb or quadrant.",
                  f"limits {SETTING}", max_kpa=100.0, max_hold_s=30.0),
    ScreeningItem("reduced_sensation", "reduced sensation",
                  "Reduced sensation: the client may not feel or report pain in time, and a PPT needs the first "
                  "pain felt. Stay well below discomfort.",
                  f"limits {SETTING}", max_kpa=150.0),
    ScreeningItem("wounds_or_infection", "wounds, infection or inflamed skin",
                  "Wounds or infection: never over or next to a wound, an infection or inflamed skin.",
                  BATAVIA),
    ScreeningItem("pregnancy", "pregnancy",
                  "Pregnancy: no pressure on the abdomen; the risk of venous thrombosis is raised, so ask about "
                  "leg pain and swelling.",
                  f"abdomen refused: {SETTING}", refuse_regions=frozenset({"abdomen"})),
    ScreeningItem("recent_surgery", "recent surgery",
                  "Recent surgery: never over or near the operated area; ask the surgical team when in doubt.",
                  f"limits {SETTING}", max_kpa=150.0),
)}
# fmt: on

# Relative defaults offered when the client has a PPT (settings: no published standard fixes them; the
# absolute defaults they replace sit at 60–120 % of the typical cervical PPTs, Prushansky 2004).
RELATIVE_DEFAULTS: dict[str, dict[str, str]] = {
    "tppr": {"target": "70 %PPT"},
    "holds": {"target": "80 %PPT"},
    "alternating": {"high": "90 %PPT"},  # the low level stays a light contact (builtin: under capillary pressure)
}


def canonical(key: str) -> str:
    return str(key).strip().lower().replace("-", "_").replace(" ", "_")


def region_keys(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """Region caution keys from ``"anterior_neck,axilla"`` (``-`` or ``_``); ProtocolError otherwise."""
    if not text:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for item in items:
        key = canonical(item)
        if not key or key in ("none", "(none)"):
            continue
        if key in SCREENING or key in ("calf_thrombosis",):
            item_key = "suspected_dvt" if key == "calf_thrombosis" else key
            raise ProtocolError(f"{item.strip()!r} is about the client, not a body region: record it with "
                                f"`pointdose clients screen CODE --set {item_key}` and give --client CODE")
        if key not in REGIONS:
            raise ProtocolError(f"unknown region caution {item.strip()!r}: use one of {', '.join(REGIONS)}")
        if key not in out:
            out.append(key)
    return tuple(out)


def screening_keys(items: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        key = canonical(item)
        if key not in SCREENING:
            raise ProtocolError(f"unknown screening item {item!r}: use one of {', '.join(SCREENING)}")
        if key not in out:
            out.append(key)
    return tuple(out)


@dataclass(frozen=True)
class Finding:
    key: str
    origin: str  # "location", "screening", "ppt", "point"
    action: str  # one of ACTIONS
    text: str
    max_kpa: float | None = None
    max_hold_s: float | None = None
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "origin": self.origin, "action": self.action, "text": self.text,
                "max_kpa": self.max_kpa, "max_hold_s": self.max_hold_s, "source": self.source}


@dataclass(frozen=True)
class Decision:
    findings: tuple[Finding, ...] = ()
    ppt_line: str = ""  # where the %PPT reference came from, for the user

    def _of(self, action: str) -> list[Finding]:
        return [f for f in self.findings if f.action == action]

    @property
    def refusals(self) -> list[Finding]:
        return self._of("refuse")

    @property
    def confirmations(self) -> list[Finding]:
        return self._of("confirm")

    @property
    def acknowledgements(self) -> list[Finding]:
        return self._of("acknowledge")

    @property
    def notes(self) -> list[Finding]:
        return self._of("note")

    @property
    def needs_ack(self) -> bool:
        return bool(self.acknowledgements)

    @property
    def needs_confirm(self) -> bool:
        return bool(self.confirmations)

    @property
    def max_kpa(self) -> float | None:
        vals = [f.max_kpa for f in self.findings if f.max_kpa is not None and f.action == "acknowledge"]
        return min(vals) if vals else None

    @property
    def max_hold_s(self) -> float | None:
        vals = [f.max_hold_s for f in self.findings if f.max_hold_s is not None and f.action == "acknowledge"]
        return min(vals) if vals else None

    def limits(self, base: Limits) -> Limits:
        return base.lowered(max_kpa=self.max_kpa, max_hold_s=self.max_hold_s)

    def apply(self, protocol: Protocol) -> Protocol:
        """``protocol`` with its limits lowered by every acknowledged caution."""
        lowered = self.limits(protocol.limits)
        return protocol if lowered == protocol.limits else replace(protocol, limits=lowered)

    def check(self, *, acknowledged: bool, confirmed: bool = False, ack_hint: str = "--accept-caution",
              confirm_hint: str = "--confirm-above-ppt") -> None:
        """Raise ProtocolError (one line, what to do) unless the application may start."""
        if self.refusals:
            f = self.refusals[0]
            more = f" (and {len(self.refusals) - 1} more refusal(s))" if len(self.refusals) > 1 else ""
            raise ProtocolError(f"refused — {f.text}{more}")
        if self.confirmations and not confirmed:
            raise ProtocolError(f"{self.confirmations[0].text}: lower the target, give it in %PPT, or confirm "
                                f"with {confirm_hint}")
        if self.acknowledgements and not acknowledged:
            labels = "; ".join(f.key.replace("_", " ") for f in self.acknowledgements)
            raise ProtocolError(f"cautions to acknowledge before starting ({labels}): read them, then start with "
                                f"{ack_hint}")

    def lines(self) -> list[str]:
        """Every finding, strongest first, for the terminal or the Session tab."""
        tag = {"refuse": "REFUSED", "confirm": "CONFIRM", "acknowledge": "CAUTION", "note": "note"}
        out = [f"{tag[f.action]} — {f.text}" for a in ACTIONS for f in self.findings if f.action == a]
        if self.max_kpa is not None or self.max_hold_s is not None:
            parts = []
            if self.max_kpa is not None:
                parts.append(f"max {self.max_kpa:.0f} kPa")
            if self.max_hold_s is not None:
                parts.append(f"holds ≤ {self.max_hold_s:.0f} s")
            out.append("limits lowered for these cautions: " + ", ".join(parts))
        return out

    def record(self, *, acknowledged: bool, confirmed: bool) -> dict[str, Any]:
        """What is kept with the application (records: ``application_cautions``)."""
        return {"findings": [f.as_dict() for f in self.findings if f.action != "refuse"],
                "acknowledged": bool(acknowledged and self.needs_ack), "confirmed": bool(confirmed and self.needs_confirm)}


def sustained(protocol: Protocol) -> bool:
    """Does the protocol keep pressure on the point (a hold, or an ease to a level), not just a PPT ramp?"""
    return any(ph.kind == "hold" or (ph.kind == "ease" and ph.target is not None) for ph in protocol.phases)


def decide(protocol: Protocol, *, location: Any = None, regions: Iterable[str] | str | None = (),
           screening: Iterable[str] | None = None, screened_at: str | None = None, self_massage: bool = False,
           point: PointContext | None = None, ppt_source: str = "",
           ppt_ceiling_pct: float = PPT_CEILING_PCT) -> Decision:
    """Everything that decides whether ``protocol`` may start at this point for this client.

    ``location``: a :class:`pointdose.bodymap.Location` (its part and region cautions), or None for a
    point off the body map; ``regions``: region cautions named by hand (added to the location's);
    ``screening``: the client's active screening keys (None: no client, or never screened);
    ``point``: the PointContext with the client's own PPT (for the target checks); ``ppt_source``:
    how to say where that PPT came from.
    """
    findings: list[Finding] = []
    keys = list(region_keys(regions))
    part = getattr(location, "part", None)
    for key in getattr(location, "cautions", ()) or ():
        if key not in keys:
            keys.append(key)
    hold = sustained(protocol)
    for key in keys:
        c = REGIONS[key]
        if c.no_self_massage and self_massage:
            findings.append(Finding(key, "location", "refuse", f"{c.label}: never in self-massage mode. {c.warning}",
                                    source=c.source))
        elif c.no_sustained and hold:
            findings.append(Finding(key, "location", "refuse",
                                    f"{c.label}: no sustained compression (the {protocol.name} protocol keeps the "
                                    f"pressure on). {c.warning}", source=c.source))
        else:
            findings.append(Finding(key, "location", "acknowledge", c.warning, c.max_kpa, c.max_hold_s, c.source))
    if screening is None:
        findings.append(Finding("not_screened", "screening", "note",
                                "no screening on record for this client: ask about anticoagulants, a suspected DVT, "
                                "varicose veins, cancer, osteoporosis, lymphoedema, sensation, wounds, pregnancy and "
                                "recent surgery (`pointdose clients screen CODE --set …`)"))
        active: tuple[str, ...] = ()
    else:
        active = screening_keys(screening)
    when = f" (client screening of {screened_at[:10]})" if screened_at else " (client screening)"
    for key in active:
        s = SCREENING[key]
        if s.refuse_parts and part is None:
            findings.append(Finding(key, "screening", "acknowledge",
                                    f"{s.warning} This point is not on the body map: confirm it is not on a "
                                    f"leg.{when}", source=s.source))
            continue
        if part in s.refuse_parts or (s.refuse_regions and s.refuse_regions & set(keys)):
            findings.append(Finding(key, "screening", "refuse", f"{s.warning}{when}", source=s.source))
            continue
        if s.refuse_parts or s.refuse_regions:  # refuses elsewhere; here only a reminder
            findings.append(Finding(key, "screening", "note", f"{s.warning}{when}", source=s.source))
            continue
        if s.parts is not None and part is not None and part not in s.parts:
            findings.append(Finding(key, "screening", "note", f"{s.warning}{when}", source=s.source))
            continue
        findings.append(Finding(key, "screening", "acknowledge", f"{s.warning}{when}", s.max_kpa,
                                s.max_hold_s, s.source))
    if location is None and not keys and point is not None and point.name:
        findings.append(Finding("off_map", "point", "note",
                                f"point {point.name!r} is not on the body map: no region caution is known for it; "
                                "check the place yourself (or name one with --region)"))
    findings.extend(ppt_findings(protocol, point, ppt_source=ppt_source, ceiling_pct=ppt_ceiling_pct))
    return Decision(tuple(findings), ppt_line=ppt_source)


def ppt_findings(protocol: Protocol, point: PointContext | None, *, ppt_source: str = "",
                 ceiling_pct: float = PPT_CEILING_PCT) -> list[Finding]:
    """Absolute targets (kPa, N) against the client's own PPT: above 100 % a warning, above
    ``ceiling_pct`` a confirmation. %PPT targets chose their level relative to the PPT already."""
    if point is None or point.ppt is None or protocol.measure_ppt:
        return []
    if abs(point.ppt.probe_area_cm2 - point.probe_area_cm2) > 1e-6:
        return []  # not comparable (a %PPT target is refused for the same reason)
    ppt = float(point.ppt.kpa)
    if not ppt > 0:
        return []
    out: list[Finding] = []
    ref = f"this client's PPT ({ppt:.0f} kPa{', ' + ppt_source if ppt_source else ''})"
    tops: dict[float, list[str]] = {}  # the same level asked by several phases (press, hold) is said once
    for i, ph in enumerate(protocol.phases):
        if ph.target is None or ph.target.unit == "%PPT":
            continue
        top = ph.target.kpa(point)
        if ph.steps and ph.step is not None:
            top += ph.steps * ph.step.kpa(point)
        tops.setdefault(round(top, 6), []).append(f"{i + 1} ({ph.name})")
    for top, phases in sorted(tops.items(), reverse=True):
        pct = 100.0 * top / ppt
        what = (f"phase{'s' if len(phases) > 1 else ''} {', '.join(phases)} ask{'' if len(phases) > 1 else 's'} for "
                f"up to {top:.0f} kPa = {pct:.0f} % of {ref}")
        if pct > ceiling_pct:
            out.append(Finding(f"above_ppt_ceiling.{phases[0].split()[0]}", "ppt", "confirm",
                               f"{what}, above the {ceiling_pct:.0f} % ceiling (a setting)"))
        elif pct > 100.0:
            out.append(Finding(f"above_ppt.{phases[0].split()[0]}", "ppt", "note", f"{what}: above the pain threshold"))
    return out


def relative_offers(protocol_name: str, given: Iterable[str], point: PointContext | None) -> dict[str, str]:
    """Targets a built-in left at an absolute default, with the %PPT value offered instead (when the
    client has a PPT with this probe): ``{"target": "80 %PPT"}``."""
    if point is None or point.ppt is None or abs(point.ppt.probe_area_cm2 - point.probe_area_cm2) > 1e-6:
        return {}
    given = set(given)
    return {k: v for k, v in RELATIVE_DEFAULTS.get(protocol_name, {}).items() if k not in given}


__all__ = ["ACTIONS", "Decision", "Finding", "PPT_CEILING_PCT", "REGIONS", "RELATIVE_DEFAULTS", "SCREENING",
           "RegionCaution", "ScreeningItem", "canonical", "decide", "ppt_findings", "region_keys",
           "relative_offers", "screening_keys", "sustained"]
