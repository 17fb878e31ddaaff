# The device loop with an injected fake clock and fake streams.
import os

import mp_harness as h
from mp_harness import MASK, Rig, kv


def _started(**kw):
    r = Rig(**kw)
    rep = r.cmd("1 start\n")
    assert rep[0][:2] == (1, 0), rep
    return r


def test_boot_sends_delimiter_first():
    r = Rig()
    r.run_us(1000)
    d = r.out.take()
    assert d == b"\x00", d


def test_hello_keys():
    r = Rig()
    ((cid, st, text),) = r.cmd("7 hello\n")
    assert (cid, st) == (7, 0)
    d = kv(text)
    for k in ("fw", "proto", "board", "sensor", "rate", "uid", "boot", "raw_min", "raw_max", "tare",
              "cal", "batch_us", "link", "mpy", "watchdog_ms"):
        assert k in d, k
    assert d["proto"] == "2" and d["sensor"] == "sim" and d["boot"] == "1a2b3c4d"
    assert d["cal"] == "linear:14000:42000" and d["raw_min"] == "-8388608"
    assert d["uid"] == "abcd" and d["batch_us"] == "4000" and d["watchdog_ms"] == "3000"
    assert r.cmd("info\n")[0][:2] == (0, 0)


def test_unknown_verb_vector_text():
    r = Rig()
    assert r.cmd("9 fly\n") == [(9, 1, "unknown command: fly")]


def test_ids_and_errors_counted_in_status():
    r = Rig()
    assert r.cmd("65535 ping\n")[0][:2] == (65535, 0)
    assert r.cmd("ping\n")[0][:2] == (0, 0)
    assert r.cmd("0 ping\n")[0][:2] == (0, 2)
    assert r.cmd("70000 ping\n")[0][:2] == (0, 2)
    r.cmd("5 status\n")
    st = [h.status(p) for t, p in r.last_frames if t == 3][0]
    assert st["cmd_errors"] == 2, st


def test_overlong_and_non_ascii_lines_keep_streaming():
    r = _started(rate=1000)
    r.run_us(20000)
    r.frames()
    rep = r.cmd("4 " + "z" * 100 + "\n", us=20000)
    assert [x[:2] for x in rep] == [(4, 4)], rep
    rep = r.cmd(b"6 p\xffng\n", us=20000)
    assert [x[:2] for x in rep] == [(6, 4)], rep
    rep = r.cmd("8 ping tok\r\n", us=20000)
    assert rep[0][:2] == (8, 0) and kv(rep[0][2])["pong"] == "tok"
    r.cmd("10 stop\n")
    seqs = [s[0] for s in r.samples(r.pending)]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "streaming was interrupted"
    assert len(seqs) > 55


def test_empty_line_no_reply_but_feeds_watchdog():
    r = _started(watchdog_ms=1000)
    for _ in range(4):
        assert r.cmd("\n", us=600000) == []
    assert r.dev.streaming


def test_start_stop_replies_and_data():
    r = Rig(rate=1000)
    ((cid, st, text),) = r.cmd("2 start\n", us=0)
    assert kv(text) == {"streaming": "1", "seq": "0"}
    assert r.kbd_calls == [-1]
    r.run_us(100000)
    rep = r.cmd("3 stop\n", us=0)
    assert rep[0][:2] == (3, 0)
    nxt = int(kv(rep[0][2])["seq"])
    smp = r.samples(r.pending)
    assert [s[0] for s in smp] == list(range(nxt)), "samples missing before the stop reply"
    assert 99 <= nxt <= 102, nxt
    assert r.kbd_calls == [-1, 3]
    # STATUS on each change of state
    fl = [h.status(p)["flags"] for t, p in r.pending if t == 3]
    assert fl[0] & 3 == 3 and fl[-1] & 3 == 0, fl
    # the stop reply comes after the last DATA frame
    types = [t for t, p in r.pending]
    assert types.index(2, types.index(2) + 1) > max(i for i, t in enumerate(types) if t == 1)


