"""Where an operation's rows are computed: a small registry of backends, chosen by name.

An op never imports a backend. ``backend="local"`` (the default) computes in this process;
any other name is looked up here, the way pandas finds ``pd.options.plotting.backend`` and Altair
its renderers: a backend package registers a loader under its name when ``llm_magics`` is
imported (``llm_magics.backends`` registers ``"ray"``), and the loader imports the implementation
only when a call asks for it. A backend is any object with

``run_series(op: str, texts: pandas.Series, **kwargs) -> pandas.Series | pandas.DataFrame``

that returns what ``op(texts, **kwargs)`` returns locally (same index, dtypes and provenance).
Only row-wise ops (``OpSpec.row_wise``) are sent to a backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pandas as pd

from llm_magics.errors import InvalidArgumentError, did_you_mean, warn

__all__ = [
    "LOCAL",
    "Backend",
    "backend_names",
    "register_backend",
    "renamed_engine",
    "resolve_backend",
]

LOCAL = "local"

_ENGINE_RENAMED = (
    "{caller}(engine=...) is now {caller}(backend=...): 'engine' names the inference layer. "
    "engine= still works for now and will be removed in a later release."
)


class Backend(Protocol):
    """What a backend does: compute a row-wise op over a Series, as the local engine would."""

    def run_series(self, op: str, texts: pd.Series, **kwargs: Any) -> pd.Series | pd.DataFrame:
        """``op(texts, **kwargs)`` computed elsewhere."""
        ...


_LOADERS: dict[str, Callable[[], Backend]] = {}


def register_backend(name: str, loader: Callable[[], Backend]) -> None:
    """Make ``backend=name`` call ``loader()`` for the backend object (imported only then).

    Examples
    --------
    >>> class Here:
    ...     def run_series(self, op, texts, **kwargs):
    ...         from llm_magics.ops import OPERATIONS
    ...         return OPERATIONS[op](texts, **kwargs)
    >>> register_backend("here", Here)
    >>> "here" in backend_names()
    True
    """
    _LOADERS[name] = loader


def backend_names() -> list[str]:
    """``"local"`` and every registered backend's name."""
    return [LOCAL, *_LOADERS]


def resolve_backend(backend: Any) -> Backend | None:
    """The backend object ``backend`` names (``None`` for local), or a one-line error.

    ``backend`` is a name or an object with a ``run_series`` method (for example
    ``RayBackend(actors=4)``), which is used as it is.
    """
    if isinstance(backend, str):
        if backend == LOCAL:
            return None
        if backend in _LOADERS:
            return _LOADERS[backend]()
        names = backend_names()
        msg = f"Unknown backend {backend!r}.{did_you_mean(backend, names)} Backends: {', '.join(names)}."
        raise InvalidArgumentError(msg)
    if callable(getattr(backend, "run_series", None)):
        return backend  # type: ignore[no-any-return]
    msg = (
        f"backend must be one of {', '.join(backend_names())} or an object with a run_series "
        f"method (such as llm_magics.backends.ray.RayBackend), not {backend!r}."
    )
    raise InvalidArgumentError(msg)


def renamed_engine(caller: str, backend: Any, engine: Any) -> Any:
    """``backend``, or ``engine`` (the argument's old name) when it is given, with a
    ``FutureWarning`` at the user's line: the one place that says ``engine=`` was renamed."""
    if engine is None:
        return backend
    warn(_ENGINE_RENAMED.format(caller=caller), FutureWarning)
    return engine
