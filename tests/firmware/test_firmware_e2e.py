"""The real firmware entry point (firmware/main.py) on the MicroPython unix port, talked to over a
raw-mode pty exactly as the host does (docs/protocol.md): the firmware opens the pty once, read and
write, so it runs on ONE duplex stream object as on rp2 and esp32. One test keeps the unix port's
two objects (stdin and stdout on separate pipes, ``POINTDOSE_STDIO=two``)."""
import os
import select
import subprocess
import time
import tty

import pytest

from fw_helpers import (FIRMWARE, ROOT, data_samples, decode_frames, find_mpy_cross, kv, mp_env,
                        reply)

MAIN = FIRMWARE / "main.py"
MASK = (1 << 30) - 1


class Proc:
    """micropython firmware/main.py with its stdin/stdout on a raw pty (or on two pipes)."""

    def __init__(self, exe, env=None, pty=True, cwd=None, interactive=False):
        args = [exe] + (["-i"] if interactive else []) + [str(MAIN)]
        e = mp_env(env)
        e.pop("MICROPYPATH", None)          # main.py must find its modules by itself
        if pty:
            self.master, slave = os.openpty()
            tty.setraw(slave)
            self.p = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                                      env=e, cwd=cwd or "/", close_fds=True)
            os.close(slave)
            self.rfd = self.wfd = self.master
        else:
            e["POINTDOSE_STDIO"] = "two"
            self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=e, cwd=cwd or "/")
            self.rfd = self.p.stdout.fileno()
            self.wfd = self.p.stdin.fileno()
        self.buf = b""
        self.frames = []

    def send(self, line: str):
        os.write(self.wfd, line.encode())

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.rfd], [], [], left)
            if r:
                try:
                    b = os.read(self.rfd, 65536)
                except OSError:
                    b = b""
                if not b:
                    break
                self.buf += b
        fs, self.buf = decode_frames(self.buf)
        self.frames += fs
        return fs

    def wait_reply(self, cid, seconds=3.0):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for t, p in self.pump(0.05):
                if t == 2 and reply(p)[0] == cid:
                    return reply(p)
        raise AssertionError(f"no reply to id {cid}; frames: {self.frames[-5:]}")

    def samples(self):
        return [s for t, p in self.frames if t == 1 for s in data_samples(p)]

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(5)
        if hasattr(self, "master"):
            os.close(self.master)
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            if f:
                f.close()


