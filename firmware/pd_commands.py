"""Host -> device command lines (docs/protocol.md, "Host -> device: command lines").

``LineReader`` assembles bytes into lines in a preallocated 80-byte buffer
(``\\r`` ignored; a line longer than 80 bytes with its newline, or holding a
byte outside 0x20..0x7E, is rejected with status 4 and discarded up to the
next newline).  ``parse`` splits a complete line into (id, verb, args).
``VERBS`` maps each verb to the name of its handler on the device.

Usage::

    r = LineReader()
    ev = r.feed(byte)           # NONE, LINE, BAD, LONG or LONG_END
    if ev == LINE: cid, verb, args = parse(r.buf, r.n)
"""
import micropython
from micropython import const

LIMIT = const(80)       # bytes per line including the newline

# REPLY statuses
OK = const(0)
UNKNOWN = const(1)
BAD_ARG = const(2)
NOT_NOW = const(3)
BAD_LINE = const(4)
FAULT = const(5)

# LineReader.feed events
NONE = const(0)         # byte stored (or ignored)
LINE = const(1)         # a complete, clean line is in buf[0:n]
BAD = const(2)          # a complete line held a non-ASCII byte: answer status 4
LONG = const(3)         # the line just became too long: answer status 4 now
LONG_END = const(4)     # the newline ending a too-long line (already answered)

VERBS = {
    "hello": "cmd_hello",
    "info": "cmd_hello",
    "start": "cmd_start",
    "stop": "cmd_stop",
    "rate": "cmd_rate",
    "tare": "cmd_tare",
    "ping": "cmd_ping",
    "again": "cmd_again",
    "status": "cmd_status",
    "repl": "cmd_repl",
    "sim": "cmd_sim",
    "cue": "cmd_cue",
    "limit": "cmd_limit",
    "io": "cmd_io",
    "calw": "cmd_calw",
    "cal": "cmd_cal",
}


class LineReader:
    def __init__(self):
        self.buf = bytearray(LIMIT)
        self.n = 0
        self._bad = False
        self._long = False

    def reset(self):
        self.n = 0
        self._bad = False
        self._long = False

    @micropython.native
    def feed(self, b):
        if b == 0x0A:
            if self._long:
                self.reset()
                return LONG_END
            ev = BAD if self._bad else LINE
            self._bad = False
            return ev           # caller reads buf[0:n], then calls reset()
        if b == 0x0D or self._long:
            return NONE
        if b < 0x20 or b > 0x7E:
            self._bad = True
            b = 0x3F            # keep the id parseable
        if self.n >= LIMIT - 1:
            self._long = True
            return LONG
        self.buf[self.n] = b
        self.n += 1
        return NONE


class CommandError(Exception):
    def __init__(self, cid, status, text):
        self.cid = cid
        self.status = status
        self.text = text


def line_id(buf, n):
    """The id a (possibly bad) line starts with, 0 when it has none or a bad one."""
    v = 0
    i = 0
    while i < n and 0x30 <= buf[i] <= 0x39 and i < 6:
        v = v * 10 + buf[i] - 0x30
        i += 1
    if i == 0 or (i < n and buf[i] != 0x20) or not 1 <= v <= 65535:
        return 0
    return v


@micropython.native
def ping_id(buf, n):
    """The id of a line that is exactly ``ping`` or ``ID ping`` (the host's keep-alive, twice a
    second while streaming): 0 without an id, -1 for any other line.  The device answers such a
    line without ``parse``, which allocates: on a Pico the garbage collection that allocation
    brings on pauses the loop ~16 ms (16 slots at 1 kHz)."""
    i = 0
    while i < n and 0x30 <= buf[i] <= 0x39:
        i += 1
    cid = 0
    if i:
        cid = line_id(buf, n)
        if cid == 0:
            return -1
        i += 1
    if n - i != 4 or buf[i] != 0x70 or buf[i + 1] != 0x69 or buf[i + 2] != 0x6E or buf[i + 3] != 0x67:
        return -1
    return cid


@micropython.native
def word_end(buf, i, n):
    """Index of the first space at or after ``i`` in ``buf[0:n]``, else ``n``."""
    while i < n and buf[i] != 0x20:
        i += 1
    return i


@micropython.native
def word_at(buf, i, j, words):
    """Index in ``words`` (a tuple of bytes) of ``buf[i:j]``, compared in place; -1 if none."""
    n = j - i
    for k in range(len(words)):
        w = words[k]
        if len(w) == n:
            m = 0
            while m < n and buf[i + m] == w[m]:
                m += 1
            if m == n:
                return k
    return -1


@micropython.native
def uint_at(buf, i, n, top):
    """The whole number 0..``top`` that ``buf[i:n]`` spells (at most 6 digits), else -1."""
    if i >= n or n - i > 6:
        return -1
    v = 0
    while i < n:
        c = buf[i]
        if c < 0x30 or c > 0x39:
            return -1
        v = v * 10 + c - 0x30
        i += 1
    return v if v <= top else -1


def parse(buf, n):
    """(cid, verb, args) of a clean line; None for an empty line.

    Raises ``CommandError`` for a line with an id but no verb or a bad id.
    """
    parts = buf[:n].decode().split()     # one copy fewer than bytes(buf[:n])
    if not parts:
        return None
    cid = 0
    if parts[0].isdigit():
        cid = int(parts[0]) if len(parts[0]) < 7 else 0
        if not 1 <= cid <= 65535:
            raise CommandError(0, BAD_ARG, "command id %s out of range: use 1..65535" % parts[0])
        parts = parts[1:]
        if not parts:
            raise CommandError(cid, UNKNOWN, "no command after id %d: send ID VERB [ARGS]" % cid)
    return cid, parts[0].lower(), parts[1:]
