"""pointdose: live pressure feedback and dose logs for trigger-point work."""

__version__ = "0.1.0"
