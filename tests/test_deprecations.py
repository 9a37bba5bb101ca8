"""Our calls into transformers, torch, pandas, scikit-learn, Optuna, Altair and Ray use their
current APIs: every op, a ``%%mine`` plan and ``llm-mine demo`` run with each Deprecation-,
PendingDeprecation- or FutureWarning raised under our code counted as a failure.

A warning is ours when a frame of llm_magics is on the stack that raised it: our own call, or a
library's work on our behalf (transformers' ``past_key_values`` warning is raised inside torch's
``Module.__call__``, a library away from our forward call, so a filter on the warning's module
would miss it). Each test runs on an empty result cache, so every model call really runs.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from IPython.core.interactiveshell import InteractiveShell

import llm_magics
from llm_magics import get_config, ops
from llm_magics.cli import main
from llm_magics.datasets import amazon_reviews
from llm_magics.engine.decoding import SharedPrefix
from llm_magics.runtime.loading import LoadedModel

pytestmark = pytest.mark.slow

DEPRECATIONS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
PACKAGE = str(Path(llm_magics.__file__).parent)


def _our_frame() -> str | None:
    """``file:line`` of the innermost llm_magics frame under the warning being shown, if any."""
    frame = sys._getframe()
    while frame is not None and frame.f_code.co_name != "_showwarnmsg":
        frame = frame.f_back  # the show hooks between here and the warning (ours and the test's)
    while frame is not None and frame.f_code.co_filename == warnings.__file__:
        frame = frame.f_back
    while frame is not None:
        if frame.f_code.co_filename.startswith(PACKAGE):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return None


@contextlib.contextmanager
def deprecations_under_our_code() -> Iterator[list[str]]:
    """The deprecation warnings raised under our code inside the block, one line each."""
    found: list[str] = []
    show = warnings.showwarning

    def check(
        message: Any, category: type[Warning], filename: str, lineno: int, *rest: Any
    ) -> None:
        caller = _our_frame() if issubclass(category, DEPRECATIONS) else None
        if caller is not None:
            found.append(f"{category.__name__}: {message} ({filename}:{lineno}, under {caller})")
        show(message, category, filename, lineno, *rest)

    with warnings.catch_warnings():
        for category in DEPRECATIONS:
            warnings.simplefilter("always", category)
        warnings.showwarning = check
        yield found


def _from_our_code(fn: Callable[[], Any]) -> Any:
    """``fn()``, called from a frame that counts as llm_magics code."""
    scope = {"fn": fn}
    exec(compile("result = fn()", f"{PACKAGE}/probe.py", "exec"), scope)
    return scope["result"]


@pytest.fixture
def fresh_results(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, chat: LoadedModel, embedder: LoadedModel
) -> None:
    """An empty result cache; the loaded models stay loaded."""
    monkeypatch.setattr(get_config(), "cache_dir", str(tmp_path))


def test_the_check_catches_the_past_key_values_call_it_was_made_for(chat: LoadedModel) -> None:
    def old_call() -> Any:
        cache = SharedPrefix(chat, [1, 2, 3, 4]).expand(1)
        ids = torch.tensor([[5]], device=chat.device)
        return chat.model(input_ids=ids, past_key_values=cache, use_cache=True)

    with deprecations_under_our_code() as found:
        old_call()
    assert found == []  # called from this test: not ours
    with deprecations_under_our_code() as found:
        _from_our_code(old_call)
    assert len(found) == 1 and "past_key_values" in found[0], found


# The arguments each op needs besides its texts, and the settings that keep it small.
ISSUES = pd.Series(["The tea tastes stale.", "The box arrived crushed."], name="issue")

CALLS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "dedup": ((), {}),
    "join": ((ISSUES, "the review is about the issue"), {"k": 1}),
    "top_k": (("broken packaging",), {"k": 2}),
    "aggregate": ((), {"max_words": 8, "chunk_tokens": 64}),
    "classify": ((["taste", "price", "shipping"],), {"method": "llm"}),
    "clean": ((), {}),
    "embed": ((), {"dims": 2}),
    "extract": (({"product": str, "price": float, "problem": ["shipping", "taste"]},), {}),
    "features": ((), {"topics_k": 2, "keyword_features": 3, "embedding_dims": 2}),
    "filter": (("mentions the taste",), {"method": "llm"}),
    "keywords": ((), {"top": 3}),
    "sentiment": ((), {"calibrate": True}),
    "summarize": ((), {"max_words": 8}),
    "topics": ((), {"k": 2}),
}


def test_every_op_calls_only_current_apis(fresh_results: None) -> None:
    assert set(CALLS) == set(ops.OPERATIONS)  # a new op gets a line here
    frame = amazon_reviews("test").head(30).reset_index(drop=True)
    texts = frame["review"].head(6)
    with deprecations_under_our_code() as found:
        for name, (args, options) in CALLS.items():
            first = frame[["review"]].head(6) if name == "features" else texts
            quiet = {"progress": False} if name != "clean" else {}  # clean runs no model
            ops.OPERATIONS[name](first, *args, **quiet, **options)
        tuned = ops.finetune(
            frame,
            "review",
            "score",
            name="deprecation-check",
            epochs=1,
            max_length=16,
            progress=False,
        )
        ops.classify(texts, method="finetuned", model=tuned.name, progress=False)
    assert found == []


def test_a_row_wise_op_on_ray_calls_only_current_apis(
    fresh_results: None, ray_cluster: Any
) -> None:
    texts = amazon_reviews("test")["review"].head(4)
    # Ray Data warns about three of its own default settings when it first makes its context,
    # whoever asks (ray-project/ray#65302; still so in ray 2.60): made here, outside the check.
    ray_cluster.data.DataContext.get_current()
    with deprecations_under_our_code() as found:
        ops.sentiment(texts, backend="ray", progress=False)
    assert found == []


PLAN = """\
clean review
sentiment review
keywords review  top=3
topics review  k=2
predict score from review  budget=2 folds=2
explain
"""


def test_a_mine_plan_calls_only_current_apis(fresh_results: None) -> None:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "llm_magics")
    shell.user_ns["warned_reviews"] = amazon_reviews("test").head(16)
    try:
        with deprecations_under_our_code() as found:
            result = shell.run_cell(f"%%mine warned_reviews --quiet\n{PLAN}", store_history=False)
    finally:
        shell.user_ns.pop("warned_reviews")
    assert result.success, result.error_in_exec
    assert found == []


def test_the_demo_calls_only_current_apis(fresh_results: None, tmp_path: Path) -> None:
    report = tmp_path / "demo.html"
    with deprecations_under_our_code() as found:
        status = main(["demo", "--rows", "12", "--quiet", "--show", "1", "--report", str(report)])
    assert status == 0 and report.exists()
    assert found == []
