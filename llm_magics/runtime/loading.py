"""Turning a ``ModelSpec`` into weights on a device: offline first, GGUF converted once.

- Hugging Face ids are looked up in the local Hugging Face cache first. Only when they are not
  there do we try the hub, after checking within ``LlmMagics.hub_timeout`` seconds that it can be
  reached at all, so an offline machine gets a ``ModelNotFoundError`` at once instead of a hang.
- A ``.gguf`` file is dequantized by transformers (2 s for the default chat model on this
  project's CPU) and the result is saved as safetensors under ``<cache_dir>/models/``, keyed by
  the file's SHA-256; later loads read that folder (under a second). A folder found damaged (a
  truncated or overwritten file: a full disk, a killed process, a sync tool) is deleted and
  converted again from the ``.gguf``, with one warning: it is a copy, never the only one.
- ``trust_remote_code`` is whatever ``LlmMagics.trust_remote_code`` says (off by default).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import itertools
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from llm_magics.config import LlmMagics
from llm_magics.errors import (
    DeviceOutOfMemoryError,
    ModelLoadError,
    ModelNotFoundError,
    did_you_mean,
    warn,
)
from llm_magics.progress import tqdm
from llm_magics.runtime.published import stamped_sha256
from llm_magics.runtime.quantization import (
    estimate_quantized_bytes,
    import_torchao_quietly,
    quantization_config,
)
from llm_magics.runtime.specs import BUILTIN_ALIASES, ModelSpec, Role

__all__ = [
    "LoadedModel",
    "ModelHandle",
    "ModelSource",
    "conversion_progress",
    "convert_gguf",
    "estimate_bytes",
    "import_transformers",
    "load_model",
    "locate",
    "model_handle",
    "read_config",
]

# Whether a GGUF conversion (minutes, once per machine) shows transformers' bar: an op called
# with progress=False turns it off for the loads it makes (``conversion_progress``).
_CONVERSION_BAR: contextvars.ContextVar[bool] = contextvars.ContextVar("bar", default=True)

_TRANSFORMERS_LOCK = threading.Lock()
_TRANSFORMERS_READY: list[bool] = []  # [True] once import_transformers has run
# The transformers names this package imports, resolved once by ``import_transformers``.
_TRANSFORMERS_NAMES = (
    "AutoConfig",
    "AutoTokenizer",
    "AutoModel",
    "AutoModelForCausalLM",
    "AutoModelForSequenceClassification",
    "GgufConfig",
    "DynamicCache",
    "GenerationConfig",
)


def import_transformers() -> None:
    """Import transformers and resolve the names this package uses, once, one thread at a time.

    transformers resolves ``from transformers import AutoTokenizer`` lazily (its ``_LazyModule``
    imports the submodule on first access), and threads resolving it for the first time at once
    can meet a half-imported module: "cannot import name 'AutoTokenizer' from 'transformers'". The
    labelling panel's background embedding beside a ``classify`` in the notebook's thread did so
    in the few-labels guide in JupyterLab (6 threads asking the manager for a model at once: 3 of
    3 runs failed). Every model lookup comes here first (``ModelManager``); after the first call it
    costs a list check.
    """
    if _TRANSFORMERS_READY:
        return
    with _TRANSFORMERS_LOCK:
        if _TRANSFORMERS_READY:
            return
        import_torchao_quietly()  # before transformers' quantizers import it, noisily
        import transformers

        for name in _TRANSFORMERS_NAMES:
            getattr(transformers, name)
        _TRANSFORMERS_READY.append(True)


_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_CHAT_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


@dataclass
class LoadedModel:
    """A model in memory with everything needed to run it.

    ``model`` and ``tokenizer`` are the transformers objects; the rest describes them for the engine
    (``fingerprint`` keys cached results, ``pooling`` says how to pool embeddings) and for
    ``status()``.
    """

    name: str
    key: str
    spec: ModelSpec
    role: Role
    model: Any
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype
    parameters: int
    bytes: int
    load_seconds: float
    source: str
    fingerprint: str
    pooling: dict[str, Any] = field(default_factory=dict)
    quantization: str = "none"
    last_used: float = field(default_factory=time.time)

    def touch(self) -> None:
        """Mark the model used now (the manager evicts the least recently used first)."""
        self.last_used = time.time()

    @property
    def config(self) -> Any:
        """The transformers config of the model."""
        return self.model.config

    def load(self) -> LoadedModel:
        """This model (it is loaded): what ``ModelHandle.load`` gives once it has loaded."""
        self.touch()
        return self

    def snapshot(self) -> dict[str, Any]:
        """JSON-serializable description for ``status()``."""
        return {
            "name": self.name,
            "key": self.key,
            "role": self.role,
            "state": "loaded",
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "quantization": self.quantization,
            "parameters": self.parameters,
            "bytes": self.bytes,
            "load_seconds": round(self.load_seconds, 3),
            "last_used": self.last_used,
            "source": self.source,
            "fingerprint": self.fingerprint,
        }


@dataclass
class ModelHandle:
    """A model as the engine sees it before its weights are read: its name, device, dtype, the
    ``fingerprint`` that keys its cached results, its tokenizer and config. ``load()`` reads the
    weights (through the manager, once) and returns the ``LoadedModel``.

    ``ModelManager.handle`` gives one, so that a call served entirely from the result cache never
    loads the model. A cached 40-row ``sentiment`` of the quality model in a new process took
    2.7–3.0 s this way, against 9.2–13.4 s when the weights were loaded first.
    ``fingerprint`` is computed from the same parts as a loaded model's (``_fingerprint``).
    """

    name: str
    spec: ModelSpec
    role: Role
    device: torch.device
    dtype: torch.dtype
    quantization: str
    fingerprint: str
    tokenizer: Any
    config: Any
    source: str
    loader: Callable[[], LoadedModel] = field(repr=False)
    pooling: dict[str, Any] = field(default_factory=dict)
    _loaded: LoadedModel | None = field(default=None, init=False, repr=False)

    def load(self) -> LoadedModel:
        """The loaded model, loading it through the manager the first time."""
        if self._loaded is None:
            self._loaded = self.loader()
        return self._loaded.load()

    @property
    def model(self) -> Any:
        """The transformers model (loads it)."""
        return self.load().model

    def touch(self) -> None:
        """Mark the model used now, where it is loaded."""
        if self._loaded is not None:
            self._loaded.touch()


@dataclass(frozen=True)
class ModelSource:
    """Where to load a spec from: a folder (or hub id), the gguf file in it, and whether offline."""

    path: str
    gguf_file: str | None
    local_files_only: bool
    description: str

    def kwargs(self, config: LlmMagics) -> dict[str, Any]:
        """Keyword arguments for the transformers ``from_pretrained`` calls that read this source."""
        kwargs: dict[str, Any] = {
            "local_files_only": self.local_files_only,
            "trust_remote_code": config.trust_remote_code,
        }
        if self.gguf_file:
            kwargs["gguf_file"] = self.gguf_file
        return kwargs


# ---------------------------------------------------------------------------- finding the weights


def _hub_endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def hub_reachable(timeout: float) -> bool:
    """Whether a TCP connection to the Hugging Face hub opens within ``timeout`` seconds."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(_hub_endpoint())
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _model_file(path: str, filename: str, *, local_files_only: bool) -> str | None:
    """Path of one file of a model (folder or hub id), or ``None`` where it has no such file."""
    from transformers.utils import cached_file

    return cached_file(
        path,
        filename,
        local_files_only=local_files_only,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
    )


