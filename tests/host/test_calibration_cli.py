"""``pointdose calibrate fit`` and ``show --uid``: JSON out, refusals exit non-zero, bad CSVs name the line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pointdose.cli import main


def write(tmp_path, text: str):
    path = tmp_path / "points.csv"
    path.write_text(text)
    return str(path)


GOOD = """raw,force_n,direction
42000,0,load
182000,10,load
462000,30,load
742000,50,load
462140,30,unload
182070,10,unload
42010,0,unload
"""


def test_fit_prints_json_with_residuals(tmp_path, capsys):
    assert main(["calibrate", "fit", write(tmp_path, GOOD), "--model", "linear", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accepted"] is True and out["model"] == "linear"
    assert out["r2"] > 0.9999 and out["max_error_n"] < 0.02
    # hysteresis: unloading reads 140 counts (0.01 N) high at 30 N: 0.02 % of 50 N
    assert out["hysteresis_pct_fs"] == pytest.approx(0.02, abs=0.002)
    assert len(out["points"]) == 7
    p = out["points"][3]
    assert p["raw"] == 742000 and p["force_n"] == 50
    assert p["error_n"] == pytest.approx(p["predicted_n"] - p["force_n"])


def test_fit_without_direction_column_and_text_output(tmp_path, capsys):
    text = "raw,force_n\n0,0\n1000,10\n2000,20\n3000,30\n"
    assert main(["calibrate", "fit", write(tmp_path, text)]) == 0
    out = capsys.readouterr().out
    assert "max error 0.00 N" in out and "hysteresis not measured" in out


def test_fsr_fit_through_the_cli(tmp_path, capsys):
    f = np.array([0, 1, 2.5, 5, 10, 15, 20, 15, 10, 5, 2.5, 1, 0.0])
    u = 0.02 * f ** 1.1
    raw = 65535 * u / (1 + u)
    lines = ["raw,force_n,direction"] + [f"{r:.1f},{x},{'load' if i <= 6 else 'unload'}"
                                         for i, (r, x) in enumerate(zip(raw, f))]
    assert main(["calibrate", "fit", write(tmp_path, "\n".join(lines)), "--model", "fsr", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "fsr" and out["max_error_n"] < 0.05 and out["params"]["b"] == pytest.approx(1 / 1.1, rel=0.01)

    # the same file without its unloaded rows is refused with what to add, not fitted with a guessed zero
    lines = [line for line in lines if not line.startswith("0.0,")]
    assert main(["calibrate", "fit", write(tmp_path, "\n".join(lines)), "--model", "fsr"]) == 1
    err = capsys.readouterr().err
    assert "calibration refused (no zero)" in err and "add an unloaded reading" in err and "Traceback" not in err


def test_a_refused_calibration_exits_non_zero_with_the_reason(tmp_path, capsys):
    text = "raw,force_n\n0,0\n1000,10\n2000,20\n3300,30\n"  # 10 % off at the top
    assert main(["calibrate", "fit", write(tmp_path, text), "--json"]) == 1
    captured = capsys.readouterr()
    assert "calibration refused (max error)" in captured.err
    out = json.loads(captured.out)
    assert out["accepted"] is False and out["refused"] == "max_error" and out["max_error_n"] > 0.6
    # a user-set tolerance lets it pass
    assert main(["calibrate", "fit", write(tmp_path, text), "--tolerance-pct", "10"]) == 0
    assert main(["calibrate", "fit", write(tmp_path, "raw,force_n\n0,0\n1,1\n")]) == 1
    assert "too few points" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("raw,force_n\n0,0\n10,abc\n", "line 3: force_n 'abc' is not a number"),
    ("raw,force\n0,0\n", "line 1: the header must name the columns raw and force_n"),
    ("raw,force_n,direction\n0,0,load\n5,1,up\n", "line 3: direction 'up' must be load or unload"),
    ("raw,force_n\n0,0\n5\n", "line 3: 1 values, expected 2"),
    ("raw,force_n\n0,nan\n", "line 2: force_n 'nan' is not a finite number"),
    ("", "the file is empty"),
    ("raw,force_n\n", "no points after the header"),
])
def test_malformed_csv_names_the_line(tmp_path, capsys, text, message):
    assert main(["calibrate", "fit", write(tmp_path, text)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pointdose: ") and message in err


def test_missing_file_is_a_user_error(tmp_path, capsys):
    assert main(["calibrate", "fit", str(tmp_path / "nope.csv")]) == 1
    assert "no such calibration CSV" in capsys.readouterr().err


def test_show_by_uid_reads_the_host_cache(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("POINTDOSE_DATA_DIR", str(tmp_path))
    assert main(["calibrate", "show", "--uid", "abc123"]) == 1
    assert "no calibration kept" in capsys.readouterr().err
    from pointdose.calibration import CalibrationRecord, HostCache, Point, SensorConfig, fit_points

    fit = fit_points([Point(1000.0 * f, f) for f in (0, 10, 20, 30)])
    rec = CalibrationRecord.from_fit(fit, device_uid="abc123", config=SensorConfig("hx711"),
                                     reference={"kind": "masses", "unit": "kg"})
    HostCache().save(rec)
    assert main(["calibrate", "show", "--uid", "abc123"]) == 0
    out = capsys.readouterr().out
    assert rec.id in out and "known masses" in out and "0 – 30.0 N" in out
    assert main(["calibrate", "show", "--uid", "abc123", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == rec.id
