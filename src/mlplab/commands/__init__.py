"""The ``mlplab`` subcommands: each module adds its parser and runs it.

A subcommand raises :class:`UsageError` for bad input; :func:`mlplab.cli.main` turns it into
one line on stderr and exit code 2.
"""

__all__ = ["UsageError"]


class UsageError(Exception):
    """Bad input on the command line: reported as one line, exit code 2."""
