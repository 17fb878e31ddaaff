// The emulated Pico of `pointdose sim --board pico` (host/pointdose/sim/pico.py starts it).
//
// An RP2040 (rp2040js, pinned in package.json) runs a MicroPython RPI_PICO .uf2 with the project's
// firmware on its littlefs filesystem. Its USB CDC serial port is this process's stdin/stdout (the
// launcher gives us the master side of a pseudo-terminal); a line-based control channel on fd 3
// (a socket pair) drives the world around the chip: the force on the sensor, GPIO inputs, and
// reports of output pins. When fd 3 closes the launcher is gone and we exit.
//
// Emulated time is paced to wall time: it never runs ahead (rp2040js alone jumps to the next timer
// event when the core sleeps, so idle firmware would run many times faster than real time), and it
// falls behind only when the firmware keeps the emulated CPU busier than this machine can emulate.
//
// Control channel: one command a line, answered in order by `ok [TEXT]` or `err TEXT`; lines
// starting `ev ` are events (pin edges, reboots) and may come at any time.
//   time                      emulated µs since power-on, wall s, CPU s, emulated busy µs, s behind wall time
//   gpio N                    pin N: `level=0|1 oe=0|1 pull=up|down|none drive=0|1|float`
//   gpio N 0|1|float          drive pin N from outside (float: only the pin's own pull holds it)
//   pulse N 0|1 US            drive pin N to a level for US emulated µs, then let it float again
//   watch N / unwatch N       events `ev edge N LEVEL EMU_US` for every change of pin N's level
//   force N [RAMP_S]          the force on the sensor, newtons (optionally ramped)
//   profile T:N,T:N,...       piecewise-linear force from now, seconds:newtons, then hold
//   cycle PEAK PRESS HOLD EASE REST   repeat press/hold/ease/rest forever (seconds)
//   noise N                   sensor noise, newtons (1 sigma)
//   hx711 [VALUE|model]       fix the HX711's reading (24-bit) or follow the force again; says conversions
//   adc CH RAW12|model        fix ADC channel CH or let it follow the force (FSR divider)
//   reset                     reboot the chip (flash kept), as machine.reset() / the watchdog
//   save                      write the filesystem region back to --fs now
//   pace on|off               pace emulated time to wall time (default on)
import fs from 'node:fs';
import net from 'node:net';
import tty from 'node:tty';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const { values: opt } = parseArgs({
  options: {
    uf2: { type: 'string' },
    bootrom: { type: 'string' },
    fs: { type: 'string' }, // littlefs image of the storage region; written back on exit
    'fs-offset': { type: 'string', default: '0xa0000' }, // RPI_PICO: 2 MiB flash, 1408 KiB storage
    'hx711-dout': { type: 'string' },
    'hx711-sck': { type: 'string' },
    'hx711-rate': { type: 'string', default: '80' }, // conversions per second of the chip's oscillator
    'hx711-rate-pin': { type: 'string' }, // the chip's RATE input: high 80 SPS, low 10 SPS (else --hx711-rate)
    'hx711-zero': { type: 'string', default: '42000' },
    'hx711-per-n': { type: 'string', default: '14000' }, // counts per newton at gain 128
    'adc-channel': { type: 'string' }, // the FSR divider's ADC channel (0 = GP26)
    'fsr-k': { type: 'string', default: '30000' }, // FSR resistance x force, ohm*N (about an FSR 402)
    'fsr-rm': { type: 'string', default: '10000' }, // divider resistor, ohm
    'fsr-min-n': { type: 'string', default: '0.2' }, // below this the FSR is open
    noise: { type: 'string', default: '0.003' }, // newtons, 1 sigma
    cycle: { type: 'string' }, // "PEAK,PRESS,HOLD,EASE,REST" at boot
    ctl: { type: 'string', default: '3' }, // fd of the control channel
    pace: { type: 'string', default: 'on' },
    log: { type: 'string', default: 'info' },
    modules: { type: 'string' }, // the node_modules folder holding rp2040js (pinned by package-lock.json)
  },
});
const say = (...a) => { if (opt.log !== 'quiet') process.stderr.write(`[pico] ${a.join(' ')}\n`); };
const die = (msg) => { process.stderr.write(`[pico] ${msg}\n`); process.exit(2); };
if (!opt.uf2 || !opt.bootrom) die('usage: emulator.mjs --uf2 FILE --bootrom FILE [--fs IMAGE] ...');
// ESM ignores NODE_PATH: the launcher says where rp2040js is (next to package.json, or the user cache)
const rp2040js = await import(opt.modules ? pathToFileURL(path.join(opt.modules, 'rp2040js', 'dist', 'esm', 'index.js')).href : 'rp2040js');
const { ConsoleLogger, LogLevel, Simulator, USBCDC, GPIOPinState } = rp2040js;

