"""The ``mlplab`` subcommands: each module adds its parser and runs it.

A subcommand raises :class:`UsageError` for bad input; :func:`mlplab.cli.main` turns it into
one line on stderr and exit code 2.
"""

import argparse

__all__ = ["UsageError"]


class UsageError(Exception):
    """Bad input on the command line: reported as one line, exit code 2."""


def positive_int(text: str) -> int:
    """Parse a command-line integer >= 1 (the ``type=`` of argparse options), else say why."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value
