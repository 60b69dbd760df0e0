"""Errors caused by the user's input (config, data, checkpoint).

Each message names the problem and the fix. ``tools/*.py`` print them
without a traceback; the subclasses are also the built-in exception a
Python user expects (``KeyError`` for an unknown name, ...).
"""


class UserInputError(Exception):
    """Base class of the errors that the user's input causes."""

    def __str__(self):
        # KeyError would print the repr of the message.
        return str(self.args[0]) if self.args else ''


class ConfigKeyError(UserInputError, KeyError):
    """An unknown name: arch, config key."""


class ConfigValueError(UserInputError, ValueError):
    """A value out of range, or a checkpoint that does not fit the model."""


class ConfigTypeError(UserInputError, TypeError):
    """An unexpected argument."""
