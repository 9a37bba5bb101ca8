"""The persistent result cache: a re-run is served from disk, an interrupted run resumes.

One SQLite file (``<cache_dir>/results.sqlite3``) in WAL mode. SQLite is used rather than files per
entry or a pickle store because it gives atomic multi-row writes and safe concurrent writers (two
kernels running the same notebook) with nothing to install, and values are stored as JSON or raw
float32 bytes, never pickles, so a cache file cannot carry code.

A key is the SHA-256 of (model fingerprint, primitive, parameters, input): changing any of them
is a miss, and the same row asked for twice in one call is computed once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ResultCache", "cache_key", "get_result_cache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    primitive TEXT NOT NULL,
    model TEXT NOT NULL,
    value BLOB NOT NULL,
    created REAL NOT NULL
)
"""
_CHUNK = 500  # SQLite's default limit on bound parameters is 999


def cache_key(fingerprint: str, primitive: str, params: dict[str, Any], item: Any) -> str:
    """The cache key of one input row; ``params`` and ``item`` must be JSON-serializable."""
    payload = json.dumps([fingerprint, primitive, params, item], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


_TIMEOUT = 60.0


def _setup(connection: sqlite3.Connection) -> None:
    """WAL mode and the table, retried while another process is creating the same file.

    Switching a new database to WAL takes an exclusive lock, and SQLite answers "database is
    locked" at once (its busy handler is not called for it) when a second process opens the file
    in the same instant, so the first use of a fresh cache from two processes must retry.
    """
    deadline = time.monotonic() + _TIMEOUT
    delay = 0.01
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(_SCHEMA)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


class ResultCache:
    """Rows computed before, by key. Thread- and process-safe.

    Examples
    --------
    >>> import tempfile
    >>> cache = ResultCache(tempfile.mkdtemp())
    >>> cache.put_many("generate", "m", {"k": b'"hello"'})
    >>> cache.get_many(["k", "missing"])
    {'k': b'"hello"'}
    >>> cache.size()["entries"]
    1
    """

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder).expanduser() / "results.sqlite3"
        self._local = threading.local()

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One connection per thread; `timeout` makes a writer wait for another kernel's
            # transaction instead of failing with "database is locked".
            connection = sqlite3.connect(self.path, timeout=_TIMEOUT, isolation_level=None)
            _setup(connection)
            self._local.connection = connection
        yield connection

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Return the stored values of those ``keys`` that are in the cache."""
        found: dict[str, bytes] = {}
        with self._connect() as db:
            for start in range(0, len(keys), _CHUNK):
                chunk = list(keys[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = db.execute(f"SELECT key, value FROM results WHERE key IN ({marks})", chunk)
                found.update(rows)
        return found

    def put_many(self, primitive: str, model: str, values: dict[str, bytes]) -> None:
        """Store ``values`` (key → bytes) in one transaction."""
        now = time.time()
        rows: Iterable[tuple] = ((k, primitive, model, v, now) for k, v in values.items())
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)", rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def size(self) -> dict[str, Any]:
        """Entries and bytes on disk, in all and per (primitive, model fingerprint)."""
        with self._connect() as db:
            groups = db.execute(
                "SELECT primitive, model, COUNT(*), SUM(LENGTH(value)) FROM results "
                "GROUP BY primitive, model ORDER BY primitive, model"
            ).fetchall()
        on_disk = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))
        return {
            "path": str(self.path),
            "entries": sum(g[2] for g in groups),
            "bytes": on_disk,
            "by_primitive": [
                {"primitive": g[0], "model": g[1], "entries": g[2], "value_bytes": g[3]}
                for g in groups
            ],
        }

    def clear(self, *, primitive: str | None = None, model: str | None = None) -> int:
        """Delete entries (all, or those of one primitive and/or model fingerprint); return how many."""
        where, args = [], []
        for column, value in (("primitive", primitive), ("model", model)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._connect() as db:
            deleted = db.execute(f"DELETE FROM results{clause}", args).rowcount
            if not where:
                db.execute("VACUUM")
        return deleted


_caches: dict[str, ResultCache] = {}
_caches_lock = threading.Lock()


def get_result_cache(folder: str | Path | None = None) -> ResultCache:
    """The result cache in ``folder`` (default: ``LlmMagics.cache_dir``), one object per folder."""
    if folder is None:
        from llm_magics.config import get_config

        folder = get_config().cache_path
    resolved = str(Path(folder).expanduser().resolve())
    with _caches_lock:
        if resolved not in _caches:
            _caches[resolved] = ResultCache(resolved)
        return _caches[resolved]
