# Device features on the unix port: cues (LED/buzzer patterns, CUE_STATE), the firmware's own
# over-pressure limit (also with the host silent), buttons (debounce, BUTTON frames, sim button),
# the calibration blob (chunks, CRC, store, refusals) and the simulated tremor.
import gc
import os
import struct
import time

import mp_harness as h
from mp_harness import Rig, kv
from pd_fakeio import FakePin

PHASES = ["off", "press", "hold", "ease", "rest", "alarm"]
BANDS = ["none", "below", "in", "above"]


def _pins(buttons=("release", "pain", "stop"), rest=1):
    led = FakePin("led")
    bz = FakePin("buzzer")
    btn = [(n, FakePin(n, rest)) for n in buttons]
    return {"led": led, "buzzer": bz, "buttons": btn}


def cue_state(p):
    assert len(p) == 18, len(p)
    t, ph, bd, lv, fl, lon, loff, bon, boff, bhz = struct.unpack("<IBBBBHHHHH", p)
    return {"t": t, "phase": PHASES[ph], "band": BANDS[bd], "level": lv, "flags": fl,
            "led": (lon, loff), "bz": (bon, boff), "hz": bhz}


def button(p):
    assert len(p) == 8, len(p)
    t, bid, ev, n = struct.unpack("<IBBH", p)
    return t, bid, ev, n


def _of(fs, typ):
    return [p for t, p in fs if t == typ]


def _rig(**kw):
    pins = _pins()
    r = Rig(pins=pins, watchdog_ms=kw.pop("watchdog_ms", 60000), **kw)
    r.led = pins["led"]
    r.bz = pins["buzzer"]
    r.btn = dict(pins["buttons"])
    return r


def _trace(r, pin, us, step=1000):
    """[(t, level)] of a fake pin sampled every ``step`` µs of fake time."""
    out = []
    t = 0
    while t < us:
        r.dev.step()
        out.append((t, pin.level))
        r.clock.advance(step)
        t += step
    return out


def _edges(tr):
    return [t for (t, a), (_, b) in zip(tr, tr[1:]) if a != b]