def test_start_while_streaming_names_the_oldest_unsent_sample():
    r = Rig(rate=1000, watchdog_ms=60000)
    r.cmd("1 start\n", us=0)
    r.run_us(20000)
    r.frames()
    r.out.writable = False          # the host stops reading: samples wait in the ring
    r.run_us(10000, step=500)
    unsent = r.dev.ring.seq[r.dev.ring.tail]
    assert r.dev.ring.count > 5 and unsent < r.dev.seq
    r.out.writable = True
    ((cid, st, text),) = [x for x in r.cmd("2 start\n", us=0) if x[0] == 2]
    assert st == 0 and int(kv(text)["seq"]) == unsent, (text, unsent, r.dev.seq)
    r.run_us(20000)
    seqs = [s[0] for s in r.samples(r.pending)]
    assert seqs and seqs[0] <= unsent and seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_batching_at_1khz_and_200hz():
    r = _started(rate=1000)
    r.run_us(200000)
    fs = [p for t, p in r.frames() if t == 1]
    ns = [p[8] for p in fs]
    assert ns.count(4) >= len(ns) - 2, ns          # batch_us 4000 / period 1000
    dts = [s for p in fs for s in h.data_samples(p)]
    assert all(990 <= ((b[1] - a[1]) & MASK) <= 1260 for a, b in zip(dts, dts[1:]))
    r = _started(rate=200)
    r.run_us(200000)
    ns = [p[8] for t, p in r.frames() if t == 1]
    assert set(ns) == {1}, ns


def test_batch_age_bound_on_uart():
    r = _started(rate=200, link="uart:115200", batch_us=20000)
    r.run_us(40000, step=250)
    sent = [p for t, p in r.frames() if t == 1]
    assert sent and all(p[8] == 4 for p in sent), [p[8] for p in sent]


def test_status_once_a_second():
    r = _started(rate=100, watchdog_ms=10000)
    r.frames()
    r.run_us(3500000, step=1000)
    sts = [h.status(p) for t, p in r.frames() if t == 3]
    assert len(sts) == 3, len(sts)
    assert all(s["flags"] & 1 and s["rate"] == 100 for s in sts)


def test_watchdog_stops_stream_and_restores_ctrl_c():
    r = _started(rate=200)
    r.run_us(2900000, step=1000)
    assert r.dev.streaming
    r.frames()
    r.run_us(200000, step=1000)
    assert not r.dev.streaming
    fs = r.frames()
    errs = [(p[0], p[1:].decode()) for t, p in fs if t == 4]
    assert errs == [(1, "host silent for 3.0 s: streaming stopped")], errs
    assert r.kbd_calls == [-1, 3]
    st = [h.status(p) for t, p in fs if t == 3][-1]
    assert st["flags"] == 4, st
    assert r.cmd("2 start\n")[0][:2] == (2, 0)


def test_watchdog_fed_by_pings():
    r = _started(rate=200)
    for i in range(6):
        r.cmd("%d ping\n" % (i + 10), us=900000)
    assert r.dev.streaming and not r.dev.wd_fired


def test_overflow_counted_when_writer_blocked():
    r = _started(rate=1000, ring=64, watchdog_ms=60000)
    r.frames()
    r.out.writable = False
    r.run_us(500000, step=500)
    assert r.out.take() == b""
    assert r.dev.ring.dropped >= 500 - 64 - 2, r.dev.ring.dropped
    r.out.writable = True
    r.run_us(50000, step=500)
    r.out.writable = False
    r.run_us(200000, step=500)
    r.out.writable = True
    r.cmd("7 stop\n", us=50000)
    fs = r.pending
    errs = [p for t, p in fs if t == 4]
    assert len(errs) == 1 and errs[0][0] == 3, errs          # once per stream
    st = [h.status(p) for t, p in fs if t == 3][-1]
    assert st["overflow"] == r.dev.ring.dropped > 500, (st, r.dev.ring.dropped)
    seqs = [s[0] for s in r.samples(fs)]
    assert seqs == sorted(seqs)
    gaps = [b - a for a, b in zip(seqs, seqs[1:]) if b - a != 1]
    assert len(gaps) == 1 and gaps[0] > 100, gaps          # the second blocked stretch
    assert seqs[0] > 400                                    # the first: oldest dropped
    assert len(seqs) + st["overflow"] == r.dev.seq == st["next_seq"]


def test_seq_and_time_continuous_across_wrap():
    r = Rig(start=MASK - 150000, rate=1000, watchdog_ms=60000)
    r.dev.seq = MASK - 120
    r.cmd("1 start\n", us=0)
    r.run_us(400000, step=250)
    r.cmd("2 stop\n", us=0)
    smp = r.samples(r.pending)
    assert len(smp) > 390
    for a, b in zip(smp, smp[1:]):
        assert b[0] == (a[0] + 1) & MASK
        d = (b[1] - a[1]) & MASK
        assert 0 < d < 2000, (a, b)
    assert any(s[0] == 0 for s in smp) and any(s[1] < 100000 for s in smp)


