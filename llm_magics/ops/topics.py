"""``topics``: group texts by meaning, describe each group, and place every row on a map.

Texts are embedded, clustered with scikit-learn's k-means (``k`` chosen by silhouette score when
not given), described by their class-based TF-IDF keywords (BERTopic's c-TF-IDF: a phrase's
frequency in a topic times ``log(1 + average words per topic / its frequency everywhere)``; phrases
found in every topic are left out), and named in a few words by the chat model. A name is kept
only if it looks like one (at most six words, sharing a word with the keywords, not a sentence
about the task); otherwise the top keywords are the name, and ``info["label_source"]`` says which.
Either name is a list of distinct phrases: repeats, phrases inside a longer one of the name, stop
words of the topic's language and stray commas are left out ("Laptop, New, Batteries, Batteries,"
becomes "Laptop, New, Batteries"). Keywords are words in each text's language, English, German or
Chinese (``llm_magics.ops.words``). Rows get 2-D coordinates from a PCA of the embeddings.
BERTopic itself would add UMAP, HDBSCAN and their compiled dependencies for the same steps; plain
k-means on normalised embeddings is deterministic with a seed and quick on a CPU.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from llm_magics.engine import embed as embed_texts
from llm_magics.engine import generate
from llm_magics.engine.results import Provenance
from llm_magics.errors import InvalidArgumentError, warn
from llm_magics.ops.base import TextColumn, operation, record_provenance
from llm_magics.ops.keywords import phrases
from llm_magics.ops.prompts import render
from llm_magics.ops.spec import Bound, OpSpec, Uses
from llm_magics.ops.words import HAN, Language, is_stop, language

__all__ = ["SPEC", "TopicModel", "class_tfidf", "topics"]

MAX_AUTO_K = 12
SILHOUETTE_SAMPLE = 2_000


@dataclass
class TopicModel:
    """Topics of a text column: which topic each row is in, and what each topic is about.

    Attributes
    ----------
    rows
        Per input row, on its index: ``topic`` (id, ``<NA>`` for missing text), ``topic_label``,
        and ``x``, ``y`` (2-D map coordinates).
    info
        Per topic: ``topic``, ``label``, ``size``, ``keywords`` (most distinctive first),
        ``label_source`` (``"model"``: named by the chat model; ``"keywords"``: its top keywords).
    silhouette
        The silhouette score of each ``k`` tried (one entry when ``k`` was given).
    """

    rows: pd.DataFrame
    info: pd.DataFrame
    k: int
    silhouette: dict[int, float]
    column: str
    seed: int
    provenance: list[Provenance] = field(default_factory=list, repr=False)

    @property
    def attrs(self) -> dict:
        """What computed the topics (``attrs["llm_magics"]``), as on every op's result."""
        return self.rows.attrs

    @property
    def topic(self) -> pd.Series:
        """The topic id of each row."""
        return self.rows["topic"]

    @property
    def label(self) -> pd.Series:
        """The topic label of each row."""
        return self.rows["topic_label"]

    def keywords(self, topic: int) -> list[str]:
        """The keywords of one topic."""
        return list(self.info.loc[self.info["topic"] == topic, "keywords"].iloc[0])

    def __repr__(self) -> str:
        lines = [
            f"TopicModel({self.column!r}: {self.k} topics, {self.rows['topic'].notna().sum()} rows)"
        ]
        for _, t in self.info.iterrows():
            lines.append(
                f"  {t['topic']}: {t['label']} ({t['size']} rows) — {', '.join(t['keywords'][:6])}"
            )
        return "\n".join(lines)

    def plot(self, kind: str = "map", texts: pd.Series | None = None) -> Any:
        """``"map"``: rows on the 2-D topic map (pass ``texts`` for text tooltips); ``"sizes"``."""
        from llm_magics import conveniences  # where a result's charts are found, late

        if kind not in ("map", "sizes"):
            msg = f"kind must be 'map' or 'sizes', not {kind!r}."
            raise InvalidArgumentError(msg)
        return conveniences.plot_topics(self, kind, texts)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td>{t['topic']}</td><td>{html.escape(str(t['label']))}</td><td>{t['size']}</td>"
            f"<td>{html.escape(', '.join(t['keywords'][:8]))}</td></tr>"
            for _, t in self.info.iterrows()
        )
        return (
            f"<b>{self.k} topics</b> in <code>{html.escape(self.column)}</code>"
            "<table><tr><th>topic</th><th>label</th><th>rows</th><th>keywords</th></tr>"
            f"{body}</table>"
        )


