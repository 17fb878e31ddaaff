"""Custom protocols in TOML files, validated field by field (see docs/protocols.md).

Every error names the file, the field and what is allowed, e.g.::

    my.toml: phase[2].end: 'relase' is not allowed; choose one of time, reached, release, pain

Two forms: a full protocol (``name``, ``[[phase]]`` tables …) or a built-in with its parameters
changed (``builtin = "ppt"`` and a ``[params]`` table).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from pointdose.protocols.builtin import BUILTINS, parse_target
from pointdose.protocols.model import END_KINDS, PHASE_KINDS, Limits, Phase, Protocol, ProtocolError
from pointdose.protocols.values import RANGES, number
from pointdose.errors import read_user_file


class ProtocolFileError(ProtocolError):
    pass


TOP_KEYS = {"name": "str", "title": "str", "description": "str", "repetitions": "int",
            "skip_last_rest": "bool", "measure_ppt": "bool", "limits": "table", "phase": "list",
            "builtin": "str", "params": "table"}
PHASE_KEYS = {"kind": "str", "label": "str", "target": "target", "end": "str", "duration_s": "float",
              "max_s": "float", "tolerance_pct": "float", "rate_kpa_s": "float", "rate_tolerance_pct": "float",
              "steps": "int", "step": "target"}
# every number's range comes from pointdose.protocols.values.RANGES: the one checker for all inputs
LIMIT_KEYS = ("max_kpa", "max_hold_s", "compression_cap_s", "cap_rest_s", "point_cap_s", "pain_stop_rating",
              "pain_cap_pct", "contact_kpa", "rest_max_kpa", "min_band_kpa")
PHASE_NUMBERS = ("duration_s", "max_s", "tolerance_pct", "rate_kpa_s", "rate_tolerance_pct", "steps")


def load_protocol(path: str | Path) -> Protocol:
    path = Path(path)
    text = read_user_file(path, what="protocol file", error=ProtocolFileError, max_bytes=1024 * 1024)
    return parse_protocol(text, str(path))


def parse_protocol(text: str, where: str = "<protocol>") -> Protocol:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolFileError(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ProtocolFileError(f"{where}: not a protocol: its TOML is nested too deeply") from None
    _known(data, TOP_KEYS, where, "")
    if "builtin" in data:
        return _from_builtin(data, where)
    for key in ("name", "phase"):
        if key not in data:
            raise ProtocolFileError(f"{where}: {key}: missing; a protocol needs name = \"...\" and at least one "
                                    "[[phase]] table (or builtin = \"NAME\" with [params])")
    name = _get(data, "name", "str", where, "")
    if not name.strip() or any(c.isspace() for c in name):
        raise ProtocolFileError(f"{where}: name: {name!r} is not allowed; use one word such as \"my-holds\"")
    limits = Limits()
    if "limits" in data:
        lim = data["limits"]
        if not isinstance(lim, dict):
            raise ProtocolFileError(f"{where}: limits: must be a table ([limits])")
        _known(lim, {k: "float" for k in LIMIT_KEYS}, where, "limits.")
        vals = {key: _number(lim[key], where, f"limits.{key}", key) for key in LIMIT_KEYS if key in lim}
        try:
            limits = Limits(**vals)
        except ProtocolError as exc:
            raise ProtocolFileError(f"{where}: {exc}") from None
    phases_raw = data["phase"]
    if not isinstance(phases_raw, list) or not phases_raw:
        raise ProtocolFileError(f"{where}: phase: write each phase as a [[phase]] table (at least one)")
    phases = tuple(_phase(p, where, i + 1) for i, p in enumerate(phases_raw))
    reps = _number(data.get("repetitions", 1), where, "repetitions", "repetitions")
    try:
        return Protocol(name=name, title=_get(data, "title", "str", where, "") or name, phases=phases,
                        repetitions=reps, description=_get(data, "description", "str", where, ""),
                        skip_last_rest=_get(data, "skip_last_rest", "bool", where, "", default=True),
                        measure_ppt=_get(data, "measure_ppt", "bool", where, "", default=False),
                        limits=limits, params={}, source=where)
    except ValueError as exc:
        raise ProtocolFileError(f"{where}: {exc}") from None


def _from_builtin(data: dict[str, Any], where: str) -> Protocol:
    name = _get(data, "builtin", "str", where, "")
    if name not in BUILTINS:
        raise ProtocolFileError(f"{where}: builtin: {name!r} is not allowed; choose one of {', '.join(BUILTINS)}")
    extra = set(data) - {"builtin", "params", "title", "description"}
    if extra:
        raise ProtocolFileError(f"{where}: {sorted(extra)[0]}: not allowed with builtin = ...; "
                                "change the built-in through [params] only")
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise ProtocolFileError(f"{where}: params: must be a table ([params])")
    try:
        proto = BUILTINS[name].make(**params)
    except ProtocolError as exc:
        raise ProtocolFileError(f"{where}: params.{exc}") from None
    from dataclasses import replace

    return replace(proto, source=where, title=data.get("title", proto.title),
                   description=data.get("description", proto.description))


def _phase(raw: Any, where: str, n: int) -> Phase:
    prefix = f"phase[{n}]."
    if not isinstance(raw, dict):
        raise ProtocolFileError(f"{where}: phase[{n}]: must be a table")
    _known(raw, PHASE_KEYS, where, prefix)
    if "kind" not in raw:
        raise ProtocolFileError(f"{where}: {prefix}kind: missing; choose one of {', '.join(PHASE_KINDS)}")
    kind = _get(raw, "kind", "str", where, prefix)
    if kind not in PHASE_KINDS:
        raise ProtocolFileError(f"{where}: {prefix}kind: {kind!r} is not allowed; choose one of {', '.join(PHASE_KINDS)}")
    end = _get(raw, "end", "str", where, prefix, default="time")
    if end not in END_KINDS:
        raise ProtocolFileError(f"{where}: {prefix}end: {end!r} is not allowed; choose one of {', '.join(END_KINDS)}")
    kw: dict[str, Any] = {"kind": kind, "end": end, "label": _get(raw, "label", "str", where, prefix, default="")}
    for key in ("target", "step"):
        if key in raw:
            try:
                kw[key] = parse_target(raw[key], f"{prefix}{key}")
            except ProtocolError as exc:
                raise ProtocolFileError(f"{where}: {exc}") from None
    for key in PHASE_NUMBERS:
        if key in raw:
            kw[key] = _number(raw[key], where, prefix + key, key)
    if end == "time" and "duration_s" not in kw:
        raise ProtocolFileError(f"{where}: {prefix}duration_s: missing; a phase with end = \"time\" needs "
                                "duration_s (seconds, 0.1 … 3600)")
    if kind in ("ramp", "hold") and "target" not in kw and end != "pain":
        raise ProtocolFileError(f"{where}: {prefix}target: missing; a {kind} phase needs a target such as "
                                "\"200 kPa\", \"20 N\" or \"80 %PPT\"")
    if end == "reached" and "target" not in kw and kind != "ease":
        raise ProtocolFileError(f"{where}: {prefix}target: missing; end = \"reached\" needs a target")
    if end in ("release", "pain", "reached") and "max_s" not in kw:
        kw["max_s"] = 120.0 if end == "release" else 30.0
    if kw.get("steps") and "step" not in kw:
        raise ProtocolFileError(f"{where}: {prefix}step: missing; steps = {kw['steps']} needs the amount each "
                                "step adds, e.g. step = \"10 kPa\"")
    try:
        return Phase(**kw)
    except ValueError as exc:
        raise ProtocolFileError(f"{where}: phase[{n}]: {exc}") from None


def _known(table: dict[str, Any], allowed: dict[str, Any], where: str, prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise ProtocolFileError(f"{where}: {prefix}{key}: unknown field; allowed here: {', '.join(allowed)}")


def _get(table: dict[str, Any], key: str, kind: str, where: str, prefix: str, default: Any = None) -> Any:
    if key not in table:
        return default
    value = table[key]
    ok = isinstance(value, str) if kind == "str" else isinstance(value, bool) if kind == "bool" else True
    if not ok:
        want = "text in quotes" if kind == "str" else "true or false"
        raise ProtocolFileError(f"{where}: {prefix}{key}: {value!r} is not allowed; write {want}")
    return value


def _number(value: Any, where: str, field: str, key: str) -> float | int:
    """A number from the file: TOML's own numbers only (no quoted text), checked by the one checker."""
    if isinstance(value, str):
        raise ProtocolFileError(f"{where}: {field}: {value!r} is not allowed; write {RANGES[key].text()} without quotes")
    return number(value, f"{where}: {field}", RANGES[key], error=ProtocolFileError)