// ---- flash: the .uf2's blocks, then the filesystem image --------------------------------------
const FLASH_BYTES = 2 * 1024 * 1024;
const XIP_BASE = 0x10000000;
const FS_OFFSET = Number(opt['fs-offset']);

function loadUf2(bytes, flash) {
  let blocks = 0;
  for (let at = 0; at + 512 <= bytes.length; at += 512) {
    const v = new DataView(bytes.buffer, bytes.byteOffset + at, 512);
    if (v.getUint32(0, true) !== 0x0a324655 || v.getUint32(4, true) !== 0x9e5d5157 || v.getUint32(508, true) !== 0x0ab16f30) {
      throw new Error(`not a UF2 file (bad magic in block ${at / 512})`);
    }
    const flags = v.getUint32(8, true);
    const target = v.getUint32(12, true);
    const size = v.getUint32(16, true);
    if (flags & 0x1) continue; // not for main flash
    if ((flags & 0x2000) && v.getUint32(28, true) !== 0xe48bff56) continue; // another family than RP2040
    if (target < XIP_BASE || target + size > XIP_BASE + FLASH_BYTES || size > 476) throw new Error(`UF2 block ${at / 512} outside the Pico's flash`);
    flash.set(bytes.subarray(at + 32, at + 32 + size), target - XIP_BASE);
    blocks++;
  }
  if (!blocks) throw new Error('the UF2 file has no RP2040 blocks');
  return blocks;
}

let flashImage = new Uint8Array(FLASH_BYTES).fill(0xff);
try {
  const n = loadUf2(fs.readFileSync(opt.uf2), flashImage);
  say(`${opt.uf2}: ${n} blocks`);
  if (opt.fs) flashImage.set(fs.readFileSync(opt.fs), FS_OFFSET);
} catch (e) { die(e.message); }
const romBytes = fs.readFileSync(opt.bootrom);
if (romBytes.length !== 16384) die(`${opt.bootrom}: a boot ROM is 16384 bytes, not ${romBytes.length}`);
const bootrom = new Uint32Array(romBytes.buffer.slice(romBytes.byteOffset, romBytes.byteOffset + romBytes.length));

// ---- the world outside the chip: force on the sensor ------------------------------------------
// Force is a function of emulated time (ns): a list of [t_ns, newtons] points, linear between, the
// last held; or a repeating cycle.
let forcePts = [[0, 0]];
let forceCycle = null; // { t0, peak, press, hold, ease, rest } in ns
let noiseN = Number(opt.noise);
let emuNow = () => 0; // set once the chip exists: emulated ns since first power-on

function forceAt(t) {
  if (forceCycle) {
    const c = forceCycle;
    const period = c.press + c.hold + c.ease + c.rest;
    let x = (t - c.t0) % period;
    if (x < c.press) return c.peak * x / c.press;
    x -= c.press;
    if (x < c.hold) return c.peak;
    x -= c.hold;
    if (x < c.ease) return c.peak * (1 - x / c.ease);
    return 0;
  }
  const p = forcePts;
  if (t <= p[0][0]) return p[0][1];
  for (let i = 1; i < p.length; i++) {
    if (t < p[i][0]) {
      const [t0, f0] = p[i - 1], [t1, f1] = p[i];
      return f0 + (f1 - f0) * (t - t0) / (t1 - t0);
    }
  }
  return p[p.length - 1][1];
}
function setProfile(points) { // points: [[seconds from now, N], ...]
  const now = emuNow();
  forceCycle = null;
  forcePts = [[now, forceAt(now)], ...points.map(([s, n]) => [now + s * 1e9, n])];
}
function setCycle(peak, press, hold, ease, rest) {
  const ns = (s) => Math.max(1, s * 1e9);
  forceCycle = { t0: emuNow(), peak, press: ns(press), hold: ns(hold), ease: ns(ease), rest: ns(rest) };
}
if (opt.cycle) { const c = opt.cycle.split(',').map(Number); setCycle(...c); }

