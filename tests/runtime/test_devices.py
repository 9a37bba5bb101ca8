from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch

from llm_magics.errors import InvalidArgumentError
from llm_magics.runtime.devices import device_memory, native_bf16, resolve_device, resolve_dtype


def test_auto_prefers_cuda_then_mps_then_cpu() -> None:
    expected = (
        "cuda"
        if torch.cuda.is_available()
        else "mps"
        if torch.backends.mps.is_available()
        else "cpu"
    )
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected


def test_explicit_device_wins() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_says_what_to_do() -> None:
    with pytest.raises(InvalidArgumentError, match="device='cpu'"):
        resolve_device("cuda:0")


def test_unknown_device_lists_the_choices() -> None:
    with pytest.raises(InvalidArgumentError, match="auto, cpu, cuda, cuda:N, mps"):
        resolve_device("gpu")


def test_dtype_on_cpu_follows_the_processor_and_explicit_wins() -> None:
    cpu = torch.device("cpu")
    expected = torch.bfloat16 if native_bf16() else torch.float32
    assert resolve_dtype(cpu) is expected
    assert resolve_dtype(cpu, "auto") is expected
    assert resolve_dtype(cpu, "float32") is torch.float32
    assert resolve_dtype(cpu, "bf16") is torch.bfloat16
    assert resolve_dtype(cpu, torch.float16) is torch.float16


@pytest.mark.parametrize(("bf16", "expected"), [(True, torch.bfloat16), (False, torch.float16)])
def test_dtype_on_cuda_is_bf16_where_supported(
    monkeypatch: pytest.MonkeyPatch, bf16: bool, expected: torch.dtype
) -> None:
    # Stands in for the GPU's answer: CI has no GPU to ask.
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert resolve_dtype(torch.device("cuda", 0)) is expected


def test_native_bf16_agrees_with_the_cpu_flags() -> None:
    flags = ""
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
    if not flags:
        pytest.skip("no /proc/cpuinfo to compare with")
    words = set(flags.split())
    assert (native_bf16() is not None) == bool({"amx_bf16", "avx512_bf16"} & words)
    if native_bf16() == "AVX-512 BF16":
        assert "avx512_bf16" in words


def test_cpu_memory_is_positive_and_consistent() -> None:
    info = device_memory(torch.device("cpu"))
    assert info.total > 0
    assert 0 < info.free <= info.total
    assert info.used == info.total - info.free
