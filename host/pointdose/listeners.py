"""The contract between whatever runs a guided application and whatever keeps it.

A session runner (``pointdose.session``) drives the protocol engine on live samples; the records
store (``pointdose.records``) and the training module listen. Neither imports the other: both
import this module.

An *application* is one protocol applied to one point, from its start to its end (completed,
stopped by the user, or ended by an alarm).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

# One row per sample as a runner hands it on. ``t_s`` is device time mapped to host monotonic
# seconds (see pointdose.link.clock); ``raw`` is kept so a record can be recomputed after a
# recalibration; ``seq`` and ``segment`` let a reader see gaps and device reboots.
SAMPLE_DTYPE = np.dtype([
    ("seq", np.int64),
    ("segment", np.int32),
    ("t_s", np.float64),
    ("raw", np.int32),
    ("force_n", np.float64),
    ("pressure_kpa", np.float64),
])


class SessionListener(Protocol):
    def on_application_start(self, info: dict[str, Any]) -> None:
        """``info``: protocol name and parameters, point, probe area (cm²), device uid, start time
        ``t_s``; ``calibration``: a dict that can recompute force from raw counts (a calibration
        record's ``to_dict()`` with its ``id``, or the factory scale ``{"model": "linear",
        "counts_per_n", "zero", "source": "factory"}``) and ``tare_raw``, the device's tare then
        (force = model(raw − (tare − zero)), docs/calibration.md)."""

    def on_samples(self, rows: np.ndarray) -> None:
        """A block of rows with dtype :data:`SAMPLE_DTYPE`, in order, no row given twice."""

    def on_event(self, t_s: float, kind: str, data: dict[str, Any]) -> None:
        """Phase start/end, cycle done, user signal, pain rating, alarm, STOP (with its reason), the
        safety caps (``cap``, ``pain_cap``, ``pain_stop``, ``device_limit``): docs/protocols.md, "Events"."""

    def on_application_end(self, t_s: float, reason: str, summary: dict[str, Any]) -> None:
        """``reason``: "completed", "stopped" or "alarm: …"; ``summary``: the engine's totals."""
