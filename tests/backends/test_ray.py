"""The Ray backend: the row-wise ops on a local Ray with 2 CPUs, started by the tests, against
the local engine.

Workers are kept between calls with the same settings, so the tests of this module share a pool
of 2 (its models loaded once, about 10 s here); a test that needs other workers releases them.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest

from llm_magics import get_config, get_manager, ops
from llm_magics.backends.ray import (
    RayBackend,
    RayEngine,
    _batch_rows,
    backend_of,
    kept_workers,
    release_workers,
    run_op,
    run_series,
)
from llm_magics.engine.models import default_max_rows
from llm_magics.errors import (
    InvalidArgumentError,
    MissingDependencyError,
    ModelNotFoundError,
    RunInterruptedError,
)
from llm_magics.ops.base import OPERATIONS, SPECS, row_ops
from llm_magics.plan.runner import run_mine

SCHEMA = {"product": str, "recommend": bool}
ARGUMENTS: dict[str, tuple[Any, ...]] = {
    "classify": (["taste", "price", "shipping"],),
    "extract": (SCHEMA,),
    "filter": ("the product arrived damaged",),
}
OPTIONS: dict[str, dict[str, Any]] = {"summarize": {"max_words": 8}}
TWO_WORKERS = RayBackend(actors=2, batch_rows=4)


def assert_same(local: pd.Series | pd.DataFrame, remote: pd.Series | pd.DataFrame) -> None:
    """Same type, index, names and dtypes; text, labels and lists equal; scores to 1e-5.

    Scores differ in the last float32 bits with which rows share a batch, as they do locally
    with another batch size.
    """
    assert type(remote) is type(local)
    pd.testing.assert_index_equal(remote.index, local.index)
    frame_l = local.to_frame() if isinstance(local, pd.Series) else local
    frame_r = remote.to_frame() if isinstance(remote, pd.Series) else remote
    assert list(frame_r.columns) == list(frame_l.columns)
    assert frame_r.dtypes.tolist() == frame_l.dtypes.tolist()
    for name in frame_l.columns:
        a, b = frame_l[name], frame_r[name]
        if pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(b.to_numpy(float), a.to_numpy(float), atol=1e-5)
        else:
            assert b.tolist() == a.tolist() or b.equals(a), name


@pytest.mark.slow
@pytest.mark.parametrize("op", row_ops())
def test_each_row_op_on_ray_matches_the_local_engine(
    ray_cluster: Any, reviews: pd.DataFrame, op: str
) -> None:
    texts = reviews["review"]  # 12 real reviews, one missing and one blank, shuffled index
    options = dict(OPTIONS.get(op, {}))
    if op != "clean":
        options |= {"cache": False, "progress": False}
    local = getattr(ops, op)(texts, *ARGUMENTS.get(op, ()), **options)
    remote = getattr(ops, op)(texts, *ARGUMENTS.get(op, ()), backend=TWO_WORKERS, **options)
    assert_same(local, remote)
    made = remote.attrs["llm_magics"]
    assert made["op"] == op
    assert made["parameters"]["backend"] == "ray"
    assert made["rows"] == len(texts)
    if op != "clean":  # 10 texts, computed once each by the workers, none from the cache
        assert made["rows_from_cache"] == 0
        assert made["models"] == local.attrs["llm_magics"]["models"]


def test_the_accessors_take_the_backend(ray_cluster: Any, reviews: pd.DataFrame) -> None:
    marked = reviews.assign(review=reviews["review"].radd("<b>") + "</b> me@example.com")
    remote = marked.llm.clean("review", backend=TWO_WORKERS)
    assert_same(marked.llm.clean("review"), remote)
    assert remote.loc[reviews.index[0]].endswith("[EMAIL]")
    job = get_manager().status()["jobs"][-1]
    assert (job["primitive"], job["state"], job["done"], job["total"]) == (
        "clean · ray",
        "done",
        11,
        11,
    )  # the rows with text, as the local engine counts them: all but the missing one


def test_rows_come_back_in_input_order(ray_cluster: Any) -> None:
    # Short and long rows in 30 batches over 2 workers: batches finish out of order.
    texts = pd.Series(
        [f"<p>row {i}</p>" + " filler" * (i % 17) * 20 for i in range(300)],
        index=np.random.default_rng(3).permutation(300) + 10_000,
        name="note",
    )
    remote = run_series("clean", texts, backend=RayBackend(actors=2, batch_rows=10))
    assert remote.index.tolist() == texts.index.tolist()
    assert [t.split()[1] for t in remote] == [str(i) for i in range(300)]


@pytest.mark.slow
def test_run_op_on_a_parquet_dataset_keeps_order_and_matches(
    ray_cluster: Any, reviews: pd.DataFrame, tmp_path: Path
) -> None:
    rows = reviews.reset_index()
    for part, start in enumerate(range(0, 12, 4)):  # three files: three blocks
        rows.iloc[start : start + 4].to_parquet(tmp_path / f"part-{part}.parquet")
    release_workers()  # a pool kept by an earlier test holds both CPUs the read tasks need
    dataset = ray_cluster.data.read_parquet(str(tmp_path), override_num_blocks=3)
    out = run_op(dataset, "sentiment", "review", backend=TWO_WORKERS, cache=False).to_pandas()
    assert out["id"].tolist() == rows["id"].tolist()  # input order
    assert list(out.columns) == [*rows.columns, "sentiment", "sentiment_score"]
    local = ops.sentiment(reviews["review"], cache=False, progress=False).reset_index(drop=True)
    assert str(out["sentiment"].dtype).startswith("string")  # text, not pickled objects
    assert out["sentiment"].fillna("?").tolist() == local["sentiment"].fillna("?").tolist()
    np.testing.assert_allclose(
        out["sentiment_score"].to_numpy(float), local["sentiment_score"].to_numpy(float), atol=1e-5
    )


def _busy_worker() -> psutil.Process | None:
    """A pool worker in the middle of a batch (Ray titles it ``ray::_Worker.run``)."""
    for process in psutil.process_iter(["cmdline"]):
        title = " ".join(process.info["cmdline"] or [])
        if "_Worker.run" in title:
            return process
    return None


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_its_batch_retried(
    ray_cluster: Any, reviews: pd.DataFrame
) -> None:
    texts = reviews["review"].dropna()
    local = ops.summarize(texts, max_words=8, cache=False, progress=False)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = ops.summarize(
                texts,
                max_words=8,
                cache=False,
                progress=False,
                backend=RayBackend(actors=2, batch_rows=2),
            )
        except BaseException as err:
            outcome["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    victim, deadline = None, time.monotonic() + 120
    while victim is None and thread.is_alive() and time.monotonic() < deadline:
        victim = _busy_worker()
        time.sleep(0.2)
    assert victim is not None, "no worker was seen running a batch"
    victim.send_signal(signal.SIGKILL)  # mid-batch: its rows are not returned
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert "error" not in outcome, outcome.get("error")
    assert_same(local, outcome["result"])  # every row once, in order, as computed locally
    job = get_manager().status()["jobs"][-1]
    assert (job["state"], job["done"], job["total"]) == ("done", 10, 10)  # the rows with text


@pytest.mark.slow
def test_workers_share_the_result_cache(ray_cluster: Any, reviews: pd.DataFrame) -> None:
    texts = reviews["review"].dropna().str.strip().replace("", np.nan).dropna() + " (shared)"
    first = ops.sentiment(texts, backend=TWO_WORKERS, progress=False)
    assert first.attrs["llm_magics"]["rows_computed"] == len(texts)
    again = ops.sentiment(texts, progress=False)  # this process: every row from the workers' cache
    assert again.attrs["llm_magics"]["rows_from_cache"] == len(texts)
    assert_same(again, first)
    rerun = ops.sentiment(texts, backend=TWO_WORKERS, progress=False)
    assert rerun.attrs["llm_magics"]["rows_from_cache"] == len(texts)


@pytest.mark.slow
def test_a_cancelled_ray_run_says_how_to_go_on_and_resumes_from_the_cache(
    ray_cluster: Any, reviews: pd.DataFrame
) -> None:
    texts = reviews["review"] + " (cancelled on ray)"  # texts no other test has cached
    count = int(texts.notna().sum())
    manager = get_manager()

    def cancel_after_first_batch(job: Any) -> None:
        if job.primitive == "sentiment · ray" and job.state == "running" and job.done > 0:
            assert manager.cancel(job.id)

    remove = manager.add_job_listener(cancel_after_first_batch)
    try:
        with pytest.raises(RunInterruptedError, match="the cache is off") as off:
            ops.sentiment(texts, cache=False, progress=False, backend=TWO_WORKERS)
        with pytest.raises(RunInterruptedError, match="run it again to resume") as on:
            ops.sentiment(texts, progress=False, backend=TWO_WORKERS)
    finally:
        remove()
    for caught in (off, on):
        assert caught.value.reason == "cancelled"
        assert 0 < caught.value.done < count  # stopped after a batch of 4 rows, not at the end
        job = next(j for j in manager.status()["jobs"] if j["id"] == caught.value.job_id)
        assert job["state"] == "cancelled"
    resumed = ops.sentiment(texts, progress=False, backend=TWO_WORKERS)
    made = resumed.attrs["llm_magics"]
    assert made["rows_from_cache"] >= on.value.done  # what the workers finished is kept
    assert made["rows_from_cache"] + made["rows_computed"] == count
    assert_same(ops.sentiment(texts, cache=False, progress=False), resumed)


@pytest.mark.slow
def test_a_worker_error_arrives_as_itself(ray_cluster: Any) -> None:
    texts = pd.Series(["good tea", "bad tea", "fine"], name="note")
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        ops.sentiment(texts, model="no-such-model", backend=RayBackend(actors=1), progress=False)
    with pytest.raises(InvalidArgumentError, match="method must be"):
        ops.classify(texts, ["a", "b"], method="bogus", backend=RayBackend(actors=1))


def test_the_row_wise_ops_are_those_with_a_backend_argument() -> None:
    rows = {"clean", "summarize", "classify", "sentiment", "extract", "filter", "embed", "keywords"}
    assert set(row_ops()) == rows
    assert {"topics", "features", "finetune"}.isdisjoint(row_ops())


def test_bad_backend_arguments_fail_before_ray_starts() -> None:
    texts = pd.Series(["good tea"])
    with pytest.raises(InvalidArgumentError, match="Did you mean 'ray'"):
        ops.sentiment(texts, backend="rya")
    with pytest.raises(InvalidArgumentError, match="runs in this process only"):
        ops.topics(texts, backend="ray")
    with pytest.raises(InvalidArgumentError, match="Ray workers have their own"):
        ops.sentiment(texts, backend="ray", manager=get_manager())
    with pytest.raises(InvalidArgumentError, match="positive whole number"):
        RayBackend(actors=0)
    with pytest.raises(InvalidArgumentError, match="add --backend ray"):
        backend_of("local", actors=2)
    with pytest.raises(InvalidArgumentError, match="cannot run on Ray"):
        run_series("topics", texts)


def test_run_op_checks_the_column_and_the_op(ray_cluster: Any) -> None:
    # A pool kept by an earlier test holds both CPUs, which the dataset's own tasks need.
    release_workers()
    dataset = ray_cluster.data.from_pandas(pd.DataFrame({"review": ["good tea"]}))
    with pytest.raises(InvalidArgumentError, match="Did you mean 'review'"):
        run_op(dataset, "sentiment", "reviews")
    with pytest.raises(InvalidArgumentError, match="Did you mean 'summarize'"):
        run_op(dataset, "sumarize", "review")
    with pytest.raises(InvalidArgumentError, match="IncrementalPCA"):
        run_op(dataset, "embed", "review", dims=2)


def test_without_ray_the_backend_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets without the extra
    with pytest.raises(MissingDependencyError) as caught:
        ops.sentiment(pd.Series(["good tea"]), backend="ray")
    assert caught.value.install == 'pip install "llm-magics[ray]"'
    assert 'pip install "llm-magics[ray]"' in str(caught.value)


@pytest.mark.slow
def test_a_plan_runs_its_row_wise_steps_on_ray(ray_cluster: Any, reviews: pd.DataFrame) -> None:
    plan = "clean review\nsentiment review -> mood\nembed review -> v dims=3\nkeywords review top=3"
    local = run_mine(reviews, plan, cache=False, progress=False)
    remote = run_mine(reviews, plan, cache=False, progress=False, backend=TWO_WORKERS)
    assert list(remote.frame.columns) == list(local.frame.columns)
    for name in local.frame.columns:
        assert_same(local.frame[name], remote.frame[name])
    sentiment = remote.steps[1]
    assert (sentiment.computed, sentiment.cached) == (10, 0)  # the rows with text, by the workers


@pytest.mark.slow
def test_llm_mine_run_joins_a_cluster_by_address(
    ray_cluster: Any, reviews: pd.DataFrame, tmp_path: Path
) -> None:
    reviews.head(6).to_csv(tmp_path / "reviews.csv")
    (tmp_path / "plan.mine").write_text("clean review\nsentiment review\n")
    address = ray_cluster.get_runtime_context().gcs_address
    release_workers()  # the workers this process keeps hold both CPUs the other driver needs
    command = [sys.executable, "-m", "llm_magics", "run", "plan.mine", "reviews.csv"]
    command += ["-o", "out.csv", "--quiet", "--backend", "ray", "--address", address]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(tmp_path / "out.csv", index_col="id")
    local = ops.sentiment(ops.clean(reviews["review"].head(6)), progress=False)
    assert out["sentiment"].fillna("?").tolist() == local["sentiment"].fillna("?").tolist()


@pytest.fixture
def toy_op() -> Iterator[Any]:
    """``tests.backends.toy_op`` imported in this process only, and forgotten afterwards."""
    module = importlib.import_module("tests.backends.toy_op")
    yield module
    OPERATIONS.pop("shout", None)
    SPECS.pop("shout", None)
    sys.modules.pop(module.__name__, None)


@pytest.mark.slow
def test_an_op_in_its_own_module_runs_on_ray_with_no_other_edit(
    ray_cluster: Any, reviews: pd.DataFrame, toy_op: Any
) -> None:
    assert "shout" in row_ops()
    texts = reviews["review"]
    local = toy_op.shout(texts, mark="?")
    remote = toy_op.shout(texts, mark="?", backend=RayBackend(actors=2, batch_rows=4))
    assert_same(local, remote)
    assert remote.attrs["llm_magics"]["parameters"] == {"mark": "?", "backend": "ray"}


def test_the_ray_batch_size_comes_from_the_op_spec(toy_op: Any) -> None:
    backend = RayBackend()
    assert _batch_rows("shout", {}, backend, "cpu") == 1024  # no model: plain Python per row
    assert _batch_rows("clean", {}, backend, "gpu") == 1024
    assert _batch_rows("summarize", {}, backend, "cpu") == default_max_rows("generate", "cpu")
    assert _batch_rows("sentiment", {}, backend, "gpu") == default_max_rows("score", "gpu")
    assert _batch_rows("classify", {}, backend, "gpu") == default_max_rows("score", "gpu")
    embedded = {"method": "embed"}
    assert _batch_rows("filter", embedded, backend, "gpu") == default_max_rows("embed", "gpu")
    assert _batch_rows("sentiment", {}, RayBackend(batch_rows=7), "gpu") == 7


@pytest.mark.slow
def test_engine_ray_still_works_and_warns_once(ray_cluster: Any) -> None:
    texts = pd.Series(["<b>tea</b>", "me@example.com"], name="note")
    with pytest.warns(FutureWarning, match=r"clean\(backend=\.\.\.\)") as caught:
        remote = ops.clean(texts, engine=RayEngine(actors=1))
    assert [w.category for w in caught] == [FutureWarning]
    assert remote.tolist() == ops.clean(texts).tolist()


ACROSS = {
    "aggregate": ((), {"max_words": 8}),
    "dedup": ((), {}),
    "join": (
        (pd.Series(["The tea is stale.", "The box came crushed."], name="issue"), "about"),
        {},
    ),
    "top_k": (("stale tea",), {"k": 3}),
}


@pytest.mark.slow
@pytest.mark.parametrize("op", ACROSS)
def test_each_op_across_rows_sends_its_row_wise_parts_to_ray(
    ray_cluster: Any, reviews: pd.DataFrame, op: str
) -> None:
    texts = reviews["review"].rename("review")
    args, options = ACROSS[op]
    options = options | {"cache": False, "progress": False}
    local, local_jobs = _with_new_jobs(lambda: getattr(ops, op)(texts, *args, **options))
    remote, remote_jobs = _with_new_jobs(
        lambda: getattr(ops, op)(texts, *args, backend=TWO_WORKERS, **options)
    )
    pd.testing.assert_frame_equal(remote, local, check_exact=False, atol=1e-5)
    assert len(local_jobs) == len(remote_jobs) == 1, (local_jobs, remote_jobs)  # one job a call


def _with_new_jobs(call: Callable[[], Any]) -> tuple[Any, list[dict[str, Any]]]:
    """What ``call`` returns, and the jobs the manager lists that it started (by id: the
    manager keeps only the latest finished ones, so counting them would miss new ones)."""
    manager = get_manager()
    before = {job["id"] for job in manager.status()["jobs"]}
    result = call()
    return result, [job for job in manager.status()["jobs"] if job["id"] not in before]


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (Ray kills a released worker within seconds)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(timeout=30)
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.slow
def test_calls_with_the_same_settings_reuse_the_workers_and_their_models(
    ray_cluster: Any, reviews: pd.DataFrame, chat: Any, embedder: Any
) -> None:
    release_workers()
    texts = reviews["review"].head(3)
    one = RayBackend(actors=1, batch_rows=2)
    options = {"cache": False, "progress": False}
    first = ops.sentiment(texts, backend=one, **options)
    [worker] = kept_workers()
    assert worker["loads"] == [chat.key]  # the model this process loads: same name, device, dtype
    assert worker["batches"] == 2  # 3 rows, 2 a batch
    # Another op and a plan of two steps on the same backend, and a new RayBackend("ray" is one)
    # with the same settings: the same process, the chat model not loaded again.
    ops.summarize(texts, max_words=6, backend=one, **options)
    plan = 'sentiment review -> mood\nfilter review "mentions food" method=llm'
    run_mine(reviews.head(3), plan, backend=one, **options)
    again = ops.sentiment(texts, backend=RayBackend(actors=1, batch_rows=2), **options)
    assert_same(first, again)
    [same] = kept_workers()
    assert same["pid"] == worker["pid"]
    assert same["loads"] == worker["loads"]  # loaded once for 5 calls
    assert same["batches"] == 2 + 2 + 2 + 2 + 2
    # A step with another model: loaded once in the same worker, then kept beside the first.
    ops.embed(texts, backend=one, **options)
    ops.embed(texts, backend=one, **options)
    [same] = kept_workers()
    assert same["pid"] == worker["pid"]
    assert same["loads"] == [chat.key, embedder.key]
    assert sorted(same["models"]) == sorted([chat.key, embedder.key])
    # close() releases them: none kept, the process ends; the next call starts a new one.
    assert one.close() == 1
    assert kept_workers() == []
    assert _gone(worker["pid"])
    with RayBackend(actors=1, batch_rows=2) as scoped:
        ops.sentiment(texts, backend=scoped, **options)
        [fresh] = kept_workers()
    assert fresh["pid"] != worker["pid"]
    assert kept_workers() == []  # leaving the with block released it
    assert _gone(fresh["pid"])


@pytest.mark.slow
def test_other_settings_get_new_workers_and_the_old_are_released(
    ray_cluster: Any, reviews: pd.DataFrame
) -> None:
    texts = reviews["review"].head(2)
    options = {"cache": False, "progress": False}
    one = RayBackend(actors=1)
    ops.sentiment(texts, backend=one, **options)
    [first] = kept_workers()
    # Two workers instead of one: a new pool, and the old one released (it held a CPU).
    ops.sentiment(texts, backend=RayBackend(actors=2, batch_rows=1), **options)
    two = kept_workers()
    assert len(two) == 2
    assert first["pid"] not in {w["pid"] for w in two}
    assert _gone(first["pid"])
    # Another setting of the driver (carried to the workers): new workers too.
    config = get_config()
    timeout = config.hub_timeout
    config.hub_timeout = timeout + 1
    try:
        ops.sentiment(texts, backend=RayBackend(actors=2, batch_rows=1), **options)
        changed = kept_workers()
    finally:
        config.hub_timeout = timeout
    assert {w["pid"] for w in changed}.isdisjoint({w["pid"] for w in two})
    assert [len(w["loads"]) for w in changed] == [1, 1]  # one row each, the model loaded
    # reuse=False: released when the call ends.
    ops.sentiment(texts, backend=RayBackend(actors=1, reuse=False), **options)
    assert kept_workers() == []
    # ray.shutdown() ends the kept workers with it; after a new ray.init a call starts new ones.
    ops.sentiment(texts, backend=one, **options)
    [kept] = kept_workers()
    ray_cluster.shutdown()
    ray_cluster.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    assert kept_workers() == []
    assert _gone(kept["pid"])
    ops.sentiment(texts, backend=one, **options)
    [after] = kept_workers()
    assert after["pid"] != kept["pid"]
    assert release_workers() == 1


@pytest.mark.slow
def test_set_prompt_reaches_the_workers(ray_cluster: Any, reviews: pd.DataFrame) -> None:
    texts = reviews["review"].dropna().head(4)
    shipped = ops.summarize(texts, max_words=8, cache=False, progress=False)
    ops.set_prompt("summarize_answer", "The question it asks is:")
    try:
        local = ops.summarize(texts, max_words=8, cache=False, progress=False)
        remote = ops.summarize(texts, max_words=8, cache=False, backend=TWO_WORKERS)
    finally:
        ops.reset_prompts()
    assert local.tolist() != shipped.tolist()  # the changed prompt changes the answers ...
    assert_same(local, remote)  # ... on the workers too
