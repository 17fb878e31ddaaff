"""Calibration end to end on the simulated device (the real firmware on the MicroPython unix port).

* ``pointdose calibrate run --sim`` driven from stdin (the scriptable terminal wizard), then
  ``verify`` and ``drift`` on the calibration it saved;
* a calibration written to the device survives a restart of the simulated device, and is refused
  when the same device comes back with another sensor configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from pointdose.calibration import (CalibrationWizard, HostCache, SensorConfig, StabilityCriterion, Step, Tolerance,
                                   WizardSettings, device_storage_supported, load_for_device, save_everywhere)
from pointdose.link import DeviceLink
from pointdose.units import N_PER_KGF
from waiting import wait_until

pytestmark = pytest.mark.needs_unix_port

LOADS = (10.0, 30.0, 50.0)


def kg(newtons: float) -> str:
    return f"{newtons / N_PER_KGF:.4f}"


def run_cli(args, stdin: str, env, timeout=90):
    return subprocess.run([sys.executable, "-m", "pointdose.cli", "calibrate", *args], input=stdin, text=True,
                          capture_output=True, env=env, timeout=timeout)


def test_terminal_wizard_then_verify_and_drift_on_the_simulated_device(tmp_path):
    env = {**os.environ, "POINTDOSE_DATA_DIR": str(tmp_path)}
    script = ["!sim force 0"]
    for f in LOADS:
        script += [f"!sim force {f:g}", kg(f)]
    for f in reversed(LOADS[:-1]):
        script += [f"!sim force {f:g}", kg(f)]
    script += ["!sim force 0"]
    proc = run_cli(["run", "--sim", "--loads", "3", "--hold-s", "0.6", "--step-timeout", "30"],
                   "\n".join(script) + "\n", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Calibration accepted." in proc.stdout
    assert "Steady means: the reading must stay within ±1 %" in proc.stdout  # the criterion is shown
    uid = "53494d30303031"
    record = HostCache(tmp_path / "calibrations").latest(uid)
    assert record is not None and record.model.kind == "linear" and record.config.sensor == "sim"
    # the simulated load cell's true scale is 14000 counts/N (hello's cal=linear:14000:42000)
    assert record.model.counts_per_n == pytest.approx(14000, rel=2e-3)
    assert record.stated_error_n < 0.05 and record.full_scale_n == pytest.approx(50.0, rel=1e-3)
    assert [p.direction for p in record.points] == ["load"] * 4 + ["unload"] * 3

    # verify: 20 N applied, the "scale" says 2.039 kg (19.996 N)
    proc = run_cli(["verify", "--sim", "--hold-s", "0.6", "--step-timeout", "30"], f"sim 20\n{kg(20)}\n", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "within the stated tolerance" in proc.stdout
    assert "Type `sim N` to press it with N newtons" in proc.stdout and "device: force=20" in proc.stdout
    # drift: 10 s unloaded (a minute by default)
    proc = run_cli(["drift", "--sim", "--seconds", "10"], "", env)
    assert "Zero drift" in proc.stdout, proc.stdout + proc.stderr
    again = HostCache(tmp_path / "calibrations").latest(uid)
    assert again.id == record.id
    assert len(again.verifications) == 1 and abs(again.verifications[0]["error_n"]) < 0.1
    assert len(again.drift_checks) == 1 and again.drift_checks[0]["duration_s"] >= 10


def test_terminal_wizard_says_how_to_press_the_simulated_device_and_sim_applies_it(tmp_path):
    """No hardware: `run --sim` says at each step what to type, and `sim` alone applies the suggested
    force (evenly spaced to 40 N with 3 loads), so the whole calibration runs from typed lines."""
    from pointdose.calibration.wizard import SIM_TOP_N

    env = {**os.environ, "POINTDOSE_DATA_DIR": str(tmp_path)}
    loads = [round(SIM_TOP_N * k / 3, 1) for k in (1, 2, 3)]
    script = ["sim"] + [x for f in loads + loads[1::-1] for x in ("sim", kg(f))] + ["sim"]
    proc = run_cli(["run", "--sim", "--loads", "3", "--hold-s", "0.6", "--step-timeout", "30"],
                   "\n".join(script) + "\n", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "This is the simulated device: nothing presses it" in out
    assert "(simulated device: type !sim force 0 (or sim) to unload it)" in out
    assert f"type !sim force {loads[1]:g} (or sim) to press it with {loads[1]:g} N, then the reference " \
           f"{loads[1] / N_PER_KGF:.4g} kg" in out
    assert out.count("device: force=") == 7  # every step's force was sent by `sim`
    record = HostCache(tmp_path / "calibrations").latest("53494d30303031")
    assert record.full_scale_n == pytest.approx(SIM_TOP_N, rel=1e-3)
    assert record.model.counts_per_n == pytest.approx(14000, rel=2e-3)
    # a force the simulated sensor does not take is one line, and the wizard goes on
    proc = run_cli(["run", "--sim", "--loads", "3", "--hold-s", "0.6", "--step-timeout", "30"], "sim 5000\nquit\n", env)
    assert "is not a force the simulated sensor takes" in proc.stdout and "Traceback" not in proc.stderr


def test_cli_wizard_refuses_a_misread_scale_and_keeps_the_points(tmp_path):
    env = {**os.environ, "POINTDOSE_DATA_DIR": str(tmp_path)}
    script = ["!sim force 0", "!sim force 10", kg(10), "!sim force 30", kg(30), "!sim force 50", kg(55),
              "!sim force 30", kg(30), "!sim force 10", kg(10), "!sim force 0"]
    proc = run_cli(["run", "--sim", "--loads", "3", "--hold-s", "0.6", "--step-timeout", "30"],
                   "\n".join(script) + "\n", env)
    assert proc.returncode == 1
    assert "calibration refused (max error)" in proc.stderr
    kept = list((tmp_path / "calibrations").rglob("points-*.csv"))
    assert len(kept) == 1 and kept[0].read_text().count("\n") == 8
    assert HostCache(tmp_path / "calibrations").latest("53494d30303031") is None


def calibrate_in_process(link, reference_factor: float = 1.0) -> object:
    """The wizard driven in-process on a live link (as the GUI does), with the device's tare; the
    reference reads ``reference_factor`` × the force applied (1: a true reference)."""
    wiz = CalibrationWizard(WizardSettings(model="linear", reference="gauge", unit="N", n_loads=3,
                                           tolerance=Tolerance(pct_fs=2.0), criterion=StabilityCriterion(hold_s=1.0),
                                           raw_limits=(-8388608, 8388607)))
    last_t = -1.0
    forces = {Step.ZERO: lambda i: 0.0, Step.LOAD: lambda i: LOADS[i - 1],
              Step.UNLOAD: lambda i: LOADS[len(LOADS) - 1 - i], Step.END_ZERO: lambda i: 0.0}
    deadline = time.monotonic() + 60
    pressed = None
    while not wiz.finished:
        assert time.monotonic() < deadline, wiz.view()
        item = wiz.item
        if (item.step, item.index) != pressed:
            pressed = (item.step, item.index)
            link.command(f"sim force {forces[item.step](item.index):g}")
        rows = link.ring.window(2.0)
        rows = rows[rows["t_dev_s"] > last_t]
        if rows.size:
            last_t = float(rows["t_dev_s"][-1])
            wiz.feed(rows["t_dev_s"], rows["raw"])
        if wiz.pending_action == "tare":
            reply = link.tare()
            wiz.tare_done(float(reply.fields["tare"]), float(reply.fields["sd"]))
        if wiz.capture is not None and wiz.needs_entry:
            wiz.enter_reference(f"{reference_factor * forces[item.step](item.index):g} N")
        time.sleep(0.02)
    assert wiz.step == Step.DONE, wiz.refusal
    return wiz.make_record(device_uid=link.device.uid, config=SensorConfig.from_info(link.device))


def test_calibration_is_kept_across_a_restart_and_refused_for_another_configuration(make_sim, tmp_path):
    store = tmp_path / "flash"
    store.mkdir()
    cache = HostCache(tmp_path / "cache")
    sim = make_sim(store_dir=store)
    with DeviceLink(sim.port) as link:
        if not device_storage_supported(link):
            pytest.skip("this firmware/link has no calibration storage yet (read/write/clear_calibration)")
        link.start()
        record = calibrate_in_process(link)
        on_device, _ = save_everywhere(link, record, cache)
        assert on_device
        assert link.state.name.lower() == "streaming"  # the write stopped the stream and started it again
    sim.restart()
    fresh = HostCache(tmp_path / "other-computer")  # a computer that never saw it: only the device has it
    with DeviceLink(sim.port) as link:
        loaded = load_for_device(link, SensorConfig.from_info(link.device), cache=fresh)
        assert loaded.source == "device" and loaded.assessment.usable, loaded.messages
        assert loaded.record.id == record.id and loaded.record.model == record.model
        link.start()
        link.command("sim force 20")
        n0 = link.stats.samples
        assert wait_until(lambda: link.stats.samples >= n0 + 150, timeout=20)
        raw = link.ring.last(60)["raw"]  # taken well after the force was set
        force = loaded.record.converter(tare=link.device.tare).force_n(raw).mean()
        assert force == pytest.approx(20.0, abs=max(0.05, 3 * record.stated_error_n))
        assert fresh.latest(link.device.uid) is not None  # the device's copy is now kept here too
    sim.close()
    # the same board (same flash, same uid) with another sensor configuration
    other = make_sim(store_dir=store, sensor="sim-hx711")
    with DeviceLink(other.port) as link:
        assert link.device.sensor == "hx711"
        loaded = load_for_device(link, SensorConfig.from_info(link.device), cache=cache)
        assert loaded.record is None and loaded.candidate is not None and loaded.candidate.id == record.id
        assert "another configuration" in loaded.assessment.refusal and "hx711" in loaded.assessment.refusal
    assert json.loads(record.to_blob())["id"] == record.id


def test_an_uncalibrated_device_reads_error_unknown(tmp_path):
    """`calibrate show` on a device never calibrated here says so in the records' words (the PDF report
    says the same: pointdose.records.calib.stated_error), never as if its error were zero."""
    env = {**os.environ, "POINTDOSE_DATA_DIR": str(tmp_path)}
    proc = run_cli(["show", "--sim"], "", env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stdout.startswith("uncalibrated: error unknown (values use the device's factory scale")
