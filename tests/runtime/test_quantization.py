from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from llm_magics.config import LlmMagics
from llm_magics.engine import generate
from llm_magics.errors import InvalidArgumentError, MissingDependencyError
from llm_magics.runtime.loading import LoadedModel, estimate_bytes
from llm_magics.runtime.manager import ModelManager
from llm_magics.runtime.quantization import (
    check_quantization,
    quantization_config,
    quantized_linears,
)

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture(scope="module")
def int8_chat(manager: ModelManager, chat: LoadedModel) -> Iterator[LoadedModel]:
    """The default chat model with int8 weights (torchao), beside the unquantized one."""
    loaded = manager.load("default-chat", quantization="int8")
    yield loaded
    manager.unload_key(loaded.key)


def test_int8_linear_weights_are_int8_and_embeddings_stay_float(int8_chat: LoadedModel) -> None:
    model = int8_chat.model
    linears = quantized_linears(model)
    assert len(linears) == 7 * model.config.num_hidden_layers  # q k v o gate up down
    assert {type(layer.weight).__name__ for layer in linears.values()} == {"Int8Tensor"}
    assert {layer.weight.qdata.dtype for layer in linears.values()} == {torch.int8}
    assert model.get_input_embeddings().weight.dtype == torch.float32
    assert "lm_head" not in linears  # tied to the embeddings: left as it is


def test_int8_chat_generates_text_greedily(int8_chat: LoadedModel) -> None:
    prompts = ["Say hello in one word.", "Name a colour."]
    first = generate(prompts, model=int8_chat, max_new_tokens=8, cache=False, progress=False)
    again = generate(prompts, model=int8_chat, max_new_tokens=8, cache=False, progress=False)
    assert all(text.strip() for text in first.texts)
    assert first.texts == again.texts
    assert (first.generated_tokens > 0).all()


def test_estimate_is_the_real_quantized_size(chat: LoadedModel, int8_chat: LoadedModel) -> None:
    config = int8_chat.model.config
    estimate = estimate_bytes(config, "chat", torch.float32, LlmMagics(), quantization="int8")
    assert estimate == int8_chat.bytes
    assert estimate_bytes(config, "chat", torch.float32, LlmMagics()) == chat.bytes
    # Linear weights go from 4 bytes to 1; the 28M-parameter embedding stays at 4 bytes.
    assert 0.38 < int8_chat.bytes / chat.bytes < 0.45


