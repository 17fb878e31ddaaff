"""The point the user picked on the body map, for whoever starts the next application.

The records panel sets it (render thread); a session runner reads it when it starts an application
and builds a :class:`~pointdose.records.RecordingListener` with ``info["point"] = point_id`` on the
client's visit: ``visit`` when the user chose a session, else (``visit`` None) the visit the
terminal would choose — the client's open visit, else a new one
(:func:`pointdose.records.recording.visit_session`, one rule for both). ``session_id`` is that
visit as it stands now, for showing (None: the next recording starts a new one). Pure and
thread-safe; no GUI.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Selection:
    db_path: str | None = None
    client_id: int | None = None
    client_code: str | None = None
    session_id: int | None = None  # the visit now (chosen, or the open one), for showing; None: a new one
    visit: int | None = None  # a session the user chose; None: automatic (pointdose session's default)
    point_id: int | None = None
    point_label: str | None = None
    caution: str | None = None  # the point's caution text, to show before pressing

    @property
    def ready(self) -> bool:
        """A client and a point are chosen: an application can be recorded (into the visit)."""
        return None not in (self.client_id, self.point_id)


_lock = threading.Lock()
_current = Selection()


def current() -> Selection:
    with _lock:
        return _current


def update(**changes) -> Selection:
    global _current
    with _lock:
        _current = replace(_current, **changes)
        return _current


def clear() -> None:
    global _current
    with _lock:
        _current = Selection()
