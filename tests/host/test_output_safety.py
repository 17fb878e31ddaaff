"""Spreadsheet-safe CSV and terminal-safe output (issue 13, item 8).

Before: a point label ``=cmd|' /C calc'!A0`` went as is into points.csv, and names and TOML labels
with ESC/BEL were printed raw.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from pointdose.cli import main
from pointdose.records import Store
from pointdose.records.demo import make_demo
from pointdose.records.exporting import export_client
from pointdose.textout import SafeWriter, csv_cell, json_text, terminal_safe

EVIL = "evil\x1b[31mRED\x07\x1b]0;title\x07\r"


@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_text_is_quoted_as_text(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["C-0042", "trap", "", None, 12, -3.5, 0.0])
def test_other_cells_are_unchanged(value):
    assert csv_cell(value) == value


def test_points_csv_keeps_a_formula_label_as_text(tmp_path):
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        make_demo(store, "CSV-1", sessions=1)
        cid = store.client("CSV-1")["id"]
    conn = sqlite3.connect(db)
    conn.execute("UPDATE points SET label=? WHERE client_id=?", ("=cmd|' /C calc'!A0", cid))
    conn.commit()
    conn.close()
    with Store(db, readonly=True) as store:
        files = export_client(store, "CSV-1", tmp_path / "out", formats=["csv"])
    (points_csv,) = [f for f in files if f.name == "points.csv"]
    rows = list(csv.DictReader(io.StringIO(points_csv.read_text())))
    assert rows and all(r["point"] == "'=cmd|' /C calc'!A0" for r in rows)
    for r in rows:  # numbers stay numbers, negative ones included
        float(r["duration_s"])
        assert not any(v.startswith(("=", "+", "@")) for v in r.values())


def test_terminal_safe_drops_controls_but_keeps_lines_and_the_status_rewrite():
    assert terminal_safe(EVIL + "\n\tok") == "evil[31mRED]0;title\n\tok"
    assert terminal_safe("\r\x1b[2KHOLD  cycle 1/6") == "\r\x1b[2KHOLD  cycle 1/6"
    out = io.StringIO()
    w = SafeWriter(out)
    print("a\x1bb\x07", file=w)
    assert out.getvalue() == "ab\n" and w.getvalue() == "ab\n"  # other attributes pass through


def test_json_text_never_writes_nan_or_infinity():
    text = json_text({"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": "x"})
    assert json.loads(text) == {"a": None, "b": [None, None, 1.5], "c": "x"}
    assert "NaN" not in text and "Infinity" not in text


def test_a_client_code_with_escapes_is_listed_without_them(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        make_demo(store, "ESC-1", sessions=1)
    conn = sqlite3.connect(db)  # an older pointdose had no code rules
    conn.execute("UPDATE clients SET code=?, name=? WHERE code='ESC-1'", (EVIL, EVIL))
    conn.commit()
    conn.close()
    assert main(["clients", "list", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "evil[31mRED" in out and "\x1b" not in out and "\x07" not in out and "\r" not in out
    assert main(["clients", "points", EVIL, "--db", str(db)]) == 0
    assert "\x1b" not in capsys.readouterr().out
    assert main(["history", "--client", "nobody\x1b[2J", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and err.count("\n") == 1


def test_toml_title_and_labels_with_escapes_are_printed_without_them(tmp_path, capsys):
    f = tmp_path / "esc.toml"
    f.write_text('name = "esc"\ntitle = "T\\u001b[2J\\u0007"\n[[phase]]\nkind = "hold"\n'
                 'label = "L\\u001b]0;pwned\\u0007"\ntarget = "100 kPa"\nduration_s = 5\n')
    code = main(["protocols", "--check", str(f)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "T[2J" in captured.out and "\x1b" not in captured.out and "\x07" not in captured.out


def test_the_session_status_line_keeps_its_own_rewrite_and_drops_a_labels(tmp_path):
    from types import SimpleNamespace

    from pointdose.commands.session import Printer

    out = io.StringIO()
    p = Printer("kPa", 1.0, tty=True, stream=SafeWriter(out))
    cue = SimpleNamespace(phase="hold", label="L\x1b]0;pwned\x07", cycle=1, cycles=2, pressure_kpa=100.0,
                          band_lo_kpa=None, band_hi_kpa=None, rate_target_kpa_s=None, band="in", deviation_kpa=0.0,
                          waiting_for=None, time_left_s=None, time_left_is_max=False, prompt="hold", alarm="")
    p.cue(cue)
    text = out.getvalue()
    assert text.startswith("\r\x1b[2K") and text.count("\x1b") == 1 and "\x07" not in text


@pytest.mark.parametrize("text", ["=x", "'=x", "''+1", "'plain", "-1.5", "-2+3", "@", "plain"])
def test_csv_cell_and_csv_text_round_trip(text):
    from pointdose.textout import csv_text

    assert csv_text(csv_cell(text)) == text
    if text == "-1.5":
        assert csv_cell(text) == text  # a number written as text stays a number


def test_training_export_keeps_formula_text_as_text_and_imports_it_back(tmp_path):
    from test_training import record_station

    a = record_station(tmp_path / "a.sqlite", "S-A", 1, 1.1)
    formula = '=HYPERLINK("http://x","y")'
    a.store.query("UPDATE training_classes SET name=?", (formula,))
    a.export_csv(tmp_path / "a.csv")
    rows = list(csv.DictReader(open(tmp_path / "a.csv", newline="")))
    assert rows and all(r["class_name"] == "'" + formula for r in rows)
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    from pointdose.training.store import read_export

    assert {r["class_name"] for r in read_export(tmp_path / "a.csv")} == {formula}  # read back as written
    b = record_station(tmp_path / "b.sqlite", "S-B", 2, 0.9)
    assert b.import_csv(tmp_path / "a.csv").trials_added == 6
    a.close()
    b.close()


def test_main_puts_stdout_back_and_errors_are_one_line(tmp_path, capsys, monkeypatch):
    import sys

    from pointdose.errors import UserError
    from pointdose.commands import history as cmd_history

    before = sys.stdout

    def boom(args):
        raise UserError("first\nsecond\x1b[2J\x07")

    monkeypatch.setattr(cmd_history, "run", boom)
    assert main(["history", "--client", "C-1"]) == 1
    assert sys.stdout is before
    assert capsys.readouterr().err == "pointdose: first second [2J \n"
