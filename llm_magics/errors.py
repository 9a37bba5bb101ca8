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

A warning is issued with :func:`warn`, which points it at the user's line, and is said once per
call: code that repeats an inner call (a plan's steps, an op's batches, a model's folds) collects
the warnings of the inner calls with :func:`collected_warnings` and says each once.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import functools
import inspect
import os
import site
import sys
import sysconfig
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

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
    "bind_arguments",
    "checked_arguments",
    "collected_warnings",
    "did_you_mean",
    "kept_warnings",
    "warn",
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


def _library_folders() -> tuple[str, ...]:
    """Where code that is not the user's lives: our package, the standard library, and the
    installed packages (IPython's magic machinery among them)."""
    paths = sysconfig.get_paths()
    folders = {os.path.dirname(os.path.abspath(__file__))}
    folders.update(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    folders.update(site.getsitepackages())
    folders.add(site.getusersitepackages())
    return tuple(os.path.join(f, "") for f in folders)


_LIBRARY_FOLDERS = _library_folders()


def warn(message: str, category: type[Warning] | None = None) -> None:
    """Issue ``message`` as an ``LlmMagicsWarning`` (or ``category``) at the user's line.

    The line is the innermost one outside our package and outside installed libraries: the
    user's call of an op in a script or a cell, or the cell that holds a ``%%mine`` plan (IPython
    runs the magic). Python's default filter then shows a message once per line that causes it.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("3 rows were cut.")
    >>> caught[0].category.__name__, str(caught[0].message)
    ('LlmMagicsWarning', '3 rows were cut.')
    """
    kept = _KEPT.get()
    if kept is not None:
        kept.append(message)
        return
    frame, level = sys._getframe(1), 2  # level 2: warn's caller
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_LIBRARY_FOLDERS):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category or LlmMagicsWarning, stacklevel=level)


_KEPT: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("kept", default=None)


@contextlib.contextmanager
def kept_warnings() -> Iterator[list[str]]:
    """Keep the messages ``warn`` issues in this block (in this thread only) in a list, unshown.

    For work the user did not ask for by name, such as the labelling panel embedding rows in the
    background to choose the next one: a row cut to the encoder's 512 tokens matters to a result,
    not to which row is shown next. Unlike ``warnings.catch_warnings``, which swaps the
    process-wide filters, it leaves every other thread's warnings alone.

    Examples
    --------
    >>> with kept_warnings() as kept:
    ...     warn("3 rows were cut.")
    >>> kept
    ['3 rows were cut.']
    """
    kept: list[str] = []
    token = _KEPT.set(kept)
    try:
        yield kept
    finally:
        _KEPT.reset(token)


@contextlib.contextmanager
def collected_warnings(shown: set[tuple[Any, ...]] | None = None) -> Iterator[list[str]]:
    """Keep our warnings raised inside the block instead of showing them; show other libraries'
    warnings as usual, but each (category, text, file, line) once.

    The block yields the list that the texts of our warnings are added to, each once and in
    order; the caller says them (``warn``) when the block ends. A repeated inner call (a
    plan's steps, the folds of a model search) would otherwise repeat every warning once per
    call. Pass the same ``shown`` set to several blocks to show another library's warning once
    over all of them. Filters that make a warning an error or ignore it still apply.

    Examples
    --------
    >>> with collected_warnings() as notes:
    ...     for _ in range(3):
    ...         warn("3 rows were cut.")
    >>> notes
    ['3 rows were cut.']
    """
    notes: list[str] = []
    shown = set() if shown is None else shown
    with warnings.catch_warnings():
        warnings.simplefilter("always", LlmMagicsWarning)
        show = warnings.showwarning

        def keep_or_show(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: Any = None,
            line: str | None = None,
        ) -> None:
            if issubclass(category, LlmMagicsWarning):
                if str(message) not in notes:
                    notes.append(str(message))
                return
            key = (category, str(message), filename, lineno)
            if key not in shown:
                shown.add(key)
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = keep_or_show
        yield notes


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


F = TypeVar("F", bound=Callable[..., Any])


def bind_arguments(
    name: str, signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> inspect.BoundArguments:
    """Bind a call to ``signature``, or raise ``InvalidArgumentError`` (one line) where Python
    would raise ``TypeError``: a missing argument, one too many, one given twice.

    Examples
    --------
    >>> def top_k(texts, query, k=5): ...
    >>> bind_arguments("top_k", inspect.signature(top_k), ([],), {})
    Traceback (most recent call last):
    ...
    llm_magics.errors.InvalidArgumentError: top_k(): missing a required argument: 'query'. It needs (texts, query); see help(top_k) for the rest.
    """
    try:
        return signature.bind(*args, **kwargs)
    except TypeError as err:
        variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        needed = [
            p.name
            for p in signature.parameters.values()
            if p.default is p.empty and p.kind not in variadic and p.name != "self"
        ]
        msg = f"{name}(): {err}. It needs ({', '.join(needed)}); see help({name}) for the rest."
        raise InvalidArgumentError(msg) from None


def checked_arguments(fn: F) -> F:
    """``fn`` with a call that does not fit its signature refused by :func:`bind_arguments`."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        bind_arguments(fn.__name__, signature, args, kwargs)
        return fn(*args, **kwargs)

    return checked  # type: ignore[return-value]
