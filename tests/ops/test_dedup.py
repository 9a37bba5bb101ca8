"""``dedup`` on tiny real inputs with the default models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import llm_magics  # noqa: F401  (registers the accessors)
from llm_magics import ops
from llm_magics.errors import InvalidArgumentError
from llm_magics.ops.dedup import DEFAULT_THRESHOLD, candidate_pairs, normal_form
from llm_magics.ops.prompts import DEFAULT_PROMPTS
from llm_magics.runtime.manager import ModelManager

TITLES = [
    "Teacher",
    "Nurse",
    "teacher ",
    None,
    "Software engineer",
    "TEACHER",
    "   ",
    "Truck driver",
    "Teacher.",
    "nurse",
]


@pytest.fixture(scope="module")
def titles() -> pd.Series:
    return pd.Series(TITLES, index=pd.Index([f"r{i}" for i in range(10)][::-1]), name="job")


@pytest.fixture(scope="module")
def grouped(titles: pd.Series, manager: ModelManager, embedder: object) -> pd.DataFrame:
    return ops.dedup(titles, canonical=True, progress=False, manager=manager)


def test_variants_merge_and_different_jobs_stay_apart(grouped: pd.DataFrame) -> None:
    cluster = grouped["job_cluster"]
    assert cluster.dtype == "Int64"
    teacher = cluster.iloc[[0, 2, 5, 8]]
    assert teacher.nunique() == 1
    assert cluster.iloc[1] == cluster.iloc[9]  # Nurse, nurse
    jobs = cluster.iloc[[0, 1, 4, 7]]  # Teacher, Nurse, Software engineer, Truck driver
    assert jobs.nunique() == 4
    assert list(jobs) == [0, 1, 2, 3]  # ids in order of first appearance


def test_missing_rows_and_index(grouped: pd.DataFrame, titles: pd.Series) -> None:
    assert grouped.index.equals(titles.index)
    assert list(grouped.columns) == ["job_cluster", "job_canonical"]
    assert grouped["job_cluster"].isna().tolist() == [t is None or not t.strip() for t in TITLES]
    assert pd.isna(grouped["job_canonical"].iloc[3])


def test_canonical_is_the_most_frequent_spelling(grouped: pd.DataFrame) -> None:
    canonical = grouped["job_canonical"]
    # The form "teacher" (4 rows): its spellings once each, the first seen wins.
    assert set(canonical.iloc[[0, 2, 5, 8]]) == {"Teacher"}
    assert canonical.iloc[4] == "Software engineer"
    # Nurse and nurse once each: the tie goes to the first seen of the equally short ones.
    assert set(canonical.iloc[[1, 9]]) == {"Nurse"}


def test_provenance_counts_pairs(grouped: pd.DataFrame) -> None:
    info = grouped.attrs["llm_magics"]
    assert info["op"] == "dedup"
    assert info["distinct_texts"] == 4  # teacher, nurse, software engineer, truck driver
    assert info["all_pairs"] == 8 * 7 // 2
    assert 0 < info["candidate_pairs"] <= info["distinct_texts"] * 10
    assert info["clusters"] == 4
    assert info["parameters"]["threshold"] == DEFAULT_THRESHOLD["embed"]


def test_rerun_comes_from_the_cache(titles: pd.Series, grouped: pd.DataFrame) -> None:
    again = ops.dedup(titles, canonical=True, progress=False)
    pd.testing.assert_frame_equal(again, grouped)
    assert again.attrs["llm_magics"]["rows_computed"] == 0
    assert again.attrs["llm_magics"]["rows_from_cache"] == 4


def test_accessor_on_a_frame(titles: pd.Series, grouped: pd.DataFrame) -> None:
    frame = pd.DataFrame({"job": titles, "n": range(10)})
    result = frame.llm.dedup("job", progress=False)
    assert result["job_cluster"].equals(grouped["job_cluster"])
    assert "job_canonical" not in result


def test_llm_method_scores_only_candidate_pairs(manager: ModelManager, chat: object) -> None:
    texts = pd.Series(["Teacher", "teacher", "Sr. Accountant", "Senior Accountant", "Welder"])
    result = ops.dedup(texts, method="llm", progress=False)
    info = result.attrs["llm_magics"]
    assert result["text_cluster"].iloc[0] == result["text_cluster"].iloc[1]
    assert 0 < info["pairs_scored"] <= info["candidate_pairs"] <= 6
    assert "default-chat" in info["models"]
    assert info["parameters"]["floor"] == 0.7


def test_empty_and_all_missing() -> None:
    for texts in (pd.Series([], dtype=object, name="job"), pd.Series([None, " "], name="job")):
        result = ops.dedup(texts, canonical=True, progress=False)
        assert list(result.columns) == ["job_cluster", "job_canonical"]
        assert result["job_cluster"].dtype == "Int64"
        assert result["job_cluster"].isna().all()
        assert result.attrs["llm_magics"]["clusters"] == 0


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"method": "fuzzy"}, "method"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": 0}, "threshold"),
        ({"k": 0}, "k must"),
        ({"linkage": "complete"}, "linkage"),
        ({"floor": 2.0}, "floor"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], says: str) -> None:
    with pytest.raises(InvalidArgumentError, match=says):
        ops.dedup(pd.Series(["a"]), **kwargs)


def test_normal_form_and_candidate_pairs() -> None:
    assert normal_form("  Sr.  Nurse!! ") == "sr. nurse"
    vectors = np.eye(3, dtype=np.float32)[[0, 0, 1, 2]]
    pairs, similarity = candidate_pairs(vectors, 1)
    assert pairs.tolist()[0] == [0, 1]
    assert similarity[0] == pytest.approx(1.0)
    assert len(pairs) <= 4 * 1
    assert "dedup" in DEFAULT_PROMPTS


def test_centre_linkage_does_not_chain() -> None:
    from llm_magics.ops.dedup import _clusters

    chain = np.array([[0, 1], [1, 2], [2, 3]])  # A~B~C~D, A the most frequent
    similarity = np.array([0.9, 0.9, 0.9])
    counts = np.array([5.0, 1.0, 1.0, 1.0])
    assert len(set(_clusters(4, chain, similarity, counts, "single"))) == 1
    star = _clusters(4, chain, similarity, counts, "centre")
    assert star[0] == star[1] != star[2] == star[3]


def test_signs_grades_codes_and_versions_are_values_not_noise() -> None:
    """The normal form dropped every punctuation mark at both ends, so "-5 °C" merged with
    "5 °C" and "A+" with "A" without asking a model; and a cosine cannot tell "iPhone 12" from
    "iPhone 13". Only what is provably equal merges by rule; values that differ never merge on
    similarity alone, even at a low threshold."""
    texts = pd.Series([
        "Grade A+", "Grade A", "-5 °C", "5 °C", "iPhone 12", "iPhone 13",
        "version 2.1", "Version 2.1.", "Teacher", "TEACHER.", "C#", "C",
    ])  # fmt: skip
    result = texts.llm.dedup(threshold=0.5, canonical=True, progress=False)
    cluster = result.iloc[:, 0]
    same = lambda a, b: cluster.iloc[a] == cluster.iloc[b]  # noqa: E731
    for a, b in ((0, 1), (2, 3), (4, 5), (10, 11)):
        assert not same(a, b), (texts[a], texts[b])
    assert same(6, 7) and same(8, 9)
    canonical = result.iloc[:, 1]
    assert canonical[[0, 1, 2, 3, 4, 5]].tolist() == texts[[0, 1, 2, 3, 4, 5]].tolist()
