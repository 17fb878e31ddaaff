# Command line assembly and parsing (pd_commands), without the device.
import mp_harness as h
import pd_commands as pc


def _feed(r, data):
    evs = []
    for b in data:
        ev = r.feed(b)
        if ev:
            evs.append(ev)
            if ev in (pc.LINE, pc.BAD):
                evs.append(bytes(r.buf[:r.n]))
                r.reset()
    return evs


def test_line_and_cr_ignored():
    r = pc.LineReader()
    assert _feed(r, b"12 ping abc\r\n") == [pc.LINE, b"12 ping abc"]


def test_limit_is_80_with_newline():
    r = pc.LineReader()
    line = b"x" * 79
    assert _feed(r, line + b"\n") == [pc.LINE, line]
    r = pc.LineReader()
    assert _feed(r, b"x" * 80 + b"\n") == [pc.LONG, pc.LONG_END]
    r = pc.LineReader()
    assert _feed(r, b"5 " + b"y" * 300 + b"\n1 ping\n") == [pc.LONG, pc.LONG_END, pc.LINE, b"1 ping"]


def test_non_ascii_flagged():
    r = pc.LineReader()
    evs = _feed(r, b"3 p\xffng\n4 ping\n")
    assert evs[0] == pc.BAD and evs[2] == pc.LINE, evs
    r = pc.LineReader()
    assert _feed(r, b"\x01\n")[0] == pc.BAD


def test_ids():
    assert pc.parse(b"7 hello", 7) == (7, "hello", [])
    assert pc.parse(b"hello x y", 9) == (0, "hello", ["x", "y"])
    assert pc.parse(b"65535 ping t", 12) == (65535, "ping", ["t"])
    assert pc.parse(b"  ", 2) is None
    for bad, cid, st in ((b"0 ping", 0, 2), (b"65536 ping", 0, 2), (b"99999999 ping", 0, 2),
                         (b"12", 12, 1)):
        try:
            pc.parse(bad, len(bad))
            assert False, bad
        except pc.CommandError as e:
            assert (e.cid, e.status) == (cid, st), (bad, e.cid, e.status)


def test_line_id_of_rejected_lines():
    assert pc.line_id(b"42 p?ng", 7) == 42
    assert pc.line_id(b"42x", 3) == 0
    assert pc.line_id(b"70000 a", 7) == 0
    assert pc.line_id(b"ping", 4) == 0


def test_verb_table_covers_protocol():
    for v in ("hello", "info", "start", "stop", "rate", "tare", "ping", "status", "repl", "sim"):
        assert v in pc.VERBS, v


if __name__ == "__main__":
    h.main(globals())
