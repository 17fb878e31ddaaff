"""Test–retest reliability of repeated PPTs: ICC, SEM, MDC95 and Bland–Altman limits (pure math).

Input is an ``n × k`` table: ``n`` targets (rows: e.g. the sessions a point was measured in, or a
client's points) measured ``k`` times each (columns: the trials of each PPT, or two sessions).

* **ICC** from the two-way ANOVA without replication (Shrout & Fleiss 1979, Psychol Bull 86:420;
  McGraw & Wong 1996, Psychol Methods 1:30). With MSR (rows), MSC (columns), MSE (residual) and
  MSW (within rows, one-way):

  - ICC(1,1) = (MSR − MSW) / (MSR + (k−1)·MSW)
  - ICC(2,1) = (MSR − MSE) / (MSR + (k−1)·MSE + k·(MSC − MSE)/n)   — two-way random, absolute
    agreement, single measurement: McGraw & Wong's ICC(A,1). **The one pointdose reports**: a
    systematic shift between trials or sessions (a first trial that runs high, a learning effect)
    counts as error, as it does for a clinician comparing one PPT with the next.
  - ICC(3,1) = (MSR − MSE) / (MSR + (k−1)·MSE)                     — consistency (shown beside it).
  - ICC(x,k): the same for the mean of the k columns (Spearman–Brown).

  Shrout & Fleiss's worked example (6 targets × 4 judges) gives ICC(1,1) 0.17, ICC(2,1) 0.29,
  ICC(3,1) 0.71 — ``tests/host/test_reliability.py`` checks these.
* **SEM = SD · √(1 − ICC)**, SD the standard deviation of all the table's values (Weir 2005,
  J Strength Cond Res 19:231); an ICC below 0 is taken as 0 there (the SEM is then the SD).
* **MDC95 = 1.96 · √2 · SEM** (Weir 2005; the smallest change between two single measurements
  beyond the error with 95 % confidence).
* **Bland–Altman** (Bland & Altman 1986, Lancet 1:307): the differences d = b − a, bias = mean d,
  limits of agreement = bias ± 1.96 · SD(d).

Every function raises :class:`TooFewData` (a ValueError with a sentence for the user) when the
table is too small to say anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from pointdose.pptchange import Z95, mdc95  # the one MDC95 (1.96 · √2 · SEM) the PPT change labels use

FORMS = ("1,1", "2,1", "3,1", "1,k", "2,k", "3,k")
REPORTED_FORM = "2,1"


class TooFewData(ValueError):
    """Not enough repeated measurements for the statistic; the message says what is needed."""


@dataclass(frozen=True)
class Anova:
    """Mean squares of the two-way ANOVA without replication of an n × k table."""

    n: int
    k: int
    grand_mean: float
    msr: float  # between rows (targets)
    msc: float  # between columns (trials / sessions)
    mse: float  # residual
    msw: float  # within rows (one-way: columns and residual pooled)
    sd_all: float  # SD of all n·k values (n·k − 1 degrees of freedom)


def _table(rows: Sequence[Sequence[float]]) -> list[list[float]]:
    table = [[float(v) for v in r] for r in rows]
    if not table:
        raise TooFewData("no repeated measurements")
    k = len(table[0])
    if any(len(r) != k for r in table):
        raise ValueError("every row needs the same number of measurements")
    if any(not math.isfinite(v) for r in table for v in r):
        raise ValueError("measurements must be finite numbers")
    return table


def anova(rows: Sequence[Sequence[float]]) -> Anova:
    """The mean squares of ``rows`` (n ≥ 2 targets, k ≥ 2 measurements each)."""
    t = _table(rows)
    n, k = len(t), len(t[0])
    if n < 2:
        raise TooFewData(f"needs at least 2 measured targets, got {n}")
    if k < 2:
        raise TooFewData(f"needs at least 2 measurements of each target, got {k}")
    grand = sum(map(sum, t)) / (n * k)
    row_means = [sum(r) / k for r in t]
    col_means = [sum(r[j] for r in t) / n for j in range(k)]
    ss_total = sum((v - grand) ** 2 for r in t for v in r)
    ss_rows = k * sum((m - grand) ** 2 for m in row_means)
    ss_cols = n * sum((m - grand) ** 2 for m in col_means)
    ss_err = ss_total - ss_rows - ss_cols
    return Anova(n=n, k=k, grand_mean=grand, msr=ss_rows / (n - 1), msc=ss_cols / (k - 1),
                 mse=max(ss_err, 0.0) / ((n - 1) * (k - 1)), msw=(ss_total - ss_rows) / (n * (k - 1)),
                 sd_all=math.sqrt(ss_total / (n * k - 1)))


def icc(rows: Sequence[Sequence[float]] | Anova, form: str = REPORTED_FORM) -> float:
    """ICC(``form``) of the table (or of its :class:`Anova`): "1,1", "2,1", "3,1", "1,k", "2,k", "3,k".
    NaN when the table has no variance at all (every value equal)."""
    a = rows if isinstance(rows, Anova) else anova(rows)
    n, k, msr, msc, mse, msw = a.n, a.k, a.msr, a.msc, a.mse, a.msw
    if form == "1,1":
        num, den = msr - msw, msr + (k - 1) * msw
    elif form == "2,1":
        num, den = msr - mse, msr + (k - 1) * mse + k * (msc - mse) / n
    elif form == "3,1":
        num, den = msr - mse, msr + (k - 1) * mse
    elif form == "1,k":
        num, den = msr - msw, msr
    elif form == "2,k":
        num, den = msr - mse, msr + (msc - mse) / n
    elif form == "3,k":
        num, den = msr - mse, msr
    else:
        raise ValueError(f"unknown ICC form {form!r}: one of {', '.join(FORMS)}")
    return num / den if den > 0 else float("nan")


def sem(sd: float, icc_value: float) -> float:
    """SEM = SD · √(1 − ICC), an ICC below 0 taken as 0 (Weir 2005)."""
    r = min(1.0, max(0.0, icc_value)) if math.isfinite(icc_value) else 0.0
    return sd * math.sqrt(1.0 - r)


@dataclass(frozen=True)
class Reliability:
    """The reliability of one measurement from an n × k table of repeats."""

    n: int  # targets (rows)
    k: int  # measurements per target (columns)
    icc: float  # ICC(2,1): absolute agreement, single measurement
    icc_consistency: float  # ICC(3,1), for comparison
    sd: float  # SD of all values
    sem: float
    mdc95: float
    mean: float
    form: str = "ICC(2,1), two-way random, absolute agreement, single measurement (Shrout & Fleiss 1979)"

    def describe(self, unit: str = "kPa") -> str:
        return (f"ICC(2,1) {self.icc:.2f} (ICC(3,1) {self.icc_consistency:.2f}), SEM {self.sem:.0f} {unit}, "
                f"MDC95 {self.mdc95:.0f} {unit} — from {self.n} × {self.k} measurements")


def reliability(rows: Sequence[Sequence[float]]) -> Reliability:
    """ICC(2,1), ICC(3,1), SEM and MDC95 of a table of repeated measurements."""
    a = anova(rows)
    r = icc(a, "2,1")
    s = sem(a.sd_all, r)
    return Reliability(n=a.n, k=a.k, icc=r, icc_consistency=icc(a, "3,1"), sd=a.sd_all, sem=s, mdc95=mdc95(s),
                       mean=a.grand_mean)


@dataclass(frozen=True)
class BlandAltman:
    """Agreement between two measurements of the same targets: ``b − a`` against their mean."""

    means: tuple[float, ...]
    diffs: tuple[float, ...]
    bias: float
    sd_diff: float
    loa_low: float
    loa_high: float

    @property
    def n(self) -> int:
        return len(self.diffs)

    def describe(self, unit: str = "kPa") -> str:
        return (f"bias {self.bias:+.0f} {unit}, limits of agreement {self.loa_low:.0f} to {self.loa_high:.0f} {unit} "
                f"(bias ± 1.96 SD, n = {self.n})")


def bland_altman(a: Sequence[float], b: Sequence[float]) -> BlandAltman:
    """Bland–Altman statistics of paired measurements (at least 2 pairs)."""
    if len(a) != len(b):
        raise ValueError("Bland–Altman needs the two measurements of the same targets, in pairs")
    if len(a) < 2:
        raise TooFewData(f"needs at least 2 pairs of measurements, got {len(a)}")
    pa, pb = [float(v) for v in a], [float(v) for v in b]
    diffs = [y - x for x, y in zip(pa, pb)]
    means = [(x + y) / 2 for x, y in zip(pa, pb)]
    bias = sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - bias) ** 2 for d in diffs) / (len(diffs) - 1))
    return BlandAltman(tuple(means), tuple(diffs), bias, sd, bias - Z95 * sd, bias + Z95 * sd)
