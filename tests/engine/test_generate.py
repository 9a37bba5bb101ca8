from __future__ import annotations

import importlib

import pytest

from llm_magics.engine import generate, runner
from llm_magics.engine.jobs import Job
from llm_magics.errors import InvalidArgumentError
from llm_magics.runtime.loading import LoadedModel
from llm_magics.runtime.manager import ModelManager

pytestmark = pytest.mark.slow

REVIEWS = [
    "Great coffee, strong and smooth. I order it every month.",
    "The box arrived crushed and half the cookies were broken. Very disappointed with the shipping.",
    "ok",
    "This tea is wonderful: fragrant, not bitter, and the tin keeps it fresh. My whole family loves it.",
]
PROMPTS = [f"Summarize this review in one sentence.\n\n{r}" for r in REVIEWS]


def _reference(chat: LoadedModel, prompt: str, max_new_tokens: int, answer: str = "") -> str:
    tokenizer = chat.tokenizer
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    inputs = tokenizer(text + answer, add_special_tokens=False, return_tensors="pt")
    output = chat.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(
        output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True
    ).strip()


def test_answer_mentions_the_subject_of_the_prompt(chat: LoadedModel) -> None:
    result = generate(
        [
            "What is the capital of France? Answer in one sentence.",
            "What color is the sky on a clear day?",
        ],
        max_new_tokens=24,
        cache=False,
        progress=False,
    )
    assert "Paris" in result.texts[0]
    assert "blue" in result.texts[1].lower()
    assert (result.generated_tokens > 0).all() and (result.generated_tokens <= 24).all()


def test_batched_engine_equals_transformers_generate_row_by_row(chat: LoadedModel) -> None:
    result = generate(PROMPTS, max_new_tokens=20, cache=False, progress=False)
    assert result.texts == [_reference(chat, p, 20) for p in PROMPTS]


def test_an_answer_prefix_is_continued_as_transformers_continues_it(chat: LoadedModel) -> None:
    result = generate(
        PROMPTS, max_new_tokens=12, answer_prefix="In short,", cache=False, progress=False
    )
    assert result.texts == [_reference(chat, p, 12, answer="In short,") for p in PROMPTS]
    assert result.texts != generate(PROMPTS, max_new_tokens=12, progress=False).texts
    assert not any(t.startswith("In short") for t in result.texts)  # only the continuation
    assert result.provenance.parameters["answer_prefix"] == "In short,"


def test_shared_prefix_reuse_gives_identical_greedy_outputs(chat: LoadedModel) -> None:
    reused = generate(PROMPTS, max_new_tokens=20, cache=False, progress=False)
    plain = generate(PROMPTS, max_new_tokens=20, cache=False, progress=False, shared_prefix=False)
    assert reused.texts == plain.texts


def test_order_is_kept_and_duplicates_are_computed_once(chat: LoadedModel) -> None:
    prompts = [PROMPTS[3], PROMPTS[2], PROMPTS[3], PROMPTS[0], PROMPTS[2]]
    result = generate(prompts, max_new_tokens=12, cache=False, progress=False)
    alone = {
        p: generate([p], max_new_tokens=12, cache=False, progress=False).texts[0]
        for p in set(prompts)
    }
    assert result.texts == [alone[p] for p in prompts]
    assert (result.provenance.rows, result.provenance.unique_rows, result.provenance.computed) == (
        5,
        3,
        3,
    )


def test_second_run_comes_from_the_cache(chat: LoadedModel) -> None:
    first = generate(PROMPTS[:2], max_new_tokens=8, progress=False, seed=1)
    second = generate(PROMPTS[:2], max_new_tokens=8, progress=False, seed=1)
    assert second.texts == first.texts
    assert (second.provenance.cache_hits, second.provenance.computed) == (2, 0)
    assert list(second.generated_tokens) == list(first.generated_tokens)


