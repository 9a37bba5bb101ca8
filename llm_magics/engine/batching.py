"""Length-sorted batches under a token budget: rows of similar length share a batch, so little
compute goes to padding, and no batch is larger than the device can take."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["token_budget_batches"]


def token_budget_batches(
    lengths: Sequence[int], *, batch_tokens: int, max_rows: int, extra_tokens: int = 0
) -> list[np.ndarray]:
    """Split row indices into batches, longest rows first, each within ``batch_tokens``.

    A batch costs ``rows × (its longest row + extra_tokens)`` tokens, padding included;
    ``extra_tokens`` is what each row grows by (the generation budget). A row longer than the budget
    gets a batch of its own. Longest first means memory trouble shows in the first batch, not the
    last; callers restore input order from the indices.

    Examples
    --------
    >>> [b.tolist() for b in token_budget_batches([3, 9, 1, 7], batch_tokens=20, max_rows=8)]
    [[1, 3], [0, 2]]
    >>> [b.tolist() for b in token_budget_batches([3, 9, 1, 7], batch_tokens=100, max_rows=3)]
    [[1, 3, 0], [2]]
    """
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    batches, start = [], 0
    while start < len(order):
        width = int(lengths[order[start]]) + extra_tokens
        rows = max(1, min(max_rows, batch_tokens // max(width, 1)))
        batches.append(order[start : start + rows])
        start += rows
    return batches