def test_rate_command_and_refusals():
    r = Rig()
    assert r.cmd("1 rate 500\n")[0] == (1, 0, "rate=500 cost_us=0 seen_us=0")     # a fake clock: no cost
    assert r.dev.rate == 500 and r.dev.sched.period == 2000
    for line in ("2 rate 0\n", "3 rate 1001\n", "4 rate abc\n", "5 rate\n", "6 rate 1 2\n"):
        assert r.cmd(line)[0][1] == 2, line
    ru = Rig(link="uart:57600")
    st = ru.cmd("7 rate 1000\n")[0]
    assert st[:2] == (7, 2) and "70%" in st[2], st
    assert ru.cmd("8 rate 200\n")[0][:2] == (8, 0)
    ru = Rig(link="uart:115200", batch_us=4000)
    assert ru.cmd("9 rate 1000\n")[0][1] == 2           # 5000 + 250 * 15 > 8064
    assert ru.cmd("9 rate 800\n")[0][1] == 0


def _hx_rig(rate_pin, rate=80, **kw):
    from pd_fakehx711 import FakeHX711
    from pd_hx711 import HX711, HX711Sensor
    from pd_simsensor import SimSource
    r = Rig(sensor="none", rate=rate, **kw)
    chip = FakeHX711(r.clock, rate=rate, sim=SimSource(noise=0))
    hx = HX711(chip.dout, chip.sck, rate=rate, rate_pin=chip.rate_pin if rate_pin else None)
    r.dev.sensor = HX711Sensor(hx, sim=chip.sim)
    return r, chip


def test_rate_refusals_hx711():
    r, chip = _hx_rig(False)
    assert r.cmd("1 rate 10\n")[0][:2] == (1, 3)
    assert r.cmd("2 rate 50\n")[0][:2] == (2, 2)
    assert r.cmd("3 rate 80\n")[0][:2] == (3, 0)
    r, chip = _hx_rig(True)
    assert r.cmd("4 rate 10\n")[0] == (4, 0, "rate=10")
    assert chip.period_us == 100000


def test_hx711_stream_end_to_end_80hz():
    r, chip = _hx_rig(True)
    r.cmd("1 start\n", us=0)
    r.run_us(1000000, step=500)
    r.cmd("2 stop\n", us=0)
    smp = r.samples(r.pending)
    assert 70 <= len(smp) <= 80, len(smp)
    dts = [(b[1] - a[1]) & MASK for a, b in zip(smp, smp[1:])]
    assert all(12000 <= d <= 13000 for d in dts), dts
    assert all(41000 < s[2] < 43000 for s in smp)     # the sim's zero, no force
    assert chip.overwritten == 0


def test_hx711_10hz_one_sample_per_frame():
    r, chip = _hx_rig(True, rate=10)
    r.cmd("1 start\n", us=0)
    r.run_us(2000000, step=1000)
    fs = [p for t, p in r.frames() if t == 1]
    assert len(fs) >= 14 and all(p[8] == 1 for p in fs), [p[8] for p in fs]


def test_sensor_fault_error_and_flag():
    r, chip = _hx_rig(True)
    chip.dead = True
    r.cmd("1 start\n", us=0)
    r.run_us(1500000, step=1000)
    fs = r.frames()
    errs = [p for t, p in fs if t == 4]
    assert len(errs) == 1 and errs[0][0] == 2, errs
    assert [h.status(p)["flags"] for t, p in fs if t == 3][-1] & 8
    chip.dead = False
    r.run_us(200000, step=1000)
    r.cmd("2 status\n")
    assert not [h.status(p)["flags"] for t, p in r.last_frames if t == 3][-1] & 8


def test_tare_while_streaming_and_saved_at_stop():
    import pd_config
    import time
    folder = "/tmp/pd_fw_test_%d" % (time.ticks_us() & 0xFFFFFF)
    try:
        os.mkdir(folder)
    except OSError:
        pass
    store = pd_config.Store(folder)
    r = _started(rate=1000, store=store)
    r.frames()
    rep = r.cmd("5 tare 100\n", us=60000)
    assert rep == [], rep                     # not done yet, streaming goes on
    r.run_us(60000)
    rep = r.replies()
    assert len(rep) == 1 and rep[0][:2] == (5, 0), rep
    d = kv(rep[0][2])
    assert d["n"] == "100" and 41800 < int(d["tare"]) < 42200 and 10 < float(d["sd"]) < 80, d
    assert r.dev.streaming
    assert store.load() == {}, "wrote the store while streaming"
    r.cmd("6 stop\n")
    assert store.load()["tare"] == int(d["tare"])
    assert "pd_state.json.tmp" not in os.listdir(folder)
    assert kv(r.cmd("7 hello\n")[0][2])["tare"] == d["tare"]
    # default N is half a second, also when not streaming
    rep = r.cmd("8 tare\n", us=600000)
    assert rep[0][:2] == (8, 0) and kv(rep[0][2])["n"] == "500", rep
    assert r.cmd("9 tare 0\n")[0][1] == 2 and r.cmd("9 tare 99999\n")[0][1] == 2
    r2 = Rig(store=store)
    assert r2.dev.tare == store.load()["tare"]
    for f in os.listdir(folder):
        os.remove(folder + "/" + f)
    os.rmdir(folder)


