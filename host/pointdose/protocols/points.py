"""The points' PPTs, kept in one JSON file so %PPT targets can use them in later sessions.

A PPT measured with the ``ppt`` protocol becomes that point's PPT, stored with the probe area it
was measured with (a PPT is valid only with the same probe) and the ramp rate. The file is
written atomically (a temporary file, then a rename); a file that cannot be read is reported and
never overwritten, so no measurement is lost.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pointdose.errors import UserError
from pointdose.protocols.model import PPTRecord


def default_path() -> Path:
    env = os.environ.get("POINTDOSE_POINTS")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("pointdose")) / "points.json"


class PointBook:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"version": 1, "points": {}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("points"), dict):
                raise ValueError("no 'points' table")
            return data
        except (OSError, ValueError) as exc:
            raise UserError(f"{self.path}: cannot read the points file ({exc}); fix or move it — it is left "
                            "untouched") from None

    def ppt(self, point: str) -> PPTRecord | None:
        rec = self._load()["points"].get(point, {}).get("ppt")
        if rec is None:
            return None
        try:
            return PPTRecord(kpa=float(rec["kpa"]), probe_area_cm2=float(rec["probe_area_cm2"]),
                             rate_kpa_s=rec.get("rate_kpa_s"), sd_kpa=rec.get("sd_kpa"), n=int(rec.get("n", 1)),
                             measured=str(rec.get("measured", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{self.path}: points.{point}.ppt: unreadable ({exc}); fix or remove that entry") from None

    def set_ppt(self, point: str, record: PPTRecord) -> None:
        if not point:
            raise UserError("a PPT is kept per point: give the point a name (--point NAME)")
        data = self._load()
        entry = data["points"].setdefault(point, {})
        if "ppt" in entry:
            entry.setdefault("history", []).append(entry["ppt"])
        rec = record.as_dict()
        rec["measured"] = rec["measured"] or datetime.now(timezone.utc).isoformat(timespec="seconds")
        entry["ppt"] = rec
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)
