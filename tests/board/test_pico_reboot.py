"""The emulated Pico across reboots, and handing it back to MicroPython's tools after a stream."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import serial
from pico_helpers import T, emulated, open_link, wait_for

import pointdose

HOST = str(Path(pointdose.__file__).resolve().parents[1])


def _read_until(ser, marker: bytes, timeout: float = 120.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while marker not in got:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {marker!r} within {timeout} s; got {got[-300:]!r}")
        got += ser.read(4096)
    return got


def test_calibration_blob_survives_reboot_and_power_cycle():
    blob = bytes(range(200)) * 2
    with emulated(sensor="hx711") as pico:
        with open_link(pico) as link:
            link.write_calibration(blob, timeout=T)
            crc = link.command("cal", timeout=T).fields["calblob"]
        boots = len(pico.ctl.boots)
        pico.reboot()  # machine.reset(): the chip restarts, the flash stays
        wait_for(lambda: len(pico.ctl.boots) > boots, what="the reboot")
        with open_link(pico) as link:
            assert link.device.calblob_crc == crc
            assert link.read_calibration(timeout=T) == blob
        assert "pd_cal.bin" in pico.files()
        pico.restart()  # the emulator stops (flash saved) and starts again
        with open_link(pico) as link:
            assert link.device.calblob_crc == crc
            assert link.read_calibration(timeout=T) == blob


def test_ctrl_c_after_a_stream_gives_the_repl_and_ctrl_d_the_firmware_again():
    with emulated(sensor="adc") as pico:
        with open_link(pico) as link:
            link.start(timeout=T)
            wait_for(lambda: link.stats.samples >= 100, what="samples")
            link.stop(timeout=T)
        with serial.Serial(pico.port, timeout=0.1) as ser:
            ser.write(b"\x03")
            _read_until(ser, b">>> ")
            ser.write(b"print(6 * 7)\r")
            _read_until(ser, b"42")
            ser.write(b"\x04")  # soft reset: main.py runs again
            time.sleep(0.5)
        with open_link(pico) as link:
            assert link.device.board == "rp2"


def test_repl_command_then_pointdose_flash_with_mpremote():
    with emulated(sensor="hx711") as pico:
        with open_link(pico) as link:
            link.start(timeout=T)
            wait_for(lambda: link.stats.samples >= 40, what="samples")
            link.stop(timeout=T)
        boots = len(pico.ctl.boots)
        env = dict(os.environ, PYTHONPATH=HOST + os.pathsep + os.environ.get("PYTHONPATH", ""))
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from pointdose.cli import main; sys.exit(main(sys.argv[1:]))",
             "flash", "--port", pico.port, "--config", "pico-hx711"],
            capture_output=True, text=True, env=env, timeout=900)
        assert done.returncode == 0, done.stdout + done.stderr
        wait_for(lambda: len(pico.ctl.boots) > boots, what="mpremote reset rebooting the board")
        files = pico.files()
        assert "pd_device.mpy" in files or "pd_device.py" in files
        with open_link(pico) as link:
            assert link.device.board == "rp2"
            reply = link.command("repl", timeout=T)
            assert reply.fields["repl"] == "1"
