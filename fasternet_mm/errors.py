"""The errors a user's input causes (config, data, checkpoint, arguments).

Each message names the problem and the fix. Every tool runs its ``main``
through :func:`run_tool`, which prints them as ``error: ...`` with exit
status 1 and no traceback; the subclasses are also the built-in exception a
Python user expects (``KeyError`` for an unknown name, ...).
"""
import sys


class UserInputError(Exception):
    """Base class of the errors that the user's input causes."""

    def __str__(self):
        # KeyError would print the repr of the message.
        message = str(self.args[0]) if self.args else ''
        return _unwrap_worker_error(message, type(self).__name__)


class ConfigKeyError(UserInputError, KeyError):
    """An unknown name: arch, config key."""


class ConfigValueError(UserInputError, ValueError):
    """A config value out of range."""


class ConfigTypeError(UserInputError, TypeError):
    """An unexpected argument."""


class CheckpointError(UserInputError, ValueError):
    """A checkpoint that is missing, unreadable, unsafe or does not fit."""


class DataError(UserInputError, ValueError):
    """A dataset that is missing or does not match its config."""


class TrainingDivergedError(UserInputError, FloatingPointError):
    """A loss or weights that are no longer finite (NaN, inf)."""


def _unwrap_worker_error(message: str, name: str) -> str:
    """The message of an error re-raised from a DataLoader worker.

    torch re-raises it as ``type(e)("Caught X in DataLoader worker process
    N.\nOriginal Traceback ...\n<module>.X: message")``; the user should
    see the message only.
    """
    if not (message.startswith('Caught ') and 'Original Traceback' in message):
        return message
    for marker in (f'fasternet_mm.errors.{name}: ', f'{name}: '):
        at = message.rfind(marker)
        if at >= 0:
            return message[at + len(marker):].strip()
    return message


def run_tool(main, argv=None) -> None:
    """Run a tool's ``main(argv)``: a user error prints ``error: ...`` and
    exits 1, without a traceback."""
    try:
        main(argv)
    except UserInputError as e:
        sys.exit(f'error: {e}')
