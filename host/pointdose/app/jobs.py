"""Slow work the app's buttons start (a PDF report, a CSV export), run off the render thread.

A :class:`Job` runs one function on its own thread; the function reports progress through the
callback it is given, and its return value is the result line. The render thread only reads
:meth:`Job.status` (a snapshot, never blocks), so the window keeps drawing while the file is
written. An error becomes one line (a :class:`~pointdose.errors.UserError`'s own text, else
"<what> failed: …"); nothing is raised into the render loop. No DearPyGui here.

    job = Job("Report", lambda progress: write_report(db, session_id, folder, progress)).start()
    job.status()  # JobStatus(running=True, fraction=0.5, line="Report… 1 of 2")
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pointdose.errors import UserError


@dataclass(frozen=True)
class JobStatus:
    running: bool
    fraction: float  # 0 … 1
    line: str  # while running: what it does; after: the file written, or the error (one line)
    ok: bool | None = None  # None while running


Progress = Callable[[int, int], None]


class Job:
    """One background task with a progress fraction and a one-line result."""

    def __init__(self, what: str, work: Callable[[Progress], str]) -> None:
        self.what = what
        self._work = work
        self._lock = threading.Lock()
        self._status = JobStatus(True, 0.0, f"{what}…")
        self._thread = threading.Thread(target=self._run, name=f"pointdose-job-{what}", daemon=True)
        self.done = threading.Event()

    def start(self) -> "Job":
        self._thread.start()
        return self

    def status(self) -> JobStatus:
        with self._lock:
            return self._status

    def wait(self, timeout: float | None = None) -> JobStatus:
        self.done.wait(timeout)
        return self.status()

    def _progress(self, done: int, total: int) -> None:
        fraction = min(1.0, max(0.0, done / total)) if total > 0 else 1.0
        with self._lock:
            self._status = JobStatus(True, fraction, f"{self.what}… {done:,} of {total:,}")

    def _run(self) -> None:
        try:
            line = self._work(self._progress)
            status = JobStatus(False, 1.0, line, ok=True)
        except UserError as exc:
            status = JobStatus(False, self.status().fraction, _one_line(str(exc)), ok=False)
        except Exception as exc:  # a job's failure is shown, never raised into the render loop
            status = JobStatus(False, self.status().fraction, _one_line(f"{self.what} failed: {exc}"), ok=False)
        with self._lock:
            self._status = status
        self.done.set()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def default_folder() -> Path:
    """Where the app's reports and exports go unless the user types another folder: Documents/pointdose."""
    import platformdirs

    return Path(platformdirs.user_documents_dir()) / "pointdose"


def write_report(db_path: str | Path, session_id: int, folder: str | Path, progress: Progress | None = None,
                 unit: str = "kPa") -> str:
    """The session's PDF in ``folder`` (the name ``pointdose report`` gives it); returns the result line.

    Opens its own read-only connection to the records, on the calling (background) thread."""
    from pointdose.files import inside
    from pointdose.records.report import report_name, session_report
    from pointdose.records.store import Store

    with Store(db_path, readonly=True) as store:
        session = store.session(int(session_id))
        code = store.client(int(session["client_id"]))["code"]
        out = inside(Path(folder).expanduser(), report_name(code, session))
        path = session_report(store, int(session_id), out, unit=unit, on_progress=progress)
    return f"report written to {path}"


def write_export(db_path: str | Path, code: str, folder: str | Path, progress: Progress | None = None) -> str:
    """The client's CSV export (points.csv and samples/) under ``folder``/CODE; returns the result line."""
    from pointdose.records.exporting import export_client
    from pointdose.records.store import Store

    with Store(db_path, readonly=True) as store:
        files = export_client(store, code, folder, formats=("csv",), on_progress=progress)
    where = files[0].parent if files else Path(folder)
    return f"exported {code}: {len(files)} files in {where}"
