from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from llm_magics.engine import embed
from llm_magics.engine.jobs import CancelScope, current_scope, raise_if_cancelled
from llm_magics.errors import DeviceOutOfMemoryError, LlmMagicsWarning, RunInterruptedError
from llm_magics.runtime.loading import LoadedModel
from llm_magics.runtime.manager import ModelManager

MIXED = [
    "short",
    "a much longer sentence about coffee beans, grinders, espresso machines and the perfect crema",
    "mid length text about tea",
    "ünïcödé tëxt ☕ 日本語のレビュー",
    "x " * 60,
]


def _forward_spy(
    monkeypatch: pytest.MonkeyPatch, embedder: LoadedModel, fail_first_over: int | None = None
) -> list[int]:
    """Record the batch size of every forward pass; optionally fail the first big one with OOM."""
    sizes: list[int] = []
    real = embedder.model.forward

    def forward(*args, **kwargs):
        rows = kwargs["input_ids"].shape[0]
        if fail_first_over is not None and rows > fail_first_over and not sizes:
            sizes.append(-rows)
            # Stands in for a GPU running out of memory, which a CPU-only machine cannot produce.
            msg = "CUDA out of memory (simulated)"
            raise torch.OutOfMemoryError(msg)
        sizes.append(rows)
        return real(*args, **kwargs)

    monkeypatch.setattr(embedder.model, "forward", forward)
    return sizes


def test_paraphrases_embed_closer_than_unrelated_sentences(embedder: LoadedModel) -> None:
    texts = [
        "The delivery was late and the box was damaged.",
        "My package arrived late and its box was broken.",
        "This green tea has a lovely fresh taste.",
        "I really enjoy the fresh flavour of this green tea.",
    ]
    vectors = embed(texts, progress=False).vectors
    similarity = vectors @ vectors.T
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert similarity[0, 1] > 0.6 and similarity[2, 3] > 0.6
    assert max(similarity[0, 2], similarity[0, 3], similarity[1, 2], similarity[1, 3]) < 0.3


def test_matches_sentence_transformers_in_input_order(embedder: LoadedModel) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(embedder.spec.location, device="cpu").encode(
        MIXED, normalize_embeddings=True
    )
    result = embed(MIXED, batch_tokens=64, cache=False, progress=False)
    assert np.allclose(result.vectors, reference, atol=1e-5)


