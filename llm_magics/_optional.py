"""Optional dependencies, imported through one helper that names the exact install command."""

from __future__ import annotations

import importlib
from types import ModuleType

from llm_magics.errors import MissingDependencyError

__all__ = ["import_optional"]


def import_optional(
    module: str, *, package: str | None = None, purpose: str, extra: str | None = None
) -> ModuleType:
    """Import ``module`` or raise ``MissingDependencyError`` with the command that installs it.

    ``extra`` names our optional extra that brings the package (``pip install "llm-magics[ray]"``).

    Examples
    --------
    >>> import_optional("json", purpose="reading JSON").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        package = package or module.split(".")[0]
        install = f'pip install "llm-magics[{extra}]"' if extra else f"pip install {package}"
        msg = f"{purpose} needs the package {package!r}. Install it with `{install}`."
        raise MissingDependencyError(msg, package=package, install=install) from err
