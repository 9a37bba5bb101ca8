"""``dedup``: which rows hold the same thing written differently (near duplicates, one entity).

The design is entity resolution's usual one (DocETL's ``resolve``, LOTUS's ``sem_dedup``): block,
then match, then cluster.

1. Texts equal after a normal form (``normal_form``: NFKC, casefolded, whitespace collapsed,
   sentence punctuation stripped at the end) are the same without asking a model, so "Teacher",
   "teacher " and "TEACHER." always merge and each distinct form is embedded (and scored) once.
   A sign, a grade's mark or a code's symbol is never dropped ("-5", "A+", "C#" are values), and
   ``method="embed"`` never merges two texts whose numbers or marks differ (``values_of``:
   "iPhone 12" and "iPhone 13" are close in any embedding).
2. Blocking: each distinct form's ``k`` nearest embedding neighbours (scikit-learn
   ``NearestNeighbors``, cosine, brute force in chunks of bounded memory) are its candidate pairs,
   so at most ``m·k`` pairs are judged for ``m`` distinct forms, never ``m(m-1)/2``.
3. Matching: ``method="embed"`` keeps a candidate pair whose cosine similarity is at least
   ``threshold``; ``method="llm"`` asks the chat model yes or no on each candidate pair whose
   similarity is at least ``floor`` (``ops.filter(method="llm")`` with the ``"dedup"`` prompt as
   its condition, so the pairs are scored like any row-wise op, cached, and on ``backend="ray"``
   when asked) and keeps those with P(yes) at least ``threshold``.
4. Clustering: connected components of the kept pairs (scipy's ``connected_components``,
   ``linkage="single"``) chain: A~B and B~C put A with C however far apart they are; on the
   10,000 loan titles at cosine 0.75 one component holds 5,923 rows. ``linkage="centre"`` (the
   default) makes star clusters instead, the CENTER algorithm of entity resolution
   (Hassanzadeh et al., VLDB 2009): the forms in order of frequency, a form that no earlier
   centre is paired with becomes a centre, and every other form joins the paired centre it is
   most similar to. Every member is then a kept pair with its cluster's centre, so no chain is
   longer than one step (largest cluster at 0.75: 281 rows).

Measured in ``bench/dedup.py`` (``bench/results/dedup.md``). On 1,200 perturbed real titles (300
``loans().emp_title`` sources, variants by case, spacing, typos, abbreviations) the adjusted Rand
index of ``method="embed"`` is 0.713 / 0.676 / 0.650 / 0.608 at cosine 0.70 / 0.80 / 0.85 / 0.90
(normal forms alone: 0.576); lower thresholds score better there because its sources are far
apart. On the 10,000 real titles, where different jobs sit close ("plant supervisor", "plant
manager"), a hand check of 100 merges at 0.85 found 75% the same job (62% of those at cosine
0.85-0.90, 97% above 0.90), so 0.85 is the default. With the 135M default chat model
``method="llm"`` adds little: on 400 of those titles its index at P(yes) ≥ 0.3 (0.771) is
the cosine floor's alone (0.7: 0.771), at 0.5 it is 0.636 against 0.622 for ``"embed"`` at
0.85, and scoring its pairs took 138 s on two CPU threads. Typos are the weak spot
of the small embedding model: 14% of single-typo variants are found.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from llm_magics.engine.results import Provenance
from llm_magics.errors import InvalidArgumentError
from llm_magics.ops.base import TextColumn, one_job, operation, record_provenance
from llm_magics.ops.embed import embed as embed_op
from llm_magics.ops.filter import filter as filter_op
from llm_magics.ops.pairs import BLOCKING_USES, USES_BY_METHOD, blocking_engine
from llm_magics.ops.prompts import get_prompt
from llm_magics.ops.spec import Bound, OpSpec

__all__ = ["DEFAULT_THRESHOLD", "SPEC", "dedup", "normal_form", "values_of"]

DEFAULT_THRESHOLD = {"embed": 0.85, "llm": 0.5}
"""The default ``threshold`` of each method (measured: ``bench/results/dedup.md``)."""

DEFAULT_FLOOR = 0.7
"""The cosine below which ``method="llm"`` does not score a candidate pair."""

# With the chat model's PromptEOL vectors (Chinese or German texts, ``ops.pairs``) every cosine
# is high: among 450 real reviews (150 each in English, Chinese and German) the nearest other
# review had cosine 0.90 at the median and 0.96 at most, while paraphrases of one complaint
# scored 0.98 (Chinese) and 0.94 (German). 0.97 merges no two of those reviews; 0.9 is the floor
# below which ``method="llm"`` asks nothing (it keeps the German paraphrase for the judge).
PROMPTED_THRESHOLD, PROMPTED_FLOOR = 0.97, 0.9

_LINKAGES = ("centre", "single")

SPEC = OpSpec(
    name="dedup",
    uses=BLOCKING_USES,
    by_method=USES_BY_METHOD,
    outputs=("{column}_cluster", "{column}_canonical"),
    prompts=("dedup",),
    row_wise=False,
    example="dedup emp_title -> title_group",
    result_name="groups",
    note=lambda result: f"{result.iloc[:, 0].nunique()} clusters",
    cost="~ rows·k candidate pairs (k neighbours per row; a probe of few rows has fewer)",
    bounds={
        "k": Bound(1, whole=True, what="neighbours"),
        "threshold": Bound(0, 1, open_low=True, optional=True),
        "floor": Bound(-1, 1, optional=True),
        "linkage": Bound(choices=_LINKAGES),
    },
)


def normal_form(text: str) -> str:
    """``text`` NFKC-normalized, casefolded, whitespace collapsed, punctuation stripped at the ends.

    Texts with the same normal form are one cluster without asking a model.

    Examples
    --------
    >>> [normal_form(t) for t in ["Teacher", " teacher ", "TEACHER.", "Sr.  Nurse", "...", "A+", "-5"]]
    ['teacher', 'teacher', 'teacher', 'sr. nurse', '...', 'a+', '-5']
    """
    folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return folded.rstrip(_SENTENCE_END).rstrip() or folded


# What a normal form may drop: sentence punctuation at the end ("TEACHER." is "teacher"), never a
# sign, a grade's mark or a code's symbol ("-5", "A+", "C#", "#12" keep theirs: they are the
# value). Dropping every punctuation mark at both ends merged "-5" with "5" and "A+" with "A"
# without asking any model.
_SENTENCE_END = ".!?,;:\u2026\u3002\u3001 "  # NFKC has made fullwidth marks ASCII already
_NUMBER = re.compile(r"(?<![\w.])[-+\u2212]?\d+(?:[.,]\d+)*|\d+(?:[.,]\d+)*")
_MARKED = re.compile(r"(?<!\w)[a-z][+#\-]+(?!\w)")


def values_of(text: str) -> tuple[str, ...]:
    """The numbers (with their signs) and marked grades or codes of a text, in order: two texts
    whose values differ are different things, however close their embeddings.

    Examples
    --------
    >>> values_of("iPhone 12"), values_of("-5 °C"), values_of("grade A+"), values_of("COVID-19")
    (('12',), ('-5',), ('a+',), ('19',))
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return tuple(_NUMBER.findall(folded)) + tuple(_MARKED.findall(folded))


