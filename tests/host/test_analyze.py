"""`pointdose analyze`: JSON for a CSV trace, and malformed files named by their line."""

import json

import pytest

from pointdose.cli import main


def write(tmp_path, text, name="trace.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_json_of_a_trace_with_extra_columns_in_any_order(tmp_path, capsys):
    path = write(tmp_path, "note,pressure_kpa,t_s\na,0,0\nb,100,1\nc,100,2\nd,0,3\n")
    assert main(["analyze", path, "--contact-kpa", "50", "--band", "60:120", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # contact from 50 kPa up (0.5 s) until below the release level, 25 kPa (2.75 s)
    assert out["contact_release_kpa"] == 25.0
    assert out["contact_s"] == pytest.approx(2.25)
    assert out["dose_kpa_s"] == pytest.approx(184.375)
    assert out["peak_kpa"] == 100.0
    assert out["mean_contact_kpa"] == pytest.approx(184.375 / 2.25)
    # band 60..120 (inside contact): 0.4 s rising from 60 to 100, the 1 s hold, 0.4 s falling = 1.8 s
    assert out["in_band_s"] == pytest.approx(1.8)
    assert out["in_band_pct"] == pytest.approx(100 * 1.8 / 2.25)
    # --release-kpa equal to the threshold: no hysteresis, 0.5 s → 2.5 s
    assert main(["analyze", path, "--contact-kpa", "50", "--release-kpa", "50", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["contact_s"] == pytest.approx(2.0) and out["dose_kpa_s"] == pytest.approx(175.0)
    assert main(["analyze", path, "--contact-kpa", "50", "--release-kpa", "60"]) == 1
    assert "--release-kpa must be" in capsys.readouterr().err


def test_seq_column_reveals_a_gap(tmp_path, capsys):
    lines = ["t_s,pressure_kpa,seq"] + [f"{s * 0.01},100,{s}" for s in list(range(10)) + list(range(20, 30))]
    path = write(tmp_path, "\n".join(lines) + "\n")
    assert main(["analyze", path, "--contact-kpa", "10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["contact_s"] == pytest.approx(0.18)
    assert out["gaps"][0]["missing"] == 10


def test_table_output_labels_units(tmp_path, capsys):
    path = write(tmp_path, "t_s,pressure_kpa\n0,0\n1,100\n2,0\n")
    assert main(["analyze", path, "--contact-kpa", "50", "--band", "60:120", "--hold", "0.5:1.5"]) == 0
    out = capsys.readouterr().out
    assert "kPa·s" in out and "dose (descriptive)" in out and "% of contact" in out and "CV" in out


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("t_s,pressure_kpa\n", "no samples"),
    ("time,pressure_kpa\n0,1\n", "line 1: the header has no t_s column"),
    ("t_s,force\n0,1\n", "line 1: the header has no pressure_kpa column"),
    ("t_s,pressure_kpa\n0,1\n1,abc\n", "line 3: pressure_kpa 'abc' is not a number"),
    ("t_s,pressure_kpa\n0,1\n1,nan\n", "line 3: pressure_kpa is 'nan'"),
    ("t_s,pressure_kpa\n0,1\n2,1\n\n1.5,1\n", "line 5: t_s 1.5 is before the previous sample's 2"),
    ("t_s,pressure_kpa,x\n0,1,2\n1,2\n", "line 3: 2 values, but the header has 3 columns"),
])
def test_malformed_files_exit_non_zero_naming_the_line(tmp_path, capsys, text, message):
    path = write(tmp_path, text)
    assert main(["analyze", path, "--contact-kpa", "10", "--json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pointdose: ") and message in err and "trace.csv" in err


def test_bad_band_and_missing_file(tmp_path, capsys):
    path = write(tmp_path, "t_s,pressure_kpa\n0,1\n")
    assert main(["analyze", path, "--contact-kpa", "10", "--band", "150:100"]) == 1
    assert "LOW must be below HIGH" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "nope.csv"), "--contact-kpa", "10"]) == 1
    assert "no such trace CSV" in capsys.readouterr().err
