from __future__ import annotations

import multiprocessing
import os
import random
import sqlite3
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llm_magics.engine.cache import ResultCache, cache_key
from llm_magics.errors import LlmMagicsWarning


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


@pytest.mark.slow
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


@pytest.mark.slow
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


def _filled(folder: Path, rows: int = 3000) -> ResultCache:
    """A cache of ``rows`` entries, everything checkpointed into the main file, then closed."""
    cache = ResultCache(folder)
    cache.put_many("embed", "m", {f"k{i}": bytes([i % 251]) * 200 for i in range(rows)})
    with sqlite3.connect(cache.path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return cache


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _overwrite(path: Path) -> None:
    path.write_bytes(random.Random(0).randbytes(path.stat().st_size))


def _moved_aside(folder: Path) -> list[Path]:
    """The damaged files kept for inspection (their WAL, when there was one, goes with them)."""
    return [p for p in folder.glob("results.sqlite3.damaged-*") if not p.name.endswith("-wal")]


def _damage_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, LlmMagicsWarning)]


@pytest.mark.parametrize("damage", [_truncate, _overwrite], ids=["truncated", "overwritten"])
@pytest.mark.parametrize("first", ["read", "write", "size"])
def test_a_damaged_file_is_moved_aside_and_a_fresh_cache_started(
    tmp_path: Path, damage: Callable[[Path], None], first: str
) -> None:
    damage(_filled(tmp_path).path)
    cache = ResultCache(tmp_path)  # a new kernel opening the damaged file
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if first == "read":
            assert cache.get_many(["k1", "k2999"]) == {}
        elif first == "write":
            cache.put_many("embed", "m", {"new": b"v"})
        else:
            assert cache.size()["entries"] == 0
        cache.put_many("embed", "m", {"after": b"w"})
        assert cache.get_many(["after"]) == {"after": b"w"}
    (aside,) = _moved_aside(tmp_path)
    (message,) = _damage_warnings(caught)
    assert "was damaged" in message and str(aside) in message and "fresh cache" in message
    with sqlite3.connect(cache.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # The damaged file is kept as it was, and does not count as the cache's size.
    assert aside.stat().st_size > 0
    assert cache.size()["bytes"] < aside.stat().st_size


def test_damage_found_mid_run_by_an_open_connection(tmp_path: Path) -> None:
    cache = _filled(tmp_path)
    assert cache.get_many(["k7"]) == {"k7": bytes([7]) * 200}  # the connection is open
    _overwrite(cache.path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache.put_many("generate", "m", {"x": b"1"})
        assert cache.get_many(["k7", "x"]) == {"x": b"1"}
    assert len(_damage_warnings(caught)) == 1
    assert len(_moved_aside(tmp_path)) == 1


def test_other_threads_move_to_the_fresh_file_without_warning_again(tmp_path: Path) -> None:
    cache = _filled(tmp_path)
    other: dict[str, Any] = {}

    def in_thread(key: str) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            other[key] = cache.get_many(["k1", "fresh"])
        other[f"{key} warnings"] = len(_damage_warnings(caught))

    thread = threading.Thread(target=in_thread, args=("before",))
    thread.start()
    thread.join()
    assert other["before"] == {"k1": bytes([1]) * 200}
    _truncate(cache.path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache.put_many("embed", "m", {"fresh": b"f"})
    assert len(_damage_warnings(caught)) == 1
    thread = threading.Thread(target=in_thread, args=("after",))
    thread.start()
    thread.join()
    assert other["after"] == {"fresh": b"f"} and other["after warnings"] == 0


def _heal(folder: str, start: Any, results: Any) -> None:
    cache = ResultCache(folder)
    cache.get_many(["k1"])  # open the file while it is still whole
    start.wait(timeout=60)  # the parent damages it here
    start.wait(timeout=60)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache.put_many("embed", "m", {f"from-{os.getpid()}": b"p"})
    results.put(len(_damage_warnings(caught)))


def test_two_processes_finding_the_damage_move_it_aside_once(tmp_path: Path) -> None:
    _filled(tmp_path)
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(3), context.Queue()
    workers = [context.Process(target=_heal, args=(str(tmp_path), start, results)) for _ in "ab"]
    for process in workers:
        process.start()
    start.wait(timeout=120)
    _overwrite(tmp_path / "results.sqlite3")
    start.wait(timeout=60)
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    assert sorted(results.get(timeout=5) for _ in workers) == [0, 1]
    assert len(_moved_aside(tmp_path)) == 1
    assert ResultCache(tmp_path).size()["entries"] == 2


def test_other_sqlite_errors_are_raised_not_taken_for_damage(tmp_path: Path) -> None:
    cache = _filled(tmp_path, rows=10)
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        cache._run(lambda db: db.execute("SELECT * FROM missing"))
    assert not _moved_aside(tmp_path)
