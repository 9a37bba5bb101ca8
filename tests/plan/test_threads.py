"""A plan run with one chat model and a tuning panel with another, at the same time (issue 20).

``%%mine --model X`` used to make X the kernel's default chat model for the run, so a panel (or
any op) running in another thread at that moment silently used X. The model is now an argument
passed down to each step: the run uses X, the panel its own model, an op with no model the
kernel's default, and the settings never change.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from llm_magics import get_manager, ops, run_mine
from llm_magics.runtime.loading import LoadedModel
from llm_magics.widgets import TunePanel

WAIT = 600  # seconds: a generous bound, so a broken test fails instead of hanging


@pytest.fixture(scope="module")
def second_chat(tmp_path_factory: pytest.TempPathFactory, chat: LoadedModel) -> str:
    """The embedded chat model's weights under another path: a second chat model, loaded apart.

    An alias would name the same loaded model (the manager keys models by their files), and its
    provenance would read ``default-chat``; a linked copy of the file is a model of its own.
    """
    source = Path(chat.spec.location) / str(chat.spec.gguf_file)
    target = tmp_path_factory.mktemp("second-chat") / source.name
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copyfile(source, target)
    return str(target)


@pytest.mark.slow
def test_a_run_and_a_panel_at_the_same_time_each_use_their_own_model(
    reviews: pd.DataFrame, second_chat: str
) -> None:
    manager = get_manager()
    config = manager.config
    default = config.default_chat_model
    changes: list[Any] = []
    config.observe(changes.append, names="default_chat_model")
    paused, resume = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def hold_the_run(job: Any) -> None:
        # Stop the run after its first batch with its model, until the other calls are done.
        if job.model == second_chat and job.done > 0 and not paused.is_set():
            paused.set()
            resume.wait(WAIT)

    def plan() -> None:
        try:
            outcome["run"] = run_mine(
                reviews, "sentiment review", model=second_chat, cache=False, progress=False
            )
        except BaseException as err:  # raised again in the test's thread
            outcome["error"] = err
        finally:
            paused.set()

    remove = manager.add_job_listener(hold_the_run)
    worker = threading.Thread(target=plan)
    try:
        worker.start()
        assert paused.wait(WAIT)
        assert "error" not in outcome, outcome.get("error")
        # While the run is mid-step with its model: a panel with another, and an op with none.
        panel = TunePanel(
            reviews["review"], "sentiment", model="default-chat", sample=3, namespace={}
        )
        panel.preview(wait=True)
        plain = ops.sentiment(reviews["review"].head(4), cache=False, progress=False)
    finally:
        resume.set()
        worker.join(WAIT)
        remove()
        config.unobserve(changes.append, names="default_chat_model")
    if "error" in outcome:
        raise outcome["error"]

    assert changes == [] and config.default_chat_model == default
    run = outcome["run"]
    assert run.completed and run.steps[0].models == [second_chat]
    assert run.outputs[1].attrs["llm_magics"]["models"] == [second_chat]
    assert panel.error is None, panel.status.value
    assert panel.previews[-1].models == ["default-chat"]
    assert plain.attrs["llm_magics"]["models"] == [default]