def _hub_cached(model_id: str) -> bool:
    """Whether the local Hugging Face cache has the model's config and weights (not only a config)."""

    def cached(filename: str) -> bool:
        return _model_file(model_id, filename, local_files_only=True) is not None

    return cached("config.json") and any(map(cached, _WEIGHT_FILES))


def _gguf_digest(path: Path) -> str:
    stamped = stamped_sha256(path)  # a file we joined and hashed, unchanged since
    if stamped is not None:
        return stamped
    stat = path.stat()
    return _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime are part of the cache key so that a replaced file is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def gguf_cache_dir(spec: ModelSpec, config: LlmMagics) -> Path:
    """The folder that holds (or will hold) the safetensors conversion of a gguf spec."""
    gguf = Path(spec.location) / str(spec.gguf_file)
    return config.cache_path / "models" / f"{gguf.stem}-{_gguf_digest(gguf)[:16]}"


def _complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def _damage(folder: Path) -> str | None:
    """What is wrong with a converted model folder, or ``None`` when it reads whole.

    Cheap enough for every load (about 50 ms): the JSON files are parsed and each safetensors
    header is read and checked against the file's size, which is what a truncated or overwritten
    file fails; the tensors themselves are not read.
    """
    from safetensors import SafetensorError, safe_open

    if not _complete(folder):
        return "config.json or the weights are missing"
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        file = folder / name
        try:
            if file.is_file():
                json.loads(file.read_bytes())
        except ValueError as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            return f"{name}: {err}"
    architectures = json.loads((folder / "config.json").read_bytes()).get("architectures") or []
    if architectures and not any(a.endswith(_CHAT_SUFFIXES) for a in architectures):
        # Every GGUF architecture transformers reads is a language model; an older copy
        # converted for embeddings first was saved as the bare encoder, without its head.
        return f"it was saved as {architectures[0]}, without its language-model head"
    for weights in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(weights, framework="pt"):
                pass
        except (SafetensorError, OSError) as err:
            return f"{weights.name}: {err}"
    return None


