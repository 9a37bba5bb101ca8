"""Shared fixtures: the real embedded models, loaded once per test session on the CPU."""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Before llm_magics is imported: a fresh cache, so the session converts the GGUF once and the
# cache tests see a real first conversion; the CPU, so results do not depend on a local GPU.
# It holds a converted model (about 0.7 GB), so it goes when the session ends.
os.environ["LLM_MAGICS_CACHE"] = tempfile.mkdtemp(prefix="llm-magics-test-cache-")
os.environ.setdefault("LLM_MAGICS_DEVICE", "cpu")
# float32, so expected answers do not depend on whether the machine's CPU has bfloat16
# instructions (where it does, dtype="auto" is bfloat16: tests/engine/test_bfloat16.py).
os.environ.setdefault("LLM_MAGICS_DTYPE", "float32")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The suite runs on the fast 135M model (so no cascade: fast and default are the same model); the
# quality model and the cascade have their own tests (tests/ops/test_cascade.py,
# tests/runtime/test_published.py), which name it.
os.environ.setdefault("LLM_MAGICS_CHAT_MODEL", "default-chat")

import numpy as np
import pandas as pd
import pytest
import torch

from llm_magics import LlmMagics, get_manager
from llm_magics.datasets import amazon_reviews
from llm_magics.runtime.loading import LoadedModel
from llm_magics.runtime.manager import ModelManager

atexit.register(shutil.rmtree, os.environ["LLM_MAGICS_CACHE"], ignore_errors=True)


@pytest.fixture(scope="session")
def manager() -> ModelManager:
    return get_manager()


@pytest.fixture(scope="session")
def chat(manager: ModelManager) -> LoadedModel:
    return manager.load("default-chat")


@pytest.fixture(scope="session")
def embedder(manager: ModelManager) -> LoadedModel:
    return manager.load("default-embed")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory, embedder: LoadedModel) -> list[Path]:
    """Three small randomly initialised BERT encoders in local folders (about 4 MB each)."""
    from transformers import BertConfig, BertModel

    root = tmp_path_factory.mktemp("tiny-models")
    folders = []
    for seed, name in enumerate(("tiny-a", "tiny-b", "tiny-c")):
        torch.manual_seed(seed)
        config = BertConfig(
            vocab_size=embedder.tokenizer.vocab_size,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            architectures=["BertModel"],
        )
        folder = root / name
        BertModel(config).save_pretrained(folder)
        embedder.tokenizer.save_pretrained(folder)
        folders.append(folder)
    return folders


@pytest.fixture
def isolated_config(tmp_path: Path) -> LlmMagics:
    """Settings of our own, so a test can set a budget without touching the kernel's."""
    return LlmMagics(cache_dir=str(tmp_path / "cache"), device="cpu")


@pytest.fixture(scope="session")
def reviews() -> pd.DataFrame:
    """Twelve real test reviews with a shuffled integer index, plus a missing and a blank row."""
    frame = amazon_reviews("test").head(12).reset_index(drop=True)
    frame.index = pd.Index(np.random.default_rng(7).permutation(1000)[:12] + 5000, name="id")
    frame.loc[frame.index[3], "review"] = None
    frame.loc[frame.index[8], "review"] = "   "
    return frame


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """A local Ray with 2 CPUs for one test module (skipped without the ray extra)."""
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def quality_manager() -> Iterator[ModelManager]:
    """A manager whose default chat model is the quality model and whose cascade is on.

    Its model files live in the user's cache (where ``make`` joined the quality model and where
    its 6.6 GB conversion is kept between runs); tests pass ``cache=False`` so that no result
    is read from or written to it. Under CI the model must be there. Its models are unloaded
    after each module: 6.6 GB held to the end would shrink the memory budget of later tests.
    """
    from platformdirs import user_cache_dir

    from llm_magics.runtime import published

    config = LlmMagics(
        cache_dir=user_cache_dir("llm_magics", appauthor=False),
        device="cpu",
        dtype="float32",
        default_chat_model="quality-chat",
        fast_chat_model="default-chat",
        cascade=True,
    )
    if not published.available("quality-chat", config):
        message = "the quality model is not installed: run `make quality-model`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    manager = ModelManager(config)
    yield manager
    manager.unload_all()
    gc.collect()
