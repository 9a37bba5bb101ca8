from __future__ import annotations

from pathlib import Path

import torch

from llm_magics.config import LlmMagics
from llm_magics.runtime.loading import (
    LoadedModel,
    estimate_bytes,
    gguf_cache_dir,
    locate,
    read_config,
)
from llm_magics.runtime.manager import ModelManager
from llm_magics.runtime.specs import resolve_spec


def test_first_load_of_default_chat_converts_the_gguf_into_the_cache(
    chat: LoadedModel, manager: ModelManager
) -> None:
    folder = gguf_cache_dir(chat.spec, manager.config)
    assert "converted now" in chat.source
    assert folder.parent == Path(manager.config.cache_dir) / "models"
    assert (folder / "model.safetensors").stat().st_size > 100_000_000
    assert (folder / "config.json").is_file()
    assert (folder / "tokenizer.json").is_file()


def test_second_load_reads_the_safetensors_cache(chat: LoadedModel, manager: ModelManager) -> None:
    again = ModelManager(LlmMagics(cache_dir=manager.config.cache_dir, device="cpu")).load(
        "default-chat"
    )
    folder = gguf_cache_dir(chat.spec, manager.config)
    assert again is not chat
    assert again.source == f"converted GGUF {folder}"
    assert again.fingerprint == chat.fingerprint
    for (name, cached), original in zip(
        again.model.state_dict().items(), chat.model.state_dict().values(), strict=True
    ):
        assert torch.equal(cached, original), name


def test_estimate_from_config_matches_the_loaded_bytes(
    embedder: LoadedModel, chat: LoadedModel, manager: ModelManager
) -> None:
    for loaded in (embedder, chat):
        source = locate(loaded.spec, manager.config)
        model_config = read_config(loaded.spec, source, manager.config)
        assert (
            estimate_bytes(model_config, loaded.role, loaded.dtype, manager.config) == loaded.bytes
        )
    assert chat.parameters == 134_515_008


def test_estimate_halves_in_bfloat16(embedder: LoadedModel, manager: ModelManager) -> None:
    source = locate(embedder.spec, manager.config)
    model_config = read_config(embedder.spec, source, manager.config)
    full = estimate_bytes(model_config, "embed", torch.float32, manager.config)
    half = estimate_bytes(model_config, "embed", torch.bfloat16, manager.config)
    assert abs(full / half - 2) < 0.01


def test_embedding_model_pools_as_its_config_says(embedder: LoadedModel) -> None:
    assert embedder.pooling == {"mode": "mean", "normalize": True}


def test_chat_tokenizer_pads_on_the_left(chat: LoadedModel) -> None:
    assert chat.tokenizer.padding_side == "left"
    assert chat.tokenizer.pad_token is not None


def test_role_is_read_from_the_config_for_paths(
    tiny_models: list[Path], isolated_config: LlmMagics
) -> None:
    spec = resolve_spec(str(tiny_models[0]), isolated_config)
    source = locate(spec, isolated_config)
    from llm_magics.runtime.loading import infer_role

    assert infer_role(read_config(spec, source, isolated_config)) == "embed"
