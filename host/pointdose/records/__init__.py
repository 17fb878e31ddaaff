"""Session records: clients, points on the body map, applications with their samples, history.

Pure (no DearPyGui). The app's records panels, the CLI commands and the session runner's
:class:`RecordingListener` all go through :class:`Store`. See ``docs/records.md``.
"""

from pointdose.records.listener import RecordingListener
from pointdose.records.store import NewerDatabaseError, Store, StoreError, default_db_path

__all__ = ["NewerDatabaseError", "RecordingListener", "Store", "StoreError", "default_db_path"]
