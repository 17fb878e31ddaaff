"""Issue 14 on the emulated Pico, whose hello says ``cal=none`` as every board profile does: a drill
is refused before the wizard has run, and after it starts and converts through the wizard's
calibration (training used to read hello's scale only)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from pico_helpers import T, open_link, wait_for

from pointdose.calibration import (CalibrationWizard, HostCache, SensorConfig, StabilityCriterion, Step, Tolerance,
                                   WizardSettings, load_scale, save_everywhere)
from pointdose.errors import UserError
from pointdose.training import Block, Schedule, preset
from pointdose.training.live import LiveTrainer

LOADS = (10.0, 20.0, 30.0)


def _calibrate(link, ctl):
    wiz = CalibrationWizard(WizardSettings(model="linear", reference="gauge", unit="N", n_loads=len(LOADS),
                                           tolerance=Tolerance(pct_fs=2.0), criterion=StabilityCriterion(hold_s=1.0),
                                           raw_limits=link.device.raw_range))
    forces = {Step.ZERO: lambda i: 0.0, Step.LOAD: lambda i: LOADS[i - 1],
              Step.UNLOAD: lambda i: LOADS[len(LOADS) - 1 - i], Step.END_ZERO: lambda i: 0.0}
    pressed, last_t, deadline = None, -1.0, time.monotonic() + 20 * T
    while not wiz.finished:
        assert time.monotonic() < deadline, wiz.view()
        item = wiz.item
        if (item.step, item.index) != pressed:
            pressed = (item.step, item.index)
            ctl.request(f"force {forces[item.step](item.index):g}")
        rows = link.ring.window(2.0)
        rows = rows[rows["t_dev_s"] > last_t]
        if rows.size:
            last_t = float(rows["t_dev_s"][-1])
            wiz.feed(rows["t_dev_s"], rows["raw"])
        if wiz.pending_action == "tare":
            reply = link.tare(timeout=T)
            wiz.tare_done(float(reply.fields["tare"]), float(reply.fields["sd"]))
        if wiz.capture is not None and wiz.needs_entry:
            wiz.enter_reference(f"{forces[item.step](item.index):g} N")
        time.sleep(0.02)
    assert wiz.step == Step.DONE, wiz.refusal
    return wiz.make_record(device_uid=link.device.uid, config=SensorConfig.from_info(link))


def test_a_drill_on_a_board_without_cal_uses_the_wizard_calibration(hx711_pico, tmp_path, monkeypatch):
    monkeypatch.setenv("POINTDOSE_DATA_DIR", str(tmp_path))
    ctl = hx711_pico.ctl
    ctl.request("force 0")
    drill = preset("moderate", trials=1)
    blocks = [Block("practice", drill, Schedule.constant())]
    with open_link(hx711_pico) as link:
        assert link.device.factory_scale is None  # the board states no scale
        link.start()
        with pytest.raises(UserError, match="calibrate it first"):
            LiveTrainer(link, blocks, device_cues=False)
        record = _calibrate(link, ctl)
        save_everywhere(link, record, HostCache())
        assert load_scale(link).source == "calibration"
        trainer = LiveTrainer(link, blocks, device_cues=False)
        assert trainer.rows.conv.record_id == record.id
        ctl.request("force 15")
        n0 = link.stats.samples
        wait_for(lambda: link.stats.samples >= n0 + 80, timeout=4 * T, what="samples at 15 N")
        pressure = trainer.rows.take()["pressure_kpa"][-20:]
        assert np.median(pressure) == pytest.approx(150.0, abs=10.0)  # 15 N on the 1 cm² probe
        ctl.request("force 0")
