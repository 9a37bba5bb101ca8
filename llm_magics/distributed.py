"""Moved: the Ray scale-out is now the Ray backend, ``llm_magics.backends.ray``.

This module keeps the old names working: ``RayEngine`` (now ``RayBackend``), ``engine_of`` (now
``backend_of``), ``ENGINES`` (now ``llm_magics.ops.backend.backend_names()``), ``run_op``,
``run_series``, ``connect`` and ``row_ops``. Import them from ``llm_magics.backends.ray`` (and
``row_ops`` from ``llm_magics.ops``) instead.
"""

from __future__ import annotations

from llm_magics.backends.ray import (
    RayBackend,
    RayEngine,
    connect,
    run_op,
    run_series,
)
from llm_magics.backends.ray import backend_of as engine_of
from llm_magics.ops.backend import backend_names
from llm_magics.ops.base import row_ops

__all__ = [
    "ENGINES",
    "RayBackend",
    "RayEngine",
    "connect",
    "engine_of",
    "row_ops",
    "run_op",
    "run_series",
]

ENGINES = tuple(backend_names())
