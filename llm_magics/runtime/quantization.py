"""Loading a model with its linear layers' weights in 8 or 4 bits, through transformers' own configs.

``quantization="int8"`` on CPU is torchao's weight-only int8 (``TorchAoConfig(Int8WeightOnlyConfig())``):
each ``nn.Linear`` weight is stored as int8 with a scale and a zero point per output row, and
dequantized in the matmul. On CUDA, ``"int8"`` and ``"int4"`` are bitsandbytes (``BitsAndBytesConfig``, 4-bit as NF4).
torchao 0.18 has no int4 kernel for x86 CPUs (its int4 layouts need CUDA, or the ARM KleidiAI
library), so ``"int4"`` on CPU is refused before anything is read. What transformers leaves
unquantized stays in the model's dtype: embeddings, the output layer (tied to the embeddings in most
small models), norms and biases.

``estimate_quantized_bytes`` counts those bytes from the config on the ``meta`` device, so the
manager's memory budget sees what the quantized model will really hold.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
from collections.abc import Iterator
from typing import Any

import torch

from llm_magics._optional import import_optional
from llm_magics.config import QUANTIZATION_CHOICES, normalize_quantization
from llm_magics.errors import InvalidArgumentError

__all__ = [
    "QUANTIZATION_CHOICES",
    "check_quantization",
    "estimate_quantized_bytes",
    "import_torchao_quietly",
    "quantization_config",
    "quantized_linears",
]

# bitsandbytes keeps one float32 scale per output row in 8 bits, and one float32 absmax per block
# of 64 weights in 4 bits (NF4 without double quantization).
_BNB_SCALE_BYTES = 4
_BNB_4BIT_BLOCK = 64


def check_quantization(
    quantization: str | None, device: torch.device, dtype: torch.dtype | None = None
) -> str:
    """Return ``quantization`` in canonical form, or raise where ``device`` cannot run it.

    Raises
    ------
    InvalidArgumentError
        An unknown value, ``"int4"`` on CPU, int8 with float16 weights on CPU (torchao's int8
        matmul then returns NaN), or any quantization on a device other than CPU or CUDA.

    Examples
    --------
    >>> check_quantization("INT8", torch.device("cpu"))
    'int8'
    """
    quantization = normalize_quantization(quantization)
    if quantization == "none":
        return quantization
    if device.type == "cpu" and quantization == "int4":
        msg = (
            "quantization='int4' needs a CUDA GPU (bitsandbytes): torchao has no int4 kernel for "
            "x86 CPUs. On CPU use quantization='int8' (weights at a quarter of float32)."
        )
        raise InvalidArgumentError(msg)
    if device.type == "cpu" and dtype is torch.float16:
        msg = (
            "quantization='int8' with dtype='float16' on CPU gives NaN answers (torchao's int8 "
            "kernels). Use dtype='bfloat16' or dtype='float32' with it."
        )
        raise InvalidArgumentError(msg)
    if device.type not in ("cpu", "cuda"):
        msg = (
            f"quantization={quantization!r} runs on CPU (int8) or CUDA (int8, int4), not on "
            f"{device.type}. Use device='cpu', or quantization='none'."
        )
        raise InvalidArgumentError(msg)
    return quantization


@contextlib.contextmanager
def _quiet_import() -> Iterator[None]:
    # Importing torchao logs a warning for each CUDA kernel library it cannot load (on a CPU
    # machine, every one) and torch one per enum torchao registers: noise in a notebook cell.
    loggers = [logging.getLogger(name) for name in ("torchao", "torch.utils._pytree")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def import_torchao_quietly() -> None:
    """Import torchao now, without its noise, where it is installed and not yet imported.

    transformers imports torchao (when installed) with its quantizers on every ``from_pretrained``,
    quantized or not; done here first, the later imports find it loaded and print nothing.
    """
    if "torchao" in sys.modules or importlib.util.find_spec("torchao") is None:
        return
    with _quiet_import(), contextlib.suppress(Exception):
        import torchao  # noqa: F401
        import transformers.quantizers.auto  # noqa: F401  (imports more of torchao)


def _torchao() -> Any:
    with _quiet_import():
        return import_optional(
            "torchao", purpose="quantization='int8' on CPU (torchao)", extra="quantize"
        )


def _bitsandbytes() -> Any:
    return import_optional(
        "bitsandbytes", purpose="quantization on CUDA (bitsandbytes)", package="bitsandbytes"
    )


def quantization_config(quantization: str, device: torch.device, dtype: torch.dtype) -> Any | None:
    """The transformers quantization config for ``from_pretrained`` (``None``: not quantized).

    ``quantization`` is already checked (``check_quantization``). On CUDA, 4-bit weights are
    dequantized to ``dtype`` for each matmul.

    Raises
    ------
    MissingDependencyError
        torchao (CPU) or bitsandbytes (CUDA) is not installed; the message has the command.
    """
    if quantization == "none":
        return None
    if device.type == "cpu":
        _torchao()
        from torchao.quantization import Int8WeightOnlyConfig
        from transformers import TorchAoConfig

        # set_inductor_config=False: torchao would otherwise change torch's global inductor
        # settings, which other compiled code in the kernel would then run with.
        return TorchAoConfig(Int8WeightOnlyConfig(set_inductor_config=False))
    _bitsandbytes()
    from transformers import BitsAndBytesConfig

    if quantization == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
    )


def quantized_linears(model: torch.nn.Module) -> dict[str, torch.nn.Linear]:
    """The ``nn.Linear`` layers of ``model`` that transformers quantizes, by name.

    transformers skips the layers ``get_keys_to_not_convert`` names (the output layer and what is
    tied to it) and those the model keeps in float32.
    """
    from transformers.quantizers.base import get_keys_to_not_convert
    from transformers.quantizers.quantizers_utils import should_convert_module

    skipped = list(get_keys_to_not_convert(model))
    skipped += list(getattr(model, "_keep_in_fp32_modules", None) or [])
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and should_convert_module(f"{name}.weight", skipped)
    }


def _weight_bytes(
    linear: torch.nn.Linear, quantization: str, device: torch.device, size: int
) -> int:
    rows, numel = linear.out_features, linear.weight.numel()
    if device.type == "cpu":  # torchao int8: per row, a scale in the model's dtype and an int8 zero
        return numel + rows * (size + 1)
    if quantization == "int8":
        return numel + rows * _BNB_SCALE_BYTES
    return -(-numel // 2) + -(-numel // _BNB_4BIT_BLOCK) * _BNB_SCALE_BYTES


def estimate_quantized_bytes(
    skeleton: torch.nn.Module, dtype_bytes: int, quantization: str, device: torch.device
) -> int:
    """Bytes saved by quantizing ``skeleton`` (a model on the ``meta`` device, in its dtype).

    Subtract it from the unquantized size: each quantized linear weight goes from ``dtype_bytes``
    per weight to 1 (int8) or 0.5 (int4) plus its scales.
    """
    if quantization == "none":
        return 0
    saved = 0
    for linear in _unique(quantized_linears(skeleton).values()):
        before = linear.weight.numel() * dtype_bytes
        saved += before - _weight_bytes(linear, quantization, device, dtype_bytes)
    return saved


def _unique(linears: Any) -> list[torch.nn.Linear]:
    # A linear layer reachable under two names (shared) is stored once.
    seen: dict[int, torch.nn.Linear] = {}
    for linear in linears:
        seen.setdefault(id(linear.weight), linear)
    return list(seen.values())
