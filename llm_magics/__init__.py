"""llm_magics: mine pandas DataFrames with local Hugging Face models, from Jupyter.

In a notebook: ``%load_ext llm_magics``. In Python::

    import llm_magics
    manager = llm_magics.get_manager()
    chat = manager.load("default-chat")
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from llm_magics.config import LlmMagics, get_config
from llm_magics.errors import (
    DeviceOutOfMemoryError,
    InvalidArgumentError,
    LlmMagicsError,
    MissingDependencyError,
    ModelError,
    ModelLoadError,
    ModelNotFoundError,
)
from llm_magics.runtime import LoadedModel, ModelManager, get_manager

try:
    __version__ = version("llm-magics")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "DeviceOutOfMemoryError",
    "InvalidArgumentError",
    "LlmMagics",
    "LlmMagicsError",
    "LoadedModel",
    "MissingDependencyError",
    "ModelError",
    "ModelLoadError",
    "ModelManager",
    "ModelNotFoundError",
    "__version__",
    "get_config",
    "get_manager",
    "load_ipython_extension",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext llm_magics``: make the settings reachable through ``%config LlmMagics``."""
    config = get_config()
    if config not in ipython.configurables:
        config.update_config(ipython.config)
        ipython.configurables.append(config)
