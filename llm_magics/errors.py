"""The exceptions llm_magics raises, all under one root.

::

    LlmMagicsError
     ├── InvalidArgumentError      (also a ValueError)    bad argument, unknown name, missing column
     ├── MissingDependencyError    (also an ImportError)  an optional package is not installed
     ├── ModelError
     │    ├── ModelNotFoundError                          no such model anywhere we may look
     │    └── ModelLoadError                              found, but it would not load
     ├── DeviceOutOfMemoryError    (also a MemoryError)   does not fit the device's memory budget
     └── RunInterruptedError                              Ctrl-C or cancel(): finished rows are kept

    LlmMagicsWarning (a UserWarning)                      something was changed to make it run

Every message says what happened and what to do next. In a notebook the error renders as one line
(``_render_traceback_``) instead of a traceback through our internals; ``%tb`` still shows the
full traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "DeviceOutOfMemoryError",
    "InvalidArgumentError",
    "LlmMagicsError",
    "LlmMagicsWarning",
    "MissingDependencyError",
    "ModelError",
    "ModelLoadError",
    "ModelNotFoundError",
    "RunInterruptedError",
    "did_you_mean",
]


class LlmMagicsError(Exception):
    """Root of every error llm_magics raises on purpose."""

    def __reduce__(self) -> tuple[object, ...]:
        # Pickle by state, not by calling __init__ again (which takes keyword-only context): the
        # error a Ray worker raises arrives in the driver whole, with its class and its fields.
        return (_restore, (type(self), self.args, self.__dict__))

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of formatting a traceback: users see one clear line.
        red, reset = "\x1b[31m", "\x1b[0m"
        return [f"{red}{type(self).__name__}{reset}: {self}"]


class InvalidArgumentError(LlmMagicsError, ValueError):
    """An argument has a value we cannot use (an unknown name, a missing column, ...)."""


class MissingDependencyError(LlmMagicsError, ImportError):
    """An optional package is needed; the message gives the install command."""

    def __init__(self, message: str, *, package: str, install: str) -> None:
        super().__init__(message)
        self.package = package
        self.install = install


class ModelError(LlmMagicsError):
    """Something about a model went wrong."""

    def __init__(self, message: str, *, model: str) -> None:
        super().__init__(message)
        self.model = model


class ModelNotFoundError(ModelError):
    """No model of that name in the aliases, on disk, in the Hugging Face cache, or on the hub."""

    def __init__(self, message: str, *, model: str, tried: tuple[str, ...] = ()) -> None:
        super().__init__(message, model=model)
        self.tried = tried


class ModelLoadError(ModelError):
    """The model was found but could not be loaded."""


class DeviceOutOfMemoryError(LlmMagicsError, MemoryError):
    """The model (or a batch) does not fit the memory budget of its device."""

    def __init__(
        self,
        message: str,
        *,
        model: str,
        device: str,
        needed_bytes: int | None = None,
        budget_bytes: int | None = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.device = device
        self.needed_bytes = needed_bytes
        self.budget_bytes = budget_bytes


class RunInterruptedError(LlmMagicsError):
    """A run stopped early (Ctrl-C, or ``cancel()``); every finished row is in the result cache."""

    def __init__(
        self, message: str, *, job_id: str | None, done: int, total: int, reason: str
    ) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.done = done
        self.total = total
        self.reason = reason


class LlmMagicsWarning(UserWarning):
    """Something was adjusted so the call could run (inputs truncated, values converted, ...)."""


def _restore(cls: type[LlmMagicsError], args: tuple[object, ...], state: dict) -> LlmMagicsError:
    err = BaseException.__new__(cls, *args)  # MemoryError.__new__ refuses subclasses here
    err.args = args
    err.__dict__.update(state)
    return err


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""`` when none is close.

    Examples
    --------
    >>> did_you_mean("defualt-chat", ["default-chat", "default-embed"])
    " Did you mean 'default-chat'?"
    >>> did_you_mean("zzz", ["default-chat"])
    ''
    """
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
