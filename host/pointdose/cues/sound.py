"""The sound cue: a mixer that turns the engine's cue state and events into audio, and a player.

:class:`CueMixer` is deterministic and needs no audio device: ``on_event(kind, data)`` queues a
phase tone (press/hold/ease/rest, done, alarm); ``update(cue)`` sets the band feedback;
``render(n)`` returns the next ``n`` samples. A phase tone silences the band beeps while it plays.
While the cue says ALARM (an alarm ended the protocol, or the stream is stale) the alarm tone
repeats every 1.5 s.

:class:`SoundPlayer` plays a mixer through ``sounddevice`` (PortAudio) in its own callback thread;
where PortAudio is missing it stays silent and says so (``available`` False, ``message``). Either
way :class:`WavRecorder` can keep everything rendered, to write a WAV.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from pointdose.cues.tones import (ABOVE_HZ, BEEP_S, BELOW_HZ, IN_BAND_AMP, IN_BAND_HZ, IN_BAND_RATE, RATE, _note,
                                  beep_rate, render_tone)

PHASE_TONES = {"ramp": "press", "hold": "hold", "ease": "ease", "rest": "rest"}
ALARM_REPEAT_S = 1.5
AUDIO_UNAVAILABLE = "audio unavailable: install libportaudio2 (PortAudio) for sound cues"


class CueMixer:
    def __init__(self, rate: int = RATE, volume: float = 0.8, muted: bool = False) -> None:
        self.rate = rate
        self.volume = float(volume)
        self.muted = muted
        self._lock = threading.Lock()
        self._queue: list[np.ndarray] = []  # one-shot tones, played in order
        self._playing: np.ndarray | None = None
        self._pos = 0
        self._band = "none"
        self._level = 0
        self._alarm = False
        self._alarm_next = 0  # sample index of the next alarm repeat
        self._until_beep = 0  # samples of silence before the next beep
        self._beeps = {f: _note(f, BEEP_S, 0.6, rate) for f in (BELOW_HZ, ABOVE_HZ)}
        self._beeps[IN_BAND_HZ] = _note(IN_BAND_HZ, BEEP_S, IN_BAND_AMP, rate)
        self._beep: np.ndarray | None = None
        self._beep_pos = 0
        self._clock = 0  # samples rendered so far

    def set_volume(self, volume: float) -> None:
        self.volume = min(max(float(volume), 0.0), 1.0)

    def set_muted(self, muted: bool) -> None:
        self.muted = bool(muted)

    def play(self, name: str) -> None:
        tone = render_tone(name, self.rate)
        with self._lock:
            self._queue.append(tone)

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "phase_start":
            name = PHASE_TONES.get(data.get("phase", ""))
            if name:
                self.play(name)
        elif kind == "step":
            self.play("hold")
        elif kind == "pain_cap":  # "pain now" during pressure: the falling ease tone, at once
            self.play("ease")
        elif kind == "alarm":
            self.play("alarm")
            with self._lock:
                self._alarm_next = self._clock + int(ALARM_REPEAT_S * self.rate)
        elif kind == "end" and str(data.get("reason", "")).startswith("completed"):
            self.play("done")

    def update(self, cue) -> None:
        """Band feedback from a :class:`~pointdose.protocols.CueState` (or anything with the same fields)."""
        alarm = cue.phase == "alarm" or bool(cue.alarm)
        running = cue.phase in PHASE_TONES
        with self._lock:
            # "in" sounds only for a cue that asks for the in-band tone (training's feedback)
            wanted = ("below", "above", "in") if getattr(cue, "in_band_tone", False) else ("below", "above")
            self._band = cue.band if running and cue.band in wanted else "none"
            self._level = int(cue.level)
            if alarm and not self._alarm:
                self._alarm_next = max(self._alarm_next, self._clock + int(ALARM_REPEAT_S * self.rate))
            self._alarm = alarm

    def render(self, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.float32)
        with self._lock:
            i = 0
            while i < n:
                if self._playing is None and self._queue:
                    self._playing, self._pos = self._queue.pop(0), 0
                if self._playing is not None:
                    k = min(n - i, len(self._playing) - self._pos)
                    out[i:i + k] = self._playing[self._pos:self._pos + k]
                    self._pos += k
                    i += k
                    self._clock += k
                    if self._pos >= len(self._playing):
                        self._playing = None
                    self._beep = None
                    continue
                if self._alarm and self._clock >= self._alarm_next:
                    self._queue.append(render_tone("alarm", self.rate))
                    self._alarm_next = self._clock + int(ALARM_REPEAT_S * self.rate)
                    continue
                k = n - i
                if self._alarm:
                    k = min(k, max(1, self._alarm_next - self._clock))
                out[i:i + k] = self._band_feedback(k)
                i += k
                self._clock += k
        if self.muted:
            return np.zeros(n, dtype=np.float32)
        return out * np.float32(self.volume)

    def _band_feedback(self, k: int) -> np.ndarray:
        """``k`` samples of beeps for the current band (silence in the band)."""
        out = np.zeros(k, dtype=np.float32)
        j = 0
        while j < k:
            if self._beep is not None:  # finish the beep under way
                m = min(k - j, len(self._beep) - self._beep_pos)
                out[j:j + m] = self._beep[self._beep_pos:self._beep_pos + m]
                self._beep_pos += m
                j += m
                if self._beep_pos >= len(self._beep):
                    self._beep = None
                continue
            if self._band == "none":
                self._until_beep = 0  # leaving the band beeps at once
                break
            if self._until_beep > k - j:
                self._until_beep -= k - j
                break
            j += self._until_beep
            hz = {"below": BELOW_HZ, "above": ABOVE_HZ}.get(self._band, IN_BAND_HZ)
            self._beep = self._beeps[hz]
            self._beep_pos = 0
            period = int(round(self.rate / (IN_BAND_RATE if hz == IN_BAND_HZ else beep_rate(self._level))))
            self._until_beep = max(0, period - len(self._beep))  # counted from the end of this beep
        return out


class WavRecorder:
    """Keeps what a mixer renders (for ``--wav``); ``write(path)`` saves it."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []

    def add(self, samples: np.ndarray) -> None:
        self._chunks.append(np.array(samples, dtype=np.float32))

    def samples(self) -> np.ndarray:
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)

    def write(self, path, rate: int = RATE):
        from pointdose.cues.tones import write_wav

        return write_wav(path, self.samples(), rate)


class SoundPlayer:
    """Plays a :class:`CueMixer` through sounddevice when PortAudio is there; silent otherwise."""

    def __init__(self, mixer: CueMixer, recorder: WavRecorder | None = None) -> None:
        self.mixer = mixer
        self.recorder = recorder
        self.available = False
        self.message = ""
        self._stream = None
        try:
            import sounddevice as sd  # raises OSError when the PortAudio library is missing

            self._stream = sd.OutputStream(samplerate=mixer.rate, channels=1, dtype="float32",
                                           callback=self._callback, blocksize=512)
            self._stream.start()
            self.available = True
        except (OSError, ImportError) as exc:
            self.message = f"{AUDIO_UNAVAILABLE} ({exc})"

        except Exception as exc:  # no output device, busy device …
            self.message = f"audio unavailable: {exc}"

    def _callback(self, outdata, frames, time_info, status) -> None:
        block = self.mixer.render(frames)
        if self.recorder is not None:
            self.recorder.add(block)
        outdata[:, 0] = block

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception:
                pass
            self._stream = None
