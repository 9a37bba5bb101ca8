"""Which model a primitive runs on, and how large its batches are by default."""

from __future__ import annotations

from typing import Literal

from llm_magics.errors import InvalidArgumentError
from llm_magics.runtime.loading import LoadedModel
from llm_magics.runtime.manager import ModelManager
from llm_magics.runtime.specs import Role

__all__ = ["batch_defaults", "resolve_model"]

Primitive = Literal["generate", "score", "embed"]

# (token budget of a batch, most rows in a batch). On CPU, batches past ~64 rows stop paying off
# and cost memory; on a GPU, larger batches keep the device busy (see bench/).
_DEFAULTS: dict[tuple[str, Primitive], tuple[int, int]] = {
    ("cpu", "generate"): (12_288, 64),
    ("cpu", "score"): (12_288, 64),
    ("cpu", "embed"): (16_384, 128),
    ("gpu", "generate"): (262_144, 512),
    ("gpu", "score"): (131_072, 256),
    ("gpu", "embed"): (262_144, 1024),
}


def resolve_model(
    model: str | LoadedModel | None, role: Role, manager: ModelManager
) -> LoadedModel:
    """The ``LoadedModel`` for ``model`` (a name, ``None`` for the role's default, or a model)."""
    loaded = model if isinstance(model, LoadedModel) else manager.load(model, role=role)
    if loaded.role != role:
        msg = (
            f"{loaded.name!r} is a {loaded.role} model; this needs a {role} model. Pass "
            f"model='default-{role}' or another {role} model."
        )
        raise InvalidArgumentError(msg)
    loaded.touch()
    return loaded


def batch_defaults(loaded: LoadedModel, primitive: Primitive) -> tuple[int, int]:
    """Default (token budget, most rows) of a batch of ``primitive`` on ``loaded``'s device."""
    kind = "cpu" if loaded.device.type == "cpu" else "gpu"
    return _DEFAULTS[kind, primitive]