def test_stop_strings_cut_the_answer(chat: LoadedModel) -> None:
    full = generate(
        ["What is the capital of France? Answer in one sentence."],
        max_new_tokens=16,
        progress=False,
    )
    cut = generate(
        ["What is the capital of France? Answer in one sentence."],
        max_new_tokens=16,
        progress=False,
        stop=["Paris"],
    )
    assert "Paris" in full.texts[0]
    assert cut.texts[0] == full.texts[0][: full.texts[0].index("Paris")]


def test_sampling_is_reproducible_with_a_seed(chat: LoadedModel) -> None:
    kwargs = {
        "max_new_tokens": 12,
        "temperature": 1.0,
        "top_p": 0.9,
        "cache": False,
        "progress": False,
    }
    assert (
        generate(PROMPTS[:2], seed=7, **kwargs).texts
        == generate(PROMPTS[:2], seed=7, **kwargs).texts
    )


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ({"max_new_tokens": 1.5}, "whole number of tokens"),
        ({"max_new_tokens": 0}, "at least 1"),
        ({"temperature": -1.0}, "0 \\(greedy\\) or more"),
        ({"top_p": 0.0}, "top_p must be in"),
    ],
)
def test_bad_generation_settings_are_refused_in_one_line(
    chat: LoadedModel, argument: dict, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        generate(["Hi"], progress=False, **argument)


def test_empty_and_non_ascii_inputs(chat: LoadedModel) -> None:
    empty = generate([], progress=False)
    assert empty.texts == [] and empty.prompt_tokens.shape == (0,)
    result = generate(
        ["Translate to English: café crème, très bon ☕ 日本"], max_new_tokens=8, progress=False
    )
    assert len(result.texts) == 1 and result.texts[0]


def test_an_answer_cut_inside_a_character_ends_before_it(chat: LoadedModel) -> None:
    # Byte-level tokens spell an emoji in pieces; a token budget can stop after the first ones.
    ids = chat.tokenizer.encode("Lovely tea 🍵", add_special_tokens=False)
    cut = ids[:-1]
    assert chat.tokenizer.decode(cut).endswith("\ufffd")  # what the model's tokens decode to
    generate_module = importlib.import_module("llm_magics.engine.generate")
    assert generate_module._answers(chat.tokenizer, [cut, ids]) == [
        {"text": "Lovely tea", "tokens": len(cut)},
        {"text": "Lovely tea 🍵", "tokens": len(ids)},
    ]


def test_allowed_tokens_restrict_every_generated_token(chat: LoadedModel) -> None:
    prompts = ["How much did it cost? Answer with a number.\n\nI paid $12.99 for it."]
    out = generate(prompts, max_new_tokens=6, allowed_tokens=r" ?[0-9.,-]+", progress=False)
    assert out.texts[0] and all(c in "0123456789.,- " for c in out.texts[0])
    assert out.provenance.parameters["allowed_tokens"] == r" ?[0-9.,-]+"


def test_a_pattern_no_token_matches_is_refused(chat: LoadedModel) -> None:
    with pytest.raises(InvalidArgumentError, match="No token of this model matches"):
        generate(["x"], max_new_tokens=2, allowed_tokens=r"\u2603{40}", progress=False)


def test_a_long_batch_reports_progress_before_it_ends(
    chat: LoadedModel, manager: ModelManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "BATCH_PROGRESS_INTERVAL", 0.0)
    seen: list[tuple[int, float]] = []

    def listen(job: Job) -> None:
        if job.primitive == "generate" and job.state == "running":
            seen.append((job.done, job.batch))

    remove = manager.add_job_listener(listen)
    try:
        result = generate(PROMPTS, max_new_tokens=24, batch_tokens=4096, cache=False)
    finally:
        remove()
    assert result.provenance.rows == 4
    within = [batch for done, batch in seen if done == 0 and batch > 0]
    assert len(within) >= 10  # one batch of 4 rows: it moved at (nearly) every decoding step
    assert within == sorted(within) and within[-1] <= 4
    assert seen[-1] == (4, 0.0)  # the batch's rows counted once, when it ended
