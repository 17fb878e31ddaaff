# The boards' I/O model on the unix port: one duplex stdio object, the rp2 USB CDC's FIFO and
# stdin ring, esp32's 10 ms waits, floating inputs (docs/firmware.md, "Boards are not the unix port").
import select

import mp_harness as h
from mp_harness import Rig, kv

_IN = 1
_OUT = 4


def _steps(r, n, us=250):
    for _ in range(n):
        r.dev.step()
        r.clock.advance(us)


def test_real_select_poll_sees_input_and_output_on_one_object():
    # The firmware's StreamPoller on the unix port's own select.poll (which, as on the boards,
    # replaces the mask of an object registered twice) over ONE duplex stream.
    from pd_device import StreamPoller
    from pd_fakeio import FakeStdio
    s = FakeStdio(capture=4096)
    p = StreamPoller(s, s)              # default: the real select.poll
    assert p.poll() == _OUT, p.poll()
    s.feed(b"1 hello\n")
    assert p.poll() == _IN | _OUT, "POLLIN lost: the one object was registered twice"
    assert p.readable()
    s.writable = False
    assert p.poll() == _IN


def test_device_answers_hello_over_one_object_with_real_select_poll():
    from pd_clock import FakeClock
    from pd_device import Device, StreamPoller
    from pd_fakeio import FakeStdio
    from pd_simsensor import SimSensor, SimSource
    s = FakeStdio(capture=8192)
    clock = FakeClock(1000)
    dev = Device(h.cfg(), SimSensor(SimSource(), rate=200), clock, s, s, kbd_intr=lambda c: None,
                 boot=b"abcd", poller=StreamPoller(s, s))
    s.feed(b"1 hello\n2 start\n")
    for _ in range(40):                 # 1.2 ms of wall time per poll of a non-file object
        dev.step()
        clock.advance(1000)
    rep = [h.reply(p) for t, p in h.frames(s.take()) if t == 2]
    assert [x[:2] for x in rep] == [(1, 0), (2, 0)], rep
    assert kv(rep[0][2])["stdio"] == "duplex"


def test_fake_select_poll_replaces_a_mask_like_modselect():
    # the stand-in every Rig uses behaves as extmod/modselect.c: a second register() replaces
    from pd_fakeio import FakeSelectPoll, FakeStdio
    for mk in (FakeSelectPoll, select.poll):
        s = FakeStdio()
        s.feed(b"x")
        p = mk()
        p.register(s, _IN)
        p.register(s, _OUT)
        evs = [(o is s, e) for o, e in p.ipoll(0)]
        assert evs == [(True, _OUT)], (mk, evs)


def test_every_rig_hands_the_device_one_object():
    r = Rig()
    assert r.inp is r.out and r.dev._in is r.dev._out
    ((cid, st, text),) = r.cmd("3 hello\n")
    assert (cid, st) == (3, 0) and kv(text)["stdio"] == "duplex"


def test_two_objects_still_work():
    r = Rig(two=True)
    assert r.inp is not r.out
    ((cid, st, text),) = r.cmd("3 hello\n")
    assert (cid, st) == (3, 0) and kv(text)["stdio"] == "split"
    assert r.cmd("4 start\n")[0][:2] == (4, 0)
    r.run_us(100000)
    assert len(r.samples(r.frames())) >= 15


def _cdc(**kw):
    from pd_fakeio import CdcStdio
    box = []

    def mk(clock):
        c = CdcStdio(clock, capture=1 << 17, **kw)
        box.append(c)
        return c
    return mk, box


def test_cdc_hello_and_contiguous_stream():
    mk, box = _cdc()
    r = Rig(io=mk, rate=1000, watchdog_ms=60000)
    assert r.cmd("1 hello\n")[0][:2] == (1, 0)
    assert r.cmd("2 start\n")[0][:2] == (2, 0)
    r.run_us(500000)
    r.cmd("3 stop\n")
    seqs = [s[0] for s in r.samples(r.pending)]
    assert len(seqs) >= 495 and seqs == list(range(len(seqs))), len(seqs)


def test_cdc_ctrl_c_after_a_flood_bigger_than_the_stdin_ring_is_seen():
    # 600 bytes of lines fill the 512-byte ring; the Ctrl-C behind them enters the ring (and
    # interrupts) only because the firmware keeps reading its one object.
    mk, box = _cdc()
    r = Rig(io=mk, kbd=None)
    cdc = box[0]
    r.dev._kbd = cdc.kbd_intr
    cdc.feed(b"\n".join([b"%d ping" % (i + 1) for i in range(80)]) + b"\n\x03")
    assert len(cdc.usb) > 600
    try:
        _steps(r, 2000)
        seen = False
    except KeyboardInterrupt:
        seen = True
    assert seen and cdc.interrupts == 1, (len(cdc.usb), cdc.pending())


if __name__ == "__main__":
    h.main(globals())
