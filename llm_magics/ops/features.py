"""``features``: numeric columns from text, ready for scikit-learn.

``TextFeatures`` is a scikit-learn transformer, so a mining pipeline fits it on the training rows
only (the embedding PCA, the topic clusters and the keyword vocabulary) and applies it to new rows;
``features()`` fits and transforms one frame in one call. Kinds:

- ``stats``: characters, words, punctuation marks, upper-case share of letters, digits;
- ``sentiment``: the ``sentiment`` op's score in [-1, 1];
- ``topics``: one-hot topic of k-means clusters of the embeddings (k by silhouette when not given);
- ``keywords``: 0/1 for each of the most frequent KeyBERT keywords of the training rows;
- ``embedding``: the embeddings reduced by PCA.

Rows without text get NaN in every feature (the mining pipeline imputes them).
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from llm_magics.engine import embed as embed_texts
from llm_magics.errors import InvalidArgumentError, did_you_mean
from llm_magics.ops.base import (
    TextColumn,
    looks_like_text,
    operation,
    record_provenance,
    resolve_column,
)
from llm_magics.ops.spec import Bound, OpSpec, Uses

__all__ = ["FEATURE_KINDS", "SPEC", "TextFeatures", "features"]

FEATURE_KINDS = ("stats", "sentiment", "topics", "keywords", "embedding")
_PUNCTUATION = set(string.punctuation)


def _stats(texts: Sequence[str]) -> np.ndarray:
    rows = []
    for text in texts:
        letters = sum(c.isalpha() for c in text)
        rows.append(
            [
                len(text),
                len(text.split()),
                sum(c in _PUNCTUATION for c in text),
                sum(c.isupper() for c in text) / letters if letters else 0.0,
                sum(c.isdigit() for c in text),
            ]
        )
    return np.array(rows, dtype=np.float64).reshape(len(texts), 5)


def _names(
    prefix: str, kinds: Sequence[str], topics: int = 0, keywords: Sequence[str] = (), dims: int = 0
) -> list[str]:
    names: list[str] = []
    for kind in kinds:
        if kind == "stats":
            names += [
                f"{prefix}_{s}" for s in ("chars", "words", "punctuation", "upper_share", "digits")
            ]
        elif kind == "sentiment":
            names.append(f"{prefix}_sentiment")
        elif kind == "topics":
            names += [f"{prefix}_topic_{i}" for i in range(topics)]
        elif kind == "keywords":
            names += [f"{prefix}_kw_{w.replace(' ', '_')}" for w in keywords]
        else:
            names += [f"{prefix}_emb_{i}" for i in range(dims)]
    return names


class TextFeatures(TransformerMixin, BaseEstimator):
    """Numeric features of one text column; fit on training rows, transform any rows.

    Parameters
    ----------
    kinds
        Which features (see the module docs); all by default.
    embedding_dims
        PCA components kept of the embeddings.
    topics_k
        The number of topic clusters (``None``: chosen by silhouette, 2 to 12).
    keyword_features
        How many of the most frequent keywords become indicator columns.
    seed
        For PCA and k-means.
    model, chat_model
        The embedding model and the chat model (for sentiment).
    finetuned
        A classifier from ``finetune``: its class probabilities become features too.
    progress, cache
        Engine settings.
    """

    def __init__(
        self,
        kinds: Sequence[str] = FEATURE_KINDS,
        *,
        embedding_dims: int = 8,
        topics_k: int | None = None,
        keyword_features: int = 20,
        seed: int = 0,
        model: str | None = None,
        chat_model: str | None = None,
        finetuned: str | None = None,
        progress: bool = True,
        cache: bool = True,
    ) -> None:
        self.kinds = kinds
        self.finetuned = finetuned
        self.embedding_dims = embedding_dims
        self.topics_k = topics_k
        self.keyword_features = keyword_features
        self.seed = seed
        self.model = model
        self.chat_model = chat_model
        self.progress = progress
        self.cache = cache

    def _column(self, X: Any) -> TextColumn:
        if isinstance(X, pd.DataFrame):
            if X.shape[1] != 1:
                msg = f"TextFeatures works on one text column; got {X.shape[1]} columns."
                raise InvalidArgumentError(msg)
            X = X.iloc[:, 0]
        elif not isinstance(X, pd.Series):
            X = pd.Series(np.asarray(X, dtype=object).ravel())
        return TextColumn.of(X, "features")

    def _check_kinds(self) -> list[str]:
        kinds = [self.kinds] if isinstance(self.kinds, str) else list(self.kinds)
        for kind in kinds:
            if kind not in FEATURE_KINDS:
                msg = f"Unknown feature kind {kind!r}.{did_you_mean(kind, FEATURE_KINDS)} Kinds: {', '.join(FEATURE_KINDS)}."
                raise InvalidArgumentError(msg)
        return kinds

    def _finetuned(self, texts: list[str]) -> Any:
        from llm_magics.engine.predict import predict

        return predict(texts, model=self.finetuned, progress=self.progress, cache=self.cache)

    def _embed(self, texts: list[str]) -> np.ndarray:
        return embed_texts(
            texts, model=self.model, progress=self.progress, cache=self.cache
        ).vectors

    def fit(self, X: Any, y: Any = None) -> TextFeatures:
        """Learn what each kind needs from the rows with text (``y`` is ignored).

        ``embedding`` fits a PCA, ``topics`` a KMeans, ``keywords`` keeps the most frequent
        keywords; with ``finetuned``, its classes become extra columns.
        """
        from sklearn.decomposition import PCA

        from llm_magics.ops.keywords import keywords
        from llm_magics.ops.topics import _choose_k

        kinds = self._check_kinds()
        column = self._column(X)
        self.name_ = column.name
        self.kinds_ = kinds
        texts = column.texts
        if not texts:
            msg = "TextFeatures.fit() needs at least one row with text."
            raise InvalidArgumentError(msg)
        vectors = self._embed(texts) if {"topics", "embedding"} & set(kinds) else None
        if "embedding" in kinds:
            dims = min(self.embedding_dims, len(texts), vectors.shape[1])
            self.pca_ = PCA(n_components=dims, random_state=self.seed).fit(vectors)
        if "topics" in kinds:
            from sklearn.cluster import KMeans

            asked = None if self.topics_k is None else min(self.topics_k, len(texts))
            _, k, _ = _choose_k(vectors, asked, self.seed)
            self.kmeans_ = KMeans(n_clusters=k, random_state=self.seed, n_init=10).fit(vectors)
        if "keywords" in kinds:
            found = keywords(
                pd.Series(texts), model=self.model, progress=self.progress, cache=self.cache
            )
            counts = Counter(w for words in found.dropna() for w in words)
            self.keywords_ = [w for w, _ in counts.most_common(self.keyword_features)]
        self.feature_names_ = _names(
            self.name_,
            kinds,
            topics=self.kmeans_.n_clusters if "topics" in kinds else 0,
            keywords=self.keywords_ if "keywords" in kinds else (),
            dims=self.pca_.n_components_ if "embedding" in kinds else 0,
        )
        if self.finetuned is not None:
            self.classes_ = self._finetuned(texts).labels
            self.feature_names_ += [f"{self.name_}_ft_{c}" for c in self.classes_]
        return self

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The fitted output column names, in the order ``transform`` returns them."""
        return np.array(self.feature_names_, dtype=object)

    def transform(self, X: Any) -> pd.DataFrame:
        """The features of each row, ``[rows, len(feature_names_)]`` on ``X``'s index; NaN where no text."""
        from llm_magics.ops.sentiment import sentiment

        column = self._column(X)
        texts = column.texts
        blocks = []
        vectors = self._embed(texts) if {"topics", "embedding"} & set(self.kinds_) else None
        for kind in self.kinds_:
            if kind == "stats":
                blocks.append(_stats(texts))
            elif kind == "sentiment":
                scores = sentiment(
                    pd.Series(texts, dtype=object),
                    model=self.chat_model,
                    progress=self.progress,
                    cache=self.cache,
                )
                blocks.append(scores["sentiment_score"].to_numpy(dtype=np.float64)[:, None])
            elif kind == "topics":
                groups = self.kmeans_.predict(vectors) if texts else np.zeros(0, dtype=int)
                blocks.append(np.eye(self.kmeans_.n_clusters)[groups])
            elif kind == "keywords":
                lower = [t.lower() for t in texts]
                blocks.append(
                    np.array([[float(w in t) for w in self.keywords_] for t in lower]).reshape(
                        len(texts), len(self.keywords_)
                    )
                )
            else:
                blocks.append(
                    self.pca_.transform(vectors)
                    if texts
                    else np.zeros((0, self.pca_.n_components_))
                )
        if self.finetuned is not None:
            blocks.append(self._finetuned(texts).probs)
        values = np.hstack(blocks) if blocks else np.zeros((len(texts), 0))
        full = np.full((len(column.source), len(self.feature_names_)), np.nan)
        full[column.present] = values
        return pd.DataFrame(full, index=column.source.index, columns=self.feature_names_)


