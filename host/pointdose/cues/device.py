"""Cues on the device: its LED (and optional buzzer) show the band; its own over-pressure limit.

The firmware side is being added in parallel; this codes against the agreed contract and
feature-detects it (``hasattr``):

* ``link.send_cue(phase, band, level)``: phase off/press/hold/ease/rest/alarm, band
  none/below/in/above, level 0–100 (how far outside the band);
* ``link.set_limit(max_raw | None)``: the firmware's own over-pressure alarm, enforced on the device
  even when the host falls silent.

A new phase or band is sent at once; a level change of 10 or more at most 20 times a second; an
unchanged cue once a second (so a device that restarted picks it up again).
"""

from __future__ import annotations

import time
from typing import Any, Callable

DEVICE_PHASE = {"ramp": "press", "hold": "hold", "ease": "ease", "rest": "rest", "alarm": "alarm",
                "off": "off", "done": "off", "stopped": "off"}
MIN_INTERVAL_S = 0.05
REFRESH_S = 1.0
LEVEL_STEP = 10


class DeviceCues:
    def __init__(self, link: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.clock = clock
        self.can_cue = hasattr(link, "send_cue")
        self.can_limit = hasattr(link, "set_limit")
        self.sent: list[tuple[str, str, int]] = []
        self._last: tuple[str, str, int] | None = None
        self._last_t = -1e9
        self.error = ""

    def cue_args(self, cue) -> tuple[str, str, int]:
        phase = "alarm" if cue.alarm else DEVICE_PHASE.get(cue.phase, "off")
        band = cue.band if phase not in ("off", "alarm") else "none"
        return phase, band, int(cue.level) if band in ("below", "above") else 0

    def update(self, cue) -> bool:
        """Send the cue if it changed enough or is due for a refresh; True when sent."""
        if not self.can_cue:
            return False
        args = self.cue_args(cue)
        now = self.clock()
        last = self._last
        since = now - self._last_t
        if last is None or args[:2] != last[:2]:
            pass  # a new phase or band goes at once (an alarm above all)
        elif abs(args[2] - last[2]) >= LEVEL_STEP:
            if since < MIN_INTERVAL_S:
                return False
        elif since < REFRESH_S:
            return False
        try:
            self.link.send_cue(*args)
        except Exception as exc:  # the stream matters more than the LED: note it, carry on
            self.error = f"device cue failed: {exc}"
            return False
        self._last, self._last_t = args, now
        self.sent.append(args)
        return True

    def set_limit(self, max_raw: int | None, min_raw: int | None = None) -> bool:
        """``min_raw`` for a cell whose counts fall with force (the link's keyword)."""
        if not self.can_limit:
            return False
        try:
            if min_raw is None:
                self.link.set_limit(max_raw)
            else:
                self.link.set_limit(max_raw, min_raw=min_raw)
            return True
        except Exception as exc:
            self.error = f"device limit failed: {exc}"
            return False

    def arm_limit(self, limit) -> None:
        """Set the device's own limit (a :class:`pointdose.session.limit.DeviceLimit`) and check the
        device reports it (``io``), or raise UserError: a session never starts without it."""
        from pointdose.errors import UserError

        what = f"its safety limit ({limit.side} {limit.raw} raw counts, {limit.kpa:.0f} kPa)"
        if not self.can_limit:
            raise UserError("this device cannot hold its own over-pressure limit, so no session is started: "
                            "install the pointdose firmware on it (pointdose flash)")
        ok = self.set_limit(limit.raw) if limit.side == "max" else self.set_limit(None, min_raw=limit.raw)
        if not ok:
            raise UserError(f"the device refused {what}: {self.error.removeprefix('device limit failed: ')}; "
                            "no session is started (update the firmware with pointdose flash, or check the sensor)")
        if hasattr(self.link, "io"):
            try:
                shown = self.link.io().get(f"limit_{limit.side}")
            except Exception as exc:
                raise UserError(f"the device did not confirm {what}: {exc}; no session is started") from None
            if shown != str(limit.raw):
                raise UserError(f"the device reports limit_{limit.side}={shown}, not {what}; no session is started "
                                "(update the firmware with pointdose flash)")

    def off(self) -> None:
        if self.can_cue:
            try:
                self.link.send_cue("off", "none", 0)
                self.sent.append(("off", "none", 0))
            except Exception:
                pass