def _discard(folder: Path, problem: str, source: Path) -> None:
    """Delete a damaged conversion, warning once; another kernel may be doing the same."""
    found = folder.stat().st_ino
    doomed = folder.with_name(f".{folder.name}-damaged-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(folder, doomed)  # atomic: of two kernels finding the damage, one moves it
    except FileNotFoundError:
        return
    if doomed.stat().st_ino != found:
        # Another kernel removed the damaged folder and converted it again in between: put the
        # new one back, unless a third has placed one there meanwhile.
        try:
            os.rename(doomed, folder)
        except OSError:
            shutil.rmtree(doomed, ignore_errors=True)
        return
    shutil.rmtree(doomed, ignore_errors=True)
    warn(
        f"The converted model {folder} was damaged ({problem}). It was deleted and is being "
        f"converted again from {source}."
    )


def locate(spec: ModelSpec, config: LlmMagics) -> ModelSource:
    """Find the weights of ``spec`` without loading them; never waits on the network for long.

    Raises
    ------
    ModelNotFoundError
        A hub id that is neither in the local Hugging Face cache nor reachable.
    """
    if spec.kind == "local":
        return ModelSource(spec.location, None, True, f"folder {spec.location}")
    if spec.kind == "gguf":
        converted = gguf_cache_dir(spec, config)
        if converted.exists():
            problem = _damage(converted)
            if problem is None:
                return ModelSource(str(converted), None, True, f"converted GGUF {converted}")
            _discard(converted, problem, Path(spec.key))
        return ModelSource(spec.location, spec.gguf_file, True, f"GGUF {spec.key}")
    if _hub_cached(spec.location):
        return ModelSource(spec.location, None, True, f"hub id {spec.location} (local cache)")
    if hub_reachable(config.hub_timeout):
        return ModelSource(spec.location, None, False, f"hub id {spec.location} (download)")
    from huggingface_hub import constants

    tried = (f"Hugging Face cache {constants.HF_HUB_CACHE}", f"hub {_hub_endpoint()} (unreachable)")
    msg = (
        f"Model {spec.name!r} is not in the local Hugging Face cache and the hub cannot be reached."
        f"{did_you_mean(spec.name, BUILTIN_ALIASES)} Ways out: use the offline defaults "
        "('default-chat', 'default-embed'), pass a local model folder or .gguf file, or connect to "
        "the hub once to download it."
    )
    raise ModelNotFoundError(msg, model=spec.name, tried=tried)


def _not_found(spec: ModelSpec) -> ModelNotFoundError:
    msg = (
        f"The hub has no model {spec.location!r} (or it is private: log in with `hf auth login`)."
        f"{did_you_mean(spec.name, BUILTIN_ALIASES)} Check the id's spelling and case."
    )
    return ModelNotFoundError(msg, model=spec.name, tried=(f"hub {_hub_endpoint()}",))


@contextlib.contextmanager
def _hub_errors(spec: ModelSpec) -> Iterator[None]:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        yield
    except GatedRepoError as err:
        msg = f"{spec.location!r} is gated on the hub: accept its terms there and log in (`hf auth login`)."
        raise ModelLoadError(msg, model=spec.name) from err
    except RepositoryNotFoundError as err:
        raise _not_found(spec) from err
    except OSError as err:
        if (
            spec.kind == "hub"
            and "is not a local folder and is not a valid model identifier" in str(err)
        ):
            raise _not_found(spec) from err
        raise


# --------------------------------------------------------------------------- config and estimate


def read_config(spec: ModelSpec, source: ModelSource, config: LlmMagics) -> Any:
    """Return the transformers config of ``spec`` (reads a gguf file's metadata if unconverted)."""
    from transformers import AutoConfig

    with _hub_errors(spec):
        try:
            return AutoConfig.from_pretrained(source.path, **source.kwargs(config))
        except ValueError as err:
            if "trust_remote_code" in str(err):
                msg = (
                    f"{spec.name!r} needs code from its repository to run. Read that code, then allow "
                    "it with `%config LlmMagics.trust_remote_code = True`."
                )
                raise ModelLoadError(msg, model=spec.name) from err
            msg = f"Cannot read the config of {spec.name!r} ({source.description}): {err}"
            raise ModelLoadError(msg, model=spec.name) from err


def infer_role(model_config: Any) -> Role:
    """Read the role from the architectures a config names (a causal LM is a chat model)."""
    architectures = getattr(model_config, "architectures", None) or []
    if any(a.endswith(_CHAT_SUFFIXES) for a in architectures):
        return "chat"
    if any(a.endswith("ForSequenceClassification") for a in architectures):
        return "classifier"
    return "embed"


def check_role(model_config: Any, role: Role, name: str) -> None:
    """Refuse to use an encoder as a chat model: it loads, but cannot continue a text."""
    architectures = getattr(model_config, "architectures", None) or []
    if role != "chat" or not architectures or getattr(model_config, "is_decoder", False):
        return
    if not any(a.endswith(_CHAT_SUFFIXES) for a in architectures):
        msg = (
            f"{name!r} is a {architectures[0]}, an encoder: it cannot generate text. Use it for "
            "embeddings (role='embed'), or name a chat model ('default-chat', or a hub model whose "
            "architecture ends in ForCausalLM)."
        )
        raise ModelLoadError(msg, model=name)


def _auto_class(role: Role) -> Any:
    import transformers

    import_torchao_quietly()  # before transformers' quantizers import it, noisily

    return {
        "chat": transformers.AutoModelForCausalLM,
        "embed": transformers.AutoModel,
        "classifier": transformers.AutoModelForSequenceClassification,
    }[role]


def _stored_bytes(tensor: torch.Tensor) -> int:
    # A quantized weight (a torchao tensor subclass) reports its logical shape and dtype; what it
    # stores are its inner tensors (int8 data and scales).
    if hasattr(tensor, "__tensor_flatten__"):
        names, _ = tensor.__tensor_flatten__()
        inner = (getattr(tensor, name) for name in names)
        return sum(_stored_bytes(t) for t in inner if isinstance(t, torch.Tensor))
    return tensor.numel() * tensor.element_size()


def _tensor_bytes(module: torch.nn.Module) -> int:
    tensors = itertools.chain(module.parameters(), module.buffers())
    return sum(_stored_bytes(t) for t in tensors)


def estimate_bytes(
    model_config: Any,
    role: Role,
    dtype: torch.dtype,
    config: LlmMagics,
    *,
    quantization: str = "none",
    device: torch.device | None = None,
) -> int:
    """Bytes the weights of a model take in ``dtype``, from its config alone (no weights read).

    The model is built on the ``meta`` device, which allocates nothing, so the count is exact for
    any architecture transformers knows (tied weights are counted once). With ``quantization``
    ("int8", "int4"), the linear layers transformers quantizes on ``device`` count at 1 or 0.5 byte
    per weight plus their scales; the rest stays at ``dtype``.
    """
    with torch.device("meta"):
        skeleton = _auto_class(role).from_config(
            model_config, dtype=dtype, trust_remote_code=config.trust_remote_code
        )
    size = torch.empty((), dtype=dtype, device="meta").element_size()
    saved = estimate_quantized_bytes(skeleton, size, quantization, device or torch.device("cpu"))
    return _tensor_bytes(skeleton) - saved


# ------------------------------------------------------------------------------------- loading


def _strip_gguf_quantizer(model: Any) -> None:
    # The dequantized model is plain float weights, but transformers still marks it as "quantized
    # with gguf" and refuses save_pretrained. Dropping the marker makes it an ordinary model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if getattr(model, "is_quantized", False):
        model.is_quantized = False


# Room kept free beside the converted weights: the tokenizer and config files (a few MB) and the
# file system's own blocks.
_WRITE_MARGIN = 64 * 1024**2


def _check_room(folder: Path, needed: int, spec: ModelSpec) -> None:
    """Raise ``ModelLoadError`` when ``folder``'s disk has less than ``needed`` bytes free."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        msg = (
            f"Not enough disk space to convert {spec.name}: its float32 copy needs "
            f"{needed / 1024**3:.1f} GB in {folder}, which has {free / 1024**3:.1f} GB free. "
            "Free some space there, or set LLM_MAGICS_CACHE to a folder on a disk with room."
        )
        raise ModelLoadError(msg, model=spec.name)


def convert_gguf(spec: ModelSpec, role: Role, config: LlmMagics) -> Path:
    """Dequantize a gguf file once and save it as safetensors in the cache; return the folder.

    The folder holds the whole model (a causal LM with its head) whatever ``role`` asks for now:
    it is shared by every role, and a copy saved by the encoder class would have no head, so a
    later chat load of it would be refused as an encoder. ``role`` is used only for a file that is
    not a causal LM.
    """
    from transformers import AutoTokenizer, GgufConfig

    target = gguf_cache_dir(spec, config)
    if _complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"gguf_file": spec.gguf_file, "local_files_only": True}
    # transformers' own "Converting and de-quantizing GGUF tensors" bar stays unless the op was
    # called with progress=False: it is the one sign of life while it runs (once per machine).
    # Its "Loading weights" and "Writing model shards" bars, under a second each, go.
    with _quiet_progress(), _gguf_bar(_CONVERSION_BAR.get()):
        tokenizer = AutoTokenizer.from_pretrained(spec.location, **kwargs)
        load = {
            "dtype": torch.float32,
            "quantization_config": GgufConfig(dequantize=True),
            **kwargs,
        }
        try:
            model = _auto_class("chat").from_pretrained(spec.location, **load)
        except ValueError:  # an architecture without a causal-LM class
            if role == "chat":
                raise
            model = _auto_class(role).from_pretrained(spec.location, **load)
    _strip_gguf_quantizer(model)
    needed = _tensor_bytes(model) + _WRITE_MARGIN
    _check_room(target.parent, needed, spec)
    # Write to a private folder, then rename: a second kernel converting the same file at the same
    # time either wins the rename or finds the complete folder; nobody reads a half-written one.
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with _quiet_progress():
            model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        with contextlib.suppress(OSError):
            os.rename(scratch, target)
    except Exception:
        shutil.rmtree(scratch, ignore_errors=True)
        _check_room(target.parent, needed, spec)  # the disk filled up while we wrote: say so
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not _complete(target):
        msg = f"Could not write the converted model to {target}. Check that the cache dir is writable."
        raise ModelLoadError(msg, model=spec.name)
    return target


def _fingerprint(
    spec: ModelSpec, source: ModelSource, model_config: Any, dtype: torch.dtype, quantization: str
) -> str:
    parts = [spec.key, str(dtype)]
    if quantization != "none":  # unquantized models keep the fingerprints (and cache) they had
        parts.append(f"quantization={quantization}")
    if spec.kind == "gguf":
        parts.append(_gguf_digest(Path(spec.key)))
    elif spec.kind == "hub":
        parts.append(str(getattr(model_config, "_commit_hash", None)))
    else:
        folder = Path(source.path)
        for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
            stat = weights.stat()
            parts.append(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}")
        config_file = folder / "config.json"
        if config_file.is_file():
            parts.append(hashlib.sha256(config_file.read_bytes()).hexdigest())
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _read_model_json(source: ModelSource, filename: str) -> dict[str, Any] | None:
    found = _model_file(source.path, filename, local_files_only=source.local_files_only)
    return json.loads(Path(found).read_text()) if found else None


def read_pooling(source: ModelSource) -> dict[str, Any]:
    """How a sentence-transformers model pools token vectors (mean pooling when it does not say)."""
    pooling: dict[str, Any] = {"mode": "mean", "normalize": False}
    modules = _read_model_json(source, "modules.json") or []
    for module in modules:
        kind = module.get("type", "")
        if kind.endswith("Pooling"):
            settings = _read_model_json(source, f"{module['path']}/config.json") or {}
            for mode in ("cls_token", "max_tokens", "mean_tokens", "lasttoken"):
                if settings.get(f"pooling_mode_{mode}"):
                    pooling["mode"] = {
                        "cls_token": "cls",
                        "max_tokens": "max",
                        "mean_tokens": "mean",
                    }.get(mode, "last")
                    break
        elif kind.endswith("Normalize"):
            pooling["normalize"] = True
    return pooling


# PromptEOL (Jiang et al., "Scaling Sentence Embeddings with Large Language Models", 2023): a
# decoder's hidden state at the end of this prompt is its sentence vector. Measured with the
# quality model (Qwen2.5-Coder-1.5B) on 150 reviews in English, Chinese and German (the same
# reviews, translated by hand): a review's nearest neighbour in another language was its own
# translation for 86% (zh->en) and 94% (de->en) of rows, against 26% and 10% with the mean of
# its token vectors and 20% and 51% with all-MiniLM-L6-v2 (English only).
PROMPT_EOL = 'This text: "{text}" means in one word:"'


def _pooling(source: ModelSource, model_config: Any) -> dict[str, Any]:
    """How to pool an embedding model's token vectors: PromptEOL for a chat model's file."""
    architectures = getattr(model_config, "architectures", None) or []
    if any(a.endswith(_CHAT_SUFFIXES) for a in architectures):
        return {"mode": "last", "normalize": True, "template": PROMPT_EOL}
    return read_pooling(source)


@contextlib.contextmanager
def conversion_progress(show: bool) -> Iterator[None]:
    """Show (or hide) the GGUF conversion's progress bar for the loads made inside."""
    token = _CONVERSION_BAR.set(show)
    try:
        yield
    finally:
        _CONVERSION_BAR.reset(token)


@contextlib.contextmanager
def _gguf_bar(show: bool) -> Iterator[None]:
    # transformers draws this bar with tqdm.auto's tqdm, imported into its GGUF module, and
    # offers no switch (its disable_progress_bar() covers only its own logging bars): that
    # module gets our bar while the conversion runs (a plain line when a saved notebook is
    # reopened, ``llm_magics.progress``), or a disabled one.
    from transformers import modeling_gguf_pytorch_utils as gguf

    drawn = gguf.tqdm
    gguf.tqdm = tqdm if show else functools.partial(tqdm, disable=True)
    try:
        yield
    finally:
        gguf.tqdm = drawn


@contextlib.contextmanager
def _quiet_progress() -> Iterator[None]:
    # A "Loading weights" bar for a load of under a second is noise in a notebook cell's output.
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def _quiet_report(role: Role) -> Iterator[None]:
    # An encoder read from a model's full checkpoint leaves its head unused (a chat model's
    # lm_head, a classifier's pooler): transformers' load report table says so, as a warning
    # that means nothing to the user.
    from transformers.utils import logging as hf_logging

    if role != "embed":
        yield
        return
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)