@pytest.fixture
def proc(micropython):
    made = []

    def make(**kw):
        p = Proc(micropython, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def test_every_firmware_file_compiles_with_mpy_cross(tmp_path):
    exe = find_mpy_cross()
    if not exe:
        pytest.skip("mpy-cross not found")
    files = sorted(FIRMWARE.glob("*.py"))
    assert len(files) >= 12
    for f in files:
        out = tmp_path / (f.stem + ".mpy")
        # the boards' architectures: pd_frame holds machine code (viper), which needs one
        r = subprocess.run([exe, "-march=armv6m", "-o", str(out), str(f)], capture_output=True, text=True)
        assert r.returncode == 0, f"{f.name}: {r.stderr}"
        assert out.stat().st_size > 0


def test_pipes_hello_start_stop_and_exit_on_eof(proc):
    p = proc(cwd="/tmp", pty=False)     # any cwd: main.py puts its own folder on sys.path
    p.send("1 hello\n")
    cid, st, text = p.wait_reply(1)
    d = kv(text)
    assert st == 0 and d["board"] == "unix" and d["sensor"] == "sim" and d["rate"] == "200"
    assert d["stdio"] == "split"
    assert d["uid"] == "53494d30303031" and d["cal"] == "linear:14000:42000" and len(d["boot"]) == 8
    p.send("2 start\n")
    assert p.wait_reply(2)[1] == 0
    p.pump(0.5)
    p.send("3 stop\n")
    nxt = int(kv(p.wait_reply(3)[2])["seq"])
    smp = p.samples()
    assert [s[0] for s in smp] == list(range(nxt))
    assert 60 <= nxt <= 400, nxt
    dts = [(b[1] - a[1]) & MASK for a, b in zip(smp, smp[1:])]
    assert sorted(dts)[len(dts) // 2] in range(4700, 5300), dts      # 200 Hz
    st = [t for t, _ in p.frames if t == 3]
    assert len(st) >= 2
    p.p.stdin.close()                   # end of input: the loop returns, the script ends
    assert p.p.wait(5) == 0


def test_env_vars_rate_link_watchdog_uid(proc, tmp_path):
    p = proc(env={"POINTDOSE_RATE": "500", "POINTDOSE_LINK": "uart:115200", "POINTDOSE_UID": "abc123",
                  "POINTDOSE_WATCHDOG_MS": "400", "POINTDOSE_STORE": str(tmp_path)})
    p.send("1 hello\n")
    d = kv(p.wait_reply(1)[2])
    assert (d["rate"], d["link"], d["uid"], d["watchdog_ms"], d["batch_us"]) == \
        ("500", "uart:115200", "abc123", "400", "20000")
    p.send("2 start\n")
    p.wait_reply(2)
    p.pump(0.9)                         # no line for 0.4 s: the watchdog stops the stream
    errs = [pl for t, pl in p.frames if t == 4]
    assert errs and errs[0][0] == 1, errs
    p.send("3 tare 20\n")
    assert kv(p.wait_reply(3)[2])["n"] == "20"
    assert "pd_state.json" in os.listdir(tmp_path)


def test_config_problem_reported_at_boot(proc, tmp_path):
    (tmp_path / "config.json").write_text('{"ring": 5, "bogus": 1}')
    p = proc(env={"POINTDOSE_RATE": "fast", "POINTDOSE_STORE": str(tmp_path)})
    p.send("1 ping\n")
    p.wait_reply(1)
    errs = [pl[1:].decode() for t, pl in p.frames if t == 4 and pl[0] == 4]
    assert any("rate=fast" in e for e in errs), errs
    assert any("ring=5" in e for e in errs) and any("bogus" in e for e in errs), errs


def test_time_wraps_at_2_30_while_streaming(proc):
    start = MASK + 1 - 800000          # 0.8 s before the 30-bit wrap
    p = proc(env={"POINTDOSE_TICKS_START": str(start), "POINTDOSE_RATE": "1000"})
    p.send("1 start\n")
    p.wait_reply(1)
    end = time.monotonic() + 30  # until the stream has crossed the wrap (a deadline, not a speed)
    while not (len(p.samples()) > 800 and any(s[1] < 400000 for s in p.samples())) and time.monotonic() < end:
        p.pump(0.2)
    p.send("2 stop\n")
    p.wait_reply(2)
    smp = p.samples()
    assert len(smp) > 800
    assert any(s[1] > MASK - 400000 for s in smp) and any(s[1] < 400000 for s in smp), \
        "the stream did not cross the 2^30 wrap"
    for a, b in zip(smp, smp[1:]):
        assert b[0] == a[0] + 1
        # forward, and far from a wrong wrap (2^30 µs); a busy machine only stretches the steps
        assert 0 < (b[1] - a[1]) & MASK < 10_000_000, (a, b)


def test_sim_hx711_runs_the_real_driver_at_80hz(proc):
    p = proc(env={"POINTDOSE_SENSOR": "sim-hx711"})
    p.send("1 hello\n")
    d = kv(p.wait_reply(1)[2])
    assert d["sensor"] == "hx711" and d["rate"] == "80" and d["cal"] == "linear:14000:42000"
    p.send("2 sim force 5\n")
    p.wait_reply(2)
    p.send("3 start\n")
    p.wait_reply(3)
    end = time.monotonic() + 30  # a deadline, not a speed: how fast 60 samples come is the machine's
    while len(p.samples()) < 60 and time.monotonic() < end:
        p.pump(0.2)
    p.send("4 stop\n")
    p.wait_reply(4)
    smp = p.samples()
    assert len(smp) >= 60, len(smp)
    assert [s[0] for s in smp] == list(range(smp[0][0], smp[0][0] + len(smp)))
    # 80 conversions/s and each read once: on average at least 12.5 ms apart, however busy the
    # machine (a busy one skips conversions, which only stretches the steps; figures: make bench)
    span = (smp[-1][1] - smp[0][1]) & MASK
    assert span / (len(smp) - 1) >= 12000, (span, len(smp))
    # the driver reads the right counts. Not every sample: on the unix port a read preempted for
    # longer than the fake chip's power-down time (20 ms, set in main.py) gets a garbled or
    # re-settling conversion, as often as the machine is busy; the bit-level reads are checked
    # on fake time in mp/t_hx711.py
    good = [s for s in smp if abs(s[2] - (42000 + 5 * 14000)) < 2000]
    assert len(good) > len(smp) // 2, smp[:10]
    p.send("5 rate 10\n")
    assert p.wait_reply(5)[:2] == (5, 0)


def test_pty_raw_mode_session_and_repl(proc):
    p = proc(pty=True, interactive=True)
    p.send("1 hello\n")
    cid, st, text = p.wait_reply(1)
    assert st == 0 and kv(text)["stdio"] == "duplex"     # one object, as on a board
    p.send("2 start\n")
    p.wait_reply(2)
    end = time.monotonic() + 20
    while len(p.samples()) <= 30 and time.monotonic() < end:
        p.pump(0.1)
    assert len(p.samples()) > 30
    p.send("3 ping x\n")
    assert kv(p.wait_reply(3)[2])["pong"] == "x"
    p.send("4 repl\n")
    assert p.wait_reply(4)[2] == "repl=1"
    end = time.monotonic() + 15
    while b">>> " not in p.buf and time.monotonic() < end:
        p.pump(0.1)
    assert b">>> " in p.buf, p.buf[-200:]   # back at the MicroPython REPL
    assert p.p.poll() is None


def test_pty_ctrl_c_when_idle_ends_the_loop(proc):
    p = proc(pty=True, interactive=True)
    p.send("1 ping\n")
    p.wait_reply(1)
    p.send("\x03")
    end = time.monotonic() + 15
    while b">>> " not in p.buf and time.monotonic() < end:
        p.pump(0.1)
    assert b">>> " in p.buf


def test_default_simulated_device_runs_one_duplex_object():
    from pointdose.sim.device import BACKEND_UNIX, SimulatedDevice

    with SimulatedDevice() as sim:
        if sim.backend != BACKEND_UNIX:
            pytest.skip("no MicroPython unix port: the CPython shim ran instead")
        fd = os.open(sim.port, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"7 hello\n")
            buf = b""
            end = time.monotonic() + 10
            rep = None
            while rep is None and time.monotonic() < end:
                r, _, _ = select.select([fd], [], [], 0.1)
                if r:
                    buf += os.read(fd, 4096)
                    # the launcher's own start-up probe may have left part of its reply behind:
                    # as a receiver does, skip a segment that is not a whole frame
                    for seg in buf.split(b"\x00")[:-1]:
                        try:
                            fs, _ = decode_frames(seg + b"\x00")
                        except (ValueError, AssertionError):
                            continue
                        rep = rep or next((reply(pl) for t, pl in fs if t == 2 and reply(pl)[0] == 7), None)
        finally:
            os.close(fd)
    assert rep is not None and rep[1] == 0
    assert kv(rep[2])["stdio"] == "duplex"


def test_pty_ctrl_c_while_streaming_hands_over_to_mpremote_at_once(proc):
    # mpremote starts with "\r\x03": the stream must end and the REPL answer well within 1 s
    # (the liveness watchdog is set far longer, so it is not what frees the board)
    p = proc(pty=True, interactive=True, env={"POINTDOSE_WATCHDOG_MS": "60000", "POINTDOSE_RATE": "1000"})
    p.send("1 start\n")
    p.wait_reply(1)
    end = time.monotonic() + 20  # a count, not a time: how fast 100 samples come is the machine's
    while len(p.samples()) <= 100 and time.monotonic() < end:
        p.pump(0.05)
    p.send("\r\x03")
    t0 = time.monotonic()
    while b">>> " not in p.buf and time.monotonic() - t0 < 10:
        p.pump(0.05)
    assert b">>> " in p.buf, p.buf[-200:]
    # the host side of the pty is the one a loaded machine delays: generous, still below the watchdog
    assert time.monotonic() - t0 < 10.0
    smp = p.samples()
    assert len(smp) > 100 and [s[0] for s in smp] == list(range(len(smp)))
    p.send("print(6*7)\r\n")
    end = time.monotonic() + 15
    while b"42" not in p.buf and time.monotonic() < end:
        p.pump(0.1)
    assert b"42" in p.buf