let gaussSpare = null;
function gauss() { // Box-Muller
  if (gaussSpare !== null) { const g = gaussSpare; gaussSpare = null; return g; }
  let u = 0; while (u === 0) u = Math.random();
  const v = Math.random(), r = Math.sqrt(-2 * Math.log(u));
  gaussSpare = r * Math.sin(2 * Math.PI * v);
  return r * Math.cos(2 * Math.PI * v);
}
const sensedForce = () => Math.max(0, forceAt(emuNow()) + noiseN * gauss());

// FSR in a divider: FSR from 3V3 to the ADC pin, Rm from the pin to GND. R_fsr ~ k / F above the
// actuation force (open below), so the pin voltage rises steeply at first and flattens: the
// FSR-like curve a calibration has to fit. 12-bit result, +-1 LSB of noise.
function fsrRaw12() {
  const f = sensedForce();
  if (f < Number(opt['fsr-min-n'])) return Math.max(0, Math.round(gauss()));
  const r = Number(opt['fsr-k']) / f, rm = Number(opt['fsr-rm']);
  return Math.max(0, Math.min(4095, Math.round(4095 * rm / (rm + r) + gauss())));
}

// ---- control channel ----------------------------------------------------------------------------
const commands = {};
let ctlSock = null;
const emit = (line) => { if (ctlSock && !ctlSock.destroyed) ctlSock.write(line + '\n'); };

// ---- one chip -----------------------------------------------------------------------------------
let M = null; // { sim, mcu, cdc, connected, parked }
let nanosBefore = 0; // emulated ns of previous boots
let boots = 0;
let rebootWanted = null;
let busyNanos = 0; // emulated ns the core spent executing (not asleep in WFE/WFI)
const drive = new Map(); // pin -> true/false: levels driven from outside (buttons, HX711 DOUT)
const watched = new Set();
const hx = { dout: opt['hx711-dout'] !== undefined ? Number(opt['hx711-dout']) : null,
  sck: opt['hx711-sck'] !== undefined ? Number(opt['hx711-sck']) : null,
  fixed: null, conversions: 0, lastPulses: 0 };
const adcFixed = new Map(); // channel -> raw12 set by `adc CH RAW`
const fsrChannel = opt['adc-channel'] !== undefined ? Number(opt['adc-channel']) : null;

function applyPin(n) {
  const pin = M.mcu.gpio[n];
  if (drive.has(n)) { pin.setInputValue(drive.get(n)); return; }
  const v = pin.value;
  if (v === GPIOPinState.InputPullUp) pin.setInputValue(true);
  else if (v === GPIOPinState.InputPullDown) pin.setInputValue(false);
  else if (v === GPIOPinState.High || v === GPIOPinState.Low) pin.setInputValue(v === GPIOPinState.High);
}

