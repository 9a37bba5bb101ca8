"""Greedy text generation with a chat model, in length-sorted left-padded batches."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from llm_magics.engine.batching import length_sorted_batches
from llm_magics.runtime.loading import LoadedModel

__all__ = ["generate"]


def _chat_prompts(loaded: LoadedModel, prompts: Sequence[str], system: str | None) -> list[str]:
    tokenizer = loaded.tokenizer
    head = [{"role": "system", "content": system}] if system else []
    if not getattr(tokenizer, "chat_template", None):
        return [f"{system}\n\n{p}" if system else p for p in prompts]
    return [
        tokenizer.apply_chat_template(
            [*head, {"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        for prompt in prompts
    ]


def generate(
    loaded: LoadedModel,
    prompts: Sequence[str],
    *,
    system: str | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 16,
) -> list[str]:
    """Answer each prompt with the chat model ``loaded``, greedily; answers come in input order.

    Examples
    --------
    >>> from llm_magics import get_manager
    >>> chat = get_manager().load("default-chat")                                 # doctest: +SKIP
    >>> generate(chat, ["What is the capital of France?"], max_new_tokens=12)    # doctest: +SKIP
    ['The capital of France is Paris.']
    """
    tokenizer, model = loaded.tokenizer, loaded.model
    texts = _chat_prompts(loaded, prompts, system)
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    answers: list[str] = [""] * len(texts)
    with torch.inference_mode():
        for rows in length_sorted_batches([len(ids) for ids in encoded], batch_size):
            batch = tokenizer.pad(
                {"input_ids": [encoded[i] for i in rows]}, return_tensors="pt", padding=True
            ).to(loaded.device)
            output = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
            new_tokens = output[:, batch["input_ids"].shape[1] :].cpu()
            for row, text in zip(
                rows, tokenizer.batch_decode(new_tokens, skip_special_tokens=True), strict=True
            ):
                answers[row] = text.strip()
    return answers
