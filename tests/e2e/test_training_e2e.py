"""A whole drill on the simulated device (the real firmware behind a pty), pressed by the virtual
hand: pre-test → practice with intermittent feedback → post-test, every trial scored and saved,
the feedback gate on the device cue and the terminal exactly as planned."""

from __future__ import annotations

import re

import numpy as np

import pytest

from pointdose.training import Block, Schedule, preset
from pointdose.commands.train import _Printer


def test_whole_drill_on_the_simulated_device(tmp_path, capsys):
    from pointdose.link import DeviceLink
    from pointdose.sim import SimulatedDevice
    from pointdose.training.hand import SimulatedStudent
    from pointdose.training.live import LiveTrainer
    from pointdose.training.store import TrainingStore

    d = preset("moderate", trials=3, ramp_s=1.0, hold_s=1.5, release_s=0.5, rest_s=0.5)
    blocks = [Block("pre-test", d.with_(trials=1), Schedule.none()),
              Block("practice", d, Schedule.intermittent(2, seed=5)),
              Block("post-test", d.with_(trials=1), Schedule.none())]
    ts = TrainingStore.open(tmp_path / "records.sqlite")
    ts.add_student("S-E2E")
    session = ts.start_session("S-E2E")
    printer = _Printer("kPa")
    cues = []

    with SimulatedDevice() as sim, DeviceLink(sim.port) as link:
        link.start()
        sent = []
        if not hasattr(link, "send_cue"):  # firmware cue support not here yet: record what would be sent
            link.send_cue = lambda phase, band, level: sent.append((phase, band, level))
        trainer = LiveTrainer(link, blocks, store=ts, session_uid=session, get_ready_s=0.5,
                              on_cue=lambda c: (printer.cue(c), cues.append(c)))
        student = SimulatedStudent(trainer, seed=4).start()
        try:
            assert trainer.run(timeout=60), "the drill did not finish in time"
        finally:
            student.stop()
            trainer.close()
    out = capsys.readouterr().out

    runs = trainer.runs
    assert [r.block.kind for r in runs] == ["pre-test", "practice", "post-test"]
    plan = runs[1].plan.concurrent
    assert sum(plan) == 2
    for run in runs:
        assert len(run.results) == run.drill.trials
        for rec in run.results:
            assert rec.score.outcome is not None, rec.score.notes  # every hold had its samples
            assert rec.score.hold_coverage > 0.95
            assert 0 < rec.score.peak < 3 * d.target  # the hand really pressed the device
        assert [r.feedback_s > 0 for r in run.results] == list(run.plan.concurrent)
    # device cues: "off" whenever the gate is closed, a phase while it is open
    phases_sent = [c[0] for c in (trainer.device.sent if trainer.device else [])]
    assert "off" in phases_sent and any(p in ("press", "hold", "ease") for p in phases_sent)
    # the terminal: numbers only on the practice trials that had feedback
    shown = {int(m.group(1)) for m in re.finditer(r"\[practice (\d)/3\] \w+ +[\d.]+ s +[\d.]+ kPa", out)}
    assert shown == {k for k, on in enumerate(plan, start=1) if on}
    assert not re.search(r"\[(pre|post)-test[^\n]*kPa", out)
    # stored: every trial with its samples, block scores from the store equal the live ones
    stored = ts.trials(session_uid=session)
    assert len(stored) == 5 and all(r["n_samples"] > 100 for r in stored)
    live = runs[1].block_score()
    again = [e for e in ts.progress("S-E2E") if e["block"] == "practice"][0]["score"]
    assert again.absolute_error == pytest.approx(live.absolute_error)
    assert again.variable_error == pytest.approx(live.variable_error)
    ts.close()


def test_a_drill_uses_the_wizard_calibration_on_a_board_that_states_no_scale(make_sim, tmp_path, monkeypatch):
    """A board profile without ``cal=``: training refuses before the wizard has run, and after it
    starts and shows pressures through the wizard's calibration (issue 14: it used to read only hello)."""
    from pointdose.calibration import HostCache, load_scale, save_everywhere
    from pointdose.errors import UserError
    from pointdose.link import DeviceLink
    from pointdose.training.live import LiveTrainer
    from test_calibration_e2e import calibrate_in_process
    from waiting import wait_until

    monkeypatch.setenv("POINTDOSE_DATA_DIR", str(tmp_path / "data"))
    store = tmp_path / "flash"
    store.mkdir()
    sim = make_sim(store_dir=store)
    d = preset("moderate", trials=1, ramp_s=1.0, hold_s=1.0, release_s=0.5, rest_s=0.5)
    blocks = [Block("practice", d, Schedule.constant())]
    with DeviceLink(sim.port) as link:
        link.device = link.device.without_factory_scale()  # as a real board's profile reports: cal=none
        link.start()
        with pytest.raises(UserError, match="calibrate it first"):
            LiveTrainer(link, blocks, device_cues=False)
        # the wizard's reference reads twice the force applied, so its scale is half the true one:
        # pressures through it are 2x what the firmware's own (hidden) scale would give
        record = calibrate_in_process(link, reference_factor=2.0)
        save_everywhere(link, record, HostCache())
        assert load_scale(link).source == "calibration"
        trainer = LiveTrainer(link, blocks, device_cues=False)
        assert trainer.rows.conv.record_id == record.id
        link.command("sim force 10")
        n0 = link.stats.samples
        assert wait_until(lambda: link.stats.samples >= n0 + 150, timeout=20)
        rows = trainer.rows.take()
        # 10 N true, read as 20 N through the wizard's calibration: 200 kPa on the 1 cm² probe
        assert np.median(rows["pressure_kpa"][-50:]) == pytest.approx(20.0 * 10 / d.probe_area_cm2, rel=0.02)
        trainer.start_thread()
        try:
            assert wait_until(lambda: trainer.cue.phase not in ("idle",), timeout=20), "the drill did not start"
        finally:
            trainer.stop()
            trainer.close()