function attachHx711(mcu, clock) {
  if (hx.dout === null || hx.sck === null) return;
  // Datasheet behaviour: the chip converts on its own oscillator (10 or 80 SPS); DOUT goes low when
  // a result is ready; each PD_SCK rising edge shifts out one bit, MSB first; the 25th-27th pulses
  // set DOUT high again and choose the gain of the next conversion (128 A / 32 B / 64 A); PD_SCK
  // held high over 60 us powers the chip down, and it converts again once PD_SCK is low.
  const ratePin = opt['hx711-rate-pin'] !== undefined ? Number(opt['hx711-rate-pin']) : null;
  const fixedPeriod = 1e9 / Number(opt['hx711-rate']);
  const periodNow = () => (ratePin === null ? fixedPeriod : mcu.gpio[ratePin].outputValue && mcu.gpio[ratePin].outputEnable ? 1e9 / 80 : 1e9 / 10);
  const st = { word: 0, ready: false, pulses: 0, gain: 128, sckHigh: false, highAt: 0 };
  const out = (level) => { drive.set(hx.dout, !!level); mcu.gpio[hx.dout].setInputValue(!!level); };
  const convert = clock.createAlarm(() => {
    {
      if (st.pulses === 0 || st.pulses >= 25) { // not in the middle of a read
        let v;
        if (hx.fixed !== null) v = hx.fixed;
        else if (st.gain === 32) v = Math.round(gauss() * 20);
        else v = Math.round((Number(opt['hx711-zero']) + sensedForce() * Number(opt['hx711-per-n'])) * st.gain / 128);
        st.word = Math.max(-0x800000, Math.min(0x7fffff, v)) & 0xffffff;
        st.ready = true; st.pulses = 0; hx.conversions++;
        out(0);
      }
      convert.schedule(periodNow());
    }
  });
  mcu.gpio[hx.sck].addListener((state) => {
    const high = state === GPIOPinState.High;
    if (high === st.sckHigh) return;
    st.sckHigh = high;
    const now = clock.nanos;
    if (high) {
      st.highAt = now;
      if (st.ready) {
        st.pulses++;
        if (st.pulses <= 24) out((st.word >> (24 - st.pulses)) & 1);
        else { out(1); st.ready = st.pulses < 25; }
      } else if (st.pulses >= 25) {
        st.pulses++;
      }
    } else {
      if (now - st.highAt > 60000) { // powered down while high; wakes now
        st.ready = false; st.pulses = 0; out(1); convert.schedule(periodNow());
        return;
      }
      if (st.pulses >= 25) {
        hx.lastPulses = st.pulses;
        st.gain = st.pulses === 26 ? 32 : st.pulses === 27 ? 64 : 128;
      }
    }
  });
  out(1);
  convert.schedule(periodNow());
}

async function boot(flash) {
  const sim = new Simulator();
  const mcu = sim.rp2040;
  mcu.logger = new ConsoleLogger(LogLevel.Error);
  mcu.loadBootrom(bootrom);
  mcu.flash.set(flash);
  patchFlashWrites(mcu);
  const wd = mcu.peripherals[0x40058];
  wd.onWatchdogTrigger = () => {
    rebootWanted = wd.reason === 1 ? 'watchdog' : 'reset';
    // its periodic alarm re-arms with zero delay once the counter is 0: stop it
    wd.alarm.enable = false; wd.timer.enable = false; wd.enable = false;
  };
  const cdc = new USBCDC(mcu.usbCtrl);
  const m = { sim, mcu, cdc, connected: false, parked: null };
  cdc.onDeviceConnected = () => { m.connected = true; emit(`ev usb ${boots}`); };
  cdc.onSerialData = (buf) => toHost(buf);
  // rp2040js answers an armed OUT endpoint with an empty packet every 10 us when the host has
  // nothing to send; a real host NAKs. Park the read until the host writes (faster, and the
  // firmware's timing is not disturbed by ~100k USB interrupts per second).
  m.stockRead = cdc.usb.onEndpointRead;
  cdc.usb.onEndpointRead = (ep, size) => {
    if (ep === cdc.outEndpoint && cdc.txFIFO.empty && !fromHost.length) { m.parked = [ep, size]; return; }
    m.stockRead(ep, size);
  };
  const adc = mcu.adc;
  adc.onADCRead = (ch) => {
    adc.currentChannel = ch;
    let raw = adcFixed.has(ch) ? adcFixed.get(ch) : adc.channelValues[ch];
    if (ch === fsrChannel && !adcFixed.has(ch)) raw = fsrRaw12();
    const done = sim.clock.createAlarm(() => adc.completeADCRead(raw, false));
    done.schedule(adc.sampleTime * 1000);
  };
  M = m;
  emuNow = () => nanosBefore + sim.clock.nanos;
  for (let n = 0; n < 30; n++) {
    mcu.gpio[n].addListener((state) => {
      if (!drive.has(n) && (state === GPIOPinState.InputPullUp || state === GPIOPinState.InputPullDown)) applyPin(n);
      if (watched.has(n)) {
        const level = state === GPIOPinState.High || state === GPIOPinState.InputPullUp ? 1 : 0;
        emit(`ev edge ${n} ${level} ${Math.round(emuNow() / 1000)}`);
      }
    });
  }
  for (const n of drive.keys()) mcu.gpio[n].setInputValue(drive.get(n));
  attachHx711(mcu, sim.clock);
  boots++;
  mcu.core.PC = XIP_BASE;
}