# ------------------------------------------------------------------------------ cues
def test_cue_echo_and_reply():
    r = _rig()
    reps = r.cmd("3 cue hold below 40\n")
    assert reps == [(3, 0, "phase=hold band=below level=40 alarm=0")], reps
    (p,) = _of(r.last_frames, 0x10)
    cs = cue_state(p)
    period = 1000 - 8 * 40
    assert cs["phase"] == "hold" and cs["band"] == "below" and cs["level"] == 40
    assert cs["led"] == (period * 7 // 10, period - period * 7 // 10), cs
    assert cs["bz"] == (30, period - 30) and cs["hz"] == 1000
    assert cs["flags"] == 6     # LED and buzzer configured, no firmware alarm
    # the CUE_STATE frame precedes the reply
    assert [t for t, _ in r.last_frames] == [0x10, 2]
    # `cue` with no argument echoes what is shown
    assert r.cmd("4 cue\n")[0][2] == "phase=hold band=below level=40 alarm=0"
    assert cue_state(_of(r.last_frames, 0x10)[0])["level"] == 40


def test_cue_refusals():
    r = _rig()
    for line, st in (("cue squeeze\n", 2), ("cue hold inside\n", 2), ("cue hold in 101\n", 2),
                     ("cue hold in x\n", 2), ("cue hold in 1 2\n", 2)):
        (rep,) = r.cmd("7 " + line)
        assert rep[1] == st, (line, rep)
    assert r.dev.cues.phase == 0


def test_led_blink_rate_rises_with_level():
    r = _rig()
    r.cmd("cue press below 0\n")
    e0 = _edges(_trace(r, r.led, 4000000))
    r.cmd("cue press below 100\n")
    e1 = _edges(_trace(r, r.led, 4000000))
    # below the band: 70 % lit; period 1000 ms at level 0, 200 ms at level 100
    p0 = e0[2] - e0[0]
    p1 = e1[2] - e1[0]
    assert 990000 <= p0 <= 1010000, e0[:4]
    assert 195000 <= p1 <= 205000, e1[:4]
    r.cmd("cue hold in 0\n")
    tr = _trace(r, r.led, 1000000)
    assert all(v == 1 for _, v in tr), "steady in the band"
    r.cmd("cue hold above 50\n")
    tr = _trace(r, r.led, 3000000)
    lit = sum(v for _, v in tr) / len(tr)
    assert 0.15 < lit < 0.25, lit      # above the band: 20 % lit


def test_cue_refreshed_faster_than_its_period_still_blinks():
    r = _rig()
    tr = []
    for k in range(30):                     # a host resending the cue every 100 ms, level moving
        r.send("cue hold below %d\n" % (40 + k % 3), us=0)
        tr += _trace(r, r.led, 100000)
    lit = sum(v for _, v in tr) / len(tr)
    assert len(_edges(tr)) >= 6 and 0.6 < lit < 0.8, (len(_edges(tr)), lit)
    r.send("cue hold above 40\n", us=0)     # below -> above: the new duty from the next edge on
    tr = _trace(r, r.led, 2000000)
    lit = sum(v for _, v in tr[700:]) / len(tr[700:])
    assert 0.15 < lit < 0.25, lit


def test_buzzer_chirp_per_phase_and_alarm_tone():
    r = _rig()
    counts = {}
    for ph in ("press", "hold", "ease", "rest"):
        r.cmd("cue %s\n" % ph)      # no band: chirp only
        tr = _trace(r, r.bz, 1500000)
        counts[ph] = len([1 for (t, a), (_, b) in zip(tr, tr[1:]) if b and not a]) + (1 if tr[0][1] else 0)
    assert counts == {"press": 2, "hold": 1, "ease": 3, "rest": 1}, counts
    r.cmd("cue rest\n")             # same phase again: no chirp
    tr = _trace(r, r.bz, 1000000)
    assert all(v == 0 for _, v in tr)
    r.cmd("cue alarm\n")
    tr = _trace(r, r.bz, 1000000)
    assert r.bz.hz == 3000 and len(_edges(tr)) >= 5


def test_off_cue_is_the_link_light():
    r = _rig()
    r.cmd("cue off\n")
    assert r.led.level == 0
    r.cmd("1 start\n")
    r.run_us(10000)
    assert r.led.level == 1, "lit while streaming"
    r.cmd("2 stop\n")
    r.run_us(10000)
    assert r.led.level == 0


def test_io_reports_fake_pins():
    r = _rig()
    r.cmd("cue hold in\n")
    d = kv(r.cmd("5 io\n")[0][2])
    assert d["led"] == "1" and d["alarm"] == "0" and d["limit_max"] == "off"
    assert d["buttons"] == "release,pain,stop" and d["pressed"] == "none"


# ------------------------------------------------------------------------------ limit
def _force(r, newtons):
    r.send("sim force %s\n" % newtons)    # frames stay for r.frames()


def test_limit_command_and_refusals():
    r = _rig()
    assert r.cmd("1 limit\n")[0][2] == "limit_max=off limit_min=off alarm=0"
    assert r.cmd("2 limit 100000\n")[0][2] == "limit_max=100000 limit_min=off alarm=0"
    assert r.cmd("3 limit min -50\n")[0][2] == "limit_max=100000 limit_min=-50 alarm=0"
    assert r.cmd("4 limit max off\n")[0][2] == "limit_max=off limit_min=-50 alarm=0"
    assert r.cmd("5 limit off\n")[0][2] == "limit_max=off limit_min=off alarm=0"
    for line in ("limit x\n", "limit 9999999\n", "limit max\n", "limit 1 2\n"):
        assert r.cmd("6 " + line)[0][1] == 2, line
    assert not r.dev._sampling


def test_limit_that_can_never_fire_is_refused():
    # a max at the top of the sensor's raw range (or a min at its bottom) can never be passed
    r = _rig()
    ((cid, st, text),) = r.cmd("1 limit max 8388607\n")
    assert (cid, st) == (1, 2) and "can never fire" in text and "-8388608..8388606" in text, text
    assert r.cmd("2 limit min -8388608\n")[0][:2] == (2, 2)
    assert r.cmd("3 limit max 8388606\n")[0][:2] == (3, 0)
    assert r.cmd("4 limit min -8388607\n")[0][:2] == (4, 0)
    assert r.cmd("5 limit off\n")[0][:2] == (5, 0)
    from pd_adc import ADCSensor

    class A:
        def read_u16(self):
            return 1000

    r = Rig(sensor=ADCSensor(A(), rate=200))
    ((cid, st, text),) = r.cmd("6 limit 65535\n")
    assert st == 2 and "0..65534" in text, text
    assert r.cmd("7 limit 70000\n")[0][1] == 2
    assert r.cmd("8 limit min 0\n")[0][1] == 2
    assert r.cmd("9 limit 65534\n")[0][:2] == (9, 0)
    assert r.cmd("10 limit min 1\n")[0][:2] == (10, 0)


def test_over_pressure_once_per_crossing_with_calm_rearm():
    r = _rig()
    r.cmd("sim noise 0\n")
    r.cmd("limit 100000\n")
    r.cmd("1 start\n")
    _force(r, 10)                           # 42000 + 140000 counts
    r.run_us(300000)
    fs = r.frames()
    errs = [p for p in _of(fs, 4) if p[0] == 5]
    assert len(errs) == 1, errs
    d = kv(bytes(errs[0][1:]).decode()[len("over-pressure: "):])
    assert int(d["raw"]) > 100000 and d["limit"] == "max:100000"
    cs = cue_state(_of(fs, 0x10)[-1])
    assert cs["phase"] == "alarm" and cs["flags"] & 1 and cs["led"] == (100, 100)
    assert r.dev.alarm and r.bz.hz == 3000
    # back below for less than 0.5 s and over again: the same crossing, no new ERROR
    _force(r, 0)
    r.run_us(200000)
    _force(r, 10)
    r.run_us(200000)
    assert not [p for p in _of(r.frames(), 4) if p[0] == 5]
    # back below for more than 0.5 s: the alarm ends (CUE_STATE without the flag), the next is new
    _force(r, 0)
    r.run_us(700000)
    fs = r.frames()
    assert not r.dev.alarm and not cue_state(_of(fs, 0x10)[-1])["flags"] & 1
    _force(r, 10)
    r.run_us(100000)
    assert len([p for p in _of(r.frames(), 4) if p[0] == 5]) == 1
    assert r.dev.alarms == 2


def test_low_limit_for_a_cell_wired_the_other_way():
    r = _rig()
    r.cmd("sim noise 0\n")
    r.cmd("limit min 0\n")
    r.cmd("1 start\n")
    _force(r, -4)                           # 42000 - 56000 < 0
    r.run_us(100000)
    errs = [p for p in _of(r.frames(), 4) if p[0] == 5]
    assert len(errs) == 1 and b"limit=min:0" in errs[0], errs


def test_limit_off_ends_the_alarm():
    r = _rig()
    r.cmd("sim noise 0\n")
    r.cmd("limit 40000\n")                 # below the unloaded 42000 counts
    r.run_us(100000)
    assert r.dev.alarm                      # sampled (not streamed) because a limit is set
    r.cmd("limit off\n")
    assert not r.dev.alarm and not r.dev._sampling


def test_alarm_works_after_the_watchdog_with_the_host_silent():
    r = _rig(watchdog_ms=400)
    r.cmd("sim noise 0\n")
    r.cmd("limit 100000\n")
    r.cmd("cue hold in 0\n")
    r.cmd("sim profile 1.0:0,1.2:10\n")
    r.cmd("1 start\n")
    r.frames()
    r.run_us(2000000)                       # no line from the host from here on
    fs = r.frames()
    codes = [p[0] for p in _of(fs, 4)]
    assert codes == [1, 5], codes           # watchdog, then over-pressure
    i1 = [i for i, (t, p) in enumerate(fs) if t == 4 and p[0] == 1][0]
    assert not [t for t, _ in fs[i1 + 1:] if t == 1], "no DATA after the watchdog"
    assert not r.dev.streaming and r.dev._sampling and r.dev.alarm
    tr = _trace(r, r.led, 1000000)
    assert len(_edges(tr)) >= 8, "the LED flashes the alarm (100/100 ms)"
    cs = [cue_state(p) for p in _of(fs, 0x10)]
    assert cs[0]["phase"] == "off" and cs[-1]["phase"] == "alarm", cs


# ------------------------------------------------------------------------------ buttons
def test_button_press_and_release_debounced():
    r = _rig()
    pin = r.btn["pain"]
    r.run_us(50000)
    r.frames()
    t_press = r.clock.now()
    pin.level = 0                           # pressed (to GND)
    r.run_us(8000)
    pin.level = 1                           # a bounce: back up for 8 ms
    r.run_us(8000)
    pin.level = 0
    t_press = r.clock.now()
    r.run_us(100000)
    pin.level = 1
    r.run_us(100000)
    ev = [button(p) for p in _of(r.frames(), 0x11)]
    assert [(b, e, n) for _, b, e, n in ev] == [(2, 1, 1), (2, 0, 2)], ev
    assert 0 <= (ev[0][0] - t_press) & h.MASK <= 5500, (ev[0][0], t_press)   # stamped at the edge
    d = kv(r.cmd("io\n")[0][2])
    assert d["pressed"] == "none"


def test_normally_closed_pedal_rests_low():
    pins = _pins(buttons=("stop",), rest=0)
    r = Rig(pins=pins, watchdog_ms=60000)
    pin = pins["buttons"][0][1]
    r.run_us(50000)
    r.frames()
    pin.level = 1                           # an NC pedal opens when stepped on
    r.run_us(50000)
    ev = [button(p) for p in _of(r.frames(), 0x11)]
    assert [(b, e) for _, b, e, _ in ev] == [(3, 1)], ev


def test_sim_button_command():
    r = _rig()
    r.frames()
    reps = r.cmd("8 sim button stop 50\n")
    assert reps == [(8, 0, "button=stop ms=50")], reps
    r.run_us(200000)
    ev = [button(p) for p in _of(r.frames(), 0x11)]
    assert [(b, e) for _, b, e, _ in ev] == [(3, 1), (3, 0)], ev
    assert 45000 <= (ev[1][0] - ev[0][0]) & h.MASK <= 60000
    assert r.cmd("9 sim button elbow\n")[0][1] == 2
    r2 = Rig()
    assert r2.cmd("9 sim button pain\n")[0][1] == 3    # no buttons configured


# ------------------------------------------------------------------------------ calibration blob
def _folder():
    d = "/tmp/pd_t_features_%d" % (time.ticks_us() & 0xFFFFFF)
    os.mkdir(d)
    return d


def _rm(d):
    for n in os.listdir(d):
        os.remove(d + "/" + n)
    os.rmdir(d)


def _write_blob(r, blob, cid=10):
    import pd_frame
    for off in range(0, len(blob), 30):
        chunk = blob[off:off + 30]
        line = "%d calw %d %s\n" % (cid, off, "".join("%02x" % b for b in chunk))
        assert len(line) <= 80
        (rep,) = r.cmd(line)
        assert rep[1] == 0, rep
    return r.cmd("%d cal commit %d %04x\n" % (cid + 1, len(blob), pd_frame.crc16(blob, len(blob))))


def _read_blob(r):
    rep = r.cmd("cal read\n")[0]
    d = kv(rep[2])
    out = bytearray(int(d["len"]))
    for p in _of(r.last_frames, 0x12):
        total, off, crc = struct.unpack("<HHH", p[:6])
        out[off:off + len(p) - 6] = p[6:]
    return d, bytes(out)


def test_blob_write_read_persist_clear():
    import pd_config
    import pd_frame
    d = _folder()
    try:
        st = pd_config.Store(d)
        r = _rig(store=st)
        assert kv(r.cmd("hello\n")[0][2])["calblob"] == "none"
        blob = bytes((i * 13 + 5) & 0xFF for i in range(1024))
        (rep,) = _write_blob(r, blob)
        crc = "%04x" % pd_frame.crc16(blob, len(blob))
        assert rep == (11, 0, "calblob=%s len=1024" % crc), rep
        assert sorted(os.listdir(d)) == ["pd_cal.bin"], os.listdir(d)   # no .tmp left behind
        info, back = _read_blob(r)
        assert back == blob and info["frames"] == "8" and info["calblob"] == crc
        # a fresh boot on the same store has it
        r2 = _rig(store=pd_config.Store(d))
        assert kv(r2.cmd("hello\n")[0][2])["calblob"] == crc
        assert _read_blob(r2)[1] == blob
        assert r2.cmd("cal clear\n")[0][2] == "calblob=none len=0"
        assert os.listdir(d) == []
        assert _read_blob(r2)[0] == {"calblob": "none", "len": "0", "frames": "0"}
    finally:
        _rm(d)


def test_blob_refusals():
    import pd_config
    d = _folder()
    try:
        r = _rig(store=pd_config.Store(d))
        assert r.cmd("calw 0 abc\n")[0][1] == 2             # odd hex
        assert r.cmd("calw 1020 0102030405\n")[0][1] == 2   # past 1024
        assert r.cmd("calw 0 zz\n")[0][1] == 2
        r.cmd("calw 0 010203\n")
        rep = r.cmd("cal commit 3 0000\n")[0]
        assert rep[1] == 2 and "send the chunks again" in rep[2], rep
        assert r.cmd("cal commit 0 0000\n")[0][1] == 2
        assert r.cmd("cal frob\n")[0][1] == 2
        r.cmd("1 start\n")
        for line in ("calw 0 01\n", "cal commit 1 0000\n", "cal clear\n"):
            rep = r.cmd(line)[0]
            assert rep[1] == 3 and "stop streaming first" in rep[2], (line, rep)
        assert r.cmd("cal read\n")[0][1] == 0               # reading is fine while streaming
        assert os.listdir(d) == []
    finally:
        _rm(d)


def test_damaged_blob_file_is_reported_at_boot():
    import pd_config
    d = _folder()
    try:
        with open(d + "/pd_cal.bin", "wb") as f:
            f.write(b"PDC1\x05\x00\x00\x00abc")                # says 5 bytes, holds 3
        r = _rig(store=pd_config.Store(d))
        r.dev.boot_errors([])
        r.run_us(1000)
        errs = [bytes(p[1:]).decode() for p in _of(r.frames(), 4) if p[0] == 4]
        assert any("calibration blob" in e and "damaged" in e for e in errs), errs
        assert kv(r.cmd("hello\n")[0][2])["calblob"] == "none"
    finally:
        _rm(d)


# ------------------------------------------------------------------------------ tremor
def test_sim_tremor_amplitude_and_period():
    r = _rig(rate=1000)
    assert r.cmd("sim noise 0\n")[0][1] == 0
    assert r.cmd("1 sim tremor 2 10\n")[0] == (1, 0, "tremor=2 hz=10")
    r.cmd("2 start\n")
    r.run_us(1000000)
    r.cmd("3 stop\n")
    vals = [s[2] for s in r.samples(r.pending)]
    vals = vals[-800:]
    lo = min(vals)
    hi = max(vals)
    assert abs((hi - lo) // 2 - 28000) < 400, (lo, hi)    # 2 N x 14000 counts/N
    mid = (hi + lo) // 2
    ups = [i for i in range(1, len(vals)) if vals[i - 1] < mid <= vals[i]]
    per = (ups[-1] - ups[0]) / (len(ups) - 1)
    assert 98 <= per <= 102, per                            # 100 samples at 1 kHz = 10 Hz
    for line in ("sim tremor 60 10\n", "sim tremor 2\n", "sim tremor 2 40\n"):
        assert r.cmd(line)[0][1] == 2, line
    assert r.cmd("sim tremor off\n")[0][2] == "tremor=off"


# ------------------------------------------------------------------------------ allocation
def test_zero_alloc_with_cues_limit_buttons_and_tremor():
    r = _rig(rate=1000, capture=0)
    r.cmd("sim noise 0\n")
    r.cmd("sim tremor 1 10\n")
    r.cmd("limit 150000\n")
    r.cmd("cue hold below 60\n")
    r.cmd("1 start\n")
    # the force crosses the limit twice during the measurement (alarm on, calm, alarm off, on)
    r.cmd("sim profile 0.5:0,0.6:12,1.2:12,1.3:0,2.2:0,2.3:12\n")
    r.run_us(300000, 250)
    pin = r.btn["release"]
    gc.collect()
    gc.disable()
    try:
        a0 = gc.mem_alloc()
        s0 = r.dev.seq
        t = 0
        while t < 3000000:
            r.dev.step()
            r.clock.advance(250)
            t += 250
            if t % 400000 == 0:
                pin.level = 1 - pin.level   # button presses and releases
        a1 = gc.mem_alloc()
    finally:
        gc.enable()
    n = r.dev.seq - s0
    print("  alloc %d bytes over %d samples (cues, limit, buttons, tremor)" % (a1 - a0, n))
    assert n > 2900
    assert r.dev.alarms == 2 and r.dev._btns.count >= 6, (r.dev.alarms, r.dev._btns.count)
    assert r.led.changes > 10 and r.bz.changes > 10
    assert a1 - a0 == 0, a1 - a0



# ------------------------------------------------------------------------------ replay
def _replay_file(lines):
    path = "/tmp/pd_t_replay_%d.txt" % (time.ticks_us() & 0xFFFFFF)
    with open(path, "w") as f:
        f.write(lines)
    return path


def test_replay_plays_a_recorded_profile_by_device_time_and_loops():
    # 0 N -> 10 N over 0.5 s, hold 0.5 s, back to 0 over 0.5 s: a 1.5 s round
    path = _replay_file("# ms newtons\n0 0\n500 10\n1000 10\n1500 0.0\n")
    try:
        r = Rig(rate=200, watchdog_ms=60000)
        src = r.sensor.sim
        assert src.load_replay(path) == 4
        r.send("1 start\n", us=0)
        r.run_us(4600000)
        vals = [v for _, _, v in r.samples(r.frames())]
    finally:
        os.remove(path)
    assert len(vals) >= 900, len(vals)
    forces = [(v - src.zero) / src.counts_per_n for v in vals]
    assert min(forces) >= -0.001 and max(forces) <= 10.001, (min(forces), max(forces))
    top = src.zero + 10 * src.counts_per_n
    # noise and drift are off: the plateau is exact, about a third of each round
    plateau = sum(1 for v in vals if v == top)
    assert 0.28 * len(vals) < plateau < 0.4 * len(vals), (plateau, len(vals))
    # played by device time and looped: 1.5 s at 200 Hz is 300 samples, each round the same
    for k in range(len(vals) - 300):
        assert vals[k] == vals[k + 300], (k, vals[k], vals[k + 300])
    # `sim replay` starts the recording again; `sim force` leaves it, `sim replay` returns to it
    assert r.cmd("2 sim force 3\n")[0][1] == 0
    (rep,) = r.cmd("3 sim replay\n")
    assert rep[1] == 0 and kv(rep[2]) == {"replay": "4", "duration_ms": "1500"}, rep
    assert src.force_counts == 0


def test_replay_file_problems_are_refused():
    r = Rig(rate=200, watchdog_ms=60000)
    src = r.sensor.sim
    assert r.cmd("2 sim replay\n")[0][1] == 2       # nothing loaded
    for text in ("0 0\n500 x\n", "0 0\n500 1\n500 2\n", "100 0\n500 1\n", "0 0\n", "0 0 0\n10 1\n",
                 "0 0\n10 2000\n"):
        path = _replay_file(text)
        try:
            src.load_replay(path)
            raise AssertionError("accepted " + text)
        except ValueError:
            pass
        finally:
            os.remove(path)
    try:
        src.load_replay("/tmp/pd_no_such_replay_file")
        raise AssertionError("accepted a missing file")
    except OSError:
        pass


if __name__ == "__main__":
    h.main(globals())