def class_tfidf(documents: Sequence[str], groups: np.ndarray, top: int = 10) -> list[list[str]]:
    """The ``top`` most distinctive phrases of each group (ids 0..n-1), by c-TF-IDF.

    Examples
    --------
    >>> docs = ["green tea leaves", "green tea taste", "dark roast coffee", "coffee beans roast"]
    >>> class_tfidf(docs, np.array([0, 0, 1, 1]), top=2)
    [['green', 'green tea'], ['coffee', 'roast']]
    """
    from sklearn.feature_extraction.text import CountVectorizer

    count = CountVectorizer(analyzer=lambda t: list(phrases(t, (1, 2))))
    try:
        matrix = count.fit_transform(documents)
    except ValueError:  # no phrase anywhere
        return [[] for _ in range(int(groups.max()) + 1)]
    words = count.get_feature_names_out()
    n_groups = int(groups.max()) + 1
    per_group = np.vstack(
        [np.asarray(matrix[groups == g].sum(axis=0)).ravel() for g in range(n_groups)]
    ).astype(float)
    frequency = per_group.sum(axis=0)
    average = per_group.sum() / n_groups
    weight = (per_group / np.maximum(per_group.sum(axis=1, keepdims=True), 1)) * np.log(
        1 + average / np.maximum(frequency, 1)
    )
    if n_groups > 1:  # a phrase of every topic ("good", "like") tells none of them apart
        weight[:, (per_group > 0).all(axis=0)] = 0
    top_ids = np.argsort(-weight, axis=1, kind="stable")[:, :top]
    return [[words[i] for i in row if weight[g, i] > 0] for g, row in enumerate(top_ids)]


def _languages(texts: Sequence[str], groups: np.ndarray) -> list[Language]:
    """The language of each topic (ids 0..n-1): the most common of its texts' (ties: first met)."""
    counts: list[Counter[Language]] = [Counter() for _ in range(int(groups.max()) + 1)]
    for text, group in zip(texts, groups, strict=True):
        counts[group][language(text)] += 1
    return [count.most_common(1)[0][0] for count in counts]


def _choose_k(
    vectors: np.ndarray, k: int | None, seed: int
) -> tuple[np.ndarray, int, dict[int, float]]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    # k-means cannot make more groups than there are distinct points: repeated answers ("No
    # comment" x 3) are one point however many rows hold them.
    distinct = len(np.unique(vectors, axis=0))
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            msg = f"k must be a whole number of topics, at least 1, not {k!r}."
            raise InvalidArgumentError(msg)
        if k > distinct:
            warn(
                f"topics(): k={k} but the texts hold only {distinct} distinct text(s); "
                f"found {distinct} topic(s) instead. Pass k={distinct} or fewer, or leave k out."
            )
            k = distinct
        candidates = [int(k)]
    else:
        candidates = list(range(2, min(MAX_AUTO_K, distinct, n - 1) + 1)) or [1]
    scores, fits = {}, {}
    for c in candidates:
        groups = KMeans(n_clusters=c, random_state=seed, n_init=10).fit_predict(vectors)
        fits[c] = groups
        if 1 < c < n and len(set(groups)) > 1:
            scores[c] = float(
                silhouette_score(
                    vectors, groups, sample_size=min(n, SILHOUETTE_SAMPLE), random_state=seed
                )
            )
    best = candidates[0] if k is not None or not scores else max(scores, key=scores.__getitem__)
    groups = _by_size(fits[best])
    return groups, int(groups.max()) + 1, scores


def _by_size(groups: np.ndarray) -> np.ndarray:
    """Renumber groups so topic 0 is the largest (ties by first appearance)."""
    ids, counts = np.unique(groups, return_counts=True)
    order = ids[np.argsort(-counts, kind="stable")]
    mapping = {int(old): new for new, old in enumerate(order)}
    return np.array([mapping[int(g)] for g in groups])


_NOT_A_NAME = ("sorry", "here's", "here is", "topic", "keyword", "i'm", "as an ai")


def _name(phrases: Sequence[str], lang: Language | None, most: int | None = None) -> str:
    """Distinct phrases joined by commas: no repeats, none inside a longer one, at most ``most``.

    A phrase inside a longer one of the name gives way to it, in the place of the first such.
    With a language, phrases made only of its stop words are left out (keywords have none
    already, except a topic's whose texts are only stop words: "None", "Other").

    Examples
    --------
    >>> _name(["green", "green tea", "tea", "coffee", "Coffee"], None)
    'green tea, coffee'
    >>> _name(["Ich", "das", "Drucker", "druckt", "Drucker druckt"], "de")
    'Drucker druckt'
    >>> _name(["包装", "包装破损", "客服", "非常"], "zh", most=2)
    '包装破损, 客服'
    """
    chosen: list[str] = []
    for phrase in (p.strip(" \"'*.,;#-") for p in phrases):
        if not phrase or (lang and all(is_stop(w, lang) for w in phrase.lower().split())):
            continue
        if any(_inside(phrase, kept) for kept in chosen):
            continue
        inner = [i for i, kept in enumerate(chosen) if _inside(kept, phrase)]
        if inner:
            chosen = [kept for i, kept in enumerate(chosen) if i not in inner[1:]]
            chosen[inner[0]] = phrase
        elif most is None or len(chosen) < most:
            chosen.append(phrase)
    return ", ".join(chosen)


