"""A call whose every row is in the result cache loads no model (the key needs no weights)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from llm_magics import engine
from llm_magics.config import get_config
from llm_magics.runtime.loading import LoadedModel, ModelHandle
from llm_magics.runtime.manager import ModelManager

PROMPTS = ["Is 'the tea arrived mouldy' a complaint? Answer yes or no.", "Say hi in German."]


@pytest.fixture
def fresh(chat: LoadedModel) -> Iterator[ModelManager]:
    """A manager with nothing loaded, on the session's settings and result cache (after the
    session's manager has loaded, so converted, the chat model: ``test_loading`` checks that)."""
    manager = ModelManager(get_config())
    yield manager
    manager.unload_all()


@pytest.mark.slow
def test_a_handle_keys_the_cache_as_the_loaded_model_does(
    fresh: ModelManager, tiny_models: list[Path]
) -> None:
    # A gguf converted earlier, a hub id from the local cache, a local folder.
    for name, role in (
        ("default-chat", "chat"),
        ("default-embed", "embed"),
        (str(tiny_models[0]), "embed"),
    ):
        fresh.load(name, role=role)  # a gguf is converted once, by its first load
        fresh.unload_all()
        handle = fresh.handle(name, role=role)
        assert isinstance(handle, ModelHandle) and fresh.loaded() == []
        loaded = handle.load()
        assert isinstance(loaded, LoadedModel)
        assert (handle.fingerprint, handle.device, handle.dtype) == (
            loaded.fingerprint,
            loaded.device,
            loaded.dtype,
        )
        assert handle.pooling == loaded.pooling
        assert fresh.handle(name, role=role) is loaded  # loaded now: the model itself


@pytest.mark.slow
def test_a_re_run_from_the_cache_loads_no_model(fresh: ModelManager) -> None:
    first = engine.generate(PROMPTS, max_new_tokens=6, progress=False, manager=fresh)
    scored = engine.score(PROMPTS, ["yes", "no"], progress=False, manager=fresh)
    vectors = engine.embed(PROMPTS, progress=False, manager=fresh)
    assert len(fresh.loaded()) == 2
    fresh.unload_all()

    again = engine.generate(PROMPTS, max_new_tokens=6, progress=False, manager=fresh)
    rescored = engine.score(PROMPTS, ["yes", "no"], progress=False, manager=fresh)
    revectors = engine.embed(PROMPTS, progress=False, manager=fresh)
    assert fresh.loaded() == []  # every row came from the cache
    assert again.texts == first.texts and again.provenance.cache_hits == 2
    assert np.array_equal(rescored.logprobs, scored.logprobs)
    assert np.array_equal(revectors.vectors, vectors.vectors)

    # One row that misses loads the model, for that row only.
    more = engine.generate(
        [*PROMPTS, "Name a colour."], max_new_tokens=6, progress=False, manager=fresh
    )
    assert more.texts[:2] == first.texts and more.provenance.computed == 1
    assert [m.name for m in fresh.loaded()] == ["default-chat"]