def test_cuda_estimates_count_bitsandbytes_bytes(chat: LoadedModel) -> None:
    config, settings = chat.model.config, LlmMagics()
    full = estimate_bytes(config, "chat", torch.bfloat16, settings)
    int8 = estimate_bytes(
        config, "chat", torch.bfloat16, settings, quantization="int8", device=CUDA
    )
    int4 = estimate_bytes(
        config, "chat", torch.bfloat16, settings, quantization="int4", device=CUDA
    )
    weights = sum(m.weight.numel() for m in quantized_linears(chat.model).values())
    rows = sum(m.out_features for m in quantized_linears(chat.model).values())
    assert full - int8 == 2 * weights - (weights + 4 * rows)
    assert full - int4 == 2 * weights - (weights // 2 + 4 * (weights // 64))


def test_quantized_and_plain_copies_are_separate_entries(
    manager: ModelManager, chat: LoadedModel, int8_chat: LoadedModel
) -> None:
    assert int8_chat is not chat
    assert int8_chat.key == f"{chat.key}|int8"
    assert int8_chat.fingerprint != chat.fingerprint  # cached results are not shared
    # By key, not identity: earlier tests (the quality model's 6.6 GB) may have made the budget
    # evict and reload a copy since the fixtures loaded them.
    quantized = manager.load("default-chat", quantization="int8")
    plain = manager.load("default-chat", quantization="none")
    assert (quantized.key, plain.key) == (int8_chat.key, chat.key)
    assert quantized is not plain and manager.load("default-chat") is plain


def test_status_shows_the_quantization(
    manager: ModelManager, chat: LoadedModel, int8_chat: LoadedModel
) -> None:
    models = {m["key"]: m for m in manager.status()["models"]}
    assert models[int8_chat.key]["quantization"] == "int8"
    assert models[chat.key]["quantization"] == "none"
    assert models[int8_chat.key]["bytes"] == int8_chat.bytes


@pytest.mark.slow
def test_the_setting_chooses_the_quantization(
    isolated_config: LlmMagics, int8_chat: LoadedModel
) -> None:
    isolated_config.quantization = "INT8"
    assert isolated_config.quantization == "int8"
    loaded = ModelManager(isolated_config).load("default-chat")
    assert loaded.quantization == "int8"
    assert loaded.bytes == int8_chat.bytes


@pytest.mark.parametrize("value", ["int3", "fp8"])
def test_unknown_quantization_is_refused_with_the_choices(
    isolated_config: LlmMagics, value: str
) -> None:
    with pytest.raises(InvalidArgumentError, match="Choose one of none, int8, int4"):
        ModelManager(isolated_config).load("default-chat", quantization=value)


def test_int4_on_cpu_is_refused_before_loading(isolated_config: LlmMagics) -> None:
    manager = ModelManager(isolated_config)
    with pytest.raises(InvalidArgumentError, match=r"needs a CUDA GPU.*quantization='int8'"):
        manager.load("default-chat", quantization="int4")
    assert manager.status()["models"] == []


def test_int8_with_float16_on_cpu_is_refused_before_loading(isolated_config: LlmMagics) -> None:
    # torchao's int8 kernels on CPU return NaN for float16 weights (found by trying it).
    manager = ModelManager(isolated_config)
    with pytest.raises(InvalidArgumentError, match=r"NaN.*dtype='bfloat16' or dtype='float32'"):
        manager.load("default-chat", dtype="float16", quantization="int8")
    assert manager.status()["models"] == []


def test_mps_cannot_quantize() -> None:
    with pytest.raises(InvalidArgumentError, match="not on mps"):
        check_quantization("int8", torch.device("mps"))


def test_missing_torchao_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchao", None)  # makes `import torchao` fail
    with pytest.raises(MissingDependencyError, match=r'pip install "llm-magics\[quantize\]"'):
        quantization_config("int8", CPU, torch.float32)


def test_missing_bitsandbytes_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)
    with pytest.raises(MissingDependencyError, match="pip install bitsandbytes"):
        quantization_config("int4", CUDA, torch.bfloat16)


def test_cpu_int8_is_torchao_weight_only() -> None:
    from torchao.quantization import Int8WeightOnlyConfig

    chosen = quantization_config("int8", CPU, torch.float32)
    assert type(chosen).__name__ == "TorchAoConfig"
    assert isinstance(chosen.quant_type, Int8WeightOnlyConfig)
    assert chosen.quant_type.set_inductor_config is False  # torch's global settings untouched
    assert quantization_config("none", CPU, torch.float32) is None


def test_cuda_uses_bitsandbytes(monkeypatch: pytest.MonkeyPatch) -> None:
    # bitsandbytes runs only on a GPU, which this machine does not have: a stand-in module lets
    # the import succeed, so that the configs chosen can be checked.
    monkeypatch.setitem(sys.modules, "bitsandbytes", types.ModuleType("bitsandbytes"))
    int8 = quantization_config("int8", CUDA, torch.bfloat16)
    int4 = quantization_config("int4", CUDA, torch.bfloat16)
    assert (int8.load_in_8bit, int8.load_in_4bit) == (True, False)
    assert (int4.load_in_4bit, int4.bnb_4bit_quant_type) == (True, "nf4")
    assert int4.bnb_4bit_compute_dtype == torch.bfloat16


@pytest.mark.slow
@pytest.mark.parametrize(
    "code",
    [
        "from llm_magics import get_manager; get_manager().load('default-embed'); "
        "import sentence_transformers",
        # keywords imports KeyBERT (and so sentence-transformers) before any model loads: a call
        # served from the cache loads none (the quickstart notebook printed the lines so).
        "import pandas as pd; from llm_magics.ops import keywords; "
        "keywords(pd.Series(['good tea', 'a lid that broke']), progress=False)",
    ],
    ids=["a model load", "keywords"],
)
def test_loading_a_model_with_torchao_installed_prints_nothing(tmp_path: Path, code: str) -> None:
    # transformers imports torchao (when installed) on every from_pretrained, and torchao's import
    # logs a line per CUDA library it cannot load: a fresh process must show none of it.
    import os
    import subprocess

    env = {**os.environ, "LLM_MAGICS_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "Failed to load" not in done.stderr
    assert "register_constant" not in done.stderr