def _inside(short: str, long: str) -> bool:
    """Whether ``short`` is ``long`` or a run of its words (of its characters, in Chinese)."""
    short, long = short.lower(), long.lower()
    return short in long if HAN.search(short) else f" {short} " in f" {long} "


def _topic_name(answer: str, keywords: Sequence[str], lang: Language = "en") -> str | None:
    """The chat model's answer as a topic name, or None when it does not look like one."""
    line = answer.strip().splitlines()[0] if answer.strip() else ""
    line = _name(line.split(":")[0].split(","), lang)
    words = line.replace(",", " ").split()
    vocabulary = {w for phrase in keywords for w in phrase.split()}
    if not 1 <= len(words) <= 6 or any(bad in line.lower() for bad in _NOT_A_NAME):
        return None
    shares = any(w.lower()[:5] in {v[:5] for v in vocabulary} for w in words) or any(
        HAN.search(v) and v in line for v in vocabulary
    )
    return line if shares else None


SPEC = OpSpec(
    name="topics",
    uses=(
        Uses("embed", "embed"),
        Uses(
            "chat",
            "generate",
            argument="chat_model",
            when=lambda options: bool(options.get("label", True)),
        ),
    ),
    outputs=("topic", "topic_label"),
    prompts=("topic_label",),
    row_wise=False,
    example="topics review  k=6                # adds topic, topic_label",
    result_name="topics",
    to_frame=lambda model: model.rows[["topic", "topic_label"]],
    note=lambda model: f"{model.k} topics",
    bounds={
        "k": Bound(1, whole=True, what="topics", optional=True),
    },
)


@operation(SPEC)
def topics(
    texts: pd.Series,
    *,
    k: int | None = None,
    seed: int = 0,
    label: bool = True,
    chat_model: str | None = None,
    **engine: Any,
) -> TopicModel:
    """Find the topics of a text column.

    Parameters
    ----------
    texts
        The text column.
    k
        The number of topics; ``None`` tries 2 to 12 and keeps the best silhouette score. A ``k``
        above the number of distinct texts finds one topic per distinct text, with a warning.
    seed
        The same seed gives the same topics.
    label
        Name each topic with the chat model (otherwise its top keywords are its name).
    chat_model
        The chat model that names topics (``model`` is the embedding model); it runs with the
        device's default ``batch_tokens``.

    Returns
    -------
    TopicModel
        ``rows`` (topic, label and map coordinates per row), ``info`` (per topic), ``silhouette``.
    """
    from sklearn.decomposition import PCA

    column = TextColumn.of(texts, "topics")
    naming = {k: engine[k] for k in ("progress", "cache", "manager")}
    steps: list[Provenance] = []
    n = len(column.texts)
    if n == 0:
        groups, chosen, scores, coords = np.zeros(0, dtype=int), 0, {}, np.zeros((0, 2))
        names: list[list[str]] = []
        langs: list[Language] = []
    else:
        out = embed_texts(column.texts, **engine)
        steps.append(out.provenance)
        groups, chosen, scores = _choose_k(out.vectors, k, seed)
        names = class_tfidf(column.texts, groups)
        langs = _languages(column.texts, groups)
        coords = np.zeros((n, 2))
        if n > 1:
            reduced = PCA(n_components=min(2, n), random_state=seed).fit_transform(out.vectors)
            coords[:, : reduced.shape[1]] = reduced
    labels = [_name(words[:8], None, most=3) or f"topic {i}" for i, words in enumerate(names)]
    sources = ["keywords"] * len(labels)
    if label and names:
        asked = generate(
            [render("topic_label", keywords=", ".join(words[:8])) for words in names],
            model=chat_model,
            max_new_tokens=12,
            **naming,
        )
        steps.append(asked.provenance)
        for i, answer in enumerate(asked.texts):
            name = _topic_name(answer, names[i][:8], langs[i])
            if name is not None:
                labels[i], sources[i] = name, "model"
    rows = column.frame(
        {
            "topic": (groups, "Int64"),
            "topic_label": ([labels[g] for g in groups], "object"),
            "x": (coords[:, 0], "float64"),
            "y": (coords[:, 1], "float64"),
        }
    )
    sizes = np.bincount(groups, minlength=chosen) if n else np.zeros(0, dtype=int)
    info = pd.DataFrame(
        {
            "topic": np.arange(chosen),
            "label": labels,
            "size": sizes,
            "keywords": names,
            "label_source": sources,
        }
    )
    record_provenance(rows, "topics", {"k": k, "seed": seed, "label": label}, steps)
    return TopicModel(
        rows=rows,
        info=info,
        k=chosen,
        silhouette=scores,
        column=column.name,
        seed=seed,
        provenance=steps,
    )
