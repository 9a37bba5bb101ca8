"""Length-sorted batches: rows of similar length share a batch, so little compute goes to padding."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["length_sorted_batches"]


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[np.ndarray]:
    """Yield index arrays of at most ``batch_size`` rows, longest rows first.

    Longest first means the largest batch is met at once: memory trouble shows up in the first
    batch, not the last. Callers restore input order from the indices.

    Examples
    --------
    >>> [b.tolist() for b in length_sorted_batches([3, 9, 1, 7], 2)]
    [[1, 3], [0, 2]]
    """
    order = np.argsort(-np.asarray(lengths), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
