"""Cues usable without looking at the screen: sounds (tones, band beeps, WAV) and the device's LED/buzzer."""

from pointdose.cues.device import DeviceCues
from pointdose.cues.sound import AUDIO_UNAVAILABLE, CueMixer, SoundPlayer, WavRecorder
from pointdose.cues.tones import RATE, TONES, beep_rate, legend, read_wav, render_tone, write_wav

__all__ = ["AUDIO_UNAVAILABLE", "CueMixer", "DeviceCues", "RATE", "SoundPlayer", "TONES", "WavRecorder",
           "beep_rate", "legend", "read_wav", "render_tone", "write_wav"]
