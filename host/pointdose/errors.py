"""Errors that reach the user as one line: what went wrong and what to do."""


class UserError(Exception):
    """A problem the user can fix; the command line prints it without a traceback."""

    exit_code = 1


def read_user_file(path, *, what: str = "file", hint: str = "", error: type[Exception] = UserError) -> str:
    """The text of a file the user named (a BOM is dropped), or ``error`` saying what is wrong.

    ``what`` names the file in the message ("protocol file"); ``hint`` says what to give instead.
    """
    from pathlib import Path

    path = Path(path)
    tail = f": {hint}" if hint else ""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error(f"{path}: no such {what}{tail}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read it ({exc}){tail}") from None
