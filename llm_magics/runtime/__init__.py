"""Models in memory: specs, devices, loading, and the per-kernel manager.

The runtime may import only the bottom layer (``config``, ``errors``, ``units``,
``_optional``), torch and transformers; never ``engine`` or anything above it.
"""

from llm_magics.runtime.devices import resolve_device, resolve_dtype
from llm_magics.runtime.loading import LoadedModel, ModelHandle
from llm_magics.runtime.manager import ModelManager, get_manager
from llm_magics.runtime.specs import ModelSpec, resolve_spec

__all__ = [
    "LoadedModel",
    "ModelHandle",
    "ModelManager",
    "ModelSpec",
    "get_manager",
    "resolve_device",
    "resolve_dtype",
    "resolve_spec",
]
