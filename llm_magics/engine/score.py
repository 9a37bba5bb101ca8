"""``score``: how likely each candidate continuation is after each prompt, with forward passes only.

Zero-shot classification and yes/no filters need a probability per label, not a generated string
to parse: every row gets a valid answer. The prompt is run once (after the shared prefix); the
first token of every candidate is read from its last logits, and multi-token candidates continue
from a copy of the prompt's cache, all candidates of a batch in one more forward pass.

Each candidate is scored as a complete answer: its tokens followed by the chat template's end of
the assistant's turn (``<|im_end|>``, ``<|eot_id|>`` ...; the end-of-sequence token without a
template). Without the end, a candidate that begins another ("4" and "4.5") would always score at
least as high as the longer one, since its tokens are a prefix of the other's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from llm_magics.engine.decoding import (
    PrefixReuse,
    SharedPrefix,
    prefill,
    prompt_rows,
)
from llm_magics.engine.models import batch_defaults, resolve_model
from llm_magics.engine.results import ScoreResult
from llm_magics.engine.runner import RowTask, run_rows
from llm_magics.errors import InvalidArgumentError
from llm_magics.runtime.loading import LoadedModel
from llm_magics.runtime.manager import ModelManager, get_manager

__all__ = ["answer_end", "score"]


def _candidate_logprobs(
    loaded: LoadedModel,
    rows: Sequence[Sequence[int]],
    prefix: SharedPrefix | None,
    candidates: list[list[int]],
) -> np.ndarray:
    """Summed log-probabilities, one row per prompt and one column per candidate."""
    state = prefill(loaded, rows, prefix)
    first = torch.tensor([c[0] for c in candidates], device=loaded.device)
    total = torch.log_softmax(state.logits, dim=-1)[:, first]  # [rows, candidates]
    width = max(len(c) for c in candidates) - 1
    if width == 0:
        return total.cpu().numpy()
    n_rows, n_cand = len(rows), len(candidates)
    # Feed each candidate's tokens but its last; the logits at each predict the following token.
    fed = torch.tensor(
        [c[:-1] + [c[0]] * (width - len(c) + 1) for c in candidates], device=loaded.device
    )
    targets = torch.tensor(
        [c[1:] + [0] * (width - len(c) + 1) for c in candidates], device=loaded.device
    )
    real = torch.tensor(
        [[1] * (len(c) - 1) + [0] * (width - len(c) + 1) for c in candidates], device=loaded.device
    )
    state.cache.batch_repeat_interleave(n_cand)
    mask = torch.cat(
        [state.attention_mask.repeat_interleave(n_cand, dim=0), real.repeat(n_rows, 1)], dim=1
    )
    positions = state.next_position.repeat_interleave(n_cand)[:, None] + torch.arange(
        width, device=loaded.device
    )
    out = loaded.model(
        input_ids=fed.repeat(n_rows, 1),
        attention_mask=mask,
        position_ids=positions,
        cache=state.cache,
        use_cache=True,
    )
    logprobs = torch.log_softmax(out.logits.float(), dim=-1)
    picked = logprobs.gather(-1, targets.repeat(n_rows, 1)[..., None]).squeeze(-1)
    rest = (picked * real.repeat(n_rows, 1)).sum(dim=1).view(n_rows, n_cand)
    return (total + rest).cpu().numpy()


_ANSWER = "\x00answer\x00"  # a stand-in answer that no template text contains


def answer_end(loaded: LoadedModel) -> str:
    """What the chat template writes after an answer to close the assistant's turn.

    Trailing whitespace is left out: it follows the end-of-turn token and says nothing more.
    Without a chat template, the end-of-sequence token; ``""`` when there is none.
    """
    tokenizer = loaded.tokenizer
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": "?"}, {"role": "assistant", "content": _ANSWER}],
            tokenize=False,
        )
        if _ANSWER in text:
            return text[text.rindex(_ANSWER) + len(_ANSWER) :].rstrip()
    return tokenizer.eos_token or ""


def score(
    prompts: Sequence[str],
    candidates: Sequence[str],
    *,
    model: str | LoadedModel | None = None,
    system: str | None = None,
    batch_tokens: int | None = None,
    shared_prefix: bool = True,
    cache: bool = True,
    progress: bool = True,
    manager: ModelManager | None = None,
) -> ScoreResult:
    """Log-probability of each candidate as the chat model's answer to each prompt.

    Parameters
    ----------
    prompts
        One user message per row; the model's chat template is applied.
    candidates
        The possible answers (labels), each one or more tokens long; each is scored as the
        whole answer, followed by the end of the assistant's turn.
    model, system, batch_tokens, shared_prefix, cache, progress
        As for ``generate``.

    Returns
    -------
    ScoreResult
        ``logprobs`` (rows × candidates, summed over each candidate's tokens and the end of the
        turn), ``probs`` (normalised over the candidates), ``best``, ``provenance``.

    Examples
    --------
    >>> score(["Is 'I love it' positive or negative?"], ["positive", "negative"]).best  # doctest: +SKIP
    ['positive']
    """
    labels = [str(c) for c in candidates]
    if len(labels) < 1 or len(set(labels)) != len(labels) or not all(labels):
        msg = f"candidates must be distinct non-empty strings, not {list(candidates)!r}."
        raise InvalidArgumentError(msg)
    manager = manager or get_manager()
    loaded = resolve_model(model, "chat", manager)
    end = answer_end(loaded)
    candidate_ids = [
        loaded.tokenizer(c + end, add_special_tokens=False)["input_ids"] for c in labels
    ]
    longest = max(len(c) for c in candidate_ids)
    prompts = [str(p) for p in prompts]
    rows = prompt_rows(
        loaded,
        prompts,
        system,
        reserve=longest,
        why="the model's context minus the longest candidate",
    )
    default_tokens, max_rows = batch_defaults(loaded, "score")
    reuse = PrefixReuse(loaded, rows, enabled=shared_prefix)

    def compute(indices: np.ndarray) -> list[list[float]]:
        with torch.inference_mode():
            values = _candidate_logprobs(
                loaded, [rows[i] for i in indices], reuse.prefix, candidate_ids
            )
        return values.tolist()

    task = RowTask(
        primitive="score",
        loaded=loaded,
        params={"system": system, "candidates": labels, "answer_end": end},
        items=prompts,
        lengths=[len(r) for r in rows],
        compute=compute,
        encode=lambda value: np.asarray(value, dtype=np.float64).tobytes(),
        decode=lambda raw: np.frombuffer(raw, dtype=np.float64).tolist(),
        batch_tokens=batch_tokens or default_tokens,
        max_rows=max_rows,
        extra_tokens=longest * len(labels),
    )
    values, provenance = run_rows(task, cache=cache, progress=progress, manager=manager)
    logprobs = np.array(values, dtype=np.float64).reshape(len(prompts), len(labels))
    return ScoreResult(logprobs=logprobs, candidates=labels, provenance=provenance)
