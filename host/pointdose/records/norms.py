"""Published pressure-pain thresholds of healthy people, per muscle, to show beside a client's PPT.

Only figures that could be checked against their source are here (docs/clinical.md lists each with
its citation); a muscle without one reads "no norm". Norms differ by device, probe, ramp rate and
population (domain notes: PPT depends on probe area and ramp rate), so a norm is a rough frame of
reference, never a diagnosis: every line carries its population and source.

A body-map point finds its norm by its muscle (:data:`pointdose.bodymap.LOCATIONS`); a free-text
point by a muscle named in its label ("deltoid L" → deltoid).
"""

from __future__ import annotations

from dataclasses import dataclass

from pointdose import bodymap, units

KGF_CM2_KPA = units.KPA_PER_KGF_PER_CM2  # 98.0665


@dataclass(frozen=True)
class Norm:
    muscle: str
    population: str  # who was measured
    source: str  # short citation
    mean_kpa: float | None = None
    sd_kpa: float | None = None
    low_kpa: float | None = None  # range across people, when that is what was published
    high_kpa: float | None = None
    note: str = ""

    spread_text: str = ""  # a spread published without saying what it is (not used as an SD)

    def text(self) -> str:
        if self.mean_kpa is not None:
            spread = f" ± {self.sd_kpa:.0f}" if self.sd_kpa is not None else self.spread_text
            value = f"{self.mean_kpa:.0f}{spread} kPa"
        else:
            value = f"{self.low_kpa:.0f}–{self.high_kpa:.0f} kPa (range across people)"
        return f"{value}, {self.population} ({self.source})"

    def compare(self, kpa: float) -> str:
        """Where ``kpa`` lies against this norm, in words."""
        if self.mean_kpa is not None and self.sd_kpa:
            z = (kpa - self.mean_kpa) / self.sd_kpa
            where = "below" if z < 0 else "above"
            return f"{abs(z):.1f} SD {where} the mean" if abs(z) >= 0.05 else "at the mean"
        if self.mean_kpa is not None:
            d = kpa - self.mean_kpa
            return f"{abs(d):.0f} kPa {'below' if d < 0 else 'above'} the mean"
        if self.low_kpa is not None and self.high_kpa is not None:
            if kpa < self.low_kpa:
                return "below the healthy range"
            if kpa > self.high_kpa:
                return "above the healthy range"
            return "within the healthy range"
        return ""


def _kgf(v: float) -> float:
    return round(v * KGF_CM2_KPA, 1)


# Each row: docs/clinical.md, "Normative PPT values", has the full citation and what was measured.
NORMS: tuple[Norm, ...] = (
    Norm("upper trapezius", "58 asymptomatic adults, women and men", "Bordachar et al. 2019, Fisioterapia 41:329",
         mean_kpa=_kgf(4.31), sd_kpa=_kgf(2.09), note="4.31 ± 2.09 kg/cm²"),
    Norm("upper trapezius", "24 healthy women", "Persson et al. 2004, J Rehabil Med 36:17",
         low_kpa=88.0, high_kpa=574.0, note="inter-individual range"),
    Norm("infraspinatus", "58 asymptomatic adults, women and men", "Bordachar et al. 2019, Fisioterapia 41:329",
         mean_kpa=_kgf(6.33), sd_kpa=_kgf(2.25), note="6.33 ± 2.25 kg/cm²"),
    Norm("deltoid", "58 asymptomatic adults, women and men (middle deltoid)",
         "Bordachar et al. 2019, Fisioterapia 41:329", mean_kpa=_kgf(5.60), sd_kpa=_kgf(2.28),
         note="5.60 ± 2.28 kg/cm²"),
    Norm("deltoid", "24 healthy women", "Persson et al. 2004, J Rehabil Med 36:17",
         low_kpa=91.0, high_kpa=529.0, note="inter-individual range"),
    Norm("gastrocnemius", "healthy adults", "Polianskis et al. 2001 (domain notes)",
         mean_kpa=482.0, spread_text=" (± 19)", note="482 ± 19 kPa as in the domain notes; whether ± is SD or SEM "
                                                    "is not stated there, so it is not used as an SD"),
)

NO_NORM = "no norm"


def _muscle_of(location: str, label: str | None) -> str | None:
    try:
        return bodymap.location(location).muscle
    except ValueError:
        pass
    text = (label or "").lower()
    for muscle in sorted({n.muscle for n in NORMS}, key=len, reverse=True):
        if muscle in text:
            return muscle
    return None


def norms_for(location: str, label: str | None = None) -> list[Norm]:
    """The published norms for a point's muscle (best first); [] when there are none."""
    muscle = _muscle_of(location, label)
    return [n for n in NORMS if n.muscle == muscle] if muscle else []


def norm_line(location: str, label: str | None, kpa: float | None) -> str:
    """"PPT 300 kPa · norm 423 ± 205 kPa, … (source): 0.6 SD below the mean" or "… · no norm"."""
    found = norms_for(location, label)
    head = f"PPT {kpa:.0f} kPa" if kpa is not None else "PPT not measured"
    if not found:
        return f"{head} · {NO_NORM}"
    parts = []
    for n in found:
        where = n.compare(kpa) if kpa is not None else ""
        parts.append(f"norm {n.text()}" + (f": {where}" if where else ""))
    return f"{head} · " + " · ".join(parts)