// Flash erase/program go through the boot ROM's flash_range_erase / flash_range_program, which
// drive the QSPI chip rp2040js does not model. Replace both entry points with a BKPT and do the
// operation on the flash array here, so littlefs writes (the calibration blob) persist.
function patchFlashWrites(mcu) {
  const half = (a) => (mcu.bootrom[a >> 2] >>> ((a & 2) * 8)) & 0xffff;
  const table = {};
  for (let p = half(0x14); half(p); p += 4) table[half(p)] = half(p + 2) & ~1;
  const bkpt = (addr, imm) => {
    const w = addr >> 2, shift = (addr & 2) * 8;
    mcu.bootrom[w] = ((mcu.bootrom[w] & ~(0xffff << shift)) | ((0xbe00 | imm) << shift)) >>> 0;
  };
  bkpt(table[0x4552], 0xe0); // 'RE'
  bkpt(table[0x5052], 0xe1); // 'RP'
  const other = mcu.onBreak;
  mcu.onBreak = (code) => {
    const r = mcu.core.registers;
    if (code === 0xe0) mcu.flash.fill(0xff, r[0] >>> 0, (r[0] >>> 0) + (r[1] >>> 0));
    else if (code === 0xe1) {
      const at = r[0] >>> 0, src = r[1] >>> 0, n = r[2] >>> 0;
      for (let i = 0; i < n; i++) mcu.flash[at + i] &= mcu.readUint8(src + i);
    } else return other(code);
    mcu.core.PC = r[14] & ~1;
  };
}

// ---- serial: pty master on fd 0 (in) and fd 1 (out) -------------------------------------------
let fromHost = Buffer.alloc(0);
const toHostQueue = [];
let writing = false;
function toHost(buf) {
  toHostQueue.push(Buffer.from(buf));
  if (!writing) flushToHost();
}
function flushToHost() {
  if (!toHostQueue.length) { writing = false; return; }
  writing = true;
  const chunk = toHostQueue.length === 1 ? toHostQueue.shift() : Buffer.concat(toHostQueue.splice(0));
  fs.write(1, chunk, (err, n) => {
    if (err) { if (err.code === 'EAGAIN') { toHostQueue.unshift(chunk); setTimeout(flushToHost, 1); return; } finish('serial closed'); return; }
    if (n < chunk.length) toHostQueue.unshift(chunk.subarray(n));
    flushToHost();
  });
}
// A pty is read through libuv's non-blocking tty handle: a blocking read() parked in the thread
// pool (fs streams) would keep node from exiting when it is told to stop.
const serialIn = tty.isatty(0) ? new tty.ReadStream(0) : fs.createReadStream(null, { fd: 0, autoClose: false, highWaterMark: 4096 });
serialIn.on('data', (d) => { fromHost = fromHost.length ? Buffer.concat([fromHost, d]) : d; kick(); });
serialIn.on('error', () => {});

function pumpHost() { // host bytes into the CDC FIFO as space allows (rp2040js drops on overflow)
  if (!M.connected || !fromHost.length) return;
  const { cdc } = M;
  const n = Math.min(fromHost.length, cdc.txFIFO.size - cdc.txFIFO.itemCount);
  for (let i = 0; i < n; i++) cdc.sendSerialByte(fromHost[i]);
  fromHost = fromHost.subarray(n);
  if (M.parked && !cdc.txFIFO.empty) { const [ep, size] = M.parked; M.parked = null; M.stockRead(ep, size); }
}

