"""``pointdose class``: students and classes in the records database (see pointdose.commands.train)."""

from pointdose.commands.train import add_class_arguments as add_arguments  # noqa: F401
from pointdose.commands.train import run_class as run  # noqa: F401
