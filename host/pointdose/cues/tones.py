"""Sound cues rendered with numpy: phase tones, an alarm, and continuous band feedback.

Tones (mono float32 at :data:`RATE` Hz, 5 ms fades so they do not click):

========  =============================================  =========
name      sound                                          length
========  =============================================  =========
press     rising C5 → G5 (523 → 784 Hz)                  0.30 s
hold      one E5 (659 Hz)                                0.25 s
ease      falling G5 → C5 (784 → 523 Hz)                 0.30 s
rest      one low G4 (392 Hz), soft                      0.40 s
done      C5 – E5 – G5 rising                            0.45 s
alarm     A5/D6 alternating (880/1175 Hz), 8 × 125 ms    1.00 s
========  =============================================  =========

Band feedback is *bandwidth feedback* (motor-learning practice, domain notes "Training with force
feedback": feedback only when the error is outside a band): silence in the band; short beeps
outside it — low (330 Hz) for "harder" (below the band, or a PPT ramp too slow), high (1320 Hz)
for "softer" (above, or too fast) — faster the further out: 2 beeps/s at the band's edge up to
8 beeps/s at level 100. A cue may ask for an **in-band tone** as well (training does while its
feedback is on): a soft A4 (440 Hz) tick 1.5 times a second inside the band, so that there
silence means "no feedback", never "in the band" (docs/training.md, bandwidth vs constant).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 22050
FADE_S = 0.005
BELOW_HZ = 330.0
ABOVE_HZ = 1320.0
BEEP_S = 0.04
IN_BAND_HZ = 440.0  # the in-band tick, for cues that ask for it
IN_BAND_RATE = 1.5  # ticks/s
IN_BAND_AMP = 0.3
BEEP_RATE_MIN = 2.0  # beeps/s just outside the band
BEEP_RATE_MAX = 8.0  # beeps/s at level 100

# name -> list of (frequency Hz, seconds, relative amplitude)
TONES: dict[str, list[tuple[float, float, float]]] = {
    "press": [(523.25, 0.15, 0.8), (783.99, 0.15, 0.8)],
    "hold": [(659.25, 0.25, 0.8)],
    "ease": [(783.99, 0.15, 0.8), (523.25, 0.15, 0.8)],
    "rest": [(392.00, 0.40, 0.5)],
    "done": [(523.25, 0.15, 0.7), (659.25, 0.15, 0.7), (783.99, 0.15, 0.7)],
    "alarm": [(880.0, 0.125, 1.0), (1174.66, 0.125, 1.0)] * 4,
}

# what each sound means, for the app's legend (the same words as the table above)
MEANINGS: dict[str, str] = {
    "press": "two rising notes: start pressing (ramp up to the band)",
    "hold": "one middle note: hold the pressure in the band (also: the next step of a ramp)",
    "ease": "two falling notes: ease off (also at once after 'pain now')",
    "rest": "one low soft note: rest, probe off",
    "done": "three rising notes: the protocol is complete",
    "alarm": "two high notes alternating, repeated: alarm, release now",
}
BAND_MEANINGS = (
    f"low beeps ({BELOW_HZ:.0f} Hz): press harder (below the band, or a PPT ramp too slow)",
    f"high beeps ({ABOVE_HZ:.0f} Hz): press softer (above the band, or too fast)",
    "beeps come faster the further out; silence: in the band",
    f"soft ticks ({IN_BAND_HZ:.0f} Hz): in the band (training drills, while feedback is on)",
)


def legend() -> list[str]:
    """One line per sound, for the sound legend."""
    return [f"{name}: {MEANINGS[name]}" for name in TONES] + list(BAND_MEANINGS)


def _note(freq: float, seconds: float, amp: float, rate: int) -> np.ndarray:
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    out = amp * np.sin(2 * np.pi * freq * t)
    fade = min(int(FADE_S * rate), n // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        out[:fade] *= ramp
        out[n - fade:] *= ramp[::-1]
    return out.astype(np.float32)


def render_tone(name: str, rate: int = RATE, volume: float = 1.0) -> np.ndarray:
    """The named tone as float32 samples in −1 … 1 (scaled by ``volume`` 0 … 1)."""
    try:
        notes = TONES[name]
    except KeyError:
        raise ValueError(f"no tone {name!r}; tones: {', '.join(TONES)}") from None
    return np.concatenate([_note(f, s, a, rate) for f, s, a in notes]) * np.float32(volume)


def beep_rate(level: int) -> float:
    """Beeps per second outside the band at ``level`` 0 … 100."""
    return BEEP_RATE_MIN + (BEEP_RATE_MAX - BEEP_RATE_MIN) * min(max(level, 0), 100) / 100.0


def write_wav(path: str | Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """16-bit mono WAV (standard-library ``wave``); samples are clipped to −1 … 1."""
    path = Path(path)
    pcm = (np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0) * 32767).astype("<i2")
    from pointdose.files import open_private

    with open_private(path, "wb") as fh, wave.open(fh, "wb") as w:  # 0600 like every file pointdose writes
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """(float samples, rate) of a 16-bit mono WAV."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono")
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data.astype(np.float64) / 32767.0, rate
