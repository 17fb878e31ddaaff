"""Guided pressure protocols: the model, the engine, built-ins, TOML files, safety (no GUI, no link).

See docs/protocols.md. ``resolve(name_or_path, **params)`` gives a Protocol from a built-in's
name (with parameter overrides) or a ``.toml`` file.
"""

from __future__ import annotations

from pathlib import Path

from pointdose.protocols.builtin import BUILTINS, builtin, parse_target
from pointdose.protocols.engine import RATE_WINDOW_S, CueState, Engine, Event, ramp_rate
from pointdose.protocols.model import (Limits, Phase, PointContext, PPTRecord, Protocol, ProtocolError,
                                       Target)
from pointdose.protocols.safety import CAUTIONS, caution, check_caution_acknowledged
from pointdose.protocols.toml_file import ProtocolFileError, load_protocol, parse_protocol


def resolve(name_or_path: str, **params) -> Protocol:
    """A built-in by name (``params`` override its defaults) or a protocol file (``*.toml``)."""
    if name_or_path.endswith(".toml") or Path(name_or_path).is_file():
        if params:
            raise ProtocolError(f"{name_or_path}: parameters (--set) apply to built-ins only; edit the file instead")
        return load_protocol(name_or_path)
    return builtin(name_or_path, **params)


__all__ = ["BUILTINS", "CAUTIONS", "RATE_WINDOW_S", "CueState", "Engine", "Event", "Limits", "PPTRecord", "Phase",
           "PointContext", "Protocol", "ProtocolError", "ProtocolFileError", "Target", "builtin", "caution",
           "check_caution_acknowledged", "load_protocol", "parse_protocol", "parse_target", "ramp_rate", "resolve"]
