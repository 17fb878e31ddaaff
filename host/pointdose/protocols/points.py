"""The old points file (``points.json``): PPTs kept by point name, for nobody in particular.

Before PPTs were kept per client (records database, table ``ppt``: a client's point), a measured
PPT was stored here under the point's name only, so a second client with a point of the same name
was treated at the first client's PPT. The file is **no longer used for targets**. This module only
reads it, to tell the user about an entry (``pointdose session`` does, when a point has a PPT here
but none of the client's own) and to import it on request (``pointdose clients import-points``,
into the client the user names, else into "unassigned"). Reading never changes the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pointdose.errors import UserError, read_user_file


def default_path() -> Path:
    env = os.environ.get("POINTDOSE_POINTS")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("pointdose")) / "points.json"


class LegacyPointsFile:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()

    def exists(self) -> bool:
        """Something is at the path (a FIFO or a device too: reading it then says what it is)."""
        return self.path.exists()

    def entries(self) -> dict[str, list[dict[str, Any]]]:
        """``{point name: [PPT dicts, oldest first]}`` (the history, then the current one)."""
        if not self.exists():
            return {}
        text = read_user_file(self.path, what="points file", max_bytes=16 * 1024 * 1024,
                              hint="give the old points.json (--points-file)")
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or not isinstance(data.get("points"), dict):
                raise ValueError("no 'points' table")
        except RecursionError:
            raise UserError(f"{self.path}: not a points file (its JSON is nested too deeply); fix or move it — "
                            "it is left untouched") from None
        except (OSError, ValueError) as exc:
            raise UserError(f"{self.path}: cannot read the old points file ({exc}); fix or move it — it is left "
                            "untouched") from None
        out: dict[str, list[dict[str, Any]]] = {}
        for name, entry in data["points"].items():
            if not isinstance(entry, dict):
                continue
            recs = [r for r in list(entry.get("history") or []) + [entry.get("ppt")] if isinstance(r, dict)]
            if recs:
                out[str(name)] = recs
        return out

    def ppt(self, name: str) -> dict[str, Any] | None:
        """The current entry for ``name`` (never raises: an unreadable file is None here)."""
        try:
            recs = self.entries().get(name)
        except UserError:
            return None
        return recs[-1] if recs else None