def test_tare_busy():
    r = _started(rate=100)
    r.cmd("1 tare 50\n", us=0)
    assert r.cmd("2 tare\n", us=0)[0][:2] == (2, 3)


def test_sim_commands():
    r = _started(rate=1000)
    assert r.cmd("1 sim noise 0\n")[0] == (1, 0, "noise=0")
    assert r.cmd("2 sim force 10\n")[0][:2] == (2, 0)
    r.run_us(50000)
    r.frames()
    r.run_us(20000)
    vals = [s[2] for s in r.samples(r.frames())]
    drift = r.sensor.sim.drift
    assert vals and all(v == 42000 + 140000 + drift for v in vals), vals[:5]
    assert r.cmd("3 sim force 20 1\n")[0][:2] == (3, 0)
    r.run_us(500000)
    r.frames()
    r.run_us(4000)
    mid = [s[2] for s in r.samples(r.frames())]
    assert all(42000 + 210000 - 1000 <= v - drift < 42000 + 210000 + 1000 for v in mid), mid
    assert r.cmd("4 sim profile 0:0,1:5,2:0\n")[0][:2] == (4, 0)
    for bad in ("sim force x", "sim profile 1:2,0:3", "sim noise -1", "sim fly", "sim"):
        assert r.cmd("5 %s\n" % bad)[0][:2] == (5, 2), bad
    r2 = Rig(sensor="none")
    assert r2.cmd("1 sim noise 0\n")[0][:2] == (1, 3)
    assert r2.cmd("2 start\n")[0][:2] == (2, 5)


def test_ping_and_status_replies():
    r = Rig(start=123456)
    ((cid, st, text),) = r.cmd("3 ping abc\n", us=0)
    assert kv(text) == {"pong": "abc", "t": "123456"}
    rep = r.cmd("4 status\n", us=0)
    assert rep == [(4, 0, "ok=1")]
    types = [t for t, p in r.last_frames]
    assert types == [3, 2], types


def test_repl_and_ctrl_c():
    r = _started()
    rep = r.cmd("9 repl\n", us=0)
    assert rep[0] == (9, 0, "repl=1") and r.dev.quit and not r.dev.streaming
    assert r.kbd_calls == [-1, 3]
    r = Rig()
    r.inp.feed(b"\x03")
    try:
        r.dev.step()
        assert False, "Ctrl-C ignored when not streaming"
    except KeyboardInterrupt:
        pass



def test_ctrl_c_while_streaming_hands_the_board_to_mpremote():
    # mpremote's first byte is Ctrl-C; while streaming kbd_intr(-1) makes it data, and the host's
    # lines never hold it: the stream ends, Ctrl-C is restored and the loop returns (to the REPL)
    # at once, not after the liveness watchdog.
    r = _started(rate=1000, watchdog_ms=60000)
    r.run_us(50000)
    r.inp.feed(b"\r\x03\x03")
    t0 = r.clock.now()
    r.dev.run()
    assert (r.clock.now() - t0) & MASK < 1000000
    assert not r.dev.streaming and r.kbd_calls[0] == -1 and set(r.kbd_calls[1:]) == {3}
    fs = r.frames()
    seqs = [s[0] for s in r.samples(r.pending)]
    assert seqs == list(range(r.dev.seq)), "samples taken before the hand-over were not sent"
    assert [h.status(p)["flags"] & 3 for t, p in fs if t == 3][-1] == 0


def test_run_returns_on_repl_and_eof():
    r = Rig()
    r.inp.feed(b"1 repl\n")
    r.dev.run()
    assert r.dev.quit and r.kbd_calls == [3]
    assert [x[:2] for x in r.replies()] == [(1, 0)]
    r = _started()
    r.inp.closed_ = True
    r.dev.run()
    assert not r.dev.streaming and r.kbd_calls[0] == -1 and set(r.kbd_calls[1:]) == {3}


if __name__ == "__main__":
    h.main(globals())