def test_duplicates_are_computed_once(
    embedder: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = _forward_spy(monkeypatch, embedder)
    texts = ["same words here", "other words", "same words here", "same words here"]
    result = embed(texts, cache=False, progress=False)
    assert sum(sizes) == 2
    assert np.array_equal(result.vectors[0], result.vectors[2])
    assert (result.provenance.unique_rows, result.provenance.computed) == (2, 2)


def test_out_of_memory_halves_the_batch_and_loses_no_row(
    embedder: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = embed(MIXED, cache=False, progress=False).vectors
    sizes = _forward_spy(monkeypatch, embedder, fail_first_over=1)
    result = embed(MIXED, cache=False, progress=False)
    assert sizes[0] == -len(MIXED)  # the first batch held every row, and failed
    assert sum(s for s in sizes if s > 0) == len(MIXED)  # then each row ran exactly once
    assert max(sizes) <= (len(MIXED) + 1) // 2
    assert np.allclose(result.vectors, expected, atol=1e-5)


def test_out_of_memory_on_a_single_row_says_what_to_do(
    embedder: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forward_spy(monkeypatch, embedder, fail_first_over=0)
    with pytest.raises(DeviceOutOfMemoryError, match="Shorten the inputs"):
        embed(["one lonely row"], cache=False, progress=False)


def test_second_run_is_served_from_the_cache(
    embedder: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["cache me once", "and me too"]
    first = embed(texts, progress=False)
    sizes = _forward_spy(monkeypatch, embedder)
    second = embed(texts, progress=False)
    assert sizes == []
    assert second.provenance.cache_hits == 2
    assert np.array_equal(first.vectors, second.vectors)


def test_interrupted_run_resumes_with_only_the_missing_rows(
    embedder: LoadedModel, manager: ModelManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [f"review number {i} about snacks" for i in range(12)]

    def interrupt_after_first_batch(job) -> None:
        if job.primitive == "embed" and job.state == "running" and job.done > 0:
            raise KeyboardInterrupt

    remove = manager.add_job_listener(interrupt_after_first_batch)
    try:
        with pytest.raises(
            RunInterruptedError, match="rows done; run it again to resume"
        ) as caught:
            embed(texts, batch_tokens=40, progress=False)  # batches of 4 rows
    finally:
        remove()
    done = caught.value.done
    assert caught.value.reason == "interrupted"
    assert 0 < done < len(texts)
    assert f"{done} of {len(texts)} rows done" in str(caught.value)
    jobs = {j["id"]: j for j in manager.status()["jobs"]}
    assert jobs[caught.value.job_id]["state"] == "interrupted"

    sizes = _forward_spy(monkeypatch, embedder)
    resumed = embed(texts, batch_tokens=40, progress=False)
    assert resumed.provenance.cache_hits == done
    assert sum(sizes) == len(texts) - done
    assert np.allclose(
        resumed.vectors, embed(texts, cache=False, progress=False).vectors, atol=1e-6
    )


def test_cancel_from_another_thread_stops_the_job(
    embedder: LoadedModel, manager: ModelManager
) -> None:
    texts = [f"a row to cancel {i}" for i in range(12)]
    first_batch_done, cancelled = threading.Event(), threading.Event()

    def hold_after_first_batch(job) -> None:
        first = job.primitive == "embed" and job.state == "running" and job.done > 0
        if first and not first_batch_done.is_set():
            first_batch_done.set()
            cancelled.wait(timeout=30)

    def canceller() -> None:
        first_batch_done.wait(timeout=30)
        running = [j for j in manager.status()["jobs"] if j["state"] == "running"]
        assert manager.cancel(running[-1]["id"])
        cancelled.set()

    remove = manager.add_job_listener(hold_after_first_batch)
    thread = threading.Thread(target=canceller)
    thread.start()
    try:
        with pytest.raises(RunInterruptedError) as caught:
            embed(texts, batch_tokens=40, cache=False, progress=False)
    finally:
        remove()
        thread.join()
    assert caught.value.reason == "cancelled"
    assert 0 < caught.value.done < len(texts)  # stopped after the first batch, not at the end
    assert "cache is off" in str(caught.value)
    job = next(j for j in manager.status()["jobs"] if j["id"] == caught.value.job_id)
    assert job["state"] == "cancelled"
    assert not manager.cancel(job["id"])  # no longer running


def test_a_cancel_scope_stops_every_job_started_in_it(
    embedder: LoadedModel, manager: ModelManager
) -> None:
    scope = CancelScope()
    texts = [f"a row of a scope {i}" for i in range(12)]
    caught: list[BaseException] = []

    def cancel_after_first_batch(job) -> None:
        if job.state == "running" and job.done > 0 and threading.current_thread() is worker:
            scope.cancel()  # from the job's thread here; the panels call it from another

    def work() -> None:
        with scope.active():
            try:
                embed(texts, batch_tokens=40, cache=False, progress=False)
            except RunInterruptedError as err:
                caught.append(err)
            try:  # a job started after the cancel stops before its first batch
                embed(["another job"], cache=False, progress=False)
            except RunInterruptedError as err:
                caught.append(err)
        assert current_scope() is None

    remove = manager.add_job_listener(cancel_after_first_batch)
    worker = threading.Thread(target=work)
    try:
        worker.start()
        worker.join(timeout=120)
    finally:
        remove()
    assert [err.reason for err in caught] == ["cancelled", "cancelled"]
    assert 0 < caught[0].done < len(texts)
    assert caught[1].done == 0
    assert [job.state for job in scope.jobs] == ["cancelled", "cancelled"]
    with pytest.raises(RunInterruptedError, match="the rest cancelled"), scope.active():
        raise_if_cancelled("the rest")
    raise_if_cancelled("outside any scope")  # nothing to stop


def test_truncation_warning_counts_the_rows(embedder: LoadedModel) -> None:
    texts = ["word " * 600, "short", "word " * 700]
    with pytest.warns(LlmMagicsWarning, match="2 of 3 rows were longer than 512 tokens") as caught:
        result = embed(texts, cache=False, progress=False)
    assert result.vectors.shape == (3, 384)
    assert caught[0].filename == __file__  # the warning points at the caller's line


def test_empty_input_gives_an_empty_matrix(embedder: LoadedModel) -> None:
    assert embed([], progress=False).vectors.shape == (0, 384)


def test_a_progress_bar_only_when_there_is_something_to_compute(
    embedder: LoadedModel, capfd: pytest.CaptureFixture[str]
) -> None:
    texts = ["the progress bar test, first row", "the progress bar test, second row"]
    embed(texts, progress=True)
    first = capfd.readouterr().err
    assert "embed · default-embed" in first and "2/2" in first
    again = embed(texts, progress=True)
    assert again.provenance.cache_hits == 2
    assert "embed · default-embed" not in capfd.readouterr().err


def test_a_damaged_result_cache_is_replaced_and_the_call_goes_on(
    embedder: LoadedModel, manager: ModelManager, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = embed(MIXED, cache=False, progress=False, manager=manager)
    # A kernel starting on a cache file that a sync tool replaced with something else.
    cache_file = tmp_path / "results.sqlite3"
    cache_file.write_bytes(b"not a database, a sync tool's placeholder " * 100)
    monkeypatch.setattr(manager.config, "cache_dir", str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = embed(MIXED, progress=False, manager=manager)
        once_more = embed(MIXED, progress=False, manager=manager)
    (message,) = [str(w.message) for w in caught if issubclass(w.category, LlmMagicsWarning)]
    assert f"result cache {cache_file} was damaged (file is not a database)" in message
    assert np.allclose(again.vectors, first.vectors, atol=1e-6)
    assert (again.provenance.computed, again.provenance.cache_hits) == (len(MIXED), 0)
    assert (once_more.provenance.computed, once_more.provenance.cache_hits) == (0, len(MIXED))


def test_a_call_served_wholly_from_the_cache_lists_no_job(
    embedder: LoadedModel, manager: ModelManager
) -> None:
    texts = ["listed once, then cached", "a second cached row"]
    heard: list[str] = []
    remove = manager.add_job_listener(lambda job: heard.append(job.state))
    try:
        first = embed(texts, progress=False)
        listed = {j["id"] for j in manager.status()["jobs"]}
        again = embed(texts, progress=False)
    finally:
        remove()
    assert first.provenance.job_id in listed
    assert again.provenance.cache_hits == 2 and again.provenance.computed == 0
    assert again.provenance.job_id not in {j["id"] for j in manager.status()["jobs"]}
    assert heard[-1] == "done"  # its listeners still hear that it finished
