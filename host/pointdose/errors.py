"""Errors that reach the user as one line: what went wrong and what to do."""


class UserError(Exception):
    """A problem the user can fix; the command line prints it without a traceback."""

    exit_code = 1
