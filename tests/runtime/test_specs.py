from __future__ import annotations

from pathlib import Path

import pytest

from llm_magics.config import LlmMagics
from llm_magics.errors import InvalidArgumentError, ModelNotFoundError
from llm_magics.runtime.specs import resolve_spec


@pytest.fixture
def config() -> LlmMagics:
    return LlmMagics()


def test_default_chat_is_the_shipped_gguf(config: LlmMagics) -> None:
    spec = resolve_spec("default-chat", config)
    assert (spec.kind, spec.role, spec.gguf_file) == (
        "gguf",
        "chat",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
    )
    assert Path(spec.key).is_file()


def test_default_embed_is_the_shipped_folder(config: LlmMagics) -> None:
    spec = resolve_spec("default-embed", config)
    assert (spec.kind, spec.role) == ("local", "embed")
    assert (Path(spec.location) / "model.safetensors").is_file()


def test_user_aliases_are_followed_and_keep_the_asked_name(config: LlmMagics) -> None:
    config.aliases = {"mine": "small", "small": "default-embed"}
    spec = resolve_spec("mine", config)
    assert spec.name == "mine"
    assert spec.key == resolve_spec("default-embed", config).key


def test_alias_loops_are_reported(config: LlmMagics) -> None:
    config.aliases = {"a": "b", "b": "a"}
    with pytest.raises(InvalidArgumentError, match="a -> b -> a"):
        resolve_spec("a", config)


def test_local_folder_and_gguf_file(config: LlmMagics, tmp_path: Path) -> None:
    (tmp_path / "weights.gguf").write_bytes(b"GGUF")
    folder = resolve_spec(str(tmp_path), config)
    gguf = resolve_spec(str(tmp_path / "weights.gguf"), config)
    assert (folder.kind, folder.location) == ("local", str(tmp_path.resolve()))
    assert (gguf.kind, gguf.gguf_file, gguf.key) == (
        "gguf",
        "weights.gguf",
        str(tmp_path.resolve() / "weights.gguf"),
    )


def test_a_file_that_is_not_gguf_is_refused(config: LlmMagics, tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(InvalidArgumentError, match=r"not a \.gguf file"):
        resolve_spec(str(tmp_path / "weights.bin"), config)


def test_a_missing_path_is_not_found(config: LlmMagics) -> None:
    with pytest.raises(ModelNotFoundError, match="No model file or folder"):
        resolve_spec("/no/such/model.gguf", config)


@pytest.mark.parametrize(
    "name", ["Qwen/Qwen2.5-0.5B-Instruct", "gpt2", "sentence-transformers/all-MiniLM-L6-v2"]
)
def test_hub_ids(config: LlmMagics, name: str) -> None:
    spec = resolve_spec(name, config)
    assert (spec.kind, spec.location, spec.role) == ("hub", name, None)


@pytest.mark.parametrize("name", ["not a model!", "", "   "])
def test_nonsense_names_list_the_aliases(config: LlmMagics, name: str) -> None:
    with pytest.raises(InvalidArgumentError, match="default-chat"):
        resolve_spec(name, config)


def test_unknown_role_is_refused(config: LlmMagics) -> None:
    with pytest.raises(InvalidArgumentError, match="chat, embed, classifier"):
        resolve_spec("default-chat", config, role="chatbot")  # type: ignore[arg-type]
