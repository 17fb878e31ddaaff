"""Sound cues rendered to WAV and measured (FFT peak, duration, beep rate); device cues against a fake link."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pointdose.cues import (AUDIO_UNAVAILABLE, RATE, TONES, CueMixer, DeviceCues, SoundPlayer, WavRecorder,
                            beep_rate, read_wav, render_tone, write_wav)
from pointdose.protocols import CueState


def peak_hz(x: np.ndarray, rate: int = RATE) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spec)])


def bursts(x: np.ndarray, rate: int = RATE) -> list[tuple[int, int]]:
    """(start, end) sample indices of sounding stretches separated by ≥ 10 ms of silence."""
    loud = np.abs(x) > 0.02
    idx = np.flatnonzero(loud)
    if not len(idx):
        return []
    gaps = np.flatnonzero(np.diff(idx) > 0.01 * rate)
    starts = np.r_[idx[0], idx[gaps + 1]]
    ends = np.r_[idx[gaps], idx[-1]]
    return list(zip(starts, ends))


@pytest.mark.parametrize("name", list(TONES))
def test_each_tone_written_to_wav_has_its_frequencies_and_duration(tmp_path, name):
    path = write_wav(tmp_path / f"{name}.wav", render_tone(name))
    x, rate = read_wav(path)
    assert rate == RATE
    notes = TONES[name]
    assert len(x) / rate == pytest.approx(sum(s for _, s, _ in notes), abs=0.002)
    pos = 0
    for freq, seconds, _ in notes:
        n = int(round(seconds * rate))
        assert peak_hz(x[pos:pos + n]) == pytest.approx(freq, abs=1.5 * rate / n)
        pos += n


def test_tones_are_distinct():
    signatures = {name: tuple(round(f) for f, _, _ in notes) + (round(sum(s for _, s, _ in notes), 2),)
                  for name, notes in TONES.items()}
    assert len(set(signatures.values())) == len(TONES)
    assert render_tone("press")[: RATE // 10].std() > 0.3  # audible, not a click


def cue(phase="hold", band="in", level=0, alarm=""):
    return CueState(phase=phase, band=band, level=level, alarm=alarm)


@pytest.mark.parametrize("band,freq", [("below", 330.0), ("above", 1320.0)])
@pytest.mark.parametrize("level", [0, 50, 100])
def test_band_feedback_beeps_low_for_harder_high_for_softer_faster_when_further(band, freq, level):
    mixer = CueMixer(volume=1.0)
    mixer.update(cue(band=band, level=level))
    x = mixer.render(4 * RATE)
    found = bursts(x)
    assert len(found) / 4.0 == pytest.approx(beep_rate(level), abs=0.5)
    s, e = found[1]
    assert (e - s) / RATE == pytest.approx(0.04, abs=0.005)
    assert peak_hz(x[s:e + 1]) == pytest.approx(freq, abs=30)


def test_silence_in_the_band_and_when_muted_and_volume_scales():
    mixer = CueMixer(volume=1.0)
    mixer.update(cue(band="in"))
    assert np.abs(mixer.render(RATE)).max() == 0.0
    mixer.update(cue(band="above", level=100))
    loud = np.abs(mixer.render(RATE)).max()
    mixer.set_volume(0.25)
    assert np.abs(mixer.render(RATE)).max() == pytest.approx(0.25 * loud, rel=0.01)
    mixer.set_muted(True)
    assert np.abs(mixer.render(RATE)).max() == 0.0


def test_phase_events_play_their_tone_and_silence_beeps_while_playing():
    mixer = CueMixer(volume=1.0)
    mixer.update(cue(phase="ramp", band="below", level=0))
    mixer.on_event("phase_start", {"phase": "ramp"})
    x = mixer.render(int(0.3 * RATE))
    first = x[: int(0.15 * RATE)]
    assert peak_hz(first) == pytest.approx(523.25, abs=15)


def test_alarm_repeats_while_the_cue_says_alarm():
    mixer = CueMixer(volume=1.0)
    mixer.on_event("alarm", {"kind": "max_pressure"})
    mixer.update(cue(phase="alarm", band="none"))
    x = mixer.render(4 * RATE)
    onsets = [round(s / RATE, 2) for s, _ in bursts(x)]
    assert onsets == [0.0, 1.5, 3.0]  # a 1 s alarm every 1.5 s
    assert peak_hz(x[: int(0.125 * RATE)]) == pytest.approx(880, abs=20)
    assert np.abs(x[int(1.1 * RATE): int(1.4 * RATE)]).max() == 0.0  # a gap between alarms


def test_recorder_writes_what_was_rendered(tmp_path):
    mixer, rec = CueMixer(volume=1.0), WavRecorder()
    mixer.on_event("phase_start", {"phase": "hold"})
    rec.add(mixer.render(RATE // 2))
    x, _ = read_wav(rec.write(tmp_path / "s.wav"))
    assert len(x) == RATE // 2 and peak_hz(x[: int(0.25 * RATE)]) == pytest.approx(659.25, abs=10)


def test_player_degrades_without_portaudio():
    player = SoundPlayer(CueMixer())
    try:
        import sounddevice  # noqa: F401
    except OSError:
        assert not player.available and player.message.startswith(AUDIO_UNAVAILABLE)
    player.close()


class FakeLink:
    def __init__(self):
        self.cues, self.limits = [], []

    def send_cue(self, phase, band, level):
        self.cues.append((phase, band, level))

    def set_limit(self, max_raw):
        self.limits.append(max_raw)


def test_device_cues_send_on_change_and_refresh_and_feature_detect():
    now = [0.0]
    link = FakeLink()
    dc = DeviceCues(link, clock=lambda: now[0])
    assert dc.update(cue(phase="ramp", band="below", level=80))
    now[0] = 0.1
    assert not dc.update(cue(phase="ramp", band="below", level=85))  # under 10 level steps
    now[0] = 0.2
    assert dc.update(cue(phase="ramp", band="in", level=0))
    now[0] = 0.22
    assert not dc.update(cue(phase="ramp", band="in", level=30))  # level change under 50 ms after the last
    assert dc.update(cue(phase="hold", band="in"))  # a phase change goes at once
    now[0] = 1.4
    assert dc.update(cue(phase="hold", band="in"))  # refresh once a second
    dc.update(CueState(phase="done", band="none"))
    now[0] = 2.0
    dc.update(cue(phase="alarm", band="none"))
    assert link.cues == [("press", "below", 80), ("press", "in", 0), ("hold", "in", 0), ("hold", "in", 0),
                         ("off", "none", 0), ("alarm", "none", 0)]
    assert dc.set_limit(1234) and link.limits == [1234]
    bare = DeviceCues(SimpleNamespace())
    assert not bare.can_cue and not bare.update(cue()) and not bare.set_limit(5)


def test_pain_now_during_pressure_sounds_ease_off_at_once():
    mixer = CueMixer(volume=1.0)
    mixer.update(cue(phase="hold", band="in", level=0))
    mixer.on_event("pain_cap", {"pressure_kpa": 200.0, "cap_kpa": 180.0})
    x = mixer.render(int(0.3 * RATE))
    assert peak_hz(x[: int(0.12 * RATE)]) == pytest.approx(783.99, abs=20)  # the ease tone falls from G5


def test_the_completion_chime_sounds_when_a_protocol_completes_and_only_then():
    for reason, expected in (("completed", True), ("completed: per-point cap reached", True),
                             ("stopped", False), ("alarm: over the limit", False)):
        mixer = CueMixer(volume=1.0)
        mixer.on_event("end", {"reason": reason})
        x = mixer.render(RATE)
        if not expected:
            assert np.abs(x).max() == 0.0, reason
            continue
        n = int(round(0.15 * RATE))  # C5, E5, G5 rising: the "done" tone
        assert [peak_hz(x[k * n:(k + 1) * n]) for k in range(3)] == pytest.approx([523.25, 659.25, 783.99],
                                                                                   abs=1.5 * RATE / n)
        assert np.abs(x[3 * n + 10:]).max() == 0.0  # once, not repeated


def test_the_sound_legend_explains_every_tone_and_the_band_beeps():
    from pointdose.cues import legend

    lines = legend()
    for name in TONES:
        assert any(line.startswith(f"{name}: ") and len(line) > len(name) + 10 for line in lines), name
    text = "\n".join(lines)
    assert "330 Hz" in text and "harder" in text and "1320 Hz" in text and "softer" in text
