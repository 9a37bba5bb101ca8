from __future__ import annotations

import pytest

from llm_magics.engine import generate
from llm_magics.runtime.loading import LoadedModel


@pytest.mark.slow
def test_answer_mentions_the_subject_of_the_prompt(chat: LoadedModel) -> None:
    answers = generate(
        chat,
        [
            "What is the capital of France? Answer in one sentence.",
            "What color is the sky on a clear day?",
        ],
        max_new_tokens=24,
    )
    assert "Paris" in answers[0]
    assert "blue" in answers[1].lower()


@pytest.mark.slow
def test_batched_answers_equal_one_by_one_answers_in_input_order(chat: LoadedModel) -> None:
    prompts = [
        "Say hello.",
        "What is the capital of France? Answer in one sentence.",
        "Summarize in one sentence: the coffee arrived late, cold and the bag was torn open.",
    ]
    batched = generate(chat, prompts, max_new_tokens=16, batch_size=3)
    single = [generate(chat, [p], max_new_tokens=16)[0] for p in prompts]
    assert batched == single
