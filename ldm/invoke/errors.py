"""Errors whose message is written for the user, for the engine and the application alike, and the
one ``user_message`` that turns any exception into the sentence a user is shown."""

from __future__ import annotations


class UserError(Exception):
    """Base of every error whose message says, to a user, what was wrong and what to do. The
    engine's (``InvokeError``) and the application's (a refused request, upload, path, desktop
    call, port) all derive from it; anything else is a bug, logged with its traceback."""


class InvokeError(UserError):
    """Base of every error the engine reports to a user."""


class MissingFileError(InvokeError, FileNotFoundError):
    """A file a request names is not there (any more)."""


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


def is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, UserError)


def user_message(exc: BaseException, doing: str = "The job") -> str:
    """The sentence a user sees for ``exc``: our errors say it themselves; out of GPU memory gets a
    hint; anything else names its type (``doing`` says what failed, e.g. "The job")."""
    if isinstance(exc, InvalidParameterError):
        return f"Invalid {exc.field}: {exc.message.rstrip('.')}."
    if isinstance(exc, UserError):
        return str(getattr(exc, "message", None) or exc)
    if type(exc).__name__ == "OutOfMemoryError":
        return ("The GPU ran out of memory. Try a smaller image size, fewer images at once, or "
                "--free_gpu_mem; the server is still running.")
    return f"{doing} failed: {type(exc).__name__}: {exc}"
