"""Settings: one traitlets ``Configurable`` per kernel.

Set them in a notebook with ``%config LlmMagics.device = "cpu"``, in ``ipython_config.py`` with
``c.LlmMagics.device = "cpu"``, in Python with ``llm_magics.get_config().device = "cpu"``, or
through the environment variables listed on each setting. Values are checked when they are set.

The bottom layer: this module imports only ``errors`` and ``units`` of llm_magics, never
``runtime`` or anything above it (not even inside a function).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from platformdirs import user_cache_dir
from traitlets import Bool, Dict, Float, TraitError, Unicode, default, observe, validate
from traitlets.config import SingletonConfigurable

from llm_magics.errors import InvalidArgumentError, did_you_mean, warn
from llm_magics.units import parse_bytes

__all__ = [
    "BUILTIN_ALIASES",
    "DECODER_CHOICES",
    "DEVICE_CHOICES",
    "DTYPE_CHOICES",
    "QUANTIZATION_CHOICES",
    "LlmMagics",
    "get_config",
]

# The model names that ship with the package (``runtime.specs`` says what each one is); the
# settings refuse a user alias with one of these names.
BUILTIN_ALIASES = ("default-chat", "quality-chat", "default-embed")
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")
QUANTIZATION_CHOICES = ("none", "int8", "int4")
_QUANTIZATION_SYNONYMS = {"": "none", "no": "none", "off": "none", "8bit": "int8", "4bit": "int4"}
DECODER_CHOICES = ("auto", "loop", "continuous")
_DTYPE_SYNONYMS = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
T = TypeVar("T")


# Every environment variable llm_magics reads; any other ``LLM_MAGICS_*`` is a misspelling.
ENVIRONMENT = (
    "LLM_MAGICS_CACHE",
    "LLM_MAGICS_CASCADE",
    "LLM_MAGICS_CASCADE_CONFIDENCE",
    "LLM_MAGICS_CASCADE_TARGET",
    "LLM_MAGICS_CHAT_MODEL",
    "LLM_MAGICS_DECODER",
    "LLM_MAGICS_DEVICE",
    "LLM_MAGICS_DTYPE",
    "LLM_MAGICS_EMBED_MODEL",
    "LLM_MAGICS_FAST_MODEL",
    "LLM_MAGICS_MEMORY_BUDGET",
    "LLM_MAGICS_QUANTIZATION",
    "LLM_MAGICS_TRUST_REMOTE_CODE",
)
_checked: set[str] = set()


def _env(name: str, fallback: str) -> str:
    unknown = sorted(k for k in os.environ if k.startswith("LLM_MAGICS_") and k not in ENVIRONMENT)
    for key in set(unknown) - _checked:
        # Once per name and process: a misspelt setting would otherwise be ignored silently.
        _checked.add(key)
        short = did_you_mean(key.removeprefix("LLM_MAGICS_"), [n[11:] for n in ENVIRONMENT])
        hint = short.replace(" Did you mean '", " Did you mean 'LLM_MAGICS_")
        warn(
            f"The environment variable {key} is not an llm_magics setting; it is ignored.{hint} "
            f"llm_magics reads {', '.join(ENVIRONMENT)}."
        )
    return os.environ.get(name) or fallback


def normalize_device(value: str) -> str:
    """Return a device setting in canonical form, or raise with the valid choices."""
    device = str(value).strip().lower()
    if not _DEVICE.match(device):
        msg = f"Unknown device {value!r}. Choose one of {', '.join(DEVICE_CHOICES)}."
        raise InvalidArgumentError(msg)
    return device


def normalize_dtype(value: str) -> str:
    """Return a dtype setting in canonical form (``"bf16"`` → ``"bfloat16"``)."""
    dtype = str(value).strip().lower().removeprefix("torch.")
    dtype = _DTYPE_SYNONYMS.get(dtype, dtype)
    if dtype not in DTYPE_CHOICES:
        msg = f"Unknown dtype {value!r}. Choose one of {', '.join(DTYPE_CHOICES)}."
        raise InvalidArgumentError(msg)
    return dtype


def normalize_quantization(value: str | None) -> str:
    """Return a quantization setting in canonical form (``None`` → ``"none"``).

    Examples
    --------
    >>> normalize_quantization(None), normalize_quantization("INT8")
    ('none', 'int8')
    """
    quantization = "none" if value is None else str(value).strip().lower()
    quantization = _QUANTIZATION_SYNONYMS.get(quantization, quantization)
    if quantization not in QUANTIZATION_CHOICES:
        msg = f"Unknown quantization {value!r}. Choose one of {', '.join(QUANTIZATION_CHOICES)}."
        raise InvalidArgumentError(msg)
    return quantization


def normalize_decoder(value: str) -> str:
    """Return a decoder setting in canonical form, or raise with the valid choices."""
    decoder = str(value).strip().lower()
    if decoder not in DECODER_CHOICES:
        msg = f"Unknown decoder {value!r}. Choose one of {', '.join(DECODER_CHOICES)}."
        raise InvalidArgumentError(msg)
    return decoder


def _share(value: Any, name: str) -> float:
    """A share strictly between 0 and 1 (a target or a confidence), or a one-line error."""
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = float("nan")
    if not 0 < share < 1:
        msg = f"{name} must be a number between 0 and 1 (such as 0.95), not {value!r}."
        raise InvalidArgumentError(msg)
    return share


class LlmMagics(SingletonConfigurable):
    """Settings of llm_magics for this kernel."""

    default_chat_model = Unicode(
        help="The chat model used when none is given: it writes generated answers (summaries, "
        "aggregates, extracted text) and is the quality model of the cascade for scored answers "
        "(env LLM_MAGICS_CHAT_MODEL; default 'quality-chat', or 'default-chat' with a warning "
        "where quality-chat is not installed)."
    ).tag(config=True)
    fast_chat_model = Unicode(
        help="The cascade's fast model: it scores every row, and rows it is unsure of go to "
        "default_chat_model (env LLM_MAGICS_FAST_MODEL; default 'default-chat')."
    ).tag(config=True)
    cascade = Bool(
        help="Scored answers (sentiment, classify, filter, extract's choices) with no model named "
        "go through the cascade fast_chat_model → default_chat_model; off: default_chat_model "
        "alone (env LLM_MAGICS_CASCADE=0/1; default on)."
    ).tag(config=True)
    cascade_target = Float(
        help="Share of rows on which the cascade's answers must equal default_chat_model's alone "
        "(env LLM_MAGICS_CASCADE_TARGET; default 0.97: on 2,000 short reviews, 0.95 cost 1.2 points of "
        "accuracy for 13% less time, 0.97 cost 0.4)."
    ).tag(config=True)
    cascade_confidence = Float(
        help="Probability with which the cascade guarantees cascade_target (env "
        "LLM_MAGICS_CASCADE_CONFIDENCE; default 0.95)."
    ).tag(config=True)
    default_embed_model = Unicode(
        help="Model used for embeddings when none is given (env LLM_MAGICS_EMBED_MODEL)."
    ).tag(config=True)
    aliases = Dict(
        value_trait=Unicode(),
        key_trait=Unicode(),
        help="Extra model names: {'qwen': 'Qwen/Qwen2.5-7B-Instruct'}. Built-in aliases "
        "('default-chat', 'default-embed') cannot be redefined.",
    ).tag(config=True)
    device = Unicode(
        help="'auto' (cuda, then mps, then cpu), 'cpu', 'cuda', 'cuda:N' or 'mps' (env LLM_MAGICS_DEVICE)."
    ).tag(config=True)
    dtype = Unicode(
        help="'auto' (bfloat16 on GPUs that support it, else float16; on CPU bfloat16 where the "
        "processor has AMX or AVX-512 BF16, else float32), 'float32', "
        "'bfloat16' or 'float16' (env LLM_MAGICS_DTYPE)."
    ).tag(config=True)
    quantization = Unicode(
        allow_none=True,
        help="'none', 'int8' (weights in 8 bits: torchao on CPU, bitsandbytes on CUDA) or 'int4' "
        "(bitsandbytes, CUDA only) for the models loaded from now on; None means 'none' (env "
        "LLM_MAGICS_QUANTIZATION).",
    ).tag(config=True)
    decoder = Unicode(
        help="How generate decodes: 'auto' (the path measured faster on the device: our loop on CPU "
        "and, until bench/gpu.py shows otherwise, on CUDA), 'loop' (our padded decode loop) or "
        "'continuous' (transformers' continuous batching, paged cache) (env LLM_MAGICS_DECODER)."
    ).tag(config=True)
    memory_budget = Dict(
        help="Bytes the models may take per device, e.g. {'cuda:0': '20GiB', 'cpu': '8GiB'} (env "
        "LLM_MAGICS_MEMORY_BUDGET='cuda:0=20GiB,cpu=8GiB'). Devices not named here get a share of "
        "their free memory (see the *_memory_fraction settings)."
    ).tag(config=True)
    gpu_memory_fraction = Float(
        0.9, help="Share of a GPU's free memory (plus what our models hold) the models may use."
    ).tag(config=True)
    cpu_memory_fraction = Float(
        0.5, help="Share of available RAM (plus what our models hold) the models may use on CPU."
    ).tag(config=True)
    cache_dir = Unicode(
        help="Where converted models and cached results live (env LLM_MAGICS_CACHE; default: the "
        "platform's user cache directory)."
    ).tag(config=True)
    trust_remote_code = Bool(
        False,
        help="Run Python code shipped inside a model repository. Off: turn it on only for models "
        "whose code you have read (env LLM_MAGICS_TRUST_REMOTE_CODE=1).",
    ).tag(config=True)
    hub_timeout = Float(
        3.0, help="Seconds to wait for the Hugging Face hub before treating it as unreachable."
    ).tag(config=True)

    @default("default_chat_model")
    def _default_chat_model(self) -> str:
        return _env("LLM_MAGICS_CHAT_MODEL", "quality-chat")

    @default("fast_chat_model")
    def _default_fast_chat_model(self) -> str:
        return _env("LLM_MAGICS_FAST_MODEL", "default-chat")

    @default("cascade")
    def _default_cascade(self) -> bool:
        return _env("LLM_MAGICS_CASCADE", "1").lower() in {"1", "true", "yes", "on"}

    @default("cascade_target")
    def _default_cascade_target(self) -> float:
        return _share(_env("LLM_MAGICS_CASCADE_TARGET", "0.97"), "LLM_MAGICS_CASCADE_TARGET")

    @default("cascade_confidence")
    def _default_cascade_confidence(self) -> float:
        return _share(
            _env("LLM_MAGICS_CASCADE_CONFIDENCE", "0.95"), "LLM_MAGICS_CASCADE_CONFIDENCE"
        )

    @validate("cascade_target", "cascade_confidence")
    def _check_share(self, proposal: dict) -> float:
        return _share(proposal["value"], f"LlmMagics.{proposal['trait'].name}")

    @default("default_embed_model")
    def _default_embed_model(self) -> str:
        return _env("LLM_MAGICS_EMBED_MODEL", "default-embed")

    @default("device")
    def _default_device(self) -> str:
        return normalize_device(_env("LLM_MAGICS_DEVICE", "auto"))

    @default("dtype")
    def _default_dtype(self) -> str:
        return normalize_dtype(_env("LLM_MAGICS_DTYPE", "auto"))

    @default("quantization")
    def _default_quantization(self) -> str:
        return normalize_quantization(_env("LLM_MAGICS_QUANTIZATION", "none"))

    @default("decoder")
    def _default_decoder(self) -> str:
        return normalize_decoder(_env("LLM_MAGICS_DECODER", "auto"))

    @default("memory_budget")
    def _default_memory_budget(self) -> dict:
        pairs = [p for p in _env("LLM_MAGICS_MEMORY_BUDGET", "").split(",") if p.strip()]
        budgets = {}
        for pair in pairs:
            device, sep, amount = pair.partition("=")
            if not sep:
                msg = f"LLM_MAGICS_MEMORY_BUDGET: write device=size pairs such as 'cpu=8GiB', not {pair!r}."
                raise InvalidArgumentError(msg)
            budgets[normalize_device(device)] = parse_bytes(amount)
        return budgets

    @default("cache_dir")
    def _default_cache_dir(self) -> str:
        return _env("LLM_MAGICS_CACHE", user_cache_dir("llm_magics", appauthor=False))

    @default("trust_remote_code")
    def _default_trust_remote_code(self) -> bool:
        return _env("LLM_MAGICS_TRUST_REMOTE_CODE", "0").lower() in {"1", "true", "yes", "on"}

    @validate("device")
    def _check_device(self, proposal: dict) -> str:
        return _as_trait_error(normalize_device, proposal["value"])

    @validate("dtype")
    def _check_dtype(self, proposal: dict) -> str:
        return _as_trait_error(normalize_dtype, proposal["value"])

    @validate("quantization")
    def _check_quantization(self, proposal: dict) -> str:
        return _as_trait_error(normalize_quantization, proposal["value"])

    @observe("quantization")
    def _none_is_none(self, change: dict) -> None:
        # traitlets lets None past the validator (allow_none); store it as the setting it means.
        if change["new"] is None:
            self.quantization = "none"

    @validate("decoder")
    def _check_decoder(self, proposal: dict) -> str:
        return _as_trait_error(normalize_decoder, proposal["value"])

    @validate("memory_budget")
    def _check_memory_budget(self, proposal: dict) -> dict:
        budgets = {}
        for device, amount in proposal["value"].items():
            budgets[_as_trait_error(normalize_device, device)] = _as_trait_error(
                parse_bytes, amount
            )
        return budgets

    @validate("gpu_memory_fraction", "cpu_memory_fraction")
    def _check_fraction(self, proposal: dict) -> float:
        value = proposal["value"]
        if not 0.0 < value <= 1.0:
            msg = f"{proposal['trait'].name} must be in (0, 1], not {value!r}."
            raise TraitError(msg)
        return value

    @validate("aliases")
    def _check_aliases(self, proposal: dict) -> dict:
        clash = sorted(set(proposal["value"]) & set(BUILTIN_ALIASES))
        if clash:
            msg = (
                f"{', '.join(clash)} is built in and cannot be redefined; set "
                "LlmMagics.default_chat_model / default_embed_model to change the defaults."
            )
            raise TraitError(msg)
        return proposal["value"]

    @property
    def cache_path(self) -> Path:
        """The cache directory as a ``Path`` (created on first use by whoever writes there)."""
        return Path(self.cache_dir).expanduser()


def _as_trait_error(check: Callable[[Any], T], value: Any) -> T:
    # traitlets reports a TraitError from a validator cleanly (also through %config).
    try:
        return check(value)
    except InvalidArgumentError as err:
        raise TraitError(str(err)) from err


def get_config() -> LlmMagics:
    """Return the settings of this kernel (one shared instance).

    Examples
    --------
    >>> get_config().trust_remote_code
    False
    """
    return LlmMagics.instance()