@operation(SPEC)
def dedup(
    texts: pd.Series,
    *,
    method: str = "embed",
    threshold: float | None = None,
    k: int = 10,
    canonical: bool = False,
    chat_model: str | None = None,
    backend: Any = "local",
    floor: float | None = None,
    linkage: str = "centre",
    **engine: Any,
) -> pd.DataFrame:
    """Which rows are near duplicates or the same entity ("Teacher", "teacher ", "TEACHER").

    Parameters
    ----------
    texts
        The text column.
    method
        ``"embed"``: a candidate pair is the same when its cosine similarity is at least
        ``threshold``; ``"llm"``: the chat model's scored yes/no decides each candidate pair.
        Either way, texts with the same ``normal_form`` are one cluster without a model.
    threshold
        Cosine similarity (``"embed"``) or probability of "yes" (``"llm"``) from which a pair is
        the same; ``None``: the measured default of the method (``DEFAULT_THRESHOLD``: 0.85
        and 0.5).
    k
        Embedding neighbours per distinct text that become candidate pairs.
    canonical
        Add ``<column>_canonical``: each cluster's chosen text, the most frequent spelling
        (stripped of surrounding spaces) of its most frequent normal form, which is the centre
        of a ``linkage="centre"`` cluster; ties go to the first seen.
    chat_model
        The chat model of ``method="llm"``.
    backend
        Where the embeddings and pair scores are computed (``"local"`` or ``"ray"``).
    floor
        Cosine similarity below which ``method="llm"`` does not score a candidate pair (they are
        different); ``None``: 0.7.
    linkage
        ``"centre"``: star clusters, each member a kept pair with its cluster's centre, the most
        frequent form (no chaining); ``"single"``: every connected component of kept pairs is
        one cluster (chains: A~B~C merges A and C).

    Returns
    -------
    pandas.DataFrame
        On the same index: ``<column>_cluster`` (Int64: rows with the same id are one cluster;
        ids number clusters in order of first appearance; missing texts give ``<NA>``) and, with
        ``canonical=True``, ``<column>_canonical`` (object). ``attrs["llm_magics"]`` adds
        ``distinct_texts``, ``candidate_pairs`` (pairs the blocking proposed), ``pairs_scored``
        (pairs the chat model judged), ``all_pairs`` (n(n-1)/2 over the rows with text) and
        ``clusters``.

    Raises
    ------
    InvalidArgumentError
        For a ``method``, ``threshold``, ``floor``, ``k`` or ``linkage`` out of range.

    Examples
    --------
    >>> titles = pd.Series(["Teacher", "teacher ", "Nurse", "TEACHER.", None, "RN",
    ...                     "Registered nurse", "Sr. Accountant", "senior accountant"], name="job")
    >>> dedup(titles, canonical=True)  # doctest: +SKIP
       job_cluster      job_canonical
    0            0            Teacher
    1            0            Teacher
    2            1              Nurse
    3            0            Teacher
    4         <NA>                NaN
    5            2                 RN
    6            3   Registered nurse
    7            4     Sr. Accountant
    8            5  senior accountant

    At cosine 0.75 the accountants merge, and so do "Nurse" and "Registered nurse" (as would,
    on real data, some different jobs: see the module docs):

    >>> dedup(titles, threshold=0.75)["job_cluster"].tolist()  # doctest: +SKIP
    [0, 0, 1, 0, <NA>, 2, 1, 3, 3]
    """
    asked = threshold, floor
    threshold, floor = _checked(method, threshold, floor)
    column = TextColumn.of(texts, "dedup")
    blocking = blocking_engine(column.texts, engine)
    if blocking is not engine:  # the chat model's vectors: their own defaults
        if method == "embed" and asked[0] is None:
            threshold = PROMPTED_THRESHOLD
        if asked[1] is None:
            floor = PROMPTED_FLOOR
    with one_job("dedup", texts, engine.get("manager")):
        forms = [normal_form(t) for t in column.texts]
        distinct = list(dict.fromkeys(forms))
        position = {f: i for i, f in enumerate(distinct)}
        of_row = np.array([position[f] for f in forms], dtype=int)
        shown = _shown_forms(column.texts, of_row, len(distinct))
        counts = np.bincount(of_row, minlength=len(distinct)).astype(float)
        vectors, steps = _vectors(shown, backend, blocking)
        pairs, similarity = candidate_pairs(vectors, k)
        kept, scored, more = _matched(
            method, pairs, similarity, shown, threshold, floor, chat_model, backend, engine
        )
        labels = _clusters(len(distinct), pairs[kept], similarity[kept], counts, linkage)
    ids = _first_seen_ids(labels[of_row]) if len(of_row) else np.zeros(0, int)
    name = column.name
    columns: dict[str, tuple[Any, str]] = {f"{name}_cluster": (ids, "Int64")}
    if canonical:
        chosen = _canonical(shown, of_row, ids, counts)
        columns[f"{name}_canonical"] = ([chosen[i] for i in ids], "object")
    result = column.frame(columns)
    parameters = {
        "method": method,
        "threshold": threshold,
        "k": k,
        "floor": floor,
        "linkage": linkage,
        "canonical": canonical,
    }
    record_provenance(result, "dedup", parameters, steps + more)
    n = len(column.texts)
    result.attrs["llm_magics"] |= {
        "distinct_texts": len(distinct),
        "candidate_pairs": len(pairs),
        "pairs_scored": scored,
        "all_pairs": n * (n - 1) // 2,
        "clusters": len(np.unique(ids)),
    }
    return result


