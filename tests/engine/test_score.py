from __future__ import annotations

import numpy as np
import pytest
import torch

from llm_magics.engine import score
from llm_magics.engine.decoding import chat_token_ids
from llm_magics.engine.score import continuations
from llm_magics.runtime.loading import LoadedModel

pytestmark = pytest.mark.slow

QUESTION = "Is this review positive or negative? Answer with one word.\n\n"


def _brute_force(chat: LoadedModel, prompt: str, candidate: str) -> float:
    prompt_ids = chat_token_ids(chat, [prompt], None)[0]
    candidate_ids = chat.tokenizer(candidate, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = chat.model(torch.tensor([prompt_ids + candidate_ids])).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    start = len(prompt_ids) - 1
    return sum(logprobs[start + i, t].item() for i, t in enumerate(candidate_ids))


def test_multi_token_candidates_match_a_full_forward_pass(chat: LoadedModel) -> None:
    prompts = [QUESTION + "Loved it, will buy again.", QUESTION + "Stale and overpriced."]
    candidates = ["positive", "very negative", "not sure at all"]
    result = score(prompts, candidates, cache=False, progress=False)
    expected = np.array([[_brute_force(chat, p, c) for c in candidates] for p in prompts])
    assert result.logprobs.shape == (2, 3)
    assert np.allclose(result.logprobs, expected, atol=2e-3)


def test_a_candidate_is_scored_as_a_whole_answer(chat: LoadedModel) -> None:
    prompt = (
        "How many stars does this review give? Answer with the number.\n\nI rate this 4.5 stars."
    )
    ids = [chat.tokenizer(c, add_special_tokens=False)["input_ids"] for c in ("4", "4.5", "5")]
    assert continuations(ids) == [[ids[1][1]], [], []]  # "4.5" goes on from "4"
    scored = score([prompt], ["4", "4.5", "5"], cache=False, progress=False).logprobs[0]
    alone = score([prompt], ["4", "5"], cache=False, progress=False).logprobs[0]
    # Summing tokens alone, "4" (a prefix of "4.5") could never score below "4.5".
    assert scored[0] < scored[1] and scored[2] == pytest.approx(alone[1], abs=1e-4)
    # "4" and "4.5" share what "4" alone had: stopping there, or going on to ".5".
    assert np.exp(scored[0]) + np.exp(scored[1]) <= np.exp(alone[0]) + 1e-6


def test_probabilities_are_valid_for_every_row(chat: LoadedModel) -> None:
    reviews = [
        "Absolutely delicious, the best chips I have ever had!",
        "Disgusting. It tasted rotten and I threw it away.",
        "",
    ]
    result = score([QUESTION + r for r in reviews], ["positive", "negative"], progress=False)
    assert np.allclose(result.probs.sum(axis=1), 1.0)
    assert np.isfinite(result.logprobs).all()
    assert result.probs[0, 0] > result.probs[1, 0]  # the clearly positive review is more positive


def test_shared_prefix_does_not_change_scores(chat: LoadedModel) -> None:
    prompts = [
        QUESTION + r
        for r in ("Great value.", "Arrived broken, never again.", "It is fine I guess.")
    ]
    reused = score(prompts, ["positive", "negative"], cache=False, progress=False)
    plain = score(
        prompts, ["positive", "negative"], cache=False, progress=False, shared_prefix=False
    )
    assert np.allclose(reused.logprobs, plain.logprobs, atol=1e-4)


def test_cached_scores_round_trip_exactly(chat: LoadedModel) -> None:
    prompts = [QUESTION + "Crunchy and fresh."]
    first = score(prompts, ["yes", "no"], progress=False)
    second = score(prompts, ["yes", "no"], progress=False)
    assert second.provenance.cache_hits == 1
    assert np.array_equal(first.logprobs, second.logprobs)


@pytest.mark.parametrize("candidates", [[], ["yes", "yes"], ["yes", ""]])
def test_bad_candidates_are_refused(chat: LoadedModel, candidates: list[str]) -> None:
    from llm_magics.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="distinct non-empty"):
        score(["hi"], candidates, progress=False)


def test_empty_input(chat: LoadedModel) -> None:
    assert score([], ["yes", "no"], progress=False).logprobs.shape == (0, 2)
