"""Which model a primitive runs on, and how large its batches are by default."""

from __future__ import annotations

from typing import Literal

from llm_magics.errors import InvalidArgumentError
from llm_magics.runtime.loading import LoadedModel, ModelHandle
from llm_magics.runtime.manager import ModelManager, get_manager
from llm_magics.runtime.specs import Role

__all__ = ["batch_defaults", "default_max_rows", "load_for", "resolve_model"]

Primitive = Literal["generate", "score", "embed"]

# (token budget of a batch, most rows in a batch), measured on 256 real reviews with SmolLM2-135M on
# a 2-core CPU: there a batch whose activations fit in the processor's cache runs fastest (score:
# 8.8 rows/s at 1,536 tokens, 3.4 at 12,288; generate: 3.4 at 6,144, 2.8 at 12,288, where every
# decode step also copies a longer key/value cache; embed: 442 sentences/s at 4,096, 313 at
# 16,384). On a GPU, larger batches keep the device busy.
_DEFAULTS: dict[tuple[str, Primitive], tuple[int, int]] = {
    ("cpu", "generate"): (6_144, 64),
    ("cpu", "score"): (1_536, 64),
    ("cpu", "embed"): (4_096, 128),
    ("gpu", "generate"): (262_144, 512),
    ("gpu", "score"): (131_072, 256),
    ("gpu", "embed"): (262_144, 1024),
}


def resolve_model(
    model: str | LoadedModel | ModelHandle | None, role: Role, manager: ModelManager
) -> LoadedModel | ModelHandle:
    """The model for ``model`` (a name, ``None`` for the role's default, or a model): the loaded
    model, or a ``ModelHandle`` that loads its weights when a batch first needs them
    (``ModelManager.handle``), so that a call served from the result cache loads nothing."""
    loaded = (
        model if isinstance(model, (LoadedModel, ModelHandle)) else manager.handle(model, role=role)
    )
    if loaded.role != role:
        msg = (
            f"{loaded.name!r} is a {loaded.role} model; this needs a {role} model. Pass "
            f"model='default-{role}' or another {role} model."
        )
        raise InvalidArgumentError(msg)
    loaded.touch()
    return loaded


def load_for(
    model: str | LoadedModel | ModelHandle | None, role: Role, manager: ModelManager | None
) -> tuple[ModelManager, LoadedModel | ModelHandle]:
    """The manager (``None``: the kernel's) and its model for ``model`` in ``role``.

    The setup every engine primitive starts with; see ``resolve_model`` for ``model``.
    """
    manager = manager or get_manager()
    return manager, resolve_model(model, role, manager)


def batch_defaults(loaded: LoadedModel | ModelHandle, primitive: Primitive) -> tuple[int, int]:
    """Default (token budget, most rows) of a batch of ``primitive`` on ``loaded``'s device."""
    kind = "cpu" if loaded.device.type == "cpu" else "gpu"
    return _DEFAULTS[kind, primitive]


def default_max_rows(primitive: Primitive, device: Literal["cpu", "gpu"]) -> int:
    """The most rows a batch of ``primitive`` holds by default on a ``device`` of that kind.

    Examples
    --------
    >>> default_max_rows("score", "cpu")
    64
    """
    return _DEFAULTS[device, primitive][1]
