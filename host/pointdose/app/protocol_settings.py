"""The Session tab's protocol settings editor, without DearPyGui: one entry per built-in parameter.

Each field shows the parameter's allowed range and the help text with its source (from
:data:`pointdose.protocols.BUILTINS`); an entry is accepted only when the built-in, rebuilt with it,
passes its checks — every number through :mod:`pointdose.protocols.values` (finite, whole where it
must be, in range), then the combination (a target above ``max_kpa``, an inverted band). A refused
entry keeps its text and its one-line error, and the protocol cannot start until it is fixed or reset::

    s = ProtocolSettings()
    s.enter("ischemic", "hold_s", "60")      # "" (accepted)
    s.enter("ischemic", "hold_s", "nan")     # "ischemic: hold_s: nan is not a finite number; write …"
    s.protocol("ischemic")                   # UserError naming hold_s until it is fixed or reset
    s.reset("ischemic")                      # back to the defaults
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pointdose.errors import UserError
from pointdose.protocols import BUILTINS, ProtocolError, resolve
from pointdose.protocols.model import TARGET_RANGE_KEY
from pointdose.protocols.values import RANGES, Range

BOOL_TEXT = {True: "yes", False: "no"}


@dataclass(frozen=True)
class Field:
    """One parameter as the editor shows it."""

    key: str
    kind: str  # "target", "float", "int", "bool"
    text: str  # what the entry shows (the last entry, even a refused one)
    default: str
    range: str  # "5 … 600", "above 0 … 2000 kPa, or 300 %PPT"
    about: str  # the parameter's help, with its source or "a setting"
    error: str = ""  # the one-line reason this entry was refused
    changed: bool = False  # accepted and different from the default


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return BOOL_TEXT[value]
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _range_text(param) -> str:
    if param.kind == "target":
        kpa, n, pct = (RANGES[TARGET_RANGE_KEY[u]] for u in ("kPa", "N", "%PPT"))
        return f"above 0 … {kpa.hi:g} kPa, {n.hi:g} N or {pct.hi:g} %PPT"
    if param.kind == "bool":
        return "yes or no"
    return Range(param.lo, param.hi, integer=param.kind == "int").span()


def _value(param, text: str) -> Any:
    """The entry as the built-in takes it: the text itself (checked there), or a bool for a checkbox."""
    if param.kind == "bool":
        if isinstance(text, bool):
            return text
        low = str(text).strip().lower()
        return {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}.get(low, text)
    return text


class ProtocolSettings:
    """Edits of the built-ins' parameters, per protocol, for the Session tab (render thread only)."""

    def __init__(self) -> None:
        self._accepted: dict[str, dict[str, Any]] = {}  # protocol -> key -> value that passed the checks
        self._entered: dict[str, dict[str, str]] = {}  # protocol -> key -> refused text
        self._errors: dict[str, dict[str, str]] = {}  # protocol -> key -> its one-line error

    @staticmethod
    def editable(name: str) -> bool:
        return name in BUILTINS

    def fields(self, name: str) -> list[Field]:
        b = BUILTINS[name]
        accepted = self._accepted.get(name, {})
        entered, errors = self._entered.get(name, {}), self._errors.get(name, {})
        out = []
        for p in b.params:
            value = accepted.get(p.key, p.default)
            text = entered.get(p.key, _text(value))
            out.append(Field(p.key, p.kind, text, _text(p.default), _range_text(p), p.help, errors.get(p.key, ""),
                             changed=p.key in accepted and _text(value) != _text(p.default)))
        return out

    def field(self, name: str, key: str) -> Field:
        for f in self.fields(name):
            if f.key == key:
                return f
        raise KeyError(f"{name} has no parameter {key!r}")

    def enter(self, name: str, key: str, text: Any) -> str:
        """Check one entry; returns "" when accepted, else its one-line error (kept for the field)."""
        b = BUILTINS[name]
        param = next(p for p in b.params if p.key == key)
        value = _value(param, text)
        candidate = {**self._accepted.get(name, {}), key: value}
        try:
            # every number through pointdose.protocols.values (Builtin._check), then the combination
            built = b.make(**candidate)
        except ProtocolError as exc:
            self._entered.setdefault(name, {})[key] = _text(text)
            self._errors.setdefault(name, {})[key] = str(exc)
            return str(exc)
        checked = built.params[key]  # the value the built-in keeps (60 → 60.0, "yes" → True)
        accepted = self._accepted.setdefault(name, {})
        if _text(checked) == _text(param.default):
            accepted.pop(key, None)
        else:
            accepted[key] = checked
        self._entered.get(name, {}).pop(key, None)
        self._errors.get(name, {}).pop(key, None)
        return ""

    def reset(self, name: str, key: str | None = None) -> None:
        """Back to the built-in's defaults: every parameter, or only ``key``."""
        for store in (self._accepted, self._entered, self._errors):
            if key is None:
                store.pop(name, None)
            else:
                store.get(name, {}).pop(key, None)

    def errors(self, name: str) -> dict[str, str]:
        return dict(self._errors.get(name, {}))

    def overrides(self, name: str) -> dict[str, Any]:
        """The accepted entries that differ from the defaults (what ``--set`` would say)."""
        return dict(self._accepted.get(name, {}))

    def summary(self, name: str) -> str:
        """One line for the Session tab: what differs from the defaults."""
        o = self.overrides(name)
        errors = self.errors(name)
        parts = [f"{k} = {_text(v)}" for k, v in o.items()]
        text = ("changed: " + ", ".join(parts)) if parts else "defaults"
        if errors:
            text += f" · {len(errors)} entr{'y' if len(errors) == 1 else 'ies'} to fix"
        return text

    def protocol(self, name: str, **extra):
        """The protocol with the accepted entries (``extra`` on top, e.g. %PPT offers); UserError
        naming the first refused entry while any is left."""
        errors = self.errors(name)
        if errors:
            key, why = next(iter(errors.items()))
            raise UserError(f"protocol settings: {why} — fix {key} or press 'Reset to defaults'")
        return resolve(name, **{**self.overrides(name), **extra})
