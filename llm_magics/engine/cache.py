"""The persistent result cache: a re-run is served from disk, an interrupted run resumes.

One SQLite file (``<cache_dir>/results.sqlite3``) in WAL mode. SQLite is used rather than files per
entry or a pickle store because it gives atomic multi-row writes and safe concurrent writers (two
kernels running the same notebook) with nothing to install, and values are stored as JSON or raw
float32 bytes, never pickles, so a cache file cannot carry code.

A key is the SHA-256 of (model fingerprint, primitive, parameters, input): changing any of them
is a miss, and the same row asked for twice in one call is computed once.

The cache is a convenience, so a damaged file (a disk that filled up, a killed process, a sync tool,
a copy from another machine) never stops the work: when SQLite reports the file corrupt or not a
database, it is moved aside as ``results.sqlite3.damaged-<time>`` (kept for inspection), a fresh
cache is started, one ``LlmMagicsWarning`` says so, and the call goes on. Processes and threads
that still hold the old file notice that the path now names another file and reopen it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from llm_magics.errors import warn

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; threads of one process are still serialised
    fcntl = None  # type: ignore[assignment]

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
_DAMAGE_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
T = TypeVar("T")


def _is_damage(error: sqlite3.DatabaseError) -> bool:
    """Whether SQLite says the file itself is broken (not locked, full or read-only)."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _DAMAGE_CODES


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` names now (device, inode), or ``None`` when there is none."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an advisory lock on ``lock_file`` so that one process at a time moves the cache."""
    if fcntl is None:
        yield
        return
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
        self._moving = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection to the file that ``path`` names now."""
        connection = getattr(self._local, "connection", None)
        if connection is not None and self._local.identity == _identity(self.path):
            return connection
        if connection is not None:  # the file was moved aside (by us or another process)
            connection.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection per thread; `timeout` makes a writer wait for another kernel's
        # transaction instead of failing with "database is locked".
        connection = sqlite3.connect(self.path, timeout=_TIMEOUT, isolation_level=None)
        self._local.connection, self._local.identity = connection, _identity(self.path)
        try:
            _setup(connection)
        except sqlite3.DatabaseError as error:
            if not _is_damage(error):  # damage: _move_aside closes it and moves the file
                connection.close()
                self._local.connection = None
            raise
        return connection

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(connection)``; on a damaged file, once more on a fresh one."""
        try:
            return work(self._connection())
        except sqlite3.DatabaseError as error:
            if not _is_damage(error):
                raise
            self._move_aside(error)
            return work(self._connection())

    def _move_aside(self, error: sqlite3.DatabaseError) -> None:
        """Move the damaged file out of the way, unless another thread or process already has."""
        damaged = self._local.identity
        self._local.connection.close()
        self._local.connection = None
        with self._moving, _exclusive(self.path.with_name(f"{self.path.name}.lock")):
            if _identity(self.path) != damaged:
                return  # someone else moved it (and warned); the next connect opens the new one
            stamp = time.strftime("%Y%m%d-%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
            for n in itertools.count(2):
                if not aside.exists():
                    break
                aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{n}")
            os.replace(self.path, aside)
            wal = self.path.with_name(f"{self.path.name}-wal")
            if wal.exists():  # its pages belong to the damaged file: keep them together
                os.replace(wal, aside.with_name(f"{aside.name}-wal"))
            with contextlib.suppress(FileNotFoundError):
                self.path.with_name(f"{self.path.name}-shm").unlink()
        warn(
            f"The result cache {self.path} was damaged ({error}). It was moved to {aside} and a "
            "fresh cache started: earlier results are computed again when asked for. Delete the "
            "old file once you no longer need it."
        )

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Return the stored values of those ``keys`` that are in the cache."""

        def read(db: sqlite3.Connection) -> dict[str, bytes]:
            found: dict[str, bytes] = {}
            for start in range(0, len(keys), _CHUNK):
                chunk = list(keys[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = db.execute(f"SELECT key, value FROM results WHERE key IN ({marks})", chunk)
                found.update(rows)
            return found

        return self._run(read)

    def put_many(self, primitive: str, model: str, values: dict[str, bytes]) -> None:
        """Store ``values`` (key → bytes) in one transaction."""

        def write(db: sqlite3.Connection) -> None:
            now = time.time()
            rows: Iterable[tuple] = ((k, primitive, model, v, now) for k, v in values.items())
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)", rows)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

        self._run(write)

    def size(self) -> dict[str, Any]:
        """Entries and bytes on disk, in all and per (primitive, model fingerprint)."""
        groups = self._run(
            lambda db: db.execute(
                "SELECT primitive, model, COUNT(*), SUM(LENGTH(value)) FROM results "
                "GROUP BY primitive, model ORDER BY primitive, model"
            ).fetchall()
        )
        files = [self.path.with_name(self.path.name + end) for end in ("", "-wal", "-shm")]
        on_disk = sum(p.stat().st_size for p in files if p.exists())
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

        def delete(db: sqlite3.Connection) -> int:
            deleted = db.execute(f"DELETE FROM results{clause}", args).rowcount
            if not where:
                db.execute("VACUUM")
            return deleted

        return self._run(delete)


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
