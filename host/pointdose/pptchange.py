"""Is a PPT change bigger than the measurement error? Labels from the client's own repeated PPTs.

A change between two PPTs (each the mean of ``k`` trials) is labelled against the smallest change
the measurement can detect, MDC95 = 1.96 · √2 · SEM, where SEM is the standard error of
measurement of one such mean (the usual definition: de Vet, Terwee, Mokkink & Knol 2011,
Measurement in Medicine, "Reliability"). Where the SEM comes from:

* **the client's own trials** (:func:`client_reliability`): the pooled within-session SD of their
  repeated trials at comparable measurements (same probe, ramp rate), divided by √k. It is the
  trial-to-trial error only — day-to-day change in the tissue is not in it — so the label says
  which error it is;
* **a site-specific figure** from a published reliability study (:class:`Reliability` with its
  source), when the caller has one for the site and population;
* otherwise no MDC: the change is shown with the typical repeat differences of healthy people as
  a rough guide, labelled for what they are (Persson 2004: 53–102 kPa were the mean *maximal*
  differences among 4 single measurements in healthy women — not a minimal detectable change).

    >>> r = client_reliability([[300, 310, 320], [400, 390, 410]], k=3)
    >>> round(r.sem_kpa, 2), round(r.mdc95_kpa, 1)
    (5.77, 16.0)
    >>> label_change(350, 380, r).verdict
    'beyond measurement error'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

Z95 = 1.959963984540054  # two-sided 95 % normal quantile
MIN_DF = 2  # pooled within-session degrees of freedom needed before an SD is worth using

# The rough guide when no SEM is known (domain notes, "Pressure-pain threshold"): Persson 2004,
# healthy women, trapezius: mean maximal differences among 4 single measurements.
TYPICAL_REPEAT_DIFF_KPA = (53.0, 102.0)
TYPICAL_REPEAT_SOURCE = ("Persson 2004: mean maximal differences among 4 single measurements in healthy women "
                         "(a rough guide, not a minimal detectable change)")


@dataclass(frozen=True)
class Reliability:
    """The SEM of one PPT (a mean of ``k`` trials) and where it comes from."""

    sem_kpa: float
    source: str
    k: int = 1  # trials averaged in the PPT the SEM is for
    n_trials: int | None = None  # trials it was estimated from (client's own)

    @property
    def mdc95_kpa(self) -> float:
        """The smallest change between two such PPTs beyond measurement error (95 %)."""
        return mdc95(self.sem_kpa)


def mdc95(sem: float) -> float:
    """MDC95 = 1.96 · √2 · SEM: the smallest change between two measurements beyond their error."""
    return Z95 * math.sqrt(2.0) * sem


def pooled_within_sd(sessions: Sequence[Sequence[float]]) -> tuple[float, int] | None:
    """√(Σ over sessions of Σ (xᵢ − session mean)² / Σ (kₛ − 1)) and its degrees of freedom.

    Each inner sequence is one measurement's repeated trials (kPa); single trials add nothing.
    None when there are fewer than :data:`MIN_DF` degrees of freedom."""
    ss, df = 0.0, 0
    for trials in sessions:
        x = [float(v) for v in trials if v is not None and math.isfinite(float(v))]
        if len(x) < 2:
            continue
        m = sum(x) / len(x)
        ss += sum((v - m) ** 2 for v in x)
        df += len(x) - 1
    if df < MIN_DF:
        return None
    return math.sqrt(ss / df), df


def client_reliability(sessions: Sequence[Sequence[float]], k: int = 3) -> Reliability | None:
    """The SEM of a mean of ``k`` trials from the client's own repeated trials (None: too few)."""
    pooled = pooled_within_sd(sessions)
    if pooled is None or k < 1:
        return None
    sd, df = pooled
    n = sum(len([v for v in s if v is not None]) for s in sessions if len(s) >= 2)
    return Reliability(sem_kpa=sd / math.sqrt(k), k=k, n_trials=n,
                       source=f"this client's own repeated trials ({n} trials, within-session SD {sd:.0f} kPa; "
                              "trial-to-trial error only)")


@dataclass(frozen=True)
class ChangeLabel:
    before_kpa: float
    after_kpa: float
    change_kpa: float
    verdict: str  # "beyond measurement error", "within measurement error", or "no error estimate"
    reliability: Reliability | None

    def short(self) -> str:
        sign = "+" if self.change_kpa >= 0 else "−"
        if self.reliability is None:
            return f"{sign}{abs(self.change_kpa):.0f} kPa, no error estimate"
        return f"{sign}{abs(self.change_kpa):.0f} kPa, {self.verdict} (MDC95 {self.reliability.mdc95_kpa:.0f} kPa)"

    def describe(self) -> str:
        sign = "+" if self.change_kpa >= 0 else "−"
        text = f"{sign}{abs(self.change_kpa):.0f} kPa"
        r = self.reliability
        if r is None:
            lo, hi = TYPICAL_REPEAT_DIFF_KPA
            return (f"{text} (no error estimate for this client or site yet; for scale, repeat differences of "
                    f"{lo:.0f}–{hi:.0f} kPa occur in healthy people — {TYPICAL_REPEAT_SOURCE})")
        return (f"{text} ({self.verdict}: MDC95 {r.mdc95_kpa:.0f} kPa = 1.96·√2·SEM {r.sem_kpa:.1f} kPa; "
                f"{r.source})")


def label_change(before_kpa: float, after_kpa: float, reliability: Reliability | None) -> ChangeLabel:
    """The change from ``before`` to ``after`` against the MDC95 of ``reliability`` (if any)."""
    delta = float(after_kpa) - float(before_kpa)
    if reliability is None:
        verdict = "no error estimate"
    else:
        verdict = "beyond measurement error" if abs(delta) >= reliability.mdc95_kpa else "within measurement error"
    return ChangeLabel(float(before_kpa), float(after_kpa), delta, verdict, reliability)
