"""``generate(decoder="continuous")``: transformers' continuous batching under our runner, on CPU."""

from __future__ import annotations

import threading

import pytest
import torch

from llm_magics.datasets import amazon_reviews
from llm_magics.demo import SUMMARY_INSTRUCTION
from llm_magics.engine import generate, runner
from llm_magics.engine.continuous import PAGE_SIZE, choose_decoder
from llm_magics.engine.jobs import Job
from llm_magics.errors import InvalidArgumentError, RunInterruptedError
from llm_magics.runtime.loading import LoadedModel
from llm_magics.runtime.manager import ModelManager

pytestmark = pytest.mark.slow

QUESTION = "What is the capital of France? Answer in one sentence."


@pytest.fixture(scope="module")
def summaries() -> list[str]:
    reviews = amazon_reviews("train").head(8)["review"]
    return [f"{SUMMARY_INSTRUCTION}\n\n{review}" for review in reviews]


def _both(prompts: list[str], **kwargs: object) -> tuple[list[str], list[str]]:
    common = {"cache": False, "progress": False, **kwargs}
    loop = generate(prompts, decoder="loop", **common)
    paged = generate(prompts, decoder="continuous", **common)
    return loop.texts, paged.texts


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Prompt tokens each request found already in the paged cache, in order of admission."""
    from transformers.generation.continuous_batching.cache import PagedAttentionCache

    found: list[int] = []
    search = PagedAttentionCache.search_prefix_match

    def spy(cache: PagedAttentionCache, request_id: str, prompt_ids: list[int]) -> int:
        found.append(search(cache, request_id, prompt_ids))
        return found[-1]

    monkeypatch.setattr(PagedAttentionCache, "search_prefix_match", spy)
    return found


def test_greedy_summaries_of_real_reviews_equal_the_loop(
    chat: LoadedModel, summaries: list[str], shared: list[int]
) -> None:
    loop = generate(summaries, max_new_tokens=32, decoder="loop", cache=False, progress=False)
    paged = generate(
        summaries, max_new_tokens=32, decoder="continuous", cache=False, progress=False
    )
    assert paged.texts == loop.texts
    assert list(paged.generated_tokens) == list(loop.generated_tokens)
    assert (paged.generated_tokens <= 32).all() and (paged.generated_tokens < 32).any()
    # The prompt prefix (chat template + instruction) went first; every row reused its full pages.
    assert shared[0] == 0 and len(shared) == len(summaries) + 1
    assert min(shared[1:]) >= PAGE_SIZE and len(set(shared[1:])) == 1


def test_without_shared_prefix_no_page_is_reused(
    chat: LoadedModel, summaries: list[str], shared: list[int]
) -> None:
    loop, paged = _both(summaries[:3], max_new_tokens=8, shared_prefix=False)
    assert paged == loop
    assert shared == [0, 0, 0]  # all three admitted in the first step: nothing written to share


def test_answer_prefix_and_max_new_tokens(chat: LoadedModel, summaries: list[str]) -> None:
    loop, paged = _both(summaries[:4], max_new_tokens=6, answer_prefix="In short,")
    assert paged == loop
    result = generate(
        summaries[:4], max_new_tokens=6, answer_prefix="In short,", decoder="continuous"
    )
    assert list(result.generated_tokens) == [6, 6, 6, 6]
    assert not any(t.startswith("In short") for t in result.texts)


def test_stop_strings_cut_the_answer(chat: LoadedModel) -> None:
    full = generate([QUESTION], max_new_tokens=16, decoder="continuous", progress=False)
    cut = generate(
        [QUESTION], max_new_tokens=16, decoder="continuous", progress=False, stop=["Paris"]
    )
    assert "Paris" in full.texts[0]
    assert cut.texts[0] == full.texts[0][: full.texts[0].index("Paris")]


def test_allowed_tokens_become_suppressed_tokens(chat: LoadedModel) -> None:
    prompts = ["How much did it cost? Answer with a number.\n\nI paid $12.99 for it."]
    loop, paged = _both(prompts, max_new_tokens=6, allowed_tokens=r" ?[0-9.,-]+")
    assert paged == loop
    assert paged[0] and all(c in "0123456789.,- " for c in paged[0])


def test_sampling_is_reproducible_with_a_seed_and_keeps_the_global_random_state(
    chat: LoadedModel, summaries: list[str]
) -> None:
    kwargs = {
        "max_new_tokens": 12,
        "temperature": 1.0,
        "top_p": 0.9,
        "cache": False,
        "progress": False,
        "decoder": "continuous",
    }
    state = torch.get_rng_state()
    first = generate(summaries[:3], seed=7, **kwargs).texts
    assert torch.equal(torch.get_rng_state(), state)
    assert generate(summaries[:3], seed=7, **kwargs).texts == first
    assert generate(summaries[:3], seed=8, **kwargs).texts != first


def test_duplicates_are_computed_once_and_the_cache_serves_a_rerun(
    chat: LoadedModel, summaries: list[str]
) -> None:
    prompts = [summaries[5], summaries[6], summaries[5]]
    first = generate(prompts, max_new_tokens=8, decoder="continuous", progress=False, seed=3)
    assert first.texts[0] == first.texts[2]
    assert (first.provenance.unique_rows, first.provenance.computed) == (2, 2)
    again = generate(prompts, max_new_tokens=8, decoder="continuous", progress=False, seed=3)
    assert again.texts == first.texts and again.provenance.computed == 0


def test_a_sample_from_one_path_is_not_served_to_the_other(chat: LoadedModel) -> None:
    kwargs = {"max_new_tokens": 6, "temperature": 1.0, "seed": 3, "progress": False}
    paged = generate(["Tell me a joke."], decoder="continuous", **kwargs)
    loop = generate(["Tell me a joke."], decoder="loop", **kwargs)
    assert (paged.provenance.computed, loop.provenance.computed) == (1, 1)
    assert loop.provenance.parameters["decoder"] == "loop"
    greedy = generate(["Tell me a joke."], max_new_tokens=6, decoder="continuous", progress=False)
    served = generate(["Tell me a joke."], max_new_tokens=6, decoder="loop", progress=False)
    assert served.provenance.computed == 0 and served.texts == greedy.texts


def test_progress_moves_during_the_batch(
    chat: LoadedModel,
    summaries: list[str],
    manager: ModelManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "BATCH_PROGRESS_INTERVAL", 0.0)
    seen: list[tuple[int, float]] = []

    def listen(job: Job) -> None:
        if job.primitive == "generate" and job.state == "running":
            seen.append((job.done, job.batch))

    remove = manager.add_job_listener(listen)
    try:
        generate(summaries[:4], max_new_tokens=24, decoder="continuous", cache=False)
    finally:
        remove()
    within = [batch for done, batch in seen if done == 0 and batch > 0]
    assert len(within) >= 5
    assert within == sorted(within) and within[-1] <= 4
    assert seen[-1] == (4, 0.0)


def test_an_interrupt_inside_a_batch_stops_the_background_thread(
    chat: LoadedModel, summaries: list[str], manager: ModelManager
) -> None:
    attention = chat.model.config._attn_implementation

    def interrupt(job: Job) -> None:
        if job.primitive == "generate" and job.state == "running" and job.batch > 0:
            raise KeyboardInterrupt  # what a second Ctrl-C does in the middle of a batch

    remove = manager.add_job_listener(interrupt)
    try:
        with pytest.raises(RunInterruptedError, match="interrupted: 0 of 4 rows done"):
            generate(summaries[:4], max_new_tokens=64, decoder="continuous", cache=False)
    finally:
        remove()
    assert not [t for t in threading.enumerate() if "_run_generation_loop" in t.name]
    assert chat.model.config._attn_implementation == attention
    after = generate([QUESTION], max_new_tokens=8, decoder="continuous", cache=False)
    assert "Paris" in after.texts[0]  # the model is usable again


def test_the_setting_chooses_the_path_and_auto_keeps_the_loop(
    chat: LoadedModel, manager: ModelManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers.generation.continuous_batching.cache import PagedAttentionCache

    assert choose_decoder("auto", chat) == "loop"  # the loop measured faster on this CPU
    assert choose_decoder("continuous", chat) == "continuous"
    with pytest.raises(InvalidArgumentError, match="Choose one of auto, loop, continuous"):
        generate([QUESTION], decoder="paged", progress=False)
    caches: list[PagedAttentionCache] = []
    init = PagedAttentionCache.__init__

    def spy(cache: PagedAttentionCache, *args: object, **kwargs: object) -> None:
        init(cache, *args, **kwargs)
        caches.append(cache)

    monkeypatch.setattr(PagedAttentionCache, "__init__", spy)
    monkeypatch.setattr(manager.config, "decoder", "continuous")
    generate([QUESTION], max_new_tokens=4, cache=False, progress=False)
    assert len(caches) == 1
    monkeypatch.setattr(manager.config, "decoder", "auto")
    generate([QUESTION], max_new_tokens=4, cache=False, progress=False)
    assert len(caches) == 1  # auto took the loop


def test_out_of_memory_in_the_background_thread_halves_the_batch(
    chat: LoadedModel, summaries: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A test double: a CPU does not run out of memory on cue. The first forward pass (in
    # transformers' generation thread) fails as a CUDA one would; the runner must see it.
    from transformers.generation.continuous_batching.cache import PagedAttentionCache

    expected = generate(summaries[:4], max_new_tokens=6, decoder="loop", cache=False)
    caches: list[PagedAttentionCache] = []
    init = PagedAttentionCache.__init__

    def spy(cache: PagedAttentionCache, *args: object, **kwargs: object) -> None:
        init(cache, *args, **kwargs)
        caches.append(cache)

    forward, calls = chat.model.forward, []

    def fails_once(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            msg = "CUDA out of memory. Tried to allocate 2.00 GiB"
            raise torch.OutOfMemoryError(msg)
        return forward(*args, **kwargs)

    monkeypatch.setattr(PagedAttentionCache, "__init__", spy)
    monkeypatch.setattr(chat.model, "forward", fails_once)
    result = generate(summaries[:4], max_new_tokens=6, decoder="continuous", cache=False)
    assert result.texts == expected.texts
    assert len(caches) == 3  # the batch of 4, then its two halves