// ---- the run loop: emulate in ~10 ms slices, never ahead of wall time ---------------------------
const CYCLE_NS = 1e9 / 125e6;
const wall0 = process.hrtime.bigint();
const wallNs = () => Number(process.hrtime.bigint() - wall0);
let pace = opt.pace !== 'off';
let paceBase = 0; // wall ns minus emulated ns allowed: emulated time may not pass wallNs() - paceBase
const SLIP_NS = 200e6; // when behind by more than this, let the debt go rather than race to catch up
let slipNs = 0; // emulated time given up to stay close to wall time (the machine was too slow)
let lastSlipWarn = -1e12;
let stopped = false;
let timer = null;
function kick() { if (timer) { clearTimeout(timer); timer = null; setImmediate(run); } }

async function run() {
  timer = null;
  if (stopped) return;
  if (rebootWanted) {
    const why = rebootWanted; rebootWanted = null;
    nanosBefore += M.sim.clock.nanos;
    const flash = M.mcu.flash.slice(0, FLASH_BYTES);
    await boot(flash);
    emit(`ev boot ${boots} ${why}`);
  }
  pumpHost();
  const { mcu, sim } = M;
  const core = mcu.core, clock = sim.clock;
  const sliceEnd = performance.now() + 10;
  let sleepMs = 0;
  for (;;) {
    const limit = pace ? wallNs() - paceBase : Infinity; // emulated ns we may reach
    if (pace && limit - emuNow() > SLIP_NS) {
      const debt = limit - emuNow() - SLIP_NS;
      paceBase += debt; slipNs += debt;
      if (slipNs > 1e9 && wallNs() - lastSlipWarn > 10e9) {
        lastSlipWarn = wallNs();
        say(`emulated time is ${(slipNs / 1e9).toFixed(1)} s behind wall time: this machine is too busy to emulate the Pico in real time`);
      }
    }
    let budget = 20000;
    while (budget-- > 0 && !rebootWanted) {
      if (core.waiting) {
        const dn = clock.nanosToNextAlarm;
        if (dn <= 0) { sleepMs = 5; break; } // asleep with nothing scheduled: wait for the host
        const room = (pace ? wallNs() - paceBase : Infinity) - emuNow();
        if (dn > room) { // the next event is in the future of the wall clock
          if (room > 0) clock.tick(room);
          sleepMs = Math.max(1, Math.min(5, (dn - room) / 1e6));
          break;
        }
        clock.tick(dn);
        budget -= dn / CYCLE_NS / 4;
      } else {
        const cycles = core.executeInstruction();
        clock.tick(cycles * CYCLE_NS);
        busyNanos += cycles * CYCLE_NS;
      }
      if (pace && (budget & 1023) === 0 && emuNow() > wallNs() - paceBase) { sleepMs = 1; break; }
    }
    pumpHost();
    if (sleepMs || rebootWanted || performance.now() > sliceEnd) break;
  }
  if (sleepMs && !rebootWanted) timer = setTimeout(run, sleepMs);
  else setImmediate(run);
}

