"""``embed``: one numeric column per embedding dimension, optionally reduced with PCA."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from llm_magics.engine import embed as embed_texts
from llm_magics.ops.base import TextColumn, operation, record_provenance
from llm_magics.ops.spec import Bound, OpSpec, Uses

__all__ = ["SPEC", "embed", "reduce_dims", "vectors_frame"]


def reduce_dims(vectors: np.ndarray, dims: int, seed: int = 0) -> np.ndarray:
    """``vectors`` projected on their first ``dims`` principal components (scikit-learn PCA)."""
    from sklearn.decomposition import PCA

    if len(vectors) == 0:
        return np.zeros((0, dims), dtype=np.float32)
    keep = min(dims, len(vectors), vectors.shape[1])
    reduced = PCA(n_components=keep, random_state=seed).fit_transform(vectors)
    if keep < dims:  # fewer rows than dimensions asked for: the rest carry nothing
        reduced = np.hstack([reduced, np.zeros((len(vectors), dims - keep))])
    return reduced.astype(np.float32)


def vectors_frame(
    vectors: np.ndarray, present: np.ndarray, index: pd.Index, prefix: str
) -> pd.DataFrame:
    """``<prefix>_0`` ... on ``index``, float32: ``vectors`` at the ``present`` rows, NaN elsewhere."""
    full = np.full((len(index), vectors.shape[1]), np.nan, dtype=np.float32)
    full[present] = vectors
    return pd.DataFrame(
        full, index=index, columns=[f"{prefix}_{i}" for i in range(vectors.shape[1])]
    )


SPEC = OpSpec(
    name="embed",
    uses=(Uses("embed", "embed"),),
    outputs=("{column}_emb",),
    output_kind="prefix",
    example="embed review -> vec  dims=8",
    result_name="vectors",
    bounds={
        "dims": Bound(1, whole=True, what="dimensions", optional=True),
    },
)


@operation(SPEC)
def embed(
    texts: pd.Series,
    *,
    dims: int | None = None,
    normalize: bool = True,
    **engine: Any,
) -> pd.DataFrame:
    """Embed each text; ``dims`` reduces the vectors to that many principal components.

    Parameters
    ----------
    texts
        The text column.
    dims
        Reduce the vectors to this many principal components (fitted on all rows); ``None``
        keeps the model's width.
    normalize
        Scale each vector to length 1.

    Returns
    -------
    pandas.DataFrame
        ``<column>_emb_0`` ... on the same index, float32; missing texts give NaN rows.
    """
    column = TextColumn.of(texts, "embed")
    out = embed_texts(column.texts, normalize=normalize, **engine)
    vectors = out.vectors if dims is None else reduce_dims(out.vectors, dims)
    result = vectors_frame(vectors, column.present, column.source.index, f"{column.name}_emb")
    record_provenance(result, "embed", {"dims": dims, "normalize": normalize}, [out.provenance])
    return result
