"""Files a user names and inputs that used to end in a traceback (issue 13, item 5 and its list).

Each case: exit status 1, ONE line on stderr starting with ``pointdose:``, no traceback, no hang.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from faultfs import small_tmpfs
from pointdose.cli import main
from pointdose.errors import UserError, read_user_file
from pointdose.records import Store
from pointdose.records.demo import make_demo

DEEP = 100_000


def one_line_error(capsys, argv, *expect):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("pointdose: ") and err.count("\n") == 1, err[:500]
    assert "Traceback" not in err and len(err) < 400, err[:500]
    for text in expect:
        assert text in err, err
    return err


# the commands that read a file the user names, with the argument list around the file
READERS = {
    "analyze": lambda f, tmp: ["analyze", f, "--contact-kpa", "5"],
    "calibrate fit": lambda f, tmp: ["calibrate", "fit", f],
    "protocols --check": lambda f, tmp: ["protocols", "--check", f],
    "clients import": lambda f, tmp: ["clients", "import", f, "--db", str(tmp / "r.sqlite")],
    "clients import-points": lambda f, tmp: ["clients", "import-points", f, "--db", str(tmp / "r.sqlite")],
}


@pytest.mark.parametrize("command", sorted(READERS))
@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "folder"])
def test_no_reader_hangs_or_grows_on_a_device_a_fifo_or_a_folder(command, special, tmp_path):
    """Before: /dev/zero grew to ~12 GB in 90 s and a FIFO blocked for good (run in a subprocess
    with a deadline, so a regression fails instead of hanging the suite)."""
    if special == "fifo":
        target = tmp_path / "fifo"
        os.mkfifo(target)
    elif special == "folder":
        target = tmp_path / "folder.csv"
        target.mkdir()
    else:
        target = special
    argv = READERS[command](str(target), tmp_path)
    out = subprocess.run([sys.executable, "-m", "pointdose.cli", *argv], capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 1, out.stderr[-2000:]
    kind = {"/dev/zero": "is a device", "fifo": "is a pipe (FIFO)", "folder": "is a folder"}[special]
    (line,) = out.stderr.splitlines()
    assert line.startswith("pointdose: ") and kind in line and "Traceback" not in out.stderr


def test_the_size_cap_is_a_clear_message(tmp_path, capsys, monkeypatch):
    from pointdose.records import trace_csv

    big = tmp_path / "big.csv"
    big.write_text("t_s,pressure_kpa\n" + "0.001,1\n" * 2000)
    monkeypatch.setattr(trace_csv, "MAX_TRACE_BYTES", 10_000)
    one_line_error(capsys, ["analyze", str(big), "--contact-kpa", "5"], "too big for a trace CSV", "over 10 KB")
    with pytest.raises(UserError, match="too big"):
        read_user_file(big, max_bytes=1000)
    assert read_user_file(big, max_bytes=big.stat().st_size).startswith("t_s")


def test_a_symlink_to_a_regular_file_is_read(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("\ufeffa,b\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert read_user_file(link) == "a,b\n"


def test_deeply_nested_toml(tmp_path, capsys):
    f = tmp_path / "deep.toml"
    f.write_text("x = " + "[" * DEEP + "]" * DEEP + "\n")
    one_line_error(capsys, ["protocols", "--check", str(f)], "nested too deeply")


@pytest.mark.parametrize("command", ["analyze", "calibrate fit"])
def test_a_csv_cell_over_128_kb(command, tmp_path, capsys):
    f = tmp_path / "cell.csv"
    f.write_text("t_s,pressure_kpa,raw,force_n\n0,1" + "1" * (200 * 1024) + ",1,1\n")
    one_line_error(capsys, READERS[command](str(f), tmp_path), "line 2", "not readable as CSV")


def test_analyze_with_seq_1e30_and_values_that_overflow(tmp_path, capsys):
    f = tmp_path / "seq.csv"
    f.write_text("seq,t_s,pressure_kpa\n0,0,10\n1e30,0.01,20\n2,0.02,30\n")
    one_line_error(capsys, ["analyze", str(f), "--contact-kpa", "5"], "line 3", "seq", "whole number")
    f.write_text("t_s,pressure_kpa\n0,1e308\n1,1e308\n2,1e308\n")  # printed "dose_kpa_s": Infinity before
    one_line_error(capsys, ["analyze", str(f), "--contact-kpa", "5", "--json"], "line 2", "pressure_kpa")


def test_analyze_json_is_strict_json(tmp_path, capsys):
    f = tmp_path / "t.csv"
    f.write_text("t_s,pressure_kpa\n0,0\n1,0\n2,0\n")
    assert main(["analyze", str(f), "--contact-kpa", "5", "--hold", "0:2", "--json"]) == 0
    text = capsys.readouterr().out
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON output"))


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "utf-16-le"])
def test_a_calibration_csv_not_in_utf8(encoding, tmp_path, capsys):
    f = tmp_path / "cal.csv"
    f.write_bytes("raw,force_n,direction\n100,1.0,load\n200,2.0,löad\n".encode(encoding))
    err = one_line_error(capsys, ["calibrate", "fit", str(f)], "UTF-8")
    if encoding == "latin-1":
        assert "line 3" in err and "0xf6" in err
    else:
        assert "UTF-16" in err


def _export_doc(tmp_path):
    with Store(tmp_path / "src.sqlite") as store:
        make_demo(store, "EXP-1", sessions=1)
        from pointdose.records.exporting import client_document

        return client_document(store, "EXP-1")


@pytest.mark.parametrize("damage", ["no client", "no sessions", "string version", "deep", "client a list",
                                    "sessions an object", "no code"])
def test_clients_import_of_a_damaged_export(damage, tmp_path, capsys):
    doc = _export_doc(tmp_path)
    f = tmp_path / "x.json"
    if damage == "deep":
        f.write_text('{"format": "pointdose-records-export", "version": 1, "client": ' + "[" * DEEP + "]" * DEEP + "}")
    else:
        if damage == "no client":
            del doc["client"]
        elif damage == "no sessions":
            del doc["sessions"]
        elif damage == "string version":
            doc["version"] = "1"
        elif damage == "client a list":
            doc["client"] = ["EXP-1"]
        elif damage == "sessions an object":
            doc["sessions"] = {"1": {}}
        elif damage == "no code":
            del doc["client"]["code"]
        f.write_text(json.dumps(doc))
    db = tmp_path / "dest.sqlite"
    one_line_error(capsys, ["clients", "import", str(f), "--db", str(db)])
    with Store(db) as store:
        assert store.clients() == []  # nothing imported


def test_clients_import_with_a_missing_key_deep_inside(tmp_path, capsys):
    doc = _export_doc(tmp_path)
    del doc["sessions"][0]["applications"][0]["started_at"]
    f = tmp_path / "x.json"
    f.write_text(json.dumps(doc))
    one_line_error(capsys, ["clients", "import", str(f), "--db", str(tmp_path / "d.sqlite")],
                   "incomplete or damaged", "started_at", "nothing was imported")


def test_a_deeply_nested_points_file(tmp_path, capsys):
    f = tmp_path / "points.json"
    f.write_text("[" * DEEP + "]" * DEEP)
    one_line_error(capsys, READERS["clients import-points"](str(f), tmp_path), "nested too deeply")


def test_a_zero_byte_database(tmp_path, capsys):
    db = tmp_path / "empty.sqlite"
    db.write_bytes(b"")
    for argv in (["clients", "list"], ["history", "--client", "C-1"], ["export", "--client", "C-1"]):
        err = one_line_error(capsys, [*argv, "--db", str(db)], "holds no records yet")
        assert "no such table" not in err
    assert db.stat().st_size == 0  # reading it changed nothing


def test_a_database_on_a_read_only_disk_can_be_listed_not_written(tmp_path, capsys):
    with small_tmpfs(tmp_path / "ro", "8m") as disk:
        db = disk / "records.sqlite"
        with Store(db) as store:
            make_demo(store, "RO-1", sessions=2)
        r = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True, text=True)
        if r.returncode:
            pytest.skip(f"cannot remount read-only: {r.stderr}")
        assert main(["clients", "list", "--db", str(db)]) == 0
        assert "RO-1" in capsys.readouterr().out
        assert main(["history", "--client", "RO-1", "--db", str(db)]) == 0
        capsys.readouterr()
        one_line_error(capsys, ["clients", "add", "C-2", "--db", str(db)], "read-only")
        assert sorted(p.name for p in disk.iterdir()) == ["records.sqlite"]


@pytest.mark.parametrize("db, expect", [
    ("postgresql://u:secret@[::1/records", "Invalid IPv6 URL"),  # a traceback before
    ("postgresql://u:secret@localhost:99999/records", "Port out of range"),
    ("postgresql://localhost:54x2/records", "Port could not be cast"),
    ("mysql://u:secret@localhost/records", "names no records server"),  # was taken for a file's path
    ("postgresql:/localhost/records", "names no records server"),
])
def test_a_db_url_typo_is_one_line_before_anything_is_tried(db, expect, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("POINTDOSE_JOURNAL", str(tmp_path / "journal.sqlite"))
    err = one_line_error(capsys, ["clients", "list", "--db", db], "--db", expect, "postgresql://user@host")
    assert "secret" not in err  # the password never shows
    monkeypatch.setenv("POINTDOSE_DB", db)
    one_line_error(capsys, ["clients", "add", "C-1"], "$POINTDOSE_DB", expect)
    assert not (tmp_path / "journal.sqlite").exists()
