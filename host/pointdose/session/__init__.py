"""Running a protocol live: the runner (ring → engine → cues → listeners) and the terminal mode."""

from pointdose.session.runner import SessionRunner

__all__ = ["SessionRunner"]