def _prepare_tokenizer(tokenizer: Any, role: Role) -> Any:
    if role == "chat":
        # Decoder-only generation needs left padding so every row's last token is real.
        tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def model_handle(
    spec: ModelSpec,
    source: ModelSource,
    role: Role | None,
    device: torch.device,
    dtype: torch.dtype,
    config: LlmMagics,
    quantization: str,
    loader: Callable[[], LoadedModel],
) -> ModelHandle:
    """``spec`` described without its weights (``source`` must not be an unconverted gguf): its
    config, tokenizer and fingerprint; ``loader`` loads it when ``ModelHandle.load`` is called.
    ``role`` None: read from the config, as a load does."""
    from transformers import AutoTokenizer

    model_config = read_config(spec, source, config)
    role = role or infer_role(model_config)
    check_role(model_config, role, spec.name)
    try:
        with _hub_errors(spec), _quiet_progress():
            tokenizer = AutoTokenizer.from_pretrained(source.path, **source.kwargs(config))
    except (OSError, ValueError, KeyError) as err:
        msg = f"Could not load the tokenizer of {spec.name!r} from {source.description}: {err}"
        raise ModelLoadError(msg, model=spec.name) from err
    return ModelHandle(
        name=spec.name,
        spec=spec,
        role=role,
        device=device,
        dtype=dtype,
        quantization=quantization,
        fingerprint=_fingerprint(spec, source, model_config, dtype, quantization),
        tokenizer=_prepare_tokenizer(tokenizer, role),
        config=model_config,
        source=source.description,
        loader=loader,
        pooling=_pooling(source, model_config) if role == "embed" else {},
    )