// ---- control commands ---------------------------------------------------------------------------
const pinNo = (s) => { const n = Number(s); if (!Number.isInteger(n) || n < 0 || n > 29) throw new Error(`no GPIO ${s}`); return n; };
const num = (s, what) => { const v = Number(s); if (!Number.isFinite(v)) throw new Error(`${what}: not a number: ${s}`); return v; };
commands.time = () => `emu_us=${Math.round(emuNow() / 1000)} wall_s=${(wallNs() / 1e9).toFixed(3)} cpu_s=${(process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6).toFixed(3)} busy_us=${Math.round(busyNanos / 1000)} behind_s=${(slipNs / 1e9).toFixed(3)} boots=${boots}`;
commands.gpio = ([n, v]) => {
  const i = pinNo(n), pin = M.mcu.gpio[i];
  if (v === undefined) {
    const pull = pin.pullupEnabled ? 'up' : pin.pulldownEnabled ? 'down' : 'none';
    const level = pin.outputEnable ? +pin.outputValue : +pin.inputValue;
    return `level=${level} oe=${+pin.outputEnable} pull=${pull} drive=${drive.has(i) ? +drive.get(i) : 'float'}`;
  }
  if (v === 'float') { drive.delete(i); applyPin(i); return ''; }
  if (v !== '0' && v !== '1') throw new Error('gpio N 0|1|float');
  drive.set(i, v === '1'); applyPin(i);
  return '';
};
commands.pulse = ([n, v, us]) => {
  const i = pinNo(n), level = v === '1';
  if (v !== '0' && v !== '1') throw new Error('pulse N 0|1 US');
  const dur = num(us, 'pulse') * 1000;
  drive.set(i, level); applyPin(i);
  const end = M.sim.clock.createAlarm(() => { drive.delete(i); applyPin(i); });
  end.schedule(dur);
  return `t=${Math.round(emuNow() / 1000)}`;
};
commands.watch = ([n]) => { watched.add(pinNo(n)); const p = M.mcu.gpio[pinNo(n)]; return `level=${p.outputEnable ? +p.outputValue : +p.inputValue} t=${Math.round(emuNow() / 1000)}`; };
commands.unwatch = ([n]) => { watched.delete(pinNo(n)); return ''; };
commands.force = ([n, ramp]) => { const f = num(n, 'force'); setProfile([[ramp ? num(ramp, 'ramp') : 0, f]]); return ''; };
commands.profile = ([spec]) => {
  const pts = (spec || '').split(',').map((p) => p.split(':').map((x) => num(x, 'profile')));
  if (!pts.length || pts.some((p) => p.length !== 2)) throw new Error('profile T:N,T:N,...');
  setProfile(pts); return '';
};
commands.cycle = (a) => { if (a.length !== 5) throw new Error('cycle PEAK PRESS HOLD EASE REST'); setCycle(...a.map((x) => num(x, 'cycle'))); return ''; };
commands.noise = ([n]) => { noiseN = num(n, 'noise'); return ''; };
commands.hx711 = ([v]) => {
  if (v === 'model') hx.fixed = null; else if (v !== undefined) hx.fixed = num(v, 'hx711') | 0;
  return `conversions=${hx.conversions} pulses=${hx.lastPulses}`;
};
commands.adc = ([ch, v]) => {
  const c = num(ch, 'adc');
  if (v === 'model') adcFixed.delete(c); else adcFixed.set(c, Math.max(0, Math.min(4095, num(v, 'adc') | 0)));
  return '';
};
commands.reset = () => { rebootWanted = 'reset'; kick(); return ''; };
commands.save = () => { saveFs(); return ''; };
commands.pace = ([v]) => { pace = v !== 'off'; paceBase = wallNs() - emuNow(); return ''; };

const ctlFd = Number(opt.ctl);
try {
  ctlSock = new net.Socket({ fd: ctlFd, readable: true, writable: true });
  let pending = '';
  ctlSock.setEncoding('utf8');
  ctlSock.on('data', (d) => {
    pending += d;
    let i;
    while ((i = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, i).trim(); pending = pending.slice(i + 1);
      if (!line) continue;
      const [cmd, ...args] = line.split(/\s+/);
      try {
        if (!commands[cmd]) throw new Error(`unknown command ${cmd}`);
        const r = commands[cmd](args);
        ctlSock.write(r ? `ok ${r}\n` : 'ok\n');
      } catch (e) { ctlSock.write(`err ${e.message}\n`); }
    }
  });
  // the launcher holds the other end: when it closes, whatever killed the launcher, we go too
  ctlSock.on('end', () => finish('control channel closed'));
  ctlSock.on('close', () => finish('control channel closed'));
  ctlSock.on('error', () => finish('control channel error'));
} catch (e) { die(`control channel on fd ${ctlFd}: ${e.message}`); }

function saveFs() {
  if (opt.fs && M) fs.writeFileSync(opt.fs, M.mcu.flash.subarray(FS_OFFSET, FLASH_BYTES));
}
function finish(why) {
  if (stopped) return;
  stopped = true;
  try { saveFs(); } catch (e) { say(`could not save the filesystem: ${e.message}`); }
  say(`stop (${why}): emulated ${(emuNow() / 1e9).toFixed(3)} s in ${(wallNs() / 1e9).toFixed(3)} s`);
  process.exit(0);
}
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => finish(s));

await boot(flashImage);
flashImage = null;
emit(`ev boot ${boots} power-on`);
run();
