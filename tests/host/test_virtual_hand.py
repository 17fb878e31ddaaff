"""The virtual hand on a fake link and scripted cues, in synthetic time (no device, no sleeping)."""

from __future__ import annotations

import numpy as np
import pytest

from pointdose.protocols import CueState
from pointdose.sim.virtual_hand import SKILLS, VirtualHand


class FakeLink:
    def __init__(self):
        self.lines = []

    def command(self, line, timeout=1.0):
        self.lines.append(line)


def profile_points(line):
    body = line.split(" ", 2)[2]
    return [tuple(map(float, p.split(":"))) for p in body.split(",")]


def run_hand(cue_at, seconds, skill="intermediate", **kw):
    link, signals, now = FakeLink(), [], [0.0]
    hand = VirtualHand(link, cue=lambda: cue_at(now[0], hand), signal=lambda kind, source: signals.append((now[0], kind)),
                       skill=skill, clock=lambda: now[0], **kw)
    for k in range(int(seconds / 0.1)):
        now[0] = k * 0.1
        hand.tick(now[0])
    return hand, link, signals


def hold_cue(t, hand, target=200.0):
    p = hand.f * 10.0  # 1 cm²: kPa = N × 10
    band = "below" if p < 180 else "above" if p > 220 else "in"
    if t < 1.0:
        return CueState(phase="rest", target_kpa=0.0, band="in", pressure_kpa=p, cycle=1, phase_index=1)
    return CueState(phase="hold", target_kpa=target, band_lo_kpa=180, band_hi_kpa=220, band=band, pressure_kpa=p,
                    cycle=1, phase_index=2, waiting_for="release")


def test_reacts_after_its_reaction_time_overshoots_then_settles_in_the_band():
    hand, link, _ = run_hand(hold_cue, 8.0, skill="novice", release_after_s=(100, 100))
    log = np.array(hand.log)
    moving = log[log[:, 1] > 0][0, 0]
    assert moving == pytest.approx(1.0 + SKILLS["novice"].reaction_s, abs=0.1)
    force_kpa = log[:, 2] * 10
    assert force_kpa.max() > 200 * 1.02  # an underdamped hand overshoots
    late = force_kpa[(log[:, 0] > 5) & (log[:, 0] < 8)]
    assert 160 < late.mean() < 240


def test_tremor_in_the_profile_is_8_to_12_hz_and_lines_fit_the_device():
    hand, link, _ = run_hand(hold_cue, 4.0, release_after_s=(100, 100))
    assert 8.0 <= hand.tremor_hz <= 12.0
    assert all(len(f"65535 {line}\n") <= 80 for line in link.lines)
    pts = profile_points(link.lines[-1])
    f = np.array([p[1] for p in pts])
    steps = np.diff(f)
    assert np.all(np.sign(steps[:-1]) != np.sign(steps[1:]))  # alternating: extremes every half period
    assert np.diff([p[0] for p in pts]) == pytest.approx([1 / (2 * hand.tremor_hz)] * 4, abs=0.006)
    assert np.abs(steps).mean() == pytest.approx(2 * SKILLS["intermediate"].tremor_n, rel=0.5)


def test_tires_during_a_long_hold_and_corrects_on_the_cue():
    def uncorrected(t, hand):  # a cue that never complains: pure fatigue shows
        c = hold_cue(t, hand)
        return CueState(**{**c.__dict__, "band": "in"}) if c.phase == "hold" else c

    hand, _, _ = run_hand(uncorrected, 30.0, skill="novice", release_after_s=(100, 100))
    log = np.array(hand.log)
    early = log[(log[:, 0] > 3) & (log[:, 0] < 5), 1].mean()
    late = log[(log[:, 0] > 27), 1].mean()
    assert late < early * 0.9  # drifted down as it tired
    hand2, _, _ = run_hand(hold_cue, 30.0, skill="novice", release_after_s=(100, 100))
    late2 = np.array(hand2.log)[-20:, 2].mean() * 10
    assert 175 < late2 < 225  # told "harder", it keeps itself in the band


def test_signals_release_felt_in_a_release_hold():
    _, _, signals = run_hand(hold_cue, 10.0, release_after_s=(4.0, 4.0))
    assert [k for _, k in signals] == ["release"]
    assert signals[0][0] == pytest.approx(1.0 + SKILLS["intermediate"].reaction_s + 4.0, abs=0.15)


def test_ppt_ramp_signals_pain_one_reaction_time_after_its_ppt_and_lets_go():
    def ppt_cue(t, hand):
        p = hand.f * 10.0
        return CueState(phase="ramp", rate_target_kpa_s=50.0, rate_state="ok", band="in", pressure_kpa=p,
                        cycle=1, phase_index=1, waiting_for="pain")

    hand, _, signals = run_hand(ppt_cue, 10.0, skill="expert", ppt_kpa=200.0, ppt_sd_kpa=0.0)
    assert [k for _, k in signals] == ["pain"]
    log = np.array(hand.log)
    t_sig = signals[0][0]
    crossed = log[log[:, 2] * 10 >= 200.0][0, 0]
    assert t_sig - crossed == pytest.approx(SKILLS["expert"].reaction_s, abs=0.11)
    assert log[log[:, 0] > t_sig + 1.5, 2].max() * 10 < 20  # released after the signal


def test_unknown_skill_refused():
    with pytest.raises(ValueError, match="novice, intermediate, expert"):
        VirtualHand(FakeLink(), cue=lambda: None, skill="pro")
