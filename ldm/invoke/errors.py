"""Exceptions the engine raises, each with a message written for the user."""

from __future__ import annotations


class InvokeError(Exception):
    """Base of every error the engine reports to a user."""


class InvalidParameterError(InvokeError, ValueError):
    """A generation parameter is out of range or of the wrong kind; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class GenerationCanceled(InvokeError):
    """Raised from a step callback to stop a generation at the current step."""

    def __init__(self, message: str = "generation canceled") -> None:
        super().__init__(message)


class ModelLoadError(InvokeError):
    """A model named in models.yaml is missing, broken or of an unknown format."""


class MissingWeightsError(InvokeError):
    """A postprocessor's weight file is absent from the root dir."""

    def __init__(self, path: str, command: str = "invokeai-configure") -> None:
        super().__init__(
            f"Missing weights file {path}. Install it with `{command}` "
            f"or copy the file there under that exact name."
        )
        self.path = path
        self.command = command
