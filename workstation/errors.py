"""The errors a user is told about.

A `WorkstationError` is the environment's or the input's fault (a bad GGUF file, a locked
database, an unknown id): its message says what is wrong and what to do, and it is shown as
one line, never as a traceback. Anything else that escapes is a bug: it is logged with its
traceback and the user gets a short apology and where the log is.
"""

from __future__ import annotations


class WorkstationError(Exception):
    """An expected failure with a message meant for the user."""

    #: Exit status of the command line when this error ends a command.
    exit_code = 2


class BadInputError(WorkstationError):
    """Input from the user or from a file is invalid (names the file, field or value)."""


class ModelFileError(BadInputError):
    """A model file is missing, not a GGUF file, truncated or unsupported."""
