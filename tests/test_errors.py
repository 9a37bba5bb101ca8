from __future__ import annotations

import pickle

import pytest

from llm_magics.errors import (
    DeviceOutOfMemoryError,
    InvalidArgumentError,
    LlmMagicsError,
    MissingDependencyError,
    ModelError,
    ModelLoadError,
    ModelNotFoundError,
    RunInterruptedError,
    did_you_mean,
)


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (InvalidArgumentError("x"), ValueError),
        (MissingDependencyError("x", package="p", install="pip install p"), ImportError),
        (DeviceOutOfMemoryError("x", model="m", device="cpu"), MemoryError),
        (ModelNotFoundError("x", model="m"), ModelError),
        (ModelLoadError("x", model="m"), ModelError),
    ],
)
def test_every_error_is_an_llm_magics_error_and_its_builtin(
    error: Exception, builtin: type
) -> None:
    assert isinstance(error, LlmMagicsError)
    assert isinstance(error, builtin)


def test_render_traceback_is_one_line_with_the_message() -> None:
    error = ModelNotFoundError("No model 'x'. Use 'default-chat'.", model="x")
    lines = error._render_traceback_()
    assert len(lines) == 1
    assert "ModelNotFoundError" in lines[0]
    assert "Use 'default-chat'." in lines[0]


def test_keyword_context_is_kept() -> None:
    error = DeviceOutOfMemoryError("x", model="m", device="cuda:0", needed_bytes=10, budget_bytes=5)
    assert (error.model, error.device, error.needed_bytes, error.budget_bytes) == (
        "m",
        "cuda:0",
        10,
        5,
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("defualt-chat", " Did you mean 'default-chat'?"),
        ("default-embd", " Did you mean 'default-embed'?"),
        ("zzzz", ""),
    ],
)
def test_did_you_mean(name: str, expected: str) -> None:
    assert did_you_mean(name, ["default-chat", "default-embed"]) == expected


@pytest.mark.parametrize(
    "error",
    [
        InvalidArgumentError("bad column"),
        MissingDependencyError("x", package="ray", install='pip install "llm-magics[ray]"'),
        DeviceOutOfMemoryError("x", model="m", device="cuda:0", needed_bytes=3, budget_bytes=2),
        ModelNotFoundError("x", model="m", tried=("a", "b")),
        RunInterruptedError("x", job_id="j", done=3, total=9, reason="cancelled"),
    ],
)
def test_errors_pickle_whole(error: LlmMagicsError) -> None:
    # A Ray worker's error reaches the driver pickled: class, message and fields must survive.
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert back.args == error.args
    assert vars(back) == vars(error)
