from __future__ import annotations

import pickle
import warnings

import pandas as pd
import pytest

from llm_magics.errors import (
    DeviceOutOfMemoryError,
    InvalidArgumentError,
    LlmMagicsError,
    LlmMagicsWarning,
    MissingDependencyError,
    ModelError,
    ModelLoadError,
    ModelNotFoundError,
    RunInterruptedError,
    collected_warnings,
    did_you_mean,
    warn,
)
from llm_magics.ops import clean


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


def _library_call() -> None:
    """Another library's call that warns from the same line every time."""
    warnings.warn("this argument is deprecated", FutureWarning, stacklevel=1)


def test_warn_points_at_the_line_that_called_us() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("3 rows were cut.")
        clean(pd.Series([12, "x"]))  # through an op: its wrapper, the op, TextColumn
    assert [w.category for w in caught] == [LlmMagicsWarning, LlmMagicsWarning]
    assert [w.filename for w in caught] == [__file__, __file__]
    assert "1 non-text cell" in str(caught[1].message)


def test_collected_warnings_keeps_ours_and_shows_each_other_warning_once() -> None:
    shown: set = set()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):  # two steps of a plan, say
            with collected_warnings(shown) as notes:
                for _ in range(5):  # one warning per model call
                    warn("3 rows were cut.")
                    _library_call()
                warn("2 rows were cut.")
            assert notes == ["3 rows were cut.", "2 rows were cut."]
    assert [(w.category, str(w.message)) for w in caught] == [
        (FutureWarning, "this argument is deprecated")
    ]
    assert caught[0].filename == __file__  # where the library raised it, not moved


def test_collected_warnings_keeps_the_filters_that_ignore_or_raise() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", FutureWarning)
        with collected_warnings():
            _library_call()
    assert caught == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        with pytest.raises(FutureWarning), collected_warnings():
            _library_call()
