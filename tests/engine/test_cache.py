from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

from llm_magics.engine.cache import ResultCache, cache_key


def test_keys_change_with_every_part() -> None:
    base = cache_key("fp", "generate", {"max_new_tokens": 8}, "text")
    assert base == cache_key("fp", "generate", {"max_new_tokens": 8}, "text")
    assert (
        len(
            {
                base,
                cache_key("fp2", "generate", {"max_new_tokens": 8}, "text"),
                cache_key("fp", "score", {"max_new_tokens": 8}, "text"),
                cache_key("fp", "generate", {"max_new_tokens": 9}, "text"),
                cache_key("fp", "generate", {"max_new_tokens": 8}, "text "),
            }
        )
        == 5
    )


def test_size_and_clear(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    cache.put_many("embed", "m1", {"a": b"1234", "b": b"5678"})
    cache.put_many("generate", "m2", {"c": b"xy"})
    size = cache.size()
    assert size["entries"] == 3
    assert size["bytes"] > 0
    assert {(g["primitive"], g["entries"]) for g in size["by_primitive"]} == {
        ("embed", 2),
        ("generate", 1),
    }
    assert cache.clear(primitive="embed") == 2
    assert cache.get_many(["a", "b", "c"]) == {"c": b"xy"}
    assert cache.clear() == 1
    assert cache.size()["entries"] == 0


def _writer(folder: str, worker: int, start: Any = None) -> None:
    cache = ResultCache(folder)
    if start is not None:
        start.wait()
    for batch in range(20):
        cache.put_many(
            "embed", "m", {f"{worker}-{batch}-{i}": bytes([worker]) * 64 for i in range(25)}
        )


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(tmp_path), n)) for n in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    cache = ResultCache(tmp_path)
    assert cache.size()["entries"] == 2 * 20 * 25
    assert cache.get_many(["1-19-24"]) == {"1-19-24": bytes([1]) * 64}
    with sqlite3.connect(cache.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _opener(folder: str, worker: int, start: Any) -> None:
    for trial in range(_TRIALS):
        start.wait(timeout=20)  # a worker that failed breaks the barrier for the others
        ResultCache(Path(folder) / str(trial)).put_many("embed", "m", {str(worker): b"x"})


_TRIALS = 30


def test_processes_opening_a_new_cache_in_the_same_instant_all_write(tmp_path: Path) -> None:
    # Turning a new file to WAL mode is refused at once ("database is locked") while another
    # process does the same; the cache retries instead of failing the run. 30 fresh caches,
    # each opened by 8 processes released together, reproduced the failure before the fix.
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(8)
    workers = [context.Process(target=_opener, args=(str(tmp_path), n, start)) for n in range(8)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    for trial in range(_TRIALS):
        assert ResultCache(tmp_path / str(trial)).size()["entries"] == 8
