"""The point the user picked on the body map, for whoever starts the next application.

The records panel sets it (render thread); a session runner reads it when it starts an application
and builds a :class:`~pointdose.records.RecordingListener` on ``session_id`` with
``info["point"] = point_id``. Pure and thread-safe; no GUI.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Selection:
    db_path: str | None = None
    client_id: int | None = None
    client_code: str | None = None
    session_id: int | None = None
    point_id: int | None = None
    point_label: str | None = None
    caution: str | None = None  # the point's caution text, to show before pressing

    @property
    def ready(self) -> bool:
        """A client, a session and a point are chosen: an application can be recorded."""
        return None not in (self.client_id, self.session_id, self.point_id)


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