def _checked(method: str, threshold: float | None, floor: float | None) -> tuple[float, float]:
    """The threshold and floor to use (``SPEC.bounds`` has checked their ranges)."""
    if method not in DEFAULT_THRESHOLD:
        msg = f"method must be 'embed' or 'llm', not {method!r}."
        raise InvalidArgumentError(msg)
    threshold = DEFAULT_THRESHOLD[method] if threshold is None else threshold
    floor = DEFAULT_FLOOR if floor is None else floor
    return float(threshold), float(floor)


def _shown_forms(texts: list[str], of_row: np.ndarray, m: int) -> list[str]:
    """Each distinct form as a model sees it: its most frequent raw spelling, stripped."""
    spellings: list[Counter[str]] = [Counter() for _ in range(m)]
    for text, form in zip(texts, of_row, strict=True):
        spellings[form][text.strip()] += 1
    return [c.most_common(1)[0][0] for c in spellings]


def _steps_of(result: pd.DataFrame | pd.Series) -> list[Provenance]:
    return [Provenance(**s) for s in result.attrs.get("llm_magics", {}).get("steps", [])]


def _vectors(
    shown: list[str], backend: Any, engine: dict[str, Any]
) -> tuple[np.ndarray, list[Provenance]]:
    """Unit vectors of the distinct forms (through ``ops.embed``, so on ``backend``)."""
    if not shown:
        return np.zeros((0, 1), np.float32), []
    frame = embed_op(pd.Series(shown, dtype=object), backend=backend, **engine)
    return frame.to_numpy(dtype=np.float32), _steps_of(frame)


