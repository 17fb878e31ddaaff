"""The command-line commands: one module per ``pointdose`` command (``add_arguments(p)`` and
``run(args)``), listed in ``pointdose.cli.COMMANDS``. Feature packages hold no CLI code; these
modules parse arguments, open devices and stores through the feature packages, and print.
"""
