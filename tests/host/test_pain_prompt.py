"""Pain 0–10 before and after an application: asked in the workflow, skippable, stored, reported."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest

from pointdose.cli import main
from pointdose.commands.session import ask_pain
from pointdose.errors import UserError
from pointdose.records import Store
from pointdose.records.guided import guided
from pointdose.records.pain import PainPrompt, parse_rating


def test_parse_rating():
    assert parse_rating("") is None and parse_rating(" skip ") is None and parse_rating(None) is None
    assert parse_rating("0") == 0 and parse_rating(" 10 ") == 10 and parse_rating(7) == 7 and parse_rating("4.0") == 4
    for bad in ("11", "-1", "3.5", "lots", True, "nan", "inf", "-inf", "1e400", float("nan")):
        with pytest.raises(UserError, match="0 .*10|0 to 10"):
            parse_rating(bad)


def test_prompt_defers_the_start_and_hands_the_rating_on():
    started, saved = [], []
    p = PainPrompt()
    p.before_start(lambda: started.append(p.info_extra()))
    assert p.asking == "before" and "0–10" in p.question and "Enter to skip" in p.question and not started
    assert not p.answer("eleven") and p.asking == "before" and "whole number" in p.error and not started
    assert p.answer("6") and started == [{"pain_before": 6}] and p.asking is None
    p.ended(saved.append)
    assert p.asking == "after"
    p.skip()
    assert saved == [None] and p.after is None
    # switched off: the start goes on at once, nothing is asked after
    off = PainPrompt(enabled=False)
    off.before_start(lambda: started.append("now"))
    off.ended(saved.append)
    assert started[-1] == "now" and off.asking is None and saved == [None]


def test_terminal_question_repeats_until_valid_and_enter_skips():
    answers = iter(["12", "3"])
    out = io.StringIO()
    assert ask_pain("before", None, True, input_fn=lambda q: next(answers), out=out) == 3
    assert "whole number from 0" in out.getvalue() and "pain before: 3" in out.getvalue()
    assert ask_pain("after", None, True, input_fn=lambda q: "", out=out) is None
    assert "pain after: not rated" in out.getvalue()
    assert ask_pain("after", 5, True, input_fn=lambda q: pytest.fail("asked although given")) == 5
    assert ask_pain("after", None, False, input_fn=lambda q: pytest.fail("asked without a terminal")) is None


def _session(db, *extra):
    return main(["session", "--sim", "--hand", "expert", "--headless", "--mute", "--client", "P1",
                 "--point", "upper trapezius L", "--db", str(db), "--seconds", "60",
                 "--protocol", "ischemic", "--set", "hold_s=5", "--set", "release_s=1", "--hand-release", "3", "--ppt", "250",
                 *extra])


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs pdftotext (poppler-utils)")
def test_terminal_flags_store_pain_before_and_after_and_the_report_shows_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", open("/dev/null"))
    db = tmp_path / "r.sqlite"
    assert _session(db, "--pain-before", "6", "--pain-after", "2") == 0
    assert _session(db, "--pain-before", "5") == 0  # after skipped
    with Store(db) as store:
        a1, a2 = store.applications()
        assert guided(store, a1).pain == {"before": [6], "after": [2]}
        assert guided(store, a2).pain_text() == "before 5 · after not rated"
        rows = store.query("SELECT stage, value, point_id, session_id FROM pain ORDER BY id")
        assert [(r["stage"], r["value"]) for r in rows] == [("before", 6), ("after", 2), ("before", 5)]
        assert {r["point_id"] for r in rows} == {a1["point_id"]}
    out_pdf = tmp_path / "r.pdf"
    assert main(["report", "--session", "1", "--db", str(db), "--out", str(out_pdf)]) == 0
    text = subprocess.run(["pdftotext", "-layout", str(out_pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "before 6 · after 2" in text and "before 5 · after not rated" in text


def test_bad_pain_flag_is_one_line_and_records_nothing(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    for bad in ("eleven", "nan"):  # 'nan' was a traceback (int(nan))
        assert _session(db, "--pain-before", bad) != 0
        err = capsys.readouterr().err
        assert f"pain '{bad}'" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert not db.exists()


def test_terminal_asks_on_a_real_terminal_and_enter_skips(tmp_path):
    """`pointdose session` on a pseudo-terminal: it asks before the start, takes 7, asks after the
    end, and Enter leaves the rating after unrated."""
    import os
    import pty
    import select
    import sys
    import time

    db = tmp_path / "r.sqlite"
    code = ("import sys; from pointdose.cli import main; sys.exit(main(sys.argv[1:]))")
    argv = [sys.executable, "-c", code, "session", "--sim", "--hand", "expert", "--mute", "--client", "TTY-1",
            "--point", "upper trapezius L", "--protocol", "holds", "--set", "cycles=1", "--set", "hold_s=2",
            "--set", "target=150 kPa", "--hand-release", "2", "--seconds", "60", "--db", str(db)]
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    seen = b""

    def wait_for(text: bytes, timeout: float = 90.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while text not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {text!r}; got:\n{seen.decode(errors='replace')[-2000:]}"
            ready, _, _ = select.select([master], [], [], min(left, 1.0))
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:  # the child closed the terminal
                    assert text in seen, seen.decode(errors="replace")[-2000:]
    try:
        wait_for("Pain at this point now, 0–10 (Enter to skip): ".encode())
        os.write(master, b"12\n")  # refused, asked again
        wait_for(b"whole number from 0")
        os.write(master, b"7\n")
        wait_for(b"pain before: 7")
        wait_for("Pain at this point after the application, 0–10".encode())
        os.write(master, b"\n")
        wait_for(b"pain after: not rated")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    with Store(db) as store:
        (app,) = store.applications()
        assert guided(store, app).pain_text() == "before 7 · after not rated"