def candidate_pairs(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs ``(i, j)``, ``i < j``, where one is among the other's ``k`` nearest neighbours.

    ``vectors`` are unit rows (m × d, float32). Returns the pairs (p × 2, int) and their cosine
    similarities (p, float64); p ≤ m·k. scikit-learn's brute-force search computes the distances
    in chunks of at most ``sklearn.get_config()["working_memory"]`` MiB.
    """
    m = len(vectors)
    if m < 2:
        return np.zeros((0, 2), int), np.zeros(0)
    from sklearn.neighbors import NearestNeighbors

    nearest = NearestNeighbors(n_neighbors=min(k + 1, m), metric="cosine", algorithm="brute")
    distance, neighbour = nearest.fit(vectors).kneighbors(vectors)
    rows = np.repeat(np.arange(m), neighbour.shape[1])
    cols = neighbour.ravel()
    other = rows != cols  # a form is its own neighbour (not always first: equal vectors tie)
    low, high = np.minimum(rows, cols)[other], np.maximum(rows, cols)[other]
    keys, first = np.unique(low * m + high, return_index=True)
    similarity = 1.0 - distance.ravel()[other][first]
    return np.column_stack([keys // m, keys % m]), similarity.astype(np.float64)


def _matched(
    method: str,
    pairs: np.ndarray,
    similarity: np.ndarray,
    shown: list[str],
    threshold: float,
    floor: float,
    chat_model: str | None,
    backend: Any,
    engine: dict[str, Any],
) -> tuple[np.ndarray, int, list[Provenance]]:
    """Which candidate pairs are the same (bool per pair), how many the chat model scored, and
    the provenance of its call."""
    if method == "embed":
        # A cosine cannot tell "iPhone 12" from "iPhone 13" or "-5" from "5": pairs whose values
        # differ are never merged on similarity alone (the chat model, method="llm", reads them).
        values = [values_of(text) for text in shown]  # once per form, not once per pair
        same = np.array([values[a] == values[b] for a, b in pairs], bool)
        return (similarity >= threshold) & same, 0, []
    asked = np.flatnonzero(similarity >= floor)
    kept = np.zeros(len(pairs), dtype=bool)
    if not len(asked):
        return kept, 0, []
    lines = pd.Series([f"{shown[a]}\n{shown[b]}" for a, b in pairs[asked]], dtype=object)
    chat = engine | {"model": chat_model}
    verdict = filter_op(
        lines, get_prompt("dedup"), method="llm", threshold=0.5, backend=backend, **chat
    )
    yes = np.asarray(verdict.attrs["llm_magics"]["probability"], dtype=float)
    kept[asked] = yes >= threshold
    return kept, len(asked), _steps_of(verdict)


def _components(m: int, edges: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(m, m))
    return connected_components(graph, directed=False)[1]


def _clusters(
    m: int, edges: np.ndarray, similarity: np.ndarray, counts: np.ndarray, linkage: str
) -> np.ndarray:
    """A cluster label per distinct form from the kept pairs and their cosines (module docs)."""
    if m == 0:
        return np.zeros(0, int)
    if linkage == "single" or not len(edges):
        return _components(m, edges)
    from scipy.sparse import coo_matrix

    both = np.concatenate([edges, edges[:, ::-1]])
    graph = coo_matrix((np.tile(similarity, 2), (both[:, 0], both[:, 1])), shape=(m, m)).tocsr()
    is_centre = np.zeros(m, dtype=bool)
    labels = np.arange(m)
    # The most frequent forms first (then the first seen): a form no centre links to is one.
    for form in np.lexsort((np.arange(m), -counts)):
        linked = graph.indices[graph.indptr[form] : graph.indptr[form + 1]]
        is_centre[form] = not is_centre[linked].any()
    for form in np.flatnonzero(~is_centre):
        start, end = graph.indptr[form], graph.indptr[form + 1]
        centres = is_centre[graph.indices[start:end]]
        labels[form] = graph.indices[start:end][centres][np.argmax(graph.data[start:end][centres])]
    return labels


def _first_seen_ids(labels: np.ndarray) -> np.ndarray:
    """``labels`` renumbered 0, 1, ... in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse]


def _canonical(
    shown: list[str], of_row: np.ndarray, ids: np.ndarray, counts: np.ndarray
) -> dict[int, str]:
    """Each cluster's text: the most frequent spelling of its most frequent form (the centre)."""
    cluster_of_form = np.empty(len(shown), dtype=int)
    cluster_of_form[of_row] = ids
    chosen: dict[int, str] = {}
    for form in np.lexsort((np.arange(len(shown)), -counts)):
        chosen.setdefault(int(cluster_of_form[form]), shown[form])
    return chosen
