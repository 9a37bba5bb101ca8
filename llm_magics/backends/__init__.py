"""Where rows are computed besides this process: one module per backend, registered by name.

``backend="ray"`` on a row-wise op (or ``--backend ray`` in ``%%mine`` and ``llm-mine run``) is
looked up in ``llm_magics.ops.backend``'s registry; this package puts its backends there when
``llm_magics`` is imported, and imports a backend's module (and Ray) only when a call asks for it.

Layer: a backend may import the op specs and ops (``llm_magics.ops``), the engine, the runtime and
the bottom layer; no op imports a backend (they find it through the registry).
"""

from __future__ import annotations

from typing import Any

from llm_magics.ops.backend import register_backend

__all__: list[str] = []


def _ray() -> Any:
    from llm_magics.backends.ray import RayBackend

    return RayBackend()


register_backend("ray", _ray)
