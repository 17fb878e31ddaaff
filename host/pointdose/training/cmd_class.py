"""``pointdose class``: students and classes in the records database (see pointdose.training.cli)."""

from pointdose.training.cli import add_class_arguments as add_arguments  # noqa: F401
from pointdose.training.cli import run_class as run  # noqa: F401
