"""The layering of the host package, enforced (docs/architecture.md, "Layers").

Every ``import`` statement in host/pointdose is read with ``ast`` -- the ones inside functions too,
since a lazy import is still a dependency -- and checked against the rules below. A rule broken
fails with the file, line and import, so the fix is obvious: move the code to the layer it belongs
to (a command module goes to ``pointdose.commands``), or change the rule here *and* the docs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pointdose

ROOT = Path(pointdose.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        parts = ["pointdose", *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import in one module; ``from a import b`` names ``a.b``
    when that is a module of the package, else ``a``."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((sub if sub in MODULES else target, node.lineno))
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _breaks(importers, forbidden, allowed_importers=()) -> list[str]:
    """Imports from a module matching ``importers`` of a module matching ``forbidden``, except
    from ``allowed_importers``."""
    bad = []
    for name, imports in GRAPH.items():
        if not importers(name) or _under(name, *allowed_importers):
            continue
        for target, line in imports:
            if forbidden(target) and not _under(target, name):
                bad.append(f"{MODULES[name].relative_to(ROOT.parent)}:{line} imports {target}")
    return bad


def everything(name):
    return True


def package(*prefixes):
    return lambda name: _under(name, *prefixes)


def outside(*prefixes):
    return lambda name: name.startswith("pointdose") and not _under(name, *prefixes)


RULES = {
    # The GUI toolkit: only the view and the panels draw; the model and controller are testable without it.
    "dearpygui only in app/view.py and app/panels/": (
        everything, package("dearpygui"), ("pointdose.app.view", "pointdose.app.panels")),
    # Nothing below the app knows the app exists; only its command (`pointdose app`) opens it.
    "nothing outside app imports app, but its command": (
        outside("pointdose.app"), package("pointdose.app"), ("pointdose.commands.app",)),
    # Lab Streaming Layer is opt-in (--lsl): pylsl loads in one module.
    "pylsl only in lsl.py": (everything, package("pylsl"), ("pointdose.lsl",)),
    # The wire format is pure: bytes in, frames and samples out.
    "protocol imports nothing else of the package": (
        package("pointdose.protocol"), outside("pointdose.protocol"), ()),
    # The link moves frames; which device, which scale, which simulator is decided above it.
    "link imports only protocol and errors": (
        package("pointdose.link"), outside("pointdose.link", "pointdose.protocol", "pointdose.errors"), ()),
    # The engine is a state machine the GUI and the terminal share.
    "protocols (the engine) knows nothing of app, commands, sessions, devices or dearpygui": (
        package("pointdose.protocols"),
        package("pointdose.app", "pointdose.commands", "pointdose.cli", "pointdose.session", "pointdose.training",
                "pointdose.link", "pointdose.sim", "pointdose.device", "pointdose.lsl", "dearpygui"), ()),
    # Command modules sit on top: only the command table loads them (by name).
    "nothing imports the command modules": (
        outside("pointdose.commands"), package("pointdose.commands"), ()),
}


@pytest.mark.parametrize("rule", list(RULES))
def test_layer_rule(rule):
    importers, forbidden, allowed = RULES[rule]
    assert _breaks(importers, forbidden, allowed) == [], rule


# The floors of docs/architecture.md, "Layers": a module imports only its own floor and those below.
FLOORS = {
    7: ("pointdose.cli", "pointdose.commands"),
    6: ("pointdose.app",),
    5: ("pointdose.session", "pointdose.training", "pointdose.lsl"),
    4: ("pointdose.records", "pointdose.calibration", "pointdose.cues", "pointdose.sim", "pointdose.device",
        "pointdose.flash"),
    3: ("pointdose.link", "pointdose.mpy"),
    2: ("pointdose.protocols", "pointdose.bodymap"),
    1: ("pointdose.protocol", "pointdose.metrics", "pointdose.algometry", "pointdose.pptchange", "pointdose.units",
        "pointdose.listeners", "pointdose.errors", "pointdose.files", "pointdose.textout"),
    0: ("pointdose",),  # the package itself: __version__
}


def _floor(module: str) -> int:
    """The floor of the longest prefix that places the module."""
    found = [(len(prefix), floor) for floor, prefixes in FLOORS.items() for prefix in prefixes
             if _under(module, prefix)]
    assert found, f"{module} is on no floor: place it in FLOORS and in docs/architecture.md"
    return max(found)[1]


def test_imports_point_down_the_floors():
    up = [f"{MODULES[name].relative_to(ROOT.parent)}:{line} (floor {_floor(name)}) imports {target} "
          f"(floor {_floor(target)})"
          for name, imports in GRAPH.items() for target, line in imports
          if target in MODULES and not _under(target, name) and _floor(target) > _floor(name)]
    assert up == []


def test_every_import_of_the_package_names_a_module_that_exists():
    """A module moved (say records/cmd_analyze.py to commands/analyze.py) leaves no import behind;
    the rules above cannot see an import of a module that is not there."""
    missing = [f"{MODULES[name].relative_to(ROOT.parent)}:{line} imports {target}"
               for name, imports in GRAPH.items() for target, line in imports
               if _under(target, "pointdose") and target not in MODULES]
    assert missing == []


def test_no_import_cycles_between_modules():
    """A cycle (say schema <-> store) means neither module can be understood, tested or frozen alone."""
    edges = {name: {t for t, _ in imports if t in MODULES and t != name and not _under(name, t)}
             for name, imports in GRAPH.items()}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_checker_sees_lazy_imports():
    """The rules are only as good as the import reader: it must see an import inside a function."""
    assert "pointdose.calibration.scale" in {t for t, _ in GRAPH["pointdose.commands.monitor"]}  # lazy
    assert "dearpygui.dearpygui" in {t for t, _ in GRAPH["pointdose.app.view"]}
    assert "pointdose.units" in {t for t, _ in GRAPH["pointdose.app.view"]}  # from pointdose import units
