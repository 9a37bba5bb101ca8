from __future__ import annotations

import os
import random
import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch

from llm_magics.config import LlmMagics
from llm_magics.errors import LlmMagicsWarning, ModelLoadError
from llm_magics.runtime import loading
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
    # "converted now" where this load converted, "converted GGUF <folder>" where an earlier load
    # of the session (a Ray worker's, say) did: either way the copy is in the session's cache.
    assert chat.source.startswith("converted") and str(folder) in chat.source
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


def _copy_of_converted(chat: LoadedModel, manager: ModelManager, cache: Path) -> Path:
    """The session's converted chat model, copied into the cache folder ``cache``."""
    config = LlmMagics(cache_dir=str(cache), device="cpu")
    folder = gguf_cache_dir(chat.spec, config)
    shutil.copytree(gguf_cache_dir(chat.spec, manager.config), folder)
    return folder


def _damage_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, LlmMagicsWarning)]


@pytest.mark.slow
def test_a_truncated_converted_model_is_converted_again(
    chat: LoadedModel, manager: ModelManager, tmp_path: Path
) -> None:
    folder = _copy_of_converted(chat, manager, tmp_path)
    weights = folder / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    fresh = ModelManager(LlmMagics(cache_dir=str(tmp_path), device="cpu"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        healed = fresh.load("default-chat")
    (message,) = _damage_warnings(caught)
    assert f"converted model {folder} was damaged (model.safetensors:" in message
    assert "converted again from" in message and chat.spec.gguf_file in message
    assert "converted now" in healed.source
    assert weights.stat().st_size > 100_000_000
    assert healed.fingerprint == chat.fingerprint
    for (name, rebuilt), original in zip(
        healed.model.state_dict().items(), chat.model.state_dict().values(), strict=True
    ):
        assert torch.equal(rebuilt, original), name
    # Healed for good: the next kernel reads the new folder without a word.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = locate(chat.spec, LlmMagics(cache_dir=str(tmp_path), device="cpu"))
    assert source.path == str(folder) and not _damage_warnings(caught)
    assert not [p for p in folder.parent.iterdir() if p != folder]


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("model.safetensors", lambda f: f.write_bytes(random.Random(1).randbytes(4096))),
        ("config.json", lambda f: f.write_bytes(random.Random(2).randbytes(512))),
        ("tokenizer.json", lambda f: os.truncate(f, f.stat().st_size // 3)),
        ("model.safetensors", lambda f: f.unlink()),
        (
            "config.json",
            lambda f: f.write_text(re.sub(r"\w+ForCausalLM", "LlamaModel", f.read_text())),
        ),
    ],
    ids=[
        "weights overwritten",
        "config overwritten",
        "tokenizer truncated",
        "weights deleted",
        "saved as the bare encoder",
    ],
)
def test_any_damaged_file_sends_the_load_back_to_the_gguf(
    chat: LoadedModel,
    manager: ModelManager,
    tmp_path: Path,
    name: str,
    damage: Callable[[Path], None],
) -> None:
    folder = _copy_of_converted(chat, manager, tmp_path)
    damage(folder / name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = locate(chat.spec, LlmMagics(cache_dir=str(tmp_path), device="cpu"))
    assert (source.path, source.gguf_file) == (chat.spec.location, chat.spec.gguf_file)
    assert not folder.exists() and not list(folder.parent.iterdir())
    (message,) = _damage_warnings(caught)
    assert "was damaged" in message


def test_a_whole_converted_model_is_used_as_it_is(chat: LoadedModel, manager: ModelManager) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = locate(chat.spec, manager.config)
    assert source.path == str(gguf_cache_dir(chat.spec, manager.config))
    assert not _damage_warnings(caught)


@pytest.mark.slow  # two conversions, about 25 s each
def test_the_conversion_bar_follows_progress(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """progress=False hides the GGUF conversion's bar too (it showed through it); progress=True
    keeps it, the one sign of life during a first conversion."""
    from llm_magics.ops import sentiment

    for show in (False, True):
        cache = tmp_path / str(show)
        fresh = ModelManager(LlmMagics(cache_dir=str(cache), device="cpu", cascade=False))
        capfd.readouterr()
        sentiment(
            pd.Series(["Lovely tea."]),
            model="default-chat",
            manager=fresh,
            progress=show,
            cache=False,
        )
        drawn = capfd.readouterr().err
        assert ("Converting and de-quantizing GGUF tensors" in drawn) is show, drawn[-300:]
        assert (gguf_cache_dir(resolve_spec("default-chat", fresh.config), fresh.config)).is_dir()


@pytest.mark.slow
def test_a_full_disk_is_named_before_the_conversion_writes(
    chat: LoadedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for a full disk (filling a real one is not something a test may do): the disk
    # reports 100 MB free, less than the 135M model's float32 copy.
    real = shutil.disk_usage
    monkeypatch.setattr(
        loading.shutil, "disk_usage", lambda path: real(path)._replace(free=100 * 1024**2)
    )
    fresh = ModelManager(LlmMagics(cache_dir=str(tmp_path), device="cpu"))
    with pytest.raises(ModelLoadError) as raised:
        fresh.load("default-chat")
    message = str(raised.value)
    assert message.startswith("Not enough disk space to convert default-chat: its float32 copy")
    assert "0.1 GB free" in message and "LLM_MAGICS_CACHE" in message
    assert len(message.splitlines()) == 1
    # Nothing half-written is left behind.
    assert not list((tmp_path / "models").glob("**/*.safetensors"))
