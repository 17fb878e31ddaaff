"""Panels' data computed off the render thread: the render thread asks, a worker reads the
records, the panel draws the newest result on a later frame. No DearPyGui here.

    data = Latest("points")
    data.request(lambda: history.points_view(store, client_id, session_id))   # never blocks
    got = data.take()      # None until a result is new; else Result(value, error)

One worker thread at a time; a request made while it works replaces any request still waiting (only
the newest question matters), so a slow database never piles up work nor stalls the window. An error
becomes its one-line text in ``Result.error``; nothing is raised into the render loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Result:
    value: Any
    error: str = ""


class Latest:
    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._waiting: Callable[[], Any] | None = None
        self._result: Result | None = None
        self._thread: threading.Thread | None = None

    def request(self, fn: Callable[[], Any]) -> None:
        """Compute ``fn()`` on the worker (after the one it is computing now, if any)."""
        with self._lock:
            self._waiting = fn
            if self._thread is not None and self._thread.is_alive():
                return  # the worker takes it when it is done
            self._thread = threading.Thread(target=self._work, name=f"pointdose-data-{self.name}", daemon=True)
            self._thread.start()

    def take(self) -> Result | None:
        """The newest result not taken yet (None: nothing new)."""
        with self._lock:
            out, self._result = self._result, None
            return out

    def busy(self) -> bool:
        with self._lock:
            return self._waiting is not None or (self._thread is not None and self._thread.is_alive())

    def close(self, timeout: float = 5.0) -> None:
        """Forget what waits and let the running one finish (the panel closes its store after)."""
        with self._lock:
            self._waiting = None
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _work(self) -> None:
        while True:
            with self._lock:
                fn, self._waiting = self._waiting, None
                if fn is None:
                    self._thread = None
                    return
            try:
                result = Result(fn())
            except Exception as exc:  # shown by the panel as one line, never raised into the render loop
                result = Result(None, " ".join(str(exc).split()) or type(exc).__name__)
            with self._lock:
                self._result = result
