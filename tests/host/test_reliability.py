"""ICC, SEM, MDC95 and Bland–Altman against hand-computed values and published worked examples."""

import math

import pytest

from pointdose.records import reliability as rel

Z = 1.959963984540054


def test_icc_forms_match_a_hand_computed_table():
    # 3 targets × 2 measurements. Grand mean 62/3; SS total 1384/3, rows 1348/3, columns 8/3, error 28/3;
    # MSR 674/3, MSC 8/3, MSE 14/3, MSW 4.
    t = [[10, 12], [20, 18], [30, 34]]
    a = rel.anova(t)
    assert (a.msr, a.msc, a.mse, a.msw) == pytest.approx((674 / 3, 8 / 3, 14 / 3, 4.0))
    assert rel.icc(t, "2,1") == pytest.approx(660 / 684)  # (MSR−MSE)/(MSR+(k−1)MSE+k(MSC−MSE)/n)
    assert rel.icc(t, "3,1") == pytest.approx(660 / 688)  # (MSR−MSE)/(MSR+(k−1)MSE)
    assert rel.icc(t, "1,1") == pytest.approx(662 / 686)  # (MSR−MSW)/(MSR+(k−1)MSW)
    r = rel.reliability(t)
    sd = math.sqrt(1384 / 15)
    assert r.sd == pytest.approx(sd)
    assert r.sem == pytest.approx(sd * math.sqrt(1 - 660 / 684))
    assert r.mdc95 == pytest.approx(Z * math.sqrt(2) * sd * math.sqrt(1 - 660 / 684))
    assert r.sem == pytest.approx(1.799, abs=1e-3) and r.mdc95 == pytest.approx(4.988, abs=1e-3)


def test_shrout_fleiss_1979_worked_example():
    """Shrout & Fleiss (1979), Psychol Bull 86:420, Table 2 data (6 targets, 4 judges) and the
    ICCs they report: ICC(1,1) .17, ICC(2,1) .29, ICC(3,1) .71, ICC(1,4) .44, ICC(2,4) .62, ICC(3,4) .91."""
    t = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    got = {f: round(rel.icc(t, f), 2) for f in rel.FORMS}
    assert got == {"1,1": 0.17, "2,1": 0.29, "3,1": 0.71, "1,k": 0.44, "2,k": 0.62, "3,k": 0.91}


def test_bland_altman_hand_computed():
    ba = rel.bland_altman([100, 200, 300], [110, 190, 320])
    assert ba.diffs == (10, -10, 20) and ba.means == (105, 195, 310)
    assert ba.bias == pytest.approx(20 / 3)
    sd = math.sqrt(700 / 3)  # deviations 10/3, −50/3, 40/3: SS 1400/3 over 2 df
    assert ba.sd_diff == pytest.approx(sd)
    assert (ba.loa_low, ba.loa_high) == pytest.approx((20 / 3 - Z * sd, 20 / 3 + Z * sd))


def test_bland_altman_1986_peak_flow_example():
    """Bland & Altman (1986), Lancet 1:307: the first readings of 17 people with the large and the mini
    Wright peak flow meter; they report a mean difference of −2.1 l/min and SD 38.8 l/min."""
    large = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
    mini = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]
    ba = rel.bland_altman(mini, large)  # large − mini, as in the paper
    assert round(ba.bias, 1) == -2.1 and round(ba.sd_diff, 1) == 38.8
    assert round(ba.loa_low) == -78 and round(ba.loa_high) == 74


def test_sem_rules_and_too_few_data():
    assert rel.sem(20.0, -0.3) == 20.0  # a negative ICC counts as 0
    assert rel.sem(20.0, 1.0) == 0.0
    with pytest.raises(rel.TooFewData, match="at least 2 measured targets"):
        rel.reliability([[300, 310, 305]])
    with pytest.raises(rel.TooFewData, match="at least 2 measurements"):
        rel.reliability([[300], [310]])
    with pytest.raises(rel.TooFewData, match="at least 2 pairs"):
        rel.bland_altman([300], [310])
    with pytest.raises(ValueError, match="same number"):
        rel.reliability([[1, 2], [3]])
    with pytest.raises(ValueError, match="unknown ICC form"):
        rel.icc([[1, 2], [3, 4]], "4,1")
    assert math.isnan(rel.icc([[5, 5], [5, 5]]))  # no variance at all: undefined, not 0 or 1
