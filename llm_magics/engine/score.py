"""``score``: how likely each candidate continuation is after each prompt, with forward passes only.

Zero-shot classification and yes/no filters need a probability per label, not a generated string
to parse: every row gets a valid answer. The prompt is run once (after the shared prefix); the
first token of every candidate is read from its last logits, and multi-token candidates continue
from a copy of the prompt's cache, all candidates of a batch in one more forward pass.

Each candidate is scored as a whole answer among the candidates: where a longer candidate begins
with its tokens ("4" and "4.5"), the answer must also stop there rather than go on into the longer
one, so its score adds log(1 - P(the next token of a longer candidate)). Summing a label's tokens
alone would score a prefix at least as high as every candidate it begins. (Appending the chat
template's end-of-turn token instead asks whether the model stops talking right after the label,
which a small model rarely does; on 36 star ratings it took calibrated accuracy from 0.86 to 0.19,
``bench/answer_end.py``.)
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
from llm_magics.engine.models import batch_defaults, load_for
from llm_magics.engine.results import ScoreResult
from llm_magics.engine.runner import RowTask, run_rows
from llm_magics.errors import InvalidArgumentError
from llm_magics.runtime.loading import LoadedModel
from llm_magics.runtime.manager import ModelManager

__all__ = ["continuations", "score"]


def continuations(candidates: Sequence[Sequence[int]]) -> list[list[int]]:
    """For each candidate, the next tokens of the longer candidates that begin with its tokens.

    Examples
    --------
    >>> continuations([[19], [19, 13, 20], [19, 14], [20]])  # "4", "4.5", "4,", "5"
    [[13, 14], [], [], []]
    """
    return [
        sorted({d[len(c)] for d in candidates if len(d) > len(c) and list(d[: len(c)]) == list(c)})
        for c in candidates
    ]


def _candidate_logprobs(
    loaded: LoadedModel,
    rows: Sequence[Sequence[int]],
    prefix: SharedPrefix | None,
    candidates: list[list[int]],
    following: list[list[int]],
) -> np.ndarray:
    """Log-probabilities, one row per prompt and one column per candidate (see the module docs)."""
    state = prefill(loaded, rows, prefix)
    first = torch.tensor([c[0] for c in candidates], device=loaded.device)
    total = torch.log_softmax(state.logits.float(), dim=-1)[:, first]  # [rows, candidates]
    # Feed each candidate's tokens but its last, whose logits predict the following token; and the
    # last too where a longer candidate goes on from it, to read what comes after it.
    fed_lengths = [len(c) - (not after) for c, after in zip(candidates, following, strict=True)]
    width = max(fed_lengths)
    if width == 0:
        return total.cpu().numpy()
    n_rows, n_cand = len(rows), len(candidates)
    fed = torch.tensor(
        [c[:n] + [c[0]] * (width - n) for c, n in zip(candidates, fed_lengths, strict=True)],
        device=loaded.device,
    )
    targets = torch.tensor(
        [(c[1:] + [0] * width)[:width] for c in candidates], device=loaded.device
    )
    real = torch.tensor(
        [([1] * (len(c) - 1) + [0] * width)[:width] for c in candidates], device=loaded.device
    )
    attended = torch.tensor(
        [[1] * n + [0] * (width - n) for n in fed_lengths], device=loaded.device
    )
    state.cache.batch_repeat_interleave(n_cand)
    mask = torch.cat(
        [state.attention_mask.repeat_interleave(n_cand, dim=0), attended.repeat(n_rows, 1)], dim=1
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
    logprobs = torch.log_softmax(out.logits.float(), dim=-1).view(n_rows, n_cand, width, -1)
    picked = logprobs.gather(-1, targets[None, :, :, None].expand(n_rows, -1, -1, 1)).squeeze(-1)
    rest = (picked * real[None]).sum(dim=2)
    for j, after in enumerate(following):
        if after:  # the answer stops here rather than going on into a longer candidate
            going_on = logprobs[:, j, len(candidates[j]) - 1, after].exp().sum(dim=-1)
            rest[:, j] += torch.log1p(-going_on.clamp(max=1 - 1e-7))
    return (total + rest).cpu().numpy()


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
        whole answer (see the module docs).
    model, system, shared_prefix
        As for ``generate``.
    batch_tokens, cache, progress, manager
        See ``llm_magics.engine`` (module docs).

    Returns
    -------
    ScoreResult
        ``logprobs`` (rows × candidates: each candidate's tokens, and its stopping where a
        longer candidate goes on), ``probs`` (normalised over the candidates), ``best``,
        ``provenance``.

    Examples
    --------
    >>> score(["Is 'I love it' positive or negative?"], ["positive", "negative"]).best  # doctest: +SKIP
    ['positive']
    """
    labels = [str(c) for c in candidates]
    if len(labels) < 1 or len(set(labels)) != len(labels) or not all(labels):
        msg = f"candidates must be distinct non-empty strings, not {list(candidates)!r}."
        raise InvalidArgumentError(msg)
    manager, handle = load_for(model, "chat", manager)
    candidate_ids = [handle.tokenizer(c, add_special_tokens=False)["input_ids"] for c in labels]
    following = continuations(candidate_ids)
    longest = max(len(c) for c in candidate_ids)
    prompts = [str(p) for p in prompts]
    rows = prompt_rows(
        handle,
        prompts,
        system,
        reserve=longest,
        why="the model's context minus the longest candidate",
    )
    default_tokens, max_rows = batch_defaults(handle, "score")
    reuse = PrefixReuse(handle, rows, enabled=shared_prefix)

    def compute(indices: np.ndarray) -> list[list[float]]:
        with torch.inference_mode():
            values = _candidate_logprobs(
                handle.load(), [rows[i] for i in indices], reuse.prefix, candidate_ids, following
            )
        return values.tolist()

    task = RowTask(
        primitive="score",
        loaded=handle,
        params={"system": system, "candidates": labels, "continuations": following},
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