SPEC = OpSpec(
    name="features",
    uses=(
        Uses("embed", "embed"),
        Uses(
            "chat",
            "score",
            argument="chat_model",
            when=lambda options: "sentiment" in options.get("kinds", FEATURE_KINDS),
        ),
    ),
    prompts=("sentiment", "topic_label"),
    row_wise=False,
    input="frame",
    engine_arguments=("model", "progress", "cache"),
    example="features review                   # numeric text features, prefixed review_",
    result_name="features",
    bounds={
        "embedding_dims": Bound(1, whole=True, what="dimensions"),
        "topics_k": Bound(1, whole=True, what="topics", optional=True),
        "keyword_features": Bound(1, whole=True, what="keywords"),
    },
)


@operation(SPEC)
def features(
    frame: pd.DataFrame,
    cols: str | Sequence[str] | None = None,
    *,
    kinds: Sequence[str] = FEATURE_KINDS,
    embedding_dims: int = 8,
    topics_k: int | None = None,
    keyword_features: int = 20,
    seed: int = 0,
    chat_model: str | None = None,
    **engine: Any,
) -> pd.DataFrame:
    """Numeric features of text columns, prefixed with their column (see ``TextFeatures``).

    Parameters
    ----------
    frame
        The DataFrame (or a Series: its one column).
    cols
        The text column(s); ``None``: every column that holds text.
    kinds, embedding_dims, topics_k, keyword_features, seed, chat_model
        As for ``TextFeatures``; ``model`` is the embedding model.

    Returns
    -------
    pandas.DataFrame
        float64 features on the same index; tabular columns of ``frame`` are not included.
    """
    if isinstance(frame, pd.Series):
        frame = frame.to_frame(name="text" if frame.name is None else frame.name)
    if cols is None:
        cols = [c for c in frame.columns if looks_like_text(frame[c])]
        if not cols:
            msg = (
                f"No text column found; pass cols= (columns: {', '.join(map(str, frame.columns))})."
            )
            raise InvalidArgumentError(msg)
    names = [cols] if isinstance(cols, str) else list(cols)
    settings = {"kinds": list(kinds), "embedding_dims": embedding_dims, "seed": seed}
    if len(frame) == 0:  # nothing to fit topics or keywords on: the per-row features only
        empty = [k for k in kinds if k in ("stats", "sentiment")]
        columns = [n for c in names for n in _names(str(c), empty)]
        result = pd.DataFrame(index=frame.index, columns=columns, dtype="float64")
        record_provenance(result, "features", {"cols": names, **settings})
        return result
    parts = []
    for name in names:
        source = resolve_column(frame, name)
        parts.append(
            TextFeatures(
                kinds,
                embedding_dims=embedding_dims,
                topics_k=topics_k,
                keyword_features=keyword_features,
                seed=seed,
                chat_model=chat_model,
                **engine,
            ).fit_transform(source)
        )
    result = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)
    record_provenance(result, "features", {"cols": names, **settings})
    return result