def load_model(
    key: str,
    spec: ModelSpec,
    source: ModelSource,
    role: Role,
    device: torch.device,
    dtype: torch.dtype,
    config: LlmMagics,
    quantization: str = "none",
) -> LoadedModel:
    """Load weights and tokenizer of ``spec`` onto ``device`` in ``dtype``; ``key`` names the entry.

    ``quantization`` ("none", "int8", "int4", checked by ``check_quantization``) quantizes the
    linear layers as they are read, through transformers' quantization configs.
    """
    from transformers import AutoTokenizer

    started = time.perf_counter()
    if source.gguf_file:
        folder = convert_gguf(spec, role, config)
        source = ModelSource(str(folder), None, True, f"converted GGUF {folder}")
        described = f"converted GGUF {folder} (converted now)"
    else:
        described = source.description
    kwargs = source.kwargs(config)
    quantizer = quantization_config(quantization, device, dtype)
    if quantizer is not None:
        kwargs["quantization_config"] = quantizer
    if device.type != "cpu":
        # Straight onto the accelerator, without a full copy in RAM first.
        kwargs["device_map"] = {"": device}
    try:
        with _hub_errors(spec), _quiet_progress(), _quiet_report(role):
            tokenizer = AutoTokenizer.from_pretrained(source.path, **source.kwargs(config))
            model = _auto_class(role).from_pretrained(source.path, dtype=dtype, **kwargs)
    except torch.OutOfMemoryError as err:
        msg = (
            f"{spec.name!r} ran out of memory while loading on {device}. Unload other models "
            "(`llm_magics.get_manager().unload_all()`), choose a smaller dtype or model, or use device='cpu'."
        )
        raise DeviceOutOfMemoryError(msg, model=spec.name, device=str(device)) from err
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        msg = f"Could not load {spec.name!r} as a {role} model from {source.description}: {err}"
        raise ModelLoadError(msg, model=spec.name) from err
    if quantizer is None or device.type == "cpu":  # bitsandbytes models refuse .to()
        model = model.to(device)
    model.eval()
    return LoadedModel(
        name=spec.name,
        key=key,
        spec=spec,
        role=role,
        model=model,
        tokenizer=_prepare_tokenizer(tokenizer, role),
        device=device,
        dtype=dtype,
        parameters=sum(p.numel() for p in model.parameters()),
        bytes=_tensor_bytes(model),
        load_seconds=time.perf_counter() - started,
        source=described,
        fingerprint=_fingerprint(spec, source, model.config, dtype, quantization),
        pooling=_pooling(source, model.config) if role == "embed" else {},
        quantization=quantization,
    )
